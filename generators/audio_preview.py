"""Hearing an audio kind: the waveforms behind its first images, as WAV or FLAC files.

A kind with a ``waveform`` function (the ``audio-*`` kinds, :mod:`generators.kinds._audio`)
synthesises sample ``i`` from the same random stream as its image, so file ``KIND-0003.wav`` is
the sound whose log-mel is image 3 of the contact sheet (and of ``synthgen render`` with the
same seed, size and parameters). Files are 16 kHz mono 16-bit PCM, peak-normalised as rendered,
written atomically.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np

from generators.atomic import write_bytes_atomic
from generators.registry import Kind
from generators.seeding import sample_rng

FORMATS = ("wav", "flac")


def waveform(kind: Kind, params: Any, seed: int, index: int, size: int) -> tuple[np.ndarray, int, dict]:
    """``(samples, sample_rate, info)`` of sample ``index``; ``ValueError`` for an image kind."""
    if kind.waveform is None:
        raise ValueError(f"pattern kind {kind.name!r} renders images, not sound; --audio needs an "
                         f"audio kind (audio-*)")
    wave, info = kind.waveform(params, sample_rng(seed, index), size)
    return np.asarray(wave, dtype=np.float32), kind.sample_rate, info


def check_format(fmt: str) -> None:
    """``ValueError`` unless ``fmt`` is one of :data:`FORMATS` and its encoder is installed (called
    before any work, so nothing is written when the format cannot be)."""
    if fmt not in FORMATS:
        raise ValueError(f"audio format {fmt!r} must be one of {', '.join(FORMATS)}")
    if fmt == "flac":
        try:
            import soundfile  # noqa: F401
        except ImportError:
            raise ValueError("FLAC output needs the soundfile package (pip install soundfile); "
                             "--audio-format wav needs nothing") from None


def encode_audio(wave: np.ndarray, sample_rate: int, fmt: str) -> bytes:
    """16-bit PCM ``wav`` (scipy) or ``flac`` (soundfile, the ``[train]`` extra) bytes."""
    pcm = np.round(np.clip(wave, -1.0, 1.0) * 32767).astype(np.int16)
    buffer = io.BytesIO()
    if fmt == "wav":
        from scipy.io import wavfile

        wavfile.write(buffer, sample_rate, pcm)
    elif fmt == "flac":
        try:
            import soundfile
        except ImportError:
            raise ValueError("FLAC output needs the soundfile package (pip install soundfile); "
                             "--audio-format wav needs nothing") from None
        soundfile.write(buffer, pcm, sample_rate, format="FLAC", subtype="PCM_16")
    else:
        raise ValueError(f"audio format {fmt!r} must be one of {', '.join(FORMATS)}")
    return buffer.getvalue()


def write_waveforms(kind: Kind, params: Any, count: int, size: int, seed: int, folder: Path,
                    fmt: str = "wav") -> list[Path]:
    """Write ``folder/KIND-NNNN.FMT`` for samples ``0 .. count-1``; returns the paths."""
    check_format(fmt)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(count):
        wave, rate, _ = waveform(kind, params, seed, index, size)
        path = folder / f"{kind.name}-{index:04d}.{fmt}"
        write_bytes_atomic(path, encode_audio(wave, rate, fmt))
        paths.append(path)
    return paths
