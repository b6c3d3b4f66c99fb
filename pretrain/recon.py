"""Reconstruction sheets: rows input / masked input / reconstruction (visible patches pasted)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from generators.atomic import atomic_open
from pretrain.mae import MaskedAutoencoder, patchify, unpatchify


@torch.no_grad()
def reconstruct(mae: MaskedAutoencoder, images: torch.Tensor, noise: torch.Tensor):
    """``(input, masked, reconstruction)`` each ``(N, 1, H, W)`` in input units.

    With ``norm_pix_loss`` the prediction is per-patch normalised; it is mapped back with the
    true patch mean/std (as in the MAE visualisation) before the visible patches are pasted.
    """
    was_training = mae.training
    mae.eval()
    _, pred, mask = mae(images, noise)
    mae.train(was_training)
    pred = pred.float()
    patches = patchify(images.float(), mae.patch)
    if mae.norm_pix_loss:
        mean = patches.mean(dim=-1, keepdim=True)
        std = (patches.var(dim=-1, keepdim=True) + 1e-6).sqrt()
        pred = pred * std + mean
    keep = (1 - mask).unsqueeze(-1)
    # hidden patches are shown mid-grey, so they stand out from dark content (silence)
    grey = (patches.amin(dim=(1, 2), keepdim=True) + patches.amax(dim=(1, 2), keepdim=True)) / 2
    masked = unpatchify(patches * keep + grey * (1 - keep), mae.patch, mae.grid)
    recon = unpatchify(patches * keep + pred * (1 - keep), mae.patch, mae.grid)
    return images.float(), masked, recon


def to_uint8(rows: list[torch.Tensor]) -> np.ndarray:
    """Stack rows of ``(N, 1, H, W)`` into one sheet; each column scaled by its input's range."""
    first = rows[0]
    low = first.amin(dim=(1, 2, 3), keepdim=True)
    high = first.amax(dim=(1, 2, 3), keepdim=True)
    lines = []
    for row in rows:
        scaled = ((row - low) / (high - low).clamp_min(1e-6)).clamp(0, 1)
        lines.append(torch.cat(list(scaled[:, 0]), dim=1))  # N images side by side
    return (torch.cat(lines, dim=0).cpu().numpy() * 255).round().astype(np.uint8)


def save_reconstruction(mae: MaskedAutoencoder, images: torch.Tensor, noise: torch.Tensor,
                        path: Path) -> None:
    """Write the sheet for ``images`` (a few inputs) to ``path`` (PNG, grayscale)."""
    sheet = to_uint8(list(reconstruct(mae, images, noise)))
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(path) as handle:
        Image.fromarray(sheet, "L").save(handle, format="PNG")
