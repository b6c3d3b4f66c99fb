"""Struck, damped, inharmonic sounds (AudioPG's transients and damping; modal synthesis):
a strike excites ``modes_min..modes_max`` exponentially damped sine modes at ``f1 * ratio_k``,
``f1`` log-uniform in ``f_min..f_max``, with the mode ratios of a free bar (1, 2.756, 5.404,
8.933, ...), a circular membrane (1, 1.594, 2.136, 2.296, ...) or a random inharmonic series,
drawn per event. Mode ``k`` decays with time constant ``tau / ratio_k^alpha`` (``tau``
log-uniform in ``decay_min..decay_max`` s, ``alpha ~ U(0.5, 1.5)``: high modes die first) and
has amplitude ``U(0.3, 1) / sqrt(ratio_k)``; the strike adds a 1-10 ms burst of white noise
(``transient_max`` of the peak at most). Modes at or above 8 kHz are dropped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from generators.kinds._audio import (NYQUIST, SAMPLE_RATE, audio_kind, check_events, check_range,
                                     EventFields, log_uniform, synthesize_events)
from generators.params import check_fields, param
from generators.registry import register

BAR = (1.0, 2.756, 5.404, 8.933, 13.344, 18.64, 24.81, 31.87, 39.81, 48.62, 58.32, 68.9)
MEMBRANE = (1.0, 1.594, 2.136, 2.296, 2.653, 2.918, 3.156, 3.501, 3.600, 3.652, 4.060, 4.154)
SERIES = ("bar", "membrane", "random")


@dataclass(frozen=True)
class AudioModalParams(EventFields):
    f_min: float = param(80.0, "lowest first mode in Hz (drawn log-uniform)", low=20.0, high=6000.0)
    f_max: float = param(2000.0, "highest first mode in Hz", low=20.0, high=6000.0)
    modes_min: int = param(3, "fewest modes per strike", low=1, high=12)
    modes_max: int = param(8, "most modes per strike", low=1, high=12)
    decay_min: float = param(0.03, "shortest decay time constant of the first mode in s",
                             low=0.005, high=10.0)
    decay_max: float = param(1.0, "longest decay time constant of the first mode in s",
                             low=0.005, high=10.0)
    transient_max: float = param(0.5, "loudest strike noise burst, relative to the modes' peak",
                                 low=0.0, high=2.0)

    def __post_init__(self):
        check_fields(self)
        check_events(self)
        check_range(self, "f_min", "f_max")
        check_range(self, "modes_min", "modes_max")
        check_range(self, "decay_min", "decay_max")


def mode_ratios(series: str, count: int, rng: np.random.Generator) -> np.ndarray:
    if series == "bar":
        return np.array(BAR[:count])
    if series == "membrane":
        return np.array(MEMBRANE[:count])
    return np.concatenate([[1.0], 1.0 + np.cumsum(rng.uniform(0.1, 1.5, count - 1))])


def make_event(params: AudioModalParams, rng: np.random.Generator, event):
    series = SERIES[int(rng.integers(len(SERIES)))]
    count = int(rng.integers(params.modes_min, params.modes_max + 1))
    f1 = log_uniform(rng, params.f_min, params.f_max)
    ratios = mode_ratios(series, count, rng)
    tau = log_uniform(rng, params.decay_min, params.decay_max)
    alpha = rng.uniform(0.5, 1.5)
    amps = rng.uniform(0.3, 1.0, count) / np.sqrt(ratios)
    phases = rng.uniform(0, 2 * math.pi, count)
    keep = f1 * ratios < NYQUIST * 0.98
    t = np.arange(event.length) / SAMPLE_RATE
    freqs, taus = f1 * ratios[keep], tau / ratios[keep] ** alpha
    modes = (amps[keep, None] * np.exp(-t[None, :] / taus[:, None])
             * np.sin(2 * math.pi * freqs[:, None] * t[None, :] + phases[keep, None]))
    wave = modes.sum(axis=0) if len(freqs) else np.zeros(event.length)
    wave *= np.minimum(1.0, t / 0.001)  # a 1 ms strike, not a click
    peak = float(np.max(np.abs(wave))) or 1.0
    burst_len = min(event.length, int(log_uniform(rng, 0.001, 0.01) * SAMPLE_RATE) + 1)
    level = rng.uniform(0.0, params.transient_max) * peak
    burst = level * rng.standard_normal(burst_len) * np.exp(-np.arange(burst_len) / (burst_len / 4))
    wave[:burst_len] += burst
    fade = min(event.length, int(0.005 * SAMPLE_RATE))
    wave[event.length - fade:] *= np.linspace(1.0, 0.0, fade)
    return wave, {"series": series, "f1": round(f1, 4), "modes": int(keep.sum()),
                  "decay": round(tau, 5), "alpha": round(float(alpha), 4),
                  "transient": round(float(level / peak), 4)}


def synthesize(params: AudioModalParams, rng: np.random.Generator, frames: int):
    """``(waveform at 16 kHz, info)`` of a clip of ``frames`` 10-ms frames."""
    return synthesize_events(params, rng, frames, make_event)



register(audio_kind("audio-modal", AudioModalParams, synthesize,
                    "struck damped modes (bar, membrane, random inharmonic ratios) with a "
                    "noise transient; the log-mel of 16 kHz audio"))
