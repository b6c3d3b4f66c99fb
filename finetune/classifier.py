"""The fine-tuned model: a timm ViT encoder + a linear head on its pooled patch tokens, with
inputs narrower than the encoder's width, stochastic depth and layer-wise lr decay groups.

Pooling into the head (``HEAD_POOLINGS``): ``mean`` of all tokens (AudioMAE's fine-tuning head),
or ``freq``: the mean over time of each frequency row of the patch grid, concatenated (F x D
features; what the linear probe calls frequency-preserving pooling). Head norm
(``HEAD_NORMS``): ``none``, or ``batch``: a BatchNorm1d without affine parameters on the pooled
features (MAE's linear-probe head), so the head sees standardised features from the first step.

Narrow inputs: an input of ``w`` patch columns (``w`` <= the encoder's) gets the position
embeddings of the grid's first ``w`` columns -- the tokens a full-width input would have there --
and attends only to real columns. Short clips (spoken digits) then cost what they fill, and
training crops and evaluation chunks see the same thing: no padding-only columns.
"""
from __future__ import annotations

import torch
from timm.layers import DropPath
from torch import nn

from finetune.recipe import HEAD_NORMS, HEAD_POOLINGS



class Classifier(nn.Module):
    """Encoder -> final-norm patch tokens pooled (``pooling``) -> head norm (``head_norm``) ->
    Linear (init N(0, 2e-5), as MAE)."""

    def __init__(self, encoder: nn.Module, num_classes: int, drop_path: float = 0.0, pooling: str = "mean",
                 head_norm: str = "none"):
        super().__init__()
        if pooling not in HEAD_POOLINGS:
            raise ValueError(f"pooling={pooling!r} must be one of {', '.join(HEAD_POOLINGS)}")
        if head_norm not in HEAD_NORMS:
            raise ValueError(f"head_norm={head_norm!r} must be one of {', '.join(HEAD_NORMS)}")
        self.encoder = encoder
        self.pooling = pooling
        self.rows = encoder.patch_embed.grid_size[0]
        width = encoder.embed_dim * (self.rows if pooling == "freq" else 1)
        self.head_norm = nn.BatchNorm1d(width, affine=False) if head_norm == "batch" else nn.Identity()
        self.head = nn.Linear(width, num_classes)
        nn.init.trunc_normal_(self.head.weight, std=2e-5)
        nn.init.zeros_(self.head.bias)
        set_drop_path(encoder, drop_path)

    def tokens(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, 1, H, w)`` -> final-norm patch tokens ``(B, N, D)`` (prefix tokens dropped)."""
        return narrow_features(self.encoder, x)[:, self.encoder.num_prefix_tokens:]

    def _by_row(self, tokens: torch.Tensor) -> torch.Tensor:
        """Row-major tokens ``(B, F*w, D)`` as ``(B, F, w, D)``: frequency rows x patch columns."""
        b, n, d = tokens.shape
        return tokens.reshape(b, self.rows, n // self.rows, d)

    def pool_sums(self, tokens: torch.Tensor) -> tuple[torch.Tensor, int]:
        """Token sums ``(B, head.in_features)`` and the count each sum is over: all tokens
        (``mean``) or each frequency row's columns (``freq``). Sums of several chunks of one clip
        add up, so whole clips pool exactly as one wide input would."""
        if self.pooling == "mean":
            return tokens.sum(dim=1), tokens.shape[1]
        rows = self._by_row(tokens)
        return rows.sum(dim=2).flatten(1), rows.shape[2]

    def pool(self, tokens: torch.Tensor) -> torch.Tensor:
        """The head's input of one batch of tokens ``(B, N, D)``: their pooled means."""
        if self.pooling == "mean":
            return tokens.mean(dim=1)
        return self._by_row(tokens).mean(dim=2).flatten(1)

    def classify(self, pooled: torch.Tensor) -> torch.Tensor:
        """Logits of pooled features: head norm, then the linear head."""
        return self.head(self.head_norm(pooled))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classify(self.pool(self.tokens(x)))


def set_drop_path(vit: nn.Module, rate: float) -> None:
    """Stochastic depth (Huang et al. 2016) as timm builds it: block k of L drops its residual
    branches with probability ``rate * k / (L - 1)`` (0 for the first block)."""
    if not 0 <= rate < 1:
        raise ValueError(f"drop_path={rate} must be in [0, 1)")
    blocks = list(vit.blocks)
    for k, block in enumerate(blocks):
        p = rate * k / max(len(blocks) - 1, 1)
        for name in ("drop_path1", "drop_path2"):
            if hasattr(block, name):
                setattr(block, name, DropPath(p) if p > 0 else nn.Identity())


def narrow_features(vit: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """timm ``VisionTransformer.forward_features`` for an input whose width is at most the
    model's (a whole number of patch columns); equal to it at full width."""
    grid_h, grid_w = vit.patch_embed.grid_size
    t = vit.patch_embed.proj(x)  # (B, D, gh, w)
    b, d, gh, w = t.shape
    if gh != grid_h or w > grid_w or x.shape[-1] % vit.patch_embed.patch_size[1]:
        raise ValueError(f"input {tuple(x.shape[-2:])} does not fit the encoder's "
                         f"{grid_h} x {grid_w} patch grid (height equal, width a smaller multiple)")
    t = vit.patch_embed.norm(t.flatten(2).transpose(1, 2))  # (B, gh*w, D), row-major
    prefix = [tok.expand(b, -1, -1) for tok in (vit.cls_token, getattr(vit, "reg_token", None)) if tok is not None]
    if vit.pos_embed is not None:
        n_pre = 0 if vit.no_embed_class else vit.num_prefix_tokens
        pos = vit.pos_embed[:, n_pre:].reshape(1, grid_h, grid_w, d)[:, :, :w].reshape(1, gh * w, d)
        if vit.no_embed_class:
            t = torch.cat(prefix + [t + pos], dim=1)
        else:
            t = torch.cat(prefix + [t], dim=1) + torch.cat([vit.pos_embed[:, :n_pre], pos], dim=1)
    else:
        t = torch.cat(prefix + [t], dim=1)
    t = vit.norm_pre(vit.patch_drop(vit.pos_drop(t)))
    return vit.norm(vit.blocks(t))


def param_groups(model: Classifier, lr: float, weight_decay: float, layer_decay: float) -> list[dict]:
    """AdamW groups with layer-wise lr decay (block k of L: ``lr * decay ** (L + 1 - k)``, patch
    embedding and tokens ``lr * decay ** (L + 1)``, final norm and head ``lr``); no weight decay
    on 1-D parameters and tokens."""
    depth = len(model.encoder.blocks)
    groups: dict[tuple[int, bool], dict] = {}
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        if name.startswith("encoder.blocks."):
            layer = int(name.split(".")[2]) + 1
        elif name.startswith(("encoder.patch_embed", "encoder.cls_token", "encoder.pos_embed", "encoder.reg_token")):
            layer = 0
        else:  # final norm, head
            layer = depth + 1
        no_decay = p.ndim <= 1 or name.endswith(("cls_token", "pos_embed", "reg_token"))
        g = groups.setdefault((layer, no_decay), {"params": [], "weight_decay": 0.0 if no_decay else weight_decay,
                                                  "lr_scale": layer_decay ** (depth + 1 - layer)})
        g["params"].append(p)
    for g in groups.values():
        g["lr"] = lr * g["lr_scale"]
    return list(groups.values())
