import sys
import types

import numpy as np
import pytest
import torch

import finetune.hear as hear
from finetune.chunks import embed_clips, pooled
from pretrain.frontend import Standardizer, log_mel
from tests.finetune.fixtures import save_checkpoint


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return hear.load_model(str(save_checkpoint(tmp_path_factory.mktemp("h") / "ckpt", img_size=(64, 32))))


def test_api_attributes_and_shapes(model):
    assert model.sample_rate == 16000
    assert model.scene_embedding_size == model.timestamp_embedding_size == 4 * 32  # F * D
    audio = torch.randn(3, 16000) * 0.1  # 1 s -> 101 frames -> 26 hops of 4 frames
    emb, ts = hear.get_timestamp_embeddings(audio, model)
    assert emb.shape == (3, 26, 128) and ts.shape == (3, 26) and emb.dtype == ts.dtype == torch.float32
    assert ts[0, 0] == pytest.approx(75.0) and torch.allclose(torch.diff(ts), torch.tensor(40.0))
    assert torch.isfinite(emb).all() and (emb.abs().sum(-1) > 0).all()  # every stamp filled
    scene = hear.get_scene_embeddings(audio, model)
    assert scene.shape == (3, 128) and scene.dtype == torch.float32 and torch.isfinite(scene).all()


def test_scene_is_the_probe_freq_embedding_and_stamps_are_its_columns(model):
    audio = torch.randn(1, 24000) * 0.1
    spec = log_mel(audio[0], model.frontend)
    norm = Standardizer.fit(spec)
    stored, _ = embed_clips(model.spec, [spec], norm, "chunks")
    probe = pooled(stored, 4, 32, (model.spec.depth,), "freq")
    assert np.allclose(hear.get_scene_embeddings(audio, model).numpy(), probe, atol=1e-5)
    emb, _ = hear.get_timestamp_embeddings(audio, model)
    # the shift-0 stamps (every 4th) are the columns of the probe's chunks: their mean over the
    # sound's columns is the scene embedding
    assert np.allclose(emb[0, ::4].mean(0).numpy(), probe[0], atol=1e-4)


@pytest.mark.parametrize("seconds", [1.07, 1.98, 4.0])
def test_clip_lengths_give_regular_40ms_stamps_covering_the_sound(model, seconds):
    n = int(seconds * 16000)
    emb, ts = hear.get_timestamp_embeddings(torch.rand(2, n) * 2 - 1, model)
    frames = 1 + n // 160
    assert emb.shape == (2, -(-frames // 4), 128) and ts.shape == emb.shape[:2]
    diff = torch.diff(ts)
    assert torch.all((diff - diff.mean()).abs() < 1e-3) and float(diff.mean()) <= 50.0
    assert float(ts[0, -1]) < 1000 * seconds + 80  # the last stamp starts inside the sound


def test_batch_of_274s_clips_depends_on_the_sound_not_the_batch(model):
    batch = torch.rand(4, int(2.74 * 16000)) * 2 - 1
    scene = hear.get_scene_embeddings(batch, model)
    assert scene.shape == (4, 128)
    assert torch.allclose(hear.get_scene_embeddings(batch[1:2], model)[0], scene[1], atol=1e-5)
    assert not torch.allclose(scene[0], scene[1], atol=1e-4)
    emb, _ = hear.get_timestamp_embeddings(batch, model)
    assert torch.allclose(hear.get_timestamp_embeddings(batch[2:3], model)[0][0], emb[2], atol=1e-5)


def test_bad_audio_shape(model):
    with pytest.raises(ValueError, match=r"\(n_sounds, n_samples\)"):
        hear.get_scene_embeddings(torch.zeros(16000), model)


def test_hearvalidator_passes(tmp_path, monkeypatch, capsys):
    """The HEAR 2021 validator itself, on a checkpoint folder. It imports tensorflow only to
    recognise TensorFlow modules; a stand-in module lets it check this PyTorch module without it."""
    validate = pytest.importorskip("hearvalidator.validate", reason="hearvalidator is not installed") \
        if "tensorflow" in sys.modules or _has_tf() else _import_validator_without_tf(monkeypatch)
    ckpt = save_checkpoint(tmp_path / "ckpt", img_size=(64, 32))
    validate.ValidateModel("finetune.hear", str(ckpt), device="cpu")()
    out = capsys.readouterr().out
    assert "Interval between timestamps is 40.0ms" in out and "Received embedding of shape: torch.Size([8, 128])" in out


def _has_tf() -> bool:
    import importlib.util

    return importlib.util.find_spec("tensorflow") is not None


def _import_validator_without_tf(monkeypatch):
    import importlib.util

    if importlib.util.find_spec("hearvalidator") is None:
        pytest.skip("hearvalidator is not installed (pip install --no-deps hearvalidator)")
    stub = types.ModuleType("tensorflow")
    stub.Module = type("Module", (), {})
    monkeypatch.setitem(sys.modules, "tensorflow", stub)
    monkeypatch.delitem(sys.modules, "hearvalidator.validate", raising=False)
    import hearvalidator.validate as validate

    return validate
