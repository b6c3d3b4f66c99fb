"""Frequency-modulation tones (AudioPG's FM family; Chowning 1973):
``sin(2 pi fc t + I(t) sin(2 pi fm t))`` with carrier ``fc`` log-uniform in
``fc_min..fc_max``, ratio ``fm / fc ~ U(ratio_min, ratio_max)`` (published 0.5-3.14) and
modulation index ``I ~ U(index_min, index_max)`` (published 0.5-8), decaying over the event
with a time constant log-uniform in ``index_decay_min..index_decay_max`` s (brass/bell-like
spectra that evolve), under an ADSR envelope. The spectrum has sidebands at ``fc +- k fm``
with Bessel amplitudes ``J_k(I)``; the index is lowered where needed so that the Carson
bandwidth ``fc + (I + 1) fm`` stays below 8 kHz (no aliased sidebands; the used index is in the
sample's json).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from generators.kinds._audio import (NYQUIST, SAMPLE_RATE, adsr, audio_kind, check_events,
                                     check_range, EnvelopeFields, EventFields, log_uniform,
                                     synthesize_events)
from generators.params import check_fields, param
from generators.registry import register


@dataclass(frozen=True)
class AudioFMParams(EventFields, EnvelopeFields):
    fc_min: float = param(100.0, "lowest carrier in Hz (drawn log-uniform)", low=20.0, high=6000.0)
    fc_max: float = param(2000.0, "highest carrier in Hz", low=20.0, high=6000.0)
    ratio_min: float = param(0.5, "smallest modulator/carrier ratio (AudioPG: 0.5)", low=0.05, high=10.0)
    ratio_max: float = param(3.14, "largest modulator/carrier ratio (AudioPG: 3.14)", low=0.05,
                             high=10.0)
    index_min: float = param(0.5, "smallest modulation index (AudioPG: 0.5)", low=0.0, high=20.0)
    index_max: float = param(8.0, "largest modulation index (AudioPG: 8)", low=0.0, high=20.0)
    index_decay_min: float = param(0.05, "shortest time constant of the index's decay in s "
                                        "(drawn log-uniform)", low=0.01, high=100.0)
    index_decay_max: float = param(1.0, "longest time constant of the index's decay in s",
                                   low=0.01, high=100.0)

    def __post_init__(self):
        check_fields(self)
        check_events(self)
        check_range(self, "fc_min", "fc_max")
        check_range(self, "ratio_min", "ratio_max")
        check_range(self, "index_min", "index_max")
        check_range(self, "index_decay_min", "index_decay_max")


def fm_tone(fc: float, fm: float, index: np.ndarray, length: int, phase_c: float = 0.0,
            phase_m: float = 0.0) -> np.ndarray:
    """``sin(2 pi fc t + phase_c + index(t) sin(2 pi fm t + phase_m))``."""
    t = np.arange(length) / SAMPLE_RATE
    return np.sin(2 * math.pi * fc * t + phase_c + index * np.sin(2 * math.pi * fm * t + phase_m))


def make_event(params: AudioFMParams, rng: np.random.Generator, event):
    fc = log_uniform(rng, params.fc_min, params.fc_max)
    ratio = rng.uniform(params.ratio_min, params.ratio_max)
    fm = fc * ratio
    index = rng.uniform(params.index_min, params.index_max)
    carson = max(0.0, (NYQUIST - fc) / fm - 1.0)  # largest index with fc + (I + 1) fm < Nyquist
    used = min(index, carson)
    tau = log_uniform(rng, params.index_decay_min, params.index_decay_max)
    t = np.arange(event.length) / SAMPLE_RATE
    env, shape = adsr(params, rng, event.length)
    tone = fm_tone(fc, fm, used * np.exp(-t / tau), event.length, rng.uniform(0, 2 * math.pi),
                   rng.uniform(0, 2 * math.pi))
    return tone * env, {"fc": round(fc, 4), "fm": round(fm, 4), "ratio": round(float(ratio), 4),
                        "index": round(float(used), 4), "index_drawn": round(float(index), 4),
                        "index_decay": round(tau, 5), **shape}


def synthesize(params: AudioFMParams, rng: np.random.Generator, frames: int):
    """``(waveform at 16 kHz, info)`` of a clip of ``frames`` 10-ms frames."""
    return synthesize_events(params, rng, frames, make_event)



register(audio_kind("audio-fm", AudioFMParams, synthesize,
                    "FM tones, ratio 0.5-3.14, index 0.5-8 decaying, ADSR; the log-mel of "
                    "16 kHz audio (AudioPG)"))
