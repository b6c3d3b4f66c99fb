"""Log-mel audio front end shared by evaluation and by pre-training on real audio.

Pipeline (AudioMAE / M2D style, Huang et al. 2022; Niizumi et al. 2023):

    soundfile decode -> mono (mean of channels) -> scipy.signal.resample_poly to 16 kHz
    -> level normalisation -> torch.stft (400-sample = 25 ms Hann window, n_fft 512,
    hop 160 = 10 ms, centred) -> power |X|^2 -> mel filters
    (``generators.logmel.mel_filterbank``: 128 bins, 0-8 kHz, Slaney scale and area
    normalisation, librosa's defaults) -> log(x + 1e-6)

``generators.logmel.log_mel`` is the same front end in numpy (the ``audio-*`` pattern kinds);
both use that one filterbank.

The result is a ``(n_mels, frames)`` float32 tensor: rows are frequency (low to high), columns
are time. ``fix_length`` crops/pads it to a fixed number of frames (128 frames = 1.28 s is the
CPU preset's input width); ``Standardizer`` normalises with training-split statistics.

Measured on a 2-core CPU machine: ~790 clips/s for FSDD on one thread.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import lru_cache
from math import gcd
from pathlib import Path

import numpy as np
import torch

from generators.logmel import mel_filterbank

LEVELS = ("peak", "rms", "none")

#: The audio files the front end reads (all decoded by soundfile); the one list of them.
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")


class AudioError(ValueError):
    """An audio file that cannot be read or decoded; the message names the file."""


@dataclass(frozen=True)
class FrontendConfig:
    """Log-mel settings.

    Args:
        sample_rate: target rate in Hz after resampling (AudioMAE/M2D: 16 kHz).
        n_fft: FFT size in samples (512 at 16 kHz).
        win_length: Hann window length in samples (400 = 25 ms at 16 kHz).
        hop_length: hop in samples (160 = 10 ms, so 100 frames per second).
        n_mels: mel bins (128 as AudioMAE/M2D; 80 is the other common choice).
        f_min: lowest filter edge in Hz.
        f_max: highest filter edge in Hz (<= sample_rate / 2).
        log_offset: added before the log so silence maps to log(1e-6) ~ -13.8, not -inf.
        center: centre frames (pad n_fft // 2 on both sides, reflect), as torch/librosa default.
    """

    sample_rate: int = 16000
    n_fft: int = 512
    win_length: int = 400
    hop_length: int = 160
    n_mels: int = 128
    f_min: float = 0.0
    f_max: float = 8000.0
    log_offset: float = 1e-6
    center: bool = True

    def __post_init__(self) -> None:
        if self.sample_rate <= 0:
            raise ValueError(f"parameter sample_rate={self.sample_rate} must be > 0")
        if not 0 < self.win_length <= self.n_fft:
            raise ValueError(f"parameter win_length={self.win_length} must be in (0, n_fft={self.n_fft}]")
        if self.hop_length <= 0:
            raise ValueError(f"parameter hop_length={self.hop_length} must be > 0")
        if self.n_mels <= 0:
            raise ValueError(f"parameter n_mels={self.n_mels} must be > 0")
        if not 0 <= self.f_min < self.f_max <= self.sample_rate / 2:
            raise ValueError(
                f"parameters f_min={self.f_min}, f_max={self.f_max} must satisfy "
                f"0 <= f_min < f_max <= sample_rate/2={self.sample_rate / 2}")
        if self.log_offset <= 0:
            raise ValueError(f"parameter log_offset={self.log_offset} must be > 0")

    def to_dict(self) -> dict:
        return asdict(self)


def audio_files(folder: str | Path) -> list[Path]:
    """Audio files under ``folder`` (recursive), sorted; ``FileNotFoundError`` if none."""
    folder = Path(folder)
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES)
    if not files:
        raise FileNotFoundError(f"{folder} holds no {'/'.join(AUDIO_SUFFIXES)} file")
    return files


def normalise_level(wave: np.ndarray, level: str = "peak") -> np.ndarray:
    """Normalise loudness: ``peak`` scales max |x| to 1, ``rms`` scales the RMS to 0.1
    (-20 dBFS), ``none`` leaves the signal alone. Silent clips are returned unchanged.

    Level varies a lot between FSDD speakers (most of the speaker theo's clips peak below 0.05
    full scale), so evaluation normalises it by default.
    """
    if level not in LEVELS:
        raise ValueError(f"level={level!r} must be one of {', '.join(LEVELS)}")
    if level == "none" or wave.size == 0:
        return wave
    ref = np.max(np.abs(wave)) if level == "peak" else np.sqrt(np.mean(wave.astype(np.float64) ** 2)) / 0.1
    if ref <= 1e-8:
        return wave
    return (wave / ref).astype(np.float32)


# sample rates accepted from audio files (resampling ratio at most 16x up to 16 kHz)
MIN_SAMPLE_RATE, MAX_SAMPLE_RATE = 1000, 384000


def resample(wave: np.ndarray, orig_sr: int, sample_rate: int) -> np.ndarray:
    """Polyphase resampling (``scipy.signal.resample_poly``, Kaiser window) to ``sample_rate``."""
    if orig_sr == sample_rate:
        return wave.astype(np.float32, copy=False)
    from scipy.signal import resample_poly

    g = gcd(int(orig_sr), int(sample_rate))
    return resample_poly(wave, sample_rate // g, orig_sr // g).astype(np.float32)


def load_audio(path: str | Path, sample_rate: int = 16000, level: str = "peak") -> np.ndarray:
    """Decode ``path`` with soundfile -> float32 mono at ``sample_rate`` Hz, level-normalised.

    Raises ``AudioError`` (one line naming the file) for a missing or undecodable file, a sample
    rate outside 1000..384000 Hz, or NaN/inf samples (a float WAV can hold them).
    """
    import soundfile as sf

    path = Path(path)
    if not path.is_file():
        raise AudioError(f"audio file {path} does not exist")
    try:
        data, orig_sr = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as exc:  # soundfile raises LibsndfileError/RuntimeError/TypeError
        raise AudioError(f"cannot decode audio file {path}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
    if data.shape[0] == 0:
        raise AudioError(f"audio file {path} contains no samples")
    if not MIN_SAMPLE_RATE <= orig_sr <= MAX_SAMPLE_RATE:
        # a damaged or hostile header: 1 Hz would be upsampled 16000x (memory), so refuse
        raise AudioError(f"audio file {path} declares a sample rate of {orig_sr} Hz; expected "
                         f"{MIN_SAMPLE_RATE}..{MAX_SAMPLE_RATE} Hz")
    if not np.isfinite(data).all():  # one NaN would make every log-mel, loss and embedding NaN
        raise AudioError(f"audio file {path} holds non-finite samples (NaN or inf)")
    wave = data.mean(axis=1)
    wave = resample(wave, int(orig_sr), sample_rate)
    return normalise_level(wave, level)


@lru_cache(maxsize=8)
def _mel_basis(sample_rate: int, n_fft: int, n_mels: int, f_min: float, f_max: float) -> torch.Tensor:
    # the one mel filterbank of the code base (equal to librosa.filters.mel's defaults)
    fb = mel_filterbank(sample_rate, n_fft, n_mels, f_min, f_max)
    return torch.from_numpy(fb.copy())  # (n_mels, n_fft // 2 + 1)


@lru_cache(maxsize=8)
def _window(win_length: int) -> torch.Tensor:
    return torch.hann_window(win_length, periodic=True)


def log_mel(waveform: np.ndarray | torch.Tensor, config: FrontendConfig = FrontendConfig()) -> torch.Tensor:
    """Log-mel spectrogram of a mono waveform already at ``config.sample_rate``.

    Args:
        waveform: 1-D float samples in [-1, 1] (numpy or torch).
        config: front-end settings.
    Returns:
        ``(n_mels, frames)`` float32 tensor, frames = 1 + len // hop when centred.
    """
    x = torch.as_tensor(np.asarray(waveform) if not isinstance(waveform, torch.Tensor) else waveform)
    x = x.to(torch.float32).reshape(-1)
    if config.center and x.numel() <= config.n_fft // 2:
        # reflect padding needs more samples than the pad; zero-pad very short clips first
        x = torch.nn.functional.pad(x, (0, config.n_fft // 2 + 1 - x.numel()))
    spec = torch.stft(x, n_fft=config.n_fft, hop_length=config.hop_length, win_length=config.win_length,
                      window=_window(config.win_length), center=config.center, pad_mode="reflect",
                      return_complex=True)
    power = spec.real ** 2 + spec.imag ** 2  # (n_fft // 2 + 1, frames)
    mel = _mel_basis(config.sample_rate, config.n_fft, config.n_mels, config.f_min, config.f_max) @ power
    return torch.log(mel + config.log_offset)


def fix_length(spec: torch.Tensor, frames: int, *, random_crop: bool = False,
               rng: np.random.Generator | None = None, pad_value: float | None = None) -> torch.Tensor:
    """Crop or pad ``(n_mels, T)`` to ``(n_mels, frames)``.

    Longer clips: a centre crop, or a uniformly random crop when ``random_crop`` (needs ``rng``).
    Shorter clips: padded at the end with ``pad_value`` (default: the clip's minimum, its
    quietest value), so the padding looks like silence rather than a step.
    """
    if frames <= 0:
        raise ValueError(f"frames={frames} must be > 0")
    t = spec.shape[-1]
    if t > frames:
        if random_crop:
            if rng is None:
                raise ValueError("random_crop=True needs an rng")
            start = int(rng.integers(0, t - frames + 1))
        else:
            start = (t - frames) // 2
        return spec[..., start:start + frames]
    if t < frames:
        value = float(spec.min()) if pad_value is None else pad_value
        return torch.nn.functional.pad(spec, (0, frames - t), value=value)
    return spec


@dataclass(frozen=True)
class Standardizer:
    """Global mean/std of log-mel values, fit on the training split only."""

    mean: float
    std: float

    @classmethod
    def fit(cls, specs: list[torch.Tensor] | torch.Tensor) -> "Standardizer":
        flat = torch.cat([s.reshape(-1) for s in specs]) if isinstance(specs, list) else specs.reshape(-1)
        return cls(mean=float(flat.mean()), std=float(flat.std().clamp_min(1e-6)))

    def __call__(self, spec: torch.Tensor) -> torch.Tensor:
        return (spec - self.mean) / self.std


def audio_to_input(path: str | Path, frames: int, config: FrontendConfig = FrontendConfig(), *,
                   level: str = "peak", random_crop: bool = False,
                   rng: np.random.Generator | None = None) -> torch.Tensor:
    """File -> fixed-length ``(n_mels, frames)`` log-mel (not yet standardised)."""
    wave = load_audio(path, config.sample_rate, level)
    return fix_length(log_mel(wave, config), frames, random_crop=random_crop, rng=rng)
