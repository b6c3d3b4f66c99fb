from pathlib import Path

import librosa
import numpy as np
import pytest
import soundfile as sf
import torch

from pretrain.frontend import (AudioError, FrontendConfig, Standardizer, fix_length, load_audio, log_mel,
                               normalise_level)
from tests.finetune.fixtures import tone, write_wav


@pytest.mark.parametrize("freq", [250.0, 1000.0, 3000.0, 6500.0])
def test_pure_tone_peaks_in_its_mel_bin(freq):
    cfg = FrontendConfig()
    spec = log_mel(tone(freq, sr=16000, seconds=1.0), cfg)
    assert spec.shape == (128, 1 + 16000 // 160) and spec.dtype == torch.float32
    centres = librosa.mel_frequencies(n_mels=cfg.n_mels + 2, fmin=cfg.f_min, fmax=cfg.f_max)[1:-1]
    peak = int(spec.mean(dim=1).argmax())
    assert abs(peak - int(np.argmin(np.abs(centres - freq)))) <= 1
    assert spec.max() - spec.mean(dim=1).median() > 8  # a clear peak, not a flat spectrum


def test_80_bins_and_silence_floor():
    cfg = FrontendConfig(n_mels=80)
    spec = log_mel(np.zeros(1600), cfg)
    assert spec.shape == (80, 11)
    assert torch.allclose(spec, torch.full_like(spec, np.log(1e-6)))


def test_load_audio_mono_resampled_and_peak_normalised(tmp_path):
    path = tmp_path / "st.wav"
    sf.write(str(path), (0.1 * tone(1000.0, sr=8000, seconds=0.5, channels=2)).astype(np.float32), 8000)
    wave = load_audio(path)
    assert wave.dtype == np.float32 and wave.ndim == 1 and len(wave) == 8000  # 0.5 s at 16 kHz
    assert np.max(np.abs(wave)) == pytest.approx(1.0, abs=1e-6)
    raw = load_audio(path, level="none")
    assert 0.04 < np.max(np.abs(raw)) < 0.06


def test_rms_level():
    x = np.random.default_rng(0).standard_normal(16000).astype(np.float32) * 0.01
    assert np.sqrt(np.mean(normalise_level(x, "rms") ** 2)) == pytest.approx(0.1, rel=1e-4)
    with pytest.raises(ValueError, match="level='loud'"):
        normalise_level(x, "loud")


def test_bad_audio_errors_name_the_file(tmp_path):
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF\x00\x00garbage")
    with pytest.raises(AudioError, match="broken.wav"):
        load_audio(bad)
    with pytest.raises(AudioError, match="missing.wav does not exist"):
        load_audio(tmp_path / "missing.wav")


def test_fix_length_crop_and_pad():
    spec = torch.arange(2 * 10, dtype=torch.float32).reshape(2, 10)
    assert torch.equal(fix_length(spec, 4), spec[:, 3:7])  # centre crop
    padded = fix_length(spec, 13)
    assert padded.shape == (2, 13) and torch.equal(padded[:, :10], spec) and torch.all(padded[:, 10:] == 0)
    a = fix_length(spec, 4, random_crop=True, rng=np.random.default_rng(1))
    b = fix_length(spec, 4, random_crop=True, rng=np.random.default_rng(1))
    assert torch.equal(a, b)
    with pytest.raises(ValueError, match="rng"):
        fix_length(spec, 4, random_crop=True)


def test_standardizer_fit_on_given_specs_only():
    norm = Standardizer.fit([torch.full((2, 3), 1.0), torch.full((2, 3), 3.0)])
    assert norm.mean == pytest.approx(2.0) and norm.std == pytest.approx(1.0, rel=0.1)
    assert float(norm(torch.tensor(2.0))) == pytest.approx(0.0)


def test_config_validation():
    with pytest.raises(ValueError, match="f_max=9000"):
        FrontendConfig(f_max=9000.0)
    with pytest.raises(ValueError, match="win_length=600"):
        FrontendConfig(win_length=600)
