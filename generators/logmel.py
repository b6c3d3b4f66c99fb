"""The log-mel front end in numpy/scipy, and the one mel filterbank of the code base.

Settings (AudioMAE / M2D style, the evaluation's front end ``pretrain.frontend``): 16 kHz
mono, 400-sample (25 ms) periodic Hann window centred in a 512-point FFT, hop 160 (10 ms, 100
frames per second), centred frames (reflect padding of ``n_fft // 2``), power ``|X|^2``, 128
Slaney-scale mel filters from 0 to 8 kHz with Slaney area normalisation (librosa's
``filters.mel`` defaults), then ``log(mel + 1e-6)``.

:func:`mel_filterbank` is the filterbank ``pretrain.frontend`` uses too, so the torch front
end (evaluation, real-audio pre-training) and this one (the ``audio-*`` pattern kinds) share
their filters; :func:`log_mel` equals ``pretrain.frontend.log_mel`` within float32 rounding
(``tests/pretrain/test_logmel_equal.py`` compares them on real clips).

This module imports neither torch nor librosa, so the pattern kinds render with the base
install.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy import fft as sfft

SAMPLE_RATE = 16000
N_FFT = 512
WIN_LENGTH = 400
HOP_LENGTH = 160
N_MELS = 128
F_MIN = 0.0
F_MAX = 8000.0
LOG_OFFSET = 1e-6

# Slaney's mel scale (Auditory Toolbox): linear below 1 kHz, logarithmic above.
_F_SP = 200.0 / 3
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP
_LOGSTEP = np.log(6.4) / 27.0


def hz_to_mel(hz):
    """Slaney mel of ``hz`` (scalar or array), as ``librosa.hz_to_mel(htk=False)``."""
    hz = np.asarray(hz, dtype=np.float64)
    linear = hz / _F_SP
    log = _MIN_LOG_MEL + np.log(np.maximum(hz, _MIN_LOG_HZ) / _MIN_LOG_HZ) / _LOGSTEP
    return np.where(hz >= _MIN_LOG_HZ, log, linear)


def mel_to_hz(mel):
    """Inverse of :func:`hz_to_mel`."""
    mel = np.asarray(mel, dtype=np.float64)
    linear = _F_SP * mel
    log = _MIN_LOG_HZ * np.exp(_LOGSTEP * (np.maximum(mel, _MIN_LOG_MEL) - _MIN_LOG_MEL))
    return np.where(mel >= _MIN_LOG_MEL, log, linear)


def mel_frequencies(n_mels: int = N_MELS, f_min: float = F_MIN, f_max: float = F_MAX) -> np.ndarray:
    """The ``n_mels + 2`` band edges in Hz; filter ``m`` peaks at ``edges[m + 1]``."""
    return mel_to_hz(np.linspace(hz_to_mel(f_min), hz_to_mel(f_max), n_mels + 2))


def mel_centres(n_mels: int = N_MELS, f_min: float = F_MIN, f_max: float = F_MAX) -> np.ndarray:
    """Peak frequency of each mel filter in Hz (row ``m`` of a log-mel)."""
    return mel_frequencies(n_mels, f_min, f_max)[1:-1]


def _check(sample_rate: int, n_fft: int, n_mels: int, f_min: float, f_max: float) -> None:
    if sample_rate <= 0:
        raise ValueError(f"sample_rate={sample_rate} must be > 0")
    if n_fft < 2:
        raise ValueError(f"n_fft={n_fft} must be >= 2")
    if n_mels <= 0:
        raise ValueError(f"n_mels={n_mels} must be > 0")
    if not 0 <= f_min < f_max <= sample_rate / 2:
        raise ValueError(f"f_min={f_min}, f_max={f_max} must satisfy 0 <= f_min < f_max <= "
                         f"sample_rate/2={sample_rate / 2}")


@lru_cache(maxsize=16)
def _filterbank(sample_rate: int, n_fft: int, n_mels: int, f_min: float, f_max: float) -> np.ndarray:
    _check(sample_rate, n_fft, n_mels, f_min, f_max)
    edges = mel_frequencies(n_mels, f_min, f_max)
    bins = np.linspace(0.0, sample_rate / 2, 1 + n_fft // 2)
    widths = np.diff(edges)
    ramps = edges[:, None] - bins[None, :]
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (edges[2:] - edges[:-2]))[:, None]  # Slaney area normalisation
    weights = weights.astype(np.float32)
    weights.setflags(write=False)
    return weights


def mel_filterbank(sample_rate: int = SAMPLE_RATE, n_fft: int = N_FFT, n_mels: int = N_MELS,
                   f_min: float = F_MIN, f_max: float = F_MAX) -> np.ndarray:
    """``(n_mels, n_fft // 2 + 1)`` float32 Slaney mel filters with area normalisation, equal
    to ``librosa.filters.mel(sr, n_fft, n_mels, fmin, fmax)`` (read-only; cached)."""
    return _filterbank(int(sample_rate), int(n_fft), int(n_mels), float(f_min), float(f_max))


def empty_filters(n_mels: int, sample_rate: int = SAMPLE_RATE, n_fft: int = N_FFT,
                  f_min: float = F_MIN, f_max: float = F_MAX) -> int:
    """How many of the ``n_mels`` filters fall between FFT bins (all-zero rows): more mel bins
    than the FFT resolves at low frequencies."""
    return int((mel_filterbank(sample_rate, n_fft, n_mels, f_min, f_max).max(axis=1) == 0).sum())


@lru_cache(maxsize=16)
def _sparse_filterbank(sample_rate: int, n_fft: int, n_mels: int, f_min: float, f_max: float):
    """The filterbank as a float64 CSR matrix: each filter spans a few FFT bins, so a sparse
    product is ~50x less work than a dense one and needs no (multi-threaded) BLAS."""
    from scipy.sparse import csr_matrix

    return csr_matrix(mel_filterbank(sample_rate, n_fft, n_mels, f_min, f_max).astype(np.float64))


@lru_cache(maxsize=8)
def _window(win_length: int, n_fft: int) -> np.ndarray:
    """Periodic Hann window of ``win_length`` zero-padded to ``n_fft`` in the centre (torch)."""
    window = np.zeros(n_fft, np.float64)
    left = (n_fft - win_length) // 2
    window[left:left + win_length] = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(win_length) / win_length)
    window.setflags(write=False)
    return window


def num_frames(num_samples: int, hop_length: int = HOP_LENGTH) -> int:
    """Frames of a centred STFT of ``num_samples`` samples."""
    return 1 + num_samples // hop_length


def power_spectrogram(wave: np.ndarray, n_fft: int = N_FFT, win_length: int = WIN_LENGTH,
                      hop_length: int = HOP_LENGTH, center: bool = True) -> np.ndarray:
    """``(n_fft // 2 + 1, frames)`` float64 ``|STFT|^2`` as ``torch.stft`` computes it."""
    x = np.asarray(wave, dtype=np.float64).reshape(-1)
    if not 0 < win_length <= n_fft:
        raise ValueError(f"win_length={win_length} must be in (0, n_fft={n_fft}]")
    if hop_length <= 0:
        raise ValueError(f"hop_length={hop_length} must be > 0")
    if center:
        if x.size <= n_fft // 2:  # reflect padding needs more samples than the pad
            x = np.pad(x, (0, n_fft // 2 + 1 - x.size))
        x = np.pad(x, n_fft // 2, mode="reflect")
    if x.size < n_fft:
        raise ValueError(f"a waveform of {x.size} samples is shorter than n_fft={n_fft}")
    frames = np.lib.stride_tricks.sliding_window_view(x, n_fft)[::hop_length]
    spec = sfft.rfft(frames * _window(win_length, n_fft), axis=1)
    return (spec.real ** 2 + spec.imag ** 2).T


def log_mel(wave: np.ndarray, sample_rate: int = SAMPLE_RATE, n_fft: int = N_FFT,
            win_length: int = WIN_LENGTH, hop_length: int = HOP_LENGTH, n_mels: int = N_MELS,
            f_min: float = F_MIN, f_max: float = F_MAX, log_offset: float = LOG_OFFSET,
            center: bool = True) -> np.ndarray:
    """Log-mel of a mono waveform at ``sample_rate``: ``(n_mels, frames)`` float32, rows low to
    high frequency, ``frames = 1 + len // hop`` when centred (``pretrain.frontend.log_mel``)."""
    if log_offset <= 0:
        raise ValueError(f"log_offset={log_offset} must be > 0")
    power = power_spectrogram(wave, n_fft, win_length, hop_length, center)
    bank = _sparse_filterbank(int(sample_rate), int(n_fft), int(n_mels), float(f_min), float(f_max))
    mel = bank @ power
    return np.log(mel + log_offset).astype(np.float32)


__all__ = ["SAMPLE_RATE", "N_FFT", "WIN_LENGTH", "HOP_LENGTH", "N_MELS", "F_MIN", "F_MAX",
           "LOG_OFFSET", "hz_to_mel", "mel_to_hz", "mel_frequencies", "mel_centres",
           "mel_filterbank", "empty_filters", "num_frames", "power_spectrogram", "log_mel"]
