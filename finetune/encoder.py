"""Load a frozen encoder (a ``pretrain`` checkpoint or the untrained ``random`` control) and
turn spectrograms into pooled embeddings.

Checkpoint layout (``pretrain`` writes it): ``CKPT/encoder.safetensors`` (timm
``VisionTransformer`` state dict, ``num_classes=0``) and ``CKPT/config.json`` with
``timm_name`` and ``timm_kwargs`` for ``timm.create_model``. When the audio input (mel bins x
frames) differs from the checkpoint's ``img_size``, the position embedding is resampled to the
new patch grid with ``timm.layers.resample_abs_pos_embed`` (bicubic), as timm does for
fine-tuning at a new resolution.

Pooling of the patch tokens (cls token excluded) of each chosen block, whose grid is
``(F, T)`` = (frequency rows, time columns), row-major as timm orders them:

* ``mean``: the average over all tokens (D values);
* ``meanmax``: that average and the element-wise max, concatenated (2D values);
* ``freq``: per time step the F tokens of that column laid side by side (frequency ascending,
  F*D values), averaged over time -- the layout of the M2D / MSM-MAE runtimes that the EVAR
  evaluation package uses; it keeps the spectral envelope that ``mean`` averages away.

Only the time columns marked valid take part (a clip's padding beyond its end is dropped, see
``finetune.chunks``), then the layers are concatenated. Layer ``k`` is the output of block ``k`` (1-based) passed through the
encoder's final LayerNorm, so layer ``depth`` equals ``forward_features``. The last layer of an
MAE encoder is known to be a weak linear-probe feature (its output is shaped for the pixel
decoder), which is why ``layers`` can pick intermediate blocks.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from finetune.task import UserError

POOLINGS = ("mean", "meanmax", "freq")


@dataclass
class Encoder:
    """A frozen ViT plus what is needed to feed it.

    name: label for tables (checkpoint folder name, or ``random``).
    fingerprint: ``weights_fingerprint`` (architecture, input size, weights) for the cache.
    """

    model: nn.Module
    name: str
    fingerprint: str
    height: int
    width: int
    step: int | None = None  # training step of a checkpoint (config.json), 0 for ``random``

    @property
    def depth(self) -> int:
        return len(self.model.blocks)

    @property
    def dim(self) -> int:
        return int(self.model.embed_dim)

    @property
    def patch_size(self) -> tuple[int, int]:
        return tuple(self.model.patch_embed.patch_size)

    @property
    def grid(self) -> tuple[int, int]:
        ph, pw = self.patch_size
        return self.height // ph, self.width // pw


def weights_fingerprint(model: nn.Module, height: int, width: int) -> str:
    """Hash of what determines the embeddings: architecture (class, heads), input size and every
    weight. Content-based, so a checkpoint's ``step0`` and the ``random`` control built with the
    same preset and seed share one cache entry."""
    heads = getattr(model.blocks[0].attn, "num_heads", 0) if hasattr(model, "blocks") else 0
    h = hashlib.sha256(f"{type(model).__name__}:{heads}:{height}x{width}".encode())
    for key, value in sorted(model.state_dict().items()):
        h.update(key.encode())
        h.update(value.detach().cpu().float().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def _check_input(height: int, width: int, patch: int) -> None:
    if height % patch or width % patch:
        raise UserError(f"audio input {height}x{width} (mel bins x frames) must be a multiple of "
                        f"the checkpoint's patch size {patch}")


def load_checkpoint(ckpt: str | Path, height: int, width: int | None = None) -> Encoder:
    """Build the encoder of checkpoint folder ``ckpt`` for ``height x width`` inputs (``width``
    None: the checkpoint's own). Any problem -> ``UserError`` naming the file."""
    import timm
    from safetensors.torch import load_file
    from timm.layers import resample_abs_pos_embed

    ckpt = Path(ckpt)
    cfg_path, weights = ckpt / "config.json", ckpt / "encoder.safetensors"
    for p in (cfg_path, weights):
        if not p.is_file():
            raise UserError(f"checkpoint file {p} does not exist")
    try:
        cfg = json.loads(cfg_path.read_text())
        name, kwargs = cfg["timm_name"], dict(cfg["timm_kwargs"])
        old_h, old_w = (int(v) for v in kwargs["img_size"])
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise UserError(f"{cfg_path}: not a checkpoint config with timm_name and "
                        f"timm_kwargs.img_size ({type(exc).__name__}: {exc})") from None
    try:  # config.json is untrusted: architecture only, no files, no network
        from pretrain.model import check_timm_config

        check_timm_config(name, kwargs)
    except ValueError as exc:
        raise UserError(f"{cfg_path}: {exc}") from None
    width = old_w if width is None else width
    patch = int(kwargs.get("patch_size", 16))
    _check_input(height, width, patch)
    kwargs["img_size"] = [height, width]
    try:
        model = timm.create_model(name, pretrained=False, **kwargs)
    except Exception as exc:  # unknown timm name or bad kwargs
        raise UserError(f"{cfg_path}: timm cannot build {name!r}: {exc}") from None
    try:
        state = load_file(str(weights))
        from pretrain.checkpoint import check_architecture

        problem = check_architecture(weights, cfg)
    except Exception as exc:
        raise UserError(f"cannot read {weights}: {exc}") from None
    if problem:
        raise UserError(problem)
    if "pos_embed" in state and (old_h, old_w) != (height, width):
        prefix = 0 if kwargs.get("no_embed_class") else model.num_prefix_tokens
        state["pos_embed"] = resample_abs_pos_embed(
            state["pos_embed"], new_size=[height // patch, width // patch],
            old_size=[old_h // patch, old_w // patch], num_prefix_tokens=prefix)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = next((ln.strip() for ln in str(exc).splitlines()[1:] if ln.strip()), str(exc))
        raise UserError(f"checkpoint {weights} does not fit {name} with {cfg_path}: {first}") from None
    model.eval().requires_grad_(False)
    label = ckpt.name if ckpt.name != "step0" else f"{ckpt.parent.name}/step0"
    step = cfg.get("step") if isinstance(cfg.get("step"), int) else None
    return Encoder(model, label, weights_fingerprint(model, height, width), height, width, step)


def random_encoder(preset: str, height: int, width: int, seed: int = 0) -> Encoder:
    """The untrained control: ``pretrain.model.build_encoder`` (same architecture and MAE init
    as a pre-trained encoder, not trained)."""
    try:
        from pretrain.model import build_encoder
    except ImportError as exc:
        raise UserError(f"--ckpt random needs pretrain.model.build_encoder ({exc})") from None
    try:
        model = build_encoder(preset, (height, width), seed=seed)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    model.eval().requires_grad_(False)
    return Encoder(model, f"random-{preset}-s{seed}", weights_fingerprint(model, height, width), height, width, 0)


def parse_layers(spec: str, depth: int) -> tuple[int, ...]:
    """``"last"`` -> (depth,); ``"6,12"`` -> (6, 12); negative counts from the end (``-1`` = last);
    ``"all"`` -> every block."""
    if spec in ("last", ""):
        return (depth,)
    if spec == "all":
        return tuple(range(1, depth + 1))
    out = []
    for part in spec.split(","):
        try:
            k = int(part)
        except ValueError:
            raise UserError(f"--layers {spec!r} must be 'last', 'all' or block numbers like 6,12") from None
        k = depth + 1 + k if k < 0 else k
        if not 1 <= k <= depth:
            raise UserError(f"--layers {spec!r}: block {part} out of range 1..{depth}")
        out.append(k)
    return tuple(out)


def block_tokens(model: nn.Module, x: torch.Tensor, layers: tuple[int, ...]) -> list[torch.Tensor]:
    """Patch tokens ``(B, N, D)`` after each block in ``layers`` (1-based), final norm applied."""
    return model.forward_intermediates(x, indices=[k - 1 for k in layers], norm=True,
                                       output_fmt="NLC", intermediates_only=True, stop_early=True)


def token_stats(tokens: list[torch.Tensor], grid: tuple[int, int],
                valid_cols: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Sufficient statistics of every pooling for a batch of token grids.

    tokens: per layer ``(B, F*T, D)`` in row-major ``(F, T)`` order; valid_cols: ``(B,)`` number
    of leading time columns that hold the clip (None: all ``T``).
    Returns ``(sums (B, L, F, D), counts (B,), maxes (B, L, D))``: per frequency row the sum over
    the valid columns, the number of valid columns, and the max over all valid tokens."""
    n_f, n_t = grid
    b = tokens[0].shape[0]
    if valid_cols is None:
        valid_cols = torch.full((b,), n_t, dtype=torch.long)
    mask = torch.arange(n_t)[None, :] < valid_cols[:, None]  # (B, T)
    sums, maxes = [], []
    for t in tokens:
        g = t.float().reshape(b, n_f, n_t, -1)
        sums.append((g * mask[:, None, :, None]).sum(dim=2))
        maxes.append(g.masked_fill(~mask[:, None, :, None], float("-inf")).amax(dim=(1, 2)))
    return torch.stack(sums, 1), valid_cols.to(torch.float32), torch.stack(maxes, 1)


def pool_stats(sums: torch.Tensor, counts: torch.Tensor, maxes: torch.Tensor, pooling: str) -> torch.Tensor:
    """``(B, L, F, D)`` column sums, ``(B,)`` counts, ``(B, L, D)`` maxes -> ``(B, L * width)``
    pooled embeddings (width D for ``mean``, 2D for ``meanmax``, F*D for ``freq``)."""
    if pooling not in POOLINGS:
        raise UserError(f"--pooling {pooling!r} must be one of {', '.join(POOLINGS)}")
    freq = sums / counts.clamp_min(1)[:, None, None, None]  # (B, L, F, D): mean over time per row
    b, n_layers = freq.shape[:2]
    if pooling == "freq":
        return freq.reshape(b, -1)
    mean = freq.mean(dim=2)  # every row has the same valid columns: the mean of all valid tokens
    return (torch.cat([mean, maxes], dim=2) if pooling == "meanmax" else mean).reshape(b, -1)


def pool(tokens: list[torch.Tensor], pooling: str, grid: tuple[int, int],
         valid_cols: torch.Tensor | None = None) -> torch.Tensor:
    """Pool per-layer ``(B, F*T, D)`` token grids and concatenate the layers."""
    return pool_stats(*token_stats(tokens, grid, valid_cols), pooling)


@torch.inference_mode()
def embed_batch(encoder: Encoder, x: torch.Tensor, layers: tuple[int, ...], pooling: str) -> np.ndarray:
    """``x``: ``(B, 1, H, W)`` standardised log-mels -> ``(B, len(layers) * width)`` float32."""
    return pool(block_tokens(encoder.model, x, layers), pooling, encoder.grid).float().numpy()
