import json

import numpy as np
import pytest
import torch

from finetune.encoder import embed_batch, load_checkpoint, parse_layers, random_encoder
from finetune.task import UserError
from tests.finetune.fixtures import save_checkpoint


def test_checkpoint_round_trip_matches_random_control(tmp_path):
    ckpt = save_checkpoint(tmp_path / "run" / "step0", seed=3)
    loaded = load_checkpoint(ckpt, 64, 32)
    control = random_encoder("test-micro", 64, 32, seed=3)
    assert loaded.name == "run/step0" and loaded.grid == (4, 2)
    x = torch.randn(3, 1, 64, 32)
    assert np.allclose(embed_batch(loaded, x, (2,), "mean"), embed_batch(control, x, (2,), "mean"), atol=1e-5)
    assert loaded.fingerprint == control.fingerprint  # content hash: step0 and random share the cache


def test_layers_and_pooling_shapes_and_last_layer_is_forward_features(tmp_path):
    enc = random_encoder("test-micro", 64, 32, seed=0)
    x = torch.randn(2, 1, 64, 32)
    assert embed_batch(enc, x, (1, 2), "meanmax").shape == (2, 4 * enc.dim)
    last = embed_batch(enc, x, (enc.depth,), "mean")
    with torch.no_grad():
        ref = enc.model.forward_features(x)[:, enc.model.num_prefix_tokens:].mean(1).numpy()
    assert np.allclose(last, ref, atol=1e-5)
    assert parse_layers("last", 12) == (12,) and parse_layers("-1,6", 12) == (12, 6)
    assert parse_layers("all", 3) == (1, 2, 3)
    with pytest.raises(UserError, match="block 13 out of range"):
        parse_layers("13", 12)


def test_wider_input_resamples_position_embedding(tmp_path):
    ckpt = save_checkpoint(tmp_path / "c")
    wide = load_checkpoint(ckpt, 64, 64)
    assert wide.model.pos_embed.shape[1] == 1 + 4 * 4
    assert embed_batch(wide, torch.randn(1, 1, 64, 64), (2,), "mean").shape == (1, wide.dim)


def test_bad_checkpoints_are_one_line_errors(tmp_path):
    with pytest.raises(UserError, match="config.json does not exist"):
        load_checkpoint(tmp_path / "none", 64, 32)
    ckpt = save_checkpoint(tmp_path / "c")
    cfg = json.loads((ckpt / "config.json").read_text())
    cfg["timm_kwargs"]["embed_dim"] = 64  # weights are 32 wide
    (ckpt / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(UserError, match=r"encoder.safetensors does not fit") as err:
        load_checkpoint(ckpt, 64, 32)
    assert "\n" not in str(err.value)
    with pytest.raises(UserError, match="multiple of the checkpoint's patch size 16"):
        load_checkpoint(save_checkpoint(tmp_path / "d"), 64, 40)
