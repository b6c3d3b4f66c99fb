"""Masked autoencoder around a timm ViT encoder, for 1-channel non-square inputs.

Follows He et al. 2022 ("Masked Autoencoders Are Scalable Vision Learners"): random masking of
patch tokens, the encoder sees only the visible ones, a light decoder of timm ``Block``s
reconstructs every patch, and the loss is the mean squared error on *masked* patches of the
per-patch normalised pixels (``norm_pix_loss``). Unlike the reference ``patchify``, ours works
on ``(N, 1, H, W)`` with ``H != W`` (``H/p`` rows of patches by ``W/p`` columns).

Masking noise is drawn from an explicit ``torch.Generator`` so a training step's masks are a
pure function of the seed, rank and step (exact resume without saved RNG state).
"""

from __future__ import annotations

import torch
from timm.models.vision_transformer import Block
from torch import nn

from pretrain.model import build_encoder, get_preset, init_mae_weights, sincos_pos_embed


def patchify(images: torch.Tensor, patch: int) -> torch.Tensor:
    """``(N, C, H, W)`` -> ``(N, L, p*p*C)`` with ``L = (H/p)*(W/p)`` in row-major patch order."""
    n, c, h, w = images.shape
    rows, cols = h // patch, w // patch
    x = images.reshape(n, c, rows, patch, cols, patch)
    x = x.permute(0, 2, 4, 3, 5, 1)  # (N, rows, cols, p, p, C)
    return x.reshape(n, rows * cols, patch * patch * c)


def unpatchify(patches: torch.Tensor, patch: int, grid: tuple[int, int], channels: int = 1) -> torch.Tensor:
    """Inverse of :func:`patchify`: ``(N, L, p*p*C)`` -> ``(N, C, rows*p, cols*p)``."""
    n = patches.shape[0]
    rows, cols = grid
    x = patches.reshape(n, rows, cols, patch, patch, channels)
    x = x.permute(0, 5, 1, 3, 2, 4)  # (N, C, rows, p, cols, p)
    return x.reshape(n, channels, rows * patch, cols * patch)


def random_masking(tokens: torch.Tensor, mask_ratio: float, noise: torch.Tensor):
    """Keep a random ``1 - mask_ratio`` share of tokens per sample (MAE's argsort trick).

    tokens: ``(N, L, D)``; noise: ``(N, L)`` uniform. Returns ``(kept (N, K, D), mask (N, L)``
    with 1 = masked, ``restore (N, L)`` indices that undo the shuffle).
    """
    n, length, dim = tokens.shape
    keep = max(1, int(round(length * (1 - mask_ratio))))
    shuffle = torch.argsort(noise, dim=1)  # ascending: the smallest noise values are kept
    restore = torch.argsort(shuffle, dim=1)
    kept_index = shuffle[:, :keep]
    kept = torch.gather(tokens, 1, kept_index.unsqueeze(-1).expand(-1, -1, dim))
    mask = torch.ones(n, length, device=tokens.device)
    mask[:, :keep] = 0
    mask = torch.gather(mask, 1, restore)
    return kept, mask, restore


