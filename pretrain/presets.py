"""Named model sizes (no torch import, so ``--help`` and argument checks stay fast)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Preset:
    """Encoder and decoder sizes of one named model.

    timm_name: a registered timm ViT whose defaults are overridden by the fields below.
    patch_size: square patch side in pixels (mel bins x frames for audio).
    embed_dim, depth, num_heads: encoder width, number of blocks, attention heads.
    decoder_dim, decoder_depth, decoder_heads: the light MAE decoder (timm Blocks).
    mlp_ratio: hidden width of the MLPs relative to the token width (ViT: 4).
    """

    timm_name: str
    patch_size: int
    embed_dim: int
    depth: int
    num_heads: int
    decoder_dim: int
    decoder_depth: int
    decoder_heads: int
    mlp_ratio: float = 4.0


PRESETS: dict[str, Preset] = {
    # ViT-Tiny (Touvron et al. 2021: dim 192, 12 blocks, 3 heads) with a 4-block dim-128 decoder;
    # ~105-112 MAE images/s at 128x128 on 2 CPU threads of an idle 2-core VM (docs/pretrain.md).
    "cpu-tiny": Preset("vit_tiny_patch16_224", 16, 192, 12, 3, 128, 4, 4),
    # ViT-Base/16 with the MAE paper's decoder (8 blocks, dim 512, 16 heads; He et al. 2022).
    "vit-base-audio": Preset("vit_base_patch16_224", 16, 768, 12, 12, 512, 8, 16),
    # Test-sized variant: seconds per step on one core; only for tests and smoke runs.
    "test-micro": Preset("vit_tiny_patch16_224", 16, 32, 2, 2, 32, 1, 2, 2.0),
}


def get_preset(name: str) -> Preset:
    """The preset called ``name``; ``ValueError`` naming the known ones otherwise."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown preset {name!r}; expected one of {sorted(PRESETS)}") from None


