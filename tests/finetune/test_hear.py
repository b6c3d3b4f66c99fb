import pytest
import torch

import finetune.hear as hear
from tests.finetune.fixtures import save_checkpoint


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return hear.load_model(str(save_checkpoint(tmp_path_factory.mktemp("h") / "ckpt", img_size=(64, 32))))


def test_api_attributes_and_shapes(model):
    assert model.sample_rate == 16000
    assert model.scene_embedding_size == model.timestamp_embedding_size == 32
    audio = torch.randn(3, 16000) * 0.1  # 1 s -> 101 frames -> 7 columns of 16 frames
    emb, ts = hear.get_timestamp_embeddings(audio, model)
    assert emb.shape == (3, 7, 32) and ts.shape == (3, 7)
    assert ts[0, 0] == pytest.approx(80.0) and float(ts[0, 1] - ts[0, 0]) == pytest.approx(160.0)
    scene = hear.get_scene_embeddings(audio, model)
    assert scene.shape == (3, 32) and torch.allclose(scene, emb.mean(1))
    assert torch.isfinite(scene).all()


def test_embeddings_depend_on_the_sound_not_the_batch(model):
    a = torch.sin(2 * torch.pi * 440 * torch.arange(8000) / 16000).unsqueeze(0)
    b = torch.randn(1, 8000) * 0.1
    alone = hear.get_scene_embeddings(a, model)
    batched = hear.get_scene_embeddings(torch.cat([a, b]), model)
    assert torch.allclose(alone[0], batched[0], atol=1e-5)
    assert not torch.allclose(batched[0], batched[1], atol=1e-3)


def test_bad_audio_shape(model):
    with pytest.raises(ValueError, match=r"\(n_sounds, n_samples\)"):
        hear.get_scene_embeddings(torch.zeros(16000), model)