class MaskedAutoencoder(nn.Module):
    """MAE with a timm ViT encoder (``self.encoder``, saved alone as the checkpoint).

    Args:
        preset: name in ``PRESETS`` (encoder and decoder sizes).
        img_size: ``(H, W)`` input shape, multiples of the patch size.
        mask_ratio: share of patches hidden from the encoder, 0 < r < 1 (paper: 0.75).
        norm_pix_loss: normalise each target patch to mean 0 / std 1 (paper: better features).
        seed: initialisation seed (the encoder equals ``build_encoder(preset, img_size, seed)``).
    """

    def __init__(self, preset: str, img_size: tuple[int, int], mask_ratio: float = 0.75,
                 norm_pix_loss: bool = True, seed: int = 0):
        super().__init__()
        if not 0.0 < mask_ratio < 1.0:
            raise ValueError(f"mask ratio {mask_ratio} must be in (0, 1)")
        spec = get_preset(preset)
        self.patch = spec.patch_size
        self.mask_ratio = mask_ratio
        self.norm_pix_loss = norm_pix_loss
        self.encoder = build_encoder(preset, img_size, seed=seed)
        self.grid = tuple(self.encoder.patch_embed.grid_size)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed + 1)
            self.decoder_embed = nn.Linear(spec.embed_dim, spec.decoder_dim)
            self.mask_token = nn.Parameter(torch.zeros(1, 1, spec.decoder_dim))
            self.decoder_blocks = nn.Sequential(*[
                Block(spec.decoder_dim, spec.decoder_heads, mlp_ratio=spec.mlp_ratio, qkv_bias=True)
                for _ in range(spec.decoder_depth)])
            self.decoder_norm = nn.LayerNorm(spec.decoder_dim, eps=1e-6)
            self.decoder_pred = nn.Linear(spec.decoder_dim, self.patch * self.patch)
            for part in (self.decoder_embed, self.decoder_blocks, self.decoder_norm, self.decoder_pred):
                init_mae_weights(part)
            nn.init.normal_(self.mask_token, std=0.02)
        table = sincos_pos_embed(spec.decoder_dim, self.grid, cls_token=True)
        self.register_buffer("decoder_pos_embed", torch.from_numpy(table).unsqueeze(0), persistent=False)

    @property
    def num_patches(self) -> int:
        return self.grid[0] * self.grid[1]

    def forward_encoder(self, images: torch.Tensor, noise: torch.Tensor):
        """``(N, 1, H, W)`` -> visible tokens ``(N, 1+K, D)`` (cls first), mask, restore."""
        enc = self.encoder
        x = enc.patch_embed(images)  # (N, L, D)
        x = x + enc.pos_embed[:, 1:, :]
        x, mask, restore = random_masking(x, self.mask_ratio, noise)
        cls = (enc.cls_token + enc.pos_embed[:, :1, :]).expand(x.shape[0], -1, -1)
        x = torch.cat([cls, x], dim=1)
        x = enc.norm_pre(x)
        x = enc.blocks(x)
        return enc.norm(x), mask, restore

    def forward_decoder(self, tokens: torch.Tensor, restore: torch.Tensor) -> torch.Tensor:
        """Visible tokens ``(N, 1+K, D)`` -> predicted pixels ``(N, L, p*p)`` of every patch."""
        x = self.decoder_embed(tokens)
        n, length = x.shape[0], restore.shape[1]
        fill = self.mask_token.expand(n, length + 1 - x.shape[1], -1)
        patches = torch.cat([x[:, 1:, :], fill], dim=1)
        patches = torch.gather(patches, 1, restore.unsqueeze(-1).expand(-1, -1, x.shape[2]))
        x = torch.cat([x[:, :1, :], patches], dim=1) + self.decoder_pos_embed
        x = self.decoder_norm(self.decoder_blocks(x))
        return self.decoder_pred(x[:, 1:, :])

    def target(self, images: torch.Tensor) -> torch.Tensor:
        """Per-patch targets ``(N, L, p*p)``, normalised per patch if ``norm_pix_loss``."""
        target = patchify(images, self.patch)
        if self.norm_pix_loss:
            mean = target.mean(dim=-1, keepdim=True)
            var = target.var(dim=-1, keepdim=True)
            target = (target - mean) / (var + 1e-6).sqrt()
        return target

    def loss(self, images: torch.Tensor, pred: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Mean squared error over the masked patches only (scalar)."""
        per_patch = ((pred.float() - self.target(images.float())) ** 2).mean(dim=-1)  # (N, L)
        return (per_patch * mask).sum() / mask.sum()

    def forward(self, images: torch.Tensor, noise: torch.Tensor | None = None):
        """Returns ``(loss, pred (N, L, p*p), mask (N, L))``; ``noise`` ``(N, L)`` picks the mask."""
        if noise is None:
            noise = torch.rand(images.shape[0], self.num_patches, device=images.device)
        tokens, mask, restore = self.forward_encoder(images, noise.to(images.device))
        pred = self.forward_decoder(tokens, restore)
        return self.loss(images, pred, mask), pred, mask
