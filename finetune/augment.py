"""What fine-tuning does to a training batch: the crop (with a random time shift), SpecAugment
masks, mixup and label smoothing. Each draw comes from the generators passed in, so a seed
gives the same batches on every machine.

Sources of the defaults (see docs/finetune.md, "Recipe"): SpecAugment (Park et al. 2019) with
AudioMAE's fine-tuning widths scaled to the input (48 of 128 mel bins, 192 of 1024 frames);
mixup (Zhang et al. 2018); label smoothing 0.1 (Szegedy et al. 2016; AudioMAE's ESC-50 recipe).
"""
from __future__ import annotations

import numpy as np
import torch

def batch_width(lengths: list[int], frames: int, patch_w: int) -> int:
    """Input width of a training batch: its longest clip rounded up to whole patch columns, at
    most ``frames``; so a batch of short clips (spoken digits) is not padded to columns no clip
    fills."""
    longest = min(max(lengths), frames)
    return min(frames, -(-longest // patch_w) * patch_w)


def train_view(spec: torch.Tensor, width: int, shift: bool, rng: np.random.Generator) -> torch.Tensor:
    """``(n_mels, T)`` -> ``(n_mels, width)``: a clip longer than ``width`` cropped at a random
    offset, a shorter one placed at a random offset and padded with its minimum (its quietest
    value, as evaluation pads). Without ``shift``: from the start, padded at the end."""
    t = spec.shape[-1]
    if t >= width:
        start = int(rng.integers(0, t - width + 1)) if shift else 0
        return spec[:, start:start + width]
    start = int(rng.integers(0, width - t + 1)) if shift else 0
    return torch.nn.functional.pad(spec, (start, width - t - start), value=float(spec.min()))


def spec_augment(x: torch.Tensor, freq_mask: int, time_mask: int, gen: torch.Generator) -> torch.Tensor:
    """Zero one random frequency band of width U[0, freq_mask] and one random time span of width
    U[0, time_mask] per example of ``(B, 1, F, T)`` (0 is the mean of the standardised input)."""
    b, _, n_f, n_t = x.shape
    keep = torch.ones(b, 1, n_f, n_t, dtype=torch.bool)
    for size, maxw, dim in ((n_f, freq_mask, 2), (n_t, time_mask, 3)):
        if maxw <= 0:
            continue
        w = torch.randint(0, min(maxw, size) + 1, (b,), generator=gen)
        s = (torch.rand(b, generator=gen) * (size - w + 1)).long()
        pos = torch.arange(size)[None, :]
        band = (pos >= s[:, None]) & (pos < (s + w)[:, None])  # (B, size)
        keep &= ~(band[:, None, :, None] if dim == 2 else band[:, None, None, :])
    return x * keep


def soft_targets(labels: torch.Tensor, n_classes: int, smoothing: float) -> torch.Tensor:
    """One-hot targets with ``smoothing`` of the mass spread evenly over the classes."""
    target = torch.nn.functional.one_hot(labels, n_classes).float()
    return target * (1 - smoothing) + smoothing / n_classes


def mixup(x: torch.Tensor, target: torch.Tensor, alpha: float, rng: np.random.Generator):
    """Mix the batch with a permutation of itself, weight ``Beta(alpha, alpha)`` (``alpha`` 0: off)."""
    if alpha <= 0:
        return x, target
    lam = float(rng.beta(alpha, alpha))
    perm = torch.as_tensor(rng.permutation(len(x)))
    return lam * x + (1 - lam) * x[perm], lam * target + (1 - lam) * target[perm]
