"""The training stream: disjoint readers, seeded order, exact skip on resume, transforms, stats."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
import torch

from pretrain.data import PretrainStream, batches_before, make_loader, reader_units, shuffle_buffer, total_items
from pretrain.sources import audio_source, estimate_stats, parse_spec, shard_source, with_stats
from pretrain.transforms import NO_AUGMENT, Augment, pattern_to_input, tile_to_aspect
from tests.pretrain.shardkit import pattern, write_shards


@pytest.fixture(scope="module")
def shards(tmp_path_factory) -> Path:
    return write_shards(tmp_path_factory.mktemp("shards") / "stripes", n=48, shard_size=6, size=32)


def keys_of(stream: PretrainStream, count: int) -> list[str]:
    raw = itertools.islice(stream.raw_items(), count)
    return [item["__key__"] for _, item in raw]


def test_parse_spec():
    assert parse_spec("/data/fdb") == ("/data/fdb", 1.0)
    assert parse_spec("/data/fdb:0.25") == ("/data/fdb", 0.25)
    assert parse_spec("C:/odd/name") == ("C:/odd/name", 1.0)
    with pytest.raises(ValueError, match="weight '-1'"):
        parse_spec("/data/fdb:-1")


def test_missing_shards_error(tmp_path):
    with pytest.raises(ValueError, match=r"--data .*nothing.*dataset.json"):
        shard_source(str(tmp_path / "nothing"))
    with pytest.raises(ValueError, match="no .wav"):
        audio_source(str(tmp_path))


def test_reader_units_disjoint_and_complete():
    for epoch in range(3):
        parts = [reader_units(10, 4, g, epoch, seed=0, source_index=0)[0] for g in range(4)]
        flat = sorted(u for part in parts for u in part)
        assert flat == list(range(10))
    assert reader_units(10, 4, 0, 0, 0, 0) != reader_units(10, 4, 0, 1, 0, 0), "epochs reshuffle"
    assert reader_units(3, 4, 1, 0, 0, 0) == (reader_units(3, 4, 0, 0, 0, 0)[0], 4), "item stride fallback"


def test_shuffle_buffer_is_a_seeded_permutation():
    a = list(shuffle_buffer(iter(range(50)), 8, np.random.default_rng(1)))
    b = list(shuffle_buffer(iter(range(50)), 8, np.random.default_rng(1)))
    assert a == b and sorted(a) == list(range(50)) and a != list(range(50))
    assert list(shuffle_buffer(iter(range(5)), 1, np.random.default_rng(0))) == list(range(5))


def test_ranks_read_disjoint_shards_each_epoch(shards):
    source = with_stats(shard_source(str(shards)))
    per_rank = [keys_of(PretrainStream([source], (32, 32), seed=5, rank=r, world=2, buffer=4), 24)
                for r in range(2)]
    assert set(per_rank[0]).isdisjoint(per_rank[1])
    assert sorted(per_rank[0] + per_rank[1]) == [f"{i:09d}" for i in range(48)]
    shards_of = [{int(k) // 6 for k in keys} for keys in per_rank]
    assert len(shards_of[0]) == len(shards_of[1]) == 4 and shards_of[0].isdisjoint(shards_of[1])


def test_stream_is_seeded(shards):
    source = with_stats(shard_source(str(shards)))
    a = keys_of(PretrainStream([source], (32, 32), seed=0, buffer=16), 96)
    b = keys_of(PretrainStream([source], (32, 32), seed=0, buffer=16), 96)
    c = keys_of(PretrainStream([source], (32, 32), seed=1, buffer=16), 96)
    assert a == b and a != c
    assert sorted(a[:48]) == sorted(a[48:]) and a[:48] != a[48:], "second epoch reshuffled"


@pytest.mark.parametrize("workers", [0, 2])
def test_resume_skips_exactly_the_consumed_batches(shards, workers):
    source = with_stats(shard_source(str(shards)))

    def batches(start: int, count: int) -> list[torch.Tensor]:
        stream = PretrainStream([source], (32, 64), seed=2, batch_size=4, start_batch=start, buffer=8)
        return [batch.image for batch in itertools.islice(iter(make_loader(stream, workers)), count)]

    full = batches(0, 9)
    tail = batches(5, 4)
    assert all(torch.equal(x, y) for x, y in zip(full[5:], tail))
    assert not torch.equal(full[0], full[1])


def test_batches_before_round_robin():
    assert [batches_before(5, w, 2) for w in range(2)] == [3, 2]
    assert [batches_before(1, w, 3) for w in range(3)] == [1, 0, 0]
    assert batches_before(0, 0, 1) == 0


def test_mixing_follows_weights(tmp_path, shards):
    other = write_shards(tmp_path / "other", n=24, shard_size=6, size=32, kind="other")
    sources = [with_stats(shard_source(f"{shards}:3")), with_stats(shard_source(f"{other}:1"))]
    stream = PretrainStream(sources, (32, 32), seed=0, buffer=4)
    picks = [k for k, _ in itertools.islice(stream.raw_items(), 400)]
    assert 0.68 < picks.count(0) / 400 < 0.82


def test_tile_to_aspect():
    image = np.arange(16, dtype=np.uint8).reshape(4, 4)
    assert tile_to_aspect(image, 1.0) is image
    wide = tile_to_aspect(image, 4.0)
    assert wide.shape == (4, 12)
    assert np.array_equal(wide[:, 4:8], image[:, ::-1]) and np.array_equal(wide[:, 8:], image)


def test_pattern_to_input_shape_and_normalisation():
    image = pattern(0, 32)
    mean, std = image.mean() / 255, image.std() / 255
    x = pattern_to_input(image, (32, 32), mean, std, NO_AUGMENT, np.random.default_rng(0))
    assert x.shape == (1, 32, 32) and x.dtype == torch.float32
    assert abs(float(x.mean())) < 1e-4 and abs(float(x.std(unbiased=False)) - 1) < 1e-3
    wide = pattern_to_input(image, (32, 128), mean, std, Augment(), np.random.default_rng(0))
    assert wide.shape == (1, 32, 128)
    rgb = np.repeat(image[:, :, None], 3, axis=2)
    assert torch.allclose(pattern_to_input(rgb, (32, 32), mean, std, NO_AUGMENT, np.random.default_rng(0)), x)


def test_estimated_stats_match_the_pixels(shards):
    mean, std = estimate_stats(shard_source(str(shards)), limit=48, units=8)
    pixels = np.stack([pattern(i, 32) for i in range(48)]).astype(np.float64) / 255
    assert mean == pytest.approx(pixels.mean(), abs=1e-9)
    assert std == pytest.approx(pixels.std(), rel=1e-6)
    assert total_items([shard_source(str(shards))]) == 48


def test_audio_source_makes_log_mels(tmp_path):
    soundfile = pytest.importorskip("soundfile")
    t = np.arange(16000) / 16000
    for k, freq in enumerate((440, 880)):
        (tmp_path / "sub").mkdir(exist_ok=True)
        soundfile.write(tmp_path / "sub" / f"tone{k}.wav", 0.5 * np.sin(2 * np.pi * freq * t), 16000)
    source = with_stats(audio_source(str(tmp_path)))
    assert source.units and len(source.units) == 2 and source.std > 0
    batch = next(iter(make_loader(PretrainStream([source], (128, 64), seed=0, batch_size=2), 0))).image
    assert batch.shape == (2, 1, 128, 64) and torch.isfinite(batch).all()
