"""The audio kinds as datasets: listed, deterministic shards across workers and resumption,
statistics, and ``synthgen preview --audio`` writing the very sound behind each image."""

from __future__ import annotations

import hashlib
import os

import numpy as np
import pytest
from scipy.io import wavfile

from generators import logmel
from generators.kinds._audio import to_image
from generators.params import make_params
from generators.reader import finished_shards, iter_samples
from generators.registry import get_kind, list_kinds
from generators.render import RenderConfig, render_dataset
from generators.sample import render_sample
from tests.helpers import run_synthgen

AUDIO_KINDS = ["audio-chirp", "audio-fm", "audio-harmonic", "audio-mix", "audio-modal", "audio-noise",
               "audio-waveform"]


def test_seven_audio_kinds_are_registered_with_their_waveform():
    names = [k.name for k in list_kinds() if k.name.startswith("audio-")]
    assert names == AUDIO_KINDS
    for name in names:
        kind = get_kind(name)
        assert kind.waveform is not None and kind.sample_rate == 16000 and kind.channels == 1


def _digests(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.glob("*.tar"))}


def test_shards_are_identical_across_workers_and_resumption(tmp_path):
    kind = get_kind("audio-mix")
    config = RenderConfig("audio-mix", make_params(kind.params_type), n=9, seed=7, size=32, shard_size=3)
    render_dataset(config, tmp_path / "one", workers=1, progress=False)
    render_dataset(config, tmp_path / "two", workers=2, progress=False)
    first = _digests(tmp_path / "one")
    assert len(first) == 3 and first == _digests(tmp_path / "two")
    (tmp_path / "one" / "audio-mix-000001.tar").unlink()  # a shard lost: the rerun renders it alone
    (tmp_path / "one" / "audio-mix-000001.json").unlink()
    result = render_dataset(config, tmp_path / "one", workers=1, progress=False)
    assert result["rendered"] == 1 and _digests(tmp_path / "one") == first
    samples = list(iter_samples(finished_shards(tmp_path / "one")))
    image, meta = render_sample(kind, config.params, 7, 4, 32, "L")
    assert np.array_equal(samples[4]["image"], image) and samples[4]["meta"]["logmel_top"] == meta["logmel_top"]


def test_stats_of_audio_shards(tmp_path):
    from generators.stats import compute_stats

    kind = get_kind("audio-harmonic")
    render_dataset(RenderConfig("audio-harmonic", kind.params_type(), n=8, seed=0, size=64, shard_size=4),
                   tmp_path, workers=1, progress=False)
    stats = compute_stats(tmp_path, n=8, size=64, name="audio-harmonic")
    slope = stats["properties"]["spectrum_slope"]
    assert slope["n"] == 8 and np.isfinite(slope["mean"]) and slope["mean"] < 0


def test_preview_writes_the_sound_behind_each_image(tmp_path):
    result = run_synthgen("preview", "audio-chirp", "--out", tmp_path / "sheet.png", "--count", "3",
                          "--size", "32", "--seed", "5", "--audio", tmp_path / "sounds", check=True)
    assert "wrote 3 WAV files" in result.stderr and (tmp_path / "sheet.png").exists()
    files = sorted((tmp_path / "sounds").iterdir())
    assert [f.name for f in files] == [f"audio-chirp-{i:04d}.wav" for i in range(3)]
    kind = get_kind("audio-chirp")
    for i, path in enumerate(files):
        rate, pcm = wavfile.read(path)
        assert rate == 16000 and pcm.dtype == np.int16 and pcm.shape == (32 * 160,)
        image, _ = render_sample(kind, kind.params_type(), 5, i, 32, "L")
        heard, _ = to_image(logmel.log_mel(pcm / 32767.0, n_mels=32)[:, :32])
        # the 16-bit file gives back the image to within one grey level
        assert np.abs(heard.astype(int) - image).max() <= 1 and np.mean(heard == image) > 0.95


def test_preview_audio_refuses_image_kinds_and_shard_folders(tmp_path):
    result = run_synthgen("preview", "stat-spectrum", "--out", tmp_path / "s.png", "--audio", tmp_path / "a")
    assert result.returncode == 2 and result.stderr.strip().splitlines() == [
        "synthgen: error: --audio: pattern kind 'stat-spectrum' renders images, not sound; use an audio "
        "kind (audio-*)"]
    assert not (tmp_path / "a").exists() and not (tmp_path / "s.png").exists()


def test_flac_round_trip(tmp_path):
    soundfile = pytest.importorskip("soundfile")
    from generators.audio_preview import write_waveforms

    kind = get_kind("audio-modal")
    paths = write_waveforms(kind, kind.params_type(), 2, 48, 1, tmp_path, "flac")
    wave, rate = soundfile.read(paths[1], dtype="int16")
    image, _ = render_sample(kind, kind.params_type(), 1, 1, 48, "L")
    heard, _ = to_image(logmel.log_mel(wave / 32767.0, n_mels=48)[:, :48])
    assert rate == 16000 and np.abs(heard.astype(int) - image).max() <= 1
    with pytest.raises(ValueError, match="renders images, not sound"):
        write_waveforms(get_kind("fractaldb"), get_kind("fractaldb").params_type(), 1, 32, 0, tmp_path)


def test_sizes_beyond_the_mel_filters_are_refused_before_anything_is_written(tmp_path):
    result = run_synthgen("render", "audio-noise", "--n", "4", "--size", "256", "--out", tmp_path / "out")
    assert result.returncode == 2 and result.stderr.strip().splitlines() == [
        "synthgen: error: --size 256: pattern kind 'audio-noise' renders sizes up to 191 (size mel bins "
        "x size frames; more than 191 mel bins leave filters empty at n_fft 512); size 256 is too large"]
    assert not (tmp_path / "out").exists()


def test_flac_without_soundfile_is_refused_before_anything_is_written(tmp_path):
    """A render node without the soundfile package: one line, and neither the sheet nor a sound."""
    blocker = tmp_path / "blocker"
    blocker.mkdir()
    (blocker / "soundfile.py").write_text("raise ImportError('no soundfile on this node')\n")
    out = run_synthgen("preview", "audio-fm", "--count", "2", "--size", "32", "--out", tmp_path / "s.png",
                       "--audio", tmp_path / "a", "--audio-format", "flac",
                       env={**os.environ, "PYTHONPATH": str(blocker)})
    assert out.returncode == 2, out.stderr
    assert out.stderr.strip().splitlines() == [
        "synthgen: error: FLAC output needs the soundfile package (pip install soundfile); "
        "--audio-format wav needs nothing"]
    assert not (tmp_path / "a").exists() and not (tmp_path / "s.png").exists()
