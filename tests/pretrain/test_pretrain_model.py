"""The encoder factory and the MAE model: shapes, determinism, init, masking, loss."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pretrain.mae import MaskedAutoencoder, patchify, random_masking, unpatchify
from pretrain.model import PRESETS, build_encoder, create_encoder, sincos_pos_embed, timm_kwargs


@pytest.mark.parametrize("preset, timm_name", [("cpu-tiny", "vit_tiny_patch16_224"),
                                               ("vit-base-audio", "vit_base_patch16_224")])
def test_preset_encoders_are_timm_s_own_architectures(preset, timm_name):
    """Our kwargs rebuild exactly timm's registered ViT-Tiny / ViT-Base (one input channel)."""
    import timm

    name, kwargs = timm_kwargs(preset, (32, 64))
    with torch.device("meta"):  # shapes only: no memory, no init
        ours = create_encoder(name, kwargs)
        theirs = timm.create_model(timm_name, pretrained=False, in_chans=1, num_classes=0,
                                   img_size=(32, 64), global_pool="avg", fc_norm=False)
    assert name == timm_name
    assert {k: v.shape for k, v in ours.state_dict().items()} == \
        {k: v.shape for k, v in theirs.state_dict().items()}


def test_the_mae_decoder_follows_its_preset():
    spec = PRESETS["test-micro"]
    mae = MaskedAutoencoder("test-micro", (32, 64))
    assert len(mae.decoder_blocks) == spec.decoder_depth
    assert mae.decoder_embed.in_features == spec.embed_dim
    assert mae.decoder_embed.out_features == mae.decoder_norm.normalized_shape[0] == spec.decoder_dim
    assert mae.decoder_blocks[0].attn.num_heads == spec.decoder_heads
    assert mae.decoder_pred.out_features == spec.patch_size ** 2


def test_build_encoder_is_deterministic_and_seeded():
    a = build_encoder("test-micro", (32, 64), seed=3).state_dict()
    b = build_encoder("test-micro", (32, 64), seed=3).state_dict()
    c = build_encoder("test-micro", (32, 64), seed=4).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["blocks.0.attn.qkv.weight"], c["blocks.0.attn.qkv.weight"])
    state = torch.get_rng_state()
    build_encoder("test-micro", (32, 32), seed=0)
    assert torch.equal(state, torch.get_rng_state()), "global RNG must stay untouched"


def test_encoder_is_plain_timm_non_square_one_channel():
    encoder = build_encoder("test-micro", (32, 96), seed=0)
    assert tuple(encoder.patch_embed.grid_size) == (2, 6)
    name, kwargs = timm_kwargs("test-micro", (32, 96))
    fresh = create_encoder(name, kwargs)
    fresh.load_state_dict(encoder.state_dict(), strict=True)
    out = fresh(torch.randn(3, 1, 32, 96))
    assert out.shape == (3, PRESETS["test-micro"].embed_dim)


def test_position_embedding_is_fixed_sincos_of_the_grid():
    encoder = build_encoder("test-micro", (32, 64), seed=0)
    expected = sincos_pos_embed(32, (2, 4), cls_token=True)
    assert torch.allclose(encoder.pos_embed[0], torch.from_numpy(expected))
    assert not encoder.pos_embed.requires_grad
    assert torch.all(encoder.pos_embed[0, 0] == 0)
    # rows use the first half of the channels, columns the second: row 0 / col 1 differ only there
    table = expected[1:]
    assert np.allclose(table[0, :16], table[1, :16]) and not np.allclose(table[0, 16:], table[1, 16:])
    assert np.allclose(table[0, 16:], table[4, 16:]) and not np.allclose(table[0, :16], table[4, :16])


def test_mae_init_is_xavier_uniform():
    encoder = build_encoder("cpu-tiny", (128, 128), seed=0)
    weight = encoder.blocks[0].mlp.fc1.weight.detach()
    bound = np.sqrt(6 / (weight.shape[0] + weight.shape[1]))
    assert float(weight.abs().max()) <= bound and float(weight.abs().max()) > 0.95 * bound
    assert torch.all(encoder.blocks[0].mlp.fc1.bias == 0)


@pytest.mark.parametrize("name", ["unknown", "vit-huge"])
def test_unknown_preset(name):
    with pytest.raises(ValueError, match="unknown preset"):
        build_encoder(name, (32, 32))


def test_shape_not_divisible_by_patch():
    with pytest.raises(ValueError, match=r"input size 32x40 must be positive multiples of the patch size 16"):
        build_encoder("test-micro", (32, 40))


def test_patchify_roundtrip_non_square_single_channel():
    images = torch.arange(2 * 32 * 48, dtype=torch.float32).reshape(2, 1, 32, 48)
    patches = patchify(images, 16)
    assert patches.shape == (2, 6, 256)
    # patch 1 of the row-major grid is rows 0-15, columns 16-31
    assert torch.equal(patches[0, 1], images[0, 0, :16, 16:32].reshape(-1))
    assert torch.equal(unpatchify(patches, 16, (2, 3)), images)


def test_random_masking_keeps_a_quarter():
    tokens = torch.randn(3, 16, 8)
    noise = torch.rand(3, 16)
    kept, mask, restore = random_masking(tokens, 0.75, noise)
    assert kept.shape == (3, 4, 8)
    assert torch.all(mask.sum(dim=1) == 12)
    # kept tokens are those with the smallest noise, and unmasked in the mask
    order = noise.argsort(dim=1)[:, :4]
    assert torch.equal(kept, torch.gather(tokens, 1, order.unsqueeze(-1).expand(-1, -1, 8)))
    assert torch.all(torch.gather(mask, 1, order) == 0)


def test_loss_counts_only_masked_patches():
    mae = MaskedAutoencoder("test-micro", (32, 64), mask_ratio=0.5)
    images = torch.randn(2, 1, 32, 64)
    target = mae.target(images)
    mask = torch.zeros(2, 8)
    mask[:, :4] = 1
    pred = target.clone()
    pred[:, 4:] += 5.0  # wrong only on visible patches: no loss
    assert float(mae.loss(images, pred, mask)) == pytest.approx(0.0, abs=1e-6)
    pred[:, 0] += 1.0  # wrong by 1 on one masked patch of 4 per sample
    assert float(mae.loss(images, pred, mask)) == pytest.approx(0.25, rel=1e-5)


def test_mae_forward_shapes_and_noise_determinism():
    mae = MaskedAutoencoder("test-micro", (32, 64), mask_ratio=0.75, seed=1)
    images = torch.randn(2, 1, 32, 64)
    noise = torch.rand(2, 8)
    loss, pred, mask = mae(images, noise)
    assert pred.shape == (2, 8, 256) and mask.shape == (2, 8) and loss.ndim == 0
    again, _, mask2 = mae(images, noise)
    assert torch.equal(mask, mask2) and float(loss.detach()) == float(again.detach())
    assert torch.equal(mae.encoder.state_dict()["cls_token"], build_encoder("test-micro", (32, 64), 1).cls_token)


def test_bad_mask_ratio():
    with pytest.raises(ValueError, match="mask ratio 1.0"):
        MaskedAutoencoder("test-micro", (32, 32), mask_ratio=1.0)
