"""Encoder presets and the timm ViT encoder with MAE-style initialisation.

The encoder is a plain timm ``VisionTransformer`` (one input channel, ``num_classes=0``,
average-pooled tokens) so a checkpoint loads with ``timm.create_model`` alone. Its position
embedding is the fixed 2-D sin-cos table of MAE (He et al. 2022, "Masked Autoencoders Are
Scalable Vision Learners", Sec. A.1) computed for a *non-square* grid of ``H/p x W/p`` patches
(rows = mel bins, columns = time frames). Linear layers are xavier-uniform, the cls token is
N(0, 0.02), as in the MAE reference code. In a CPU trial this untrained initialisation alone was
5.5 points better on FSDD than timm's default random init, so it is the fair ``random`` control.
"""

from __future__ import annotations

import re
from dataclasses import asdict

import numpy as np
import timm
import torch
from torch import nn

from pretrain.presets import PRESETS, Preset, get_preset  # noqa: F401  (the contract's names)


def check_input_size(img_size: tuple[int, int], patch_size: int) -> tuple[int, int]:
    """``(H, W)`` as ints; ``ValueError`` unless both are positive multiples of the patch."""
    height, width = (int(v) for v in img_size)
    if height <= 0 or width <= 0 or height % patch_size or width % patch_size:
        raise ValueError(f"input size {height}x{width} must be positive multiples of the "
                         f"patch size {patch_size}")
    return height, width


def timm_kwargs(preset: str | Preset, img_size: tuple[int, int]) -> tuple[str, dict]:
    """``(timm_name, kwargs)`` such that ``timm.create_model(name, **kwargs)`` builds the encoder.

    The kwargs are JSON-able (lists, not tuples) and are what ``config.json`` stores.
    ``global_pool="avg"`` with ``fc_norm=False`` keeps the final LayerNorm on every token
    (the MAE encoder output) and mean-pools the patch tokens in ``model(x)``.
    """
    spec = get_preset(preset) if isinstance(preset, str) else preset
    height, width = check_input_size(img_size, spec.patch_size)
    return spec.timm_name, {
        "img_size": [height, width], "patch_size": spec.patch_size, "in_chans": 1,
        "num_classes": 0, "embed_dim": spec.embed_dim, "depth": spec.depth,
        "num_heads": spec.num_heads, "mlp_ratio": spec.mlp_ratio, "global_pool": "avg",
        "fc_norm": False, "class_token": True,
    }


