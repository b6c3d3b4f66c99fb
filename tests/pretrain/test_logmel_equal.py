"""The numpy front end of the audio kinds (generators.logmel) equals the torch front end of
evaluation (pretrain.frontend) on real clips, and both use the one filterbank (= librosa's)."""

from __future__ import annotations

import librosa
import numpy as np
import pytest

from generators import logmel
from pretrain.frontend import FrontendConfig, audio_files, load_audio, log_mel
from tests.helpers import shared_data

#: Largest |numpy - torch| log-mel difference allowed, in nats (torch computes in float32;
#: measured: 3.1e-4 over 73 FSDD and instrument clips).
TOLERANCE = 1e-3


@pytest.mark.parametrize("n_mels", [128, 80, 64])
def test_filterbank_is_librosa_slaney(n_mels):
    ours = logmel.mel_filterbank(n_mels=n_mels)
    ref = librosa.filters.mel(sr=16000, n_fft=512, n_mels=n_mels, fmin=0.0, fmax=8000.0)
    assert ours.shape == ref.shape == (n_mels, 257) and ours.dtype == np.float32
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-9)
    centres = librosa.mel_frequencies(n_mels=n_mels + 2, fmin=0.0, fmax=8000.0)[1:-1]
    np.testing.assert_allclose(logmel.mel_centres(n_mels), centres, rtol=1e-9)


def _clips(folder, count):
    files = audio_files(folder)
    picks = np.random.default_rng(0).choice(len(files), size=min(count, len(files)), replace=False)
    return [files[i] for i in sorted(picks)]


@pytest.mark.parametrize("folder,count", [(("fsdd", "recordings"), 12), (("instruments", "audio"), 4)])
def test_numpy_front_end_equals_torch_on_real_clips(folder, count):
    cfg = FrontendConfig()
    worst = 0.0
    for path in _clips(shared_data(*folder), count):
        wave = load_audio(path, cfg.sample_rate)[:cfg.sample_rate * 4]  # at most 4 s each
        ours = logmel.log_mel(wave)
        ref = log_mel(wave, cfg).numpy()
        assert ours.shape == ref.shape and ours.dtype == np.float32
        # away from the -13.8 floor the relative precision of float32 power is what limits it
        worst = max(worst, float(np.abs(ours - ref).max()))
    assert worst <= TOLERANCE, f"numpy and torch log-mels differ by {worst:.2e} nats"


def test_front_end_module_uses_the_one_filterbank():
    from pretrain import frontend

    fb = frontend._mel_basis(16000, 512, 128, 0.0, 8000.0).numpy()
    assert np.array_equal(fb, logmel.mel_filterbank())
