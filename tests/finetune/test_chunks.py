"""Whole-clip embeddings: chunking, dropped padding, the ``freq`` layout, task clip lengths."""
import numpy as np
import pytest
import torch
from torch import nn

from finetune.chunks import apply_clip_length, embed_clips, pooled, seconds_to_frames, split_chunks
from finetune.encoder import Encoder, pool, random_encoder
from pretrain.frontend import FrontendConfig, Standardizer


class PatchMeanViT(nn.Module):
    """A stand-in encoder: token (f, t) of a chunk = (mean of input patch (f, t), f), in timm's
    row-major (frequency row, time column) order."""

    def __init__(self, patch: int = 4):
        super().__init__()
        self.blocks = nn.ModuleList([nn.Identity()])
        self.embed_dim, self.patch = 2, patch

    def forward_intermediates(self, x, indices, **_):
        b, _, h, w = x.shape
        means = nn.functional.avg_pool2d(x, self.patch)[:, 0]  # (B, F, T)
        f = torch.arange(h // self.patch, dtype=x.dtype)[None, :, None].expand_as(means)
        return [torch.stack([means, f], -1).reshape(b, -1, 2) for _ in indices]


def _fake(height=8, width=16, patch=4) -> Encoder:
    enc = Encoder(PatchMeanViT(patch), "fake", "0", height, width)
    enc.model.patch_embed = type("P", (), {"patch_size": (patch, patch)})()
    return enc


def test_two_widths_give_two_chunks_and_padding_only_columns_are_dropped():
    spec = torch.randn(8, 32)
    chunks, cols = split_chunks(spec, 16, 4)
    assert chunks.shape == (2, 8, 16) and cols.tolist() == [4, 4]
    assert torch.equal(chunks[1], spec[:, 16:])
    chunks, cols = split_chunks(torch.randn(8, 21), 16, 4)  # 5 real frames in chunk 2 -> 2 columns
    assert chunks.shape == (2, 8, 16) and cols.tolist() == [4, 2]
    # time value t at frame t: the mean pools only real columns (frames 0..23), never the padding
    spec = torch.arange(21, dtype=torch.float32).expand(8, 21).clone()
    out, info = embed_clips(_fake(), [spec], Standardizer(0.0, 1.0), "chunks", batch_size=1)
    assert info["chunks"] == 2
    freq = pooled(out, 2, 2, (1,), "freq").reshape(2, 2)
    # column means: 1.5, 5.5, 9.5, 13.5, 17.5, then (20 + 4 * min)/4 -> real frame 20 and padding 0s
    cols_mean = np.array([1.5, 5.5, 9.5, 13.5, 17.5, 20 / 4])
    assert freq[:, 0] == pytest.approx([cols_mean.mean()] * 2)
    crop, _ = embed_clips(_fake(), [spec], Standardizer(0.0, 1.0), "crop")  # centre 16 frames only
    assert pooled(crop, 2, 2, (1,), "mean")[0, 0] == pytest.approx(np.arange(2, 18).mean())


def test_freq_layout_orders_tokens_by_time_then_frequency():
    enc = _fake(height=8, width=8, patch=4)  # grid 2 x 2
    x = torch.zeros(1, 1, 8, 8)
    for f in range(2):
        for t in range(2):
            x[0, 0, 4 * f:4 * f + 4, 4 * t:4 * t + 4] = 10 * f + t
    tokens = enc.model.forward_intermediates(x, [0])
    out = pool(tokens, "freq", enc.grid)[0]
    # per time step t: [token(f=0), token(f=1)] side by side, then the mean over t
    per_step = [torch.cat([torch.tensor([10. * f + t, f]) for f in range(2)]) for t in range(2)]
    assert torch.allclose(out, torch.stack(per_step).mean(0))
    assert out.tolist() == [0.5, 0.0, 10.5, 1.0]
    assert pool(tokens, "mean", enc.grid)[0].tolist() == [5.5, 0.5]
    assert pool(tokens, "meanmax", enc.grid)[0].tolist() == [5.5, 0.5, 11.0, 1.0]


def test_timm_patch_tokens_are_row_major_frequency_by_time():
    enc = random_encoder("test-micro", 64, 32)  # patch 16: grid 4 x 2
    proj = enc.model.patch_embed.proj
    with torch.no_grad():
        proj.weight.zero_()
        proj.weight[0, 0] = 1.0 / 256
        proj.bias.zero_()
    x = torch.zeros(1, 1, 64, 32)
    for f in range(4):
        for t in range(2):
            x[0, 0, 16 * f:16 * f + 16, 16 * t:16 * t + 16] = 10 * f + t
    tokens = enc.model.patch_embed(x)[0, :, 0]
    assert tokens.tolist() == pytest.approx([10 * f + t for f in range(4) for t in range(2)])


def test_batches_mix_clips_and_match_one_clip_at_a_time():
    enc = random_encoder("test-micro", 64, 32, seed=1)
    rng = torch.Generator().manual_seed(0)
    specs = [torch.randn(64, n, generator=rng) for n in (10, 70, 32, 100)]
    norm = Standardizer(0.0, 1.0)
    together, info = embed_clips(enc, specs, norm, "chunks", batch_size=3)
    assert info["chunks"] == 1 + 3 + 1 + 4
    alone = np.concatenate([embed_clips(enc, [s], norm, "chunks", batch_size=1)[0] for s in specs])
    assert np.allclose(together, alone, atol=1e-5)
    assert pooled(together, 4, enc.dim, (1, 2), "freq").shape == (4, 2 * 4 * enc.dim)


def test_task_clip_length_crops_from_the_start_or_pads():
    fe = FrontendConfig()
    assert seconds_to_frames(5.0, fe) == 501 and seconds_to_frames(1.0, fe) == 101
    spec = torch.arange(12, dtype=torch.float32).reshape(2, 6)
    assert torch.equal(apply_clip_length(spec, 4), spec[:, :4])
    padded = apply_clip_length(spec, 8)
    assert padded.shape == (2, 8) and torch.equal(padded[:, 6:], torch.zeros(2, 2))  # the clip's minimum
    assert apply_clip_length(spec, None) is spec