def sincos_pos_embed(dim: int, grid: tuple[int, int], cls_token: bool) -> np.ndarray:
    """Fixed 2-D sin-cos position table, ``(rows*cols [+1], dim)`` float32.

    Half of the channels encode the patch row, half the column (MAE, Sec. A.1; frequencies
    ``1/10000^(2k/(dim/2))`` as in Vaswani et al. 2017). Rows/columns may differ, so a 128x512
    spectrogram gets an 8x32 grid, not a stretched square. Token order is row-major, as timm's
    ``PatchEmbed`` flattens. The cls token (if any) gets zeros, as in MAE.
    """
    if dim % 4:
        raise ValueError(f"embedding dim {dim} must be a multiple of 4 for 2-D sin-cos positions")
    rows, cols = grid
    row_index, col_index = np.meshgrid(np.arange(rows, dtype=np.float64),
                                       np.arange(cols, dtype=np.float64), indexing="ij")
    table = np.concatenate([_sincos_1d(dim // 2, row_index.ravel()),
                            _sincos_1d(dim // 2, col_index.ravel())], axis=1)
    if cls_token:
        table = np.concatenate([np.zeros((1, dim)), table], axis=0)
    return table.astype(np.float32)


def _sincos_1d(dim: int, positions: np.ndarray) -> np.ndarray:
    omega = 1.0 / 10000 ** (np.arange(dim // 2, dtype=np.float64) / (dim / 2.0))
    angles = np.outer(positions, omega)  # (M, dim/2)
    return np.concatenate([np.sin(angles), np.cos(angles)], axis=1)


def init_mae_weights(module: nn.Module) -> None:
    """MAE reference init: xavier-uniform Linear (zero bias), LayerNorm (1, 0)."""
    for sub in module.modules():
        if isinstance(sub, nn.Linear):
            nn.init.xavier_uniform_(sub.weight)
            if sub.bias is not None:
                nn.init.zeros_(sub.bias)
        elif isinstance(sub, nn.LayerNorm):
            if sub.weight is not None:
                nn.init.ones_(sub.weight)
            if sub.bias is not None:
                nn.init.zeros_(sub.bias)


# ViT arguments a checkpoint's config.json may pass to timm: architecture only. Anything else
# (checkpoint_path, pretrained_cfg, cache_dir, ...) could make timm read files or the network.
TIMM_KWARGS = frozenset({
    "img_size", "patch_size", "in_chans", "num_classes", "embed_dim", "depth", "num_heads",
    "mlp_ratio", "global_pool", "fc_norm", "class_token", "qkv_bias", "no_embed_class",
    "reg_tokens", "pre_norm", "init_values",
})
TIMM_NAME = re.compile(r"[a-z0-9_]+")


def check_timm_config(timm_name, kwargs) -> None:
    """``ValueError`` unless ``timm_name`` is a plain name of a model registered in the local
    timm (no ``hf-hub:``/``local-dir:`` prefixes, no pretrained tag) and ``kwargs`` hold only
    architecture keys (``TIMM_KWARGS``) with plain JSON values."""
    if not isinstance(timm_name, str) or not TIMM_NAME.fullmatch(timm_name) \
            or not timm.is_model(timm_name):
        raise ValueError(f"timm_name {timm_name!r} is not a timm architecture registered "
                         f"locally (remote or file prefixes are refused)")
    if not isinstance(kwargs, dict):
        raise ValueError(f"timm_kwargs must be an object, not {type(kwargs).__name__}")
    unknown = sorted(set(kwargs) - TIMM_KWARGS)
    if unknown:
        raise ValueError(f"timm_kwargs {unknown} not allowed (architecture keys only: "
                         f"{', '.join(sorted(TIMM_KWARGS))})")
    for key, value in kwargs.items():
        items = value if isinstance(value, list) else [value]
        if not all(v is None or isinstance(v, (bool, int, float, str)) for v in items):
            raise ValueError(f"timm_kwargs {key}={value!r} must be a number, string or list")


def create_encoder(timm_name: str, kwargs: dict) -> nn.Module:
    """``timm.create_model(timm_name, pretrained=False, **kwargs)`` (what finetune does)."""
    return timm.create_model(timm_name, pretrained=False, **kwargs)


def build_encoder(preset: str, img_size: tuple[int, int], seed: int = 0) -> nn.Module:
    """A timm ``VisionTransformer`` (1 channel, ``num_classes=0``) with MAE-style init.

    Deterministic for ``seed`` (the global torch RNG is left untouched). The position embedding
    is the fixed sin-cos table for the ``H/p x W/p`` grid and is frozen (``requires_grad=False``).

    >>> enc = build_encoder("cpu-tiny", (128, 128), seed=0)
    >>> enc(torch.zeros(2, 1, 128, 128)).shape
    torch.Size([2, 192])
    """
    name, kwargs = timm_kwargs(preset, img_size)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        encoder = create_encoder(name, kwargs)
        init_mae_weights(encoder)
        # patch projection is a conv; MAE initialises it like a Linear on the flattened kernel
        proj = encoder.patch_embed.proj.weight
        nn.init.xavier_uniform_(proj.data.view(proj.shape[0], -1))
        nn.init.zeros_(encoder.patch_embed.proj.bias)
        nn.init.normal_(encoder.cls_token, std=0.02)
    grid = encoder.patch_embed.grid_size
    table = sincos_pos_embed(kwargs["embed_dim"], tuple(grid), cls_token=True)
    with torch.no_grad():
        encoder.pos_embed.copy_(torch.from_numpy(table).unsqueeze(0))
    encoder.pos_embed.requires_grad_(False)
    return encoder


def preset_dict(preset: str) -> dict:
    """The preset's fields as a JSON-able dict (stored in ``config.json``)."""
    return asdict(get_preset(preset))
