"""Chirps, sweeps and amplitude modulation (AudioPG's chirp/AM family; sirens, bird calls,
tremolo): a harmonic tone (``1..partials_max`` partials, amplitudes ``k^-gamma``, gamma
0.5-2) whose fundamental sweeps from ``f_start`` to ``f_end`` (both log-uniform in
``f_min..f_max``) linearly or exponentially in frequency, or goes up and down once
(``sweep = "up-down"``), under an ADSR envelope; with probability ``am_prob`` also amplitude
modulated at ``am_rate_min..am_rate_max`` Hz with depth ``0..1``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from generators.kinds._audio import (SAMPLE_RATE, adsr, audio_kind, check_events, check_range,
                                     EnvelopeFields, EventFields, harmonic_tone, log_uniform,
                                     power_law_amplitudes, synthesize_events)
from generators.params import check_fields, param
from generators.registry import register

SWEEPS = ("linear", "exponential", "up-down")


@dataclass(frozen=True)
class AudioChirpParams(EventFields, EnvelopeFields):
    f_min: float = param(100.0, "lowest sweep end in Hz (drawn log-uniform)", low=20.0, high=7900.0)
    f_max: float = param(6000.0, "highest sweep end in Hz", low=20.0, high=7900.0)
    partials_max: int = param(4, "most partials of the swept tone (drawn from 1)", low=1, high=50)
    am_prob: float = param(0.5, "probability that an event is amplitude modulated", low=0.0, high=1.0)
    am_rate_min: float = param(2.0, "slowest amplitude modulation in Hz", low=0.1, high=200.0)
    am_rate_max: float = param(40.0, "fastest amplitude modulation in Hz", low=0.1, high=200.0)

    def __post_init__(self):
        check_fields(self)
        check_events(self)
        check_range(self, "f_min", "f_max")
        check_range(self, "am_rate_min", "am_rate_max")


def sweep_track(kind: str, f_start: float, f_end: float, length: int) -> np.ndarray:
    """Instantaneous frequency of a sweep over ``length`` samples."""
    u = np.linspace(0.0, 1.0, length)
    if kind == "linear":
        return f_start + (f_end - f_start) * u
    if kind == "exponential":
        return f_start * (f_end / f_start) ** u
    return f_start * (f_end / f_start) ** (1.0 - np.abs(2.0 * u - 1.0))  # up-down (or down-up)


def make_event(params: AudioChirpParams, rng: np.random.Generator, event):
    sweep = SWEEPS[int(rng.integers(len(SWEEPS)))]
    f_start = log_uniform(rng, params.f_min, params.f_max)
    f_end = log_uniform(rng, params.f_min, params.f_max)
    partials = int(rng.integers(1, params.partials_max + 1))
    gamma = rng.uniform(0.5, 2.0)
    track = sweep_track(sweep, f_start, f_end, event.length)
    tone = harmonic_tone(track, power_law_amplitudes(partials, gamma), rng.uniform(0, 2 * math.pi))
    env, shape = adsr(params, rng, event.length)
    info = {"sweep": sweep, "f_start": round(f_start, 4), "f_end": round(f_end, 4),
            "partials": partials, "gamma": round(float(gamma), 4)}
    if rng.uniform() < params.am_prob:
        rate = rng.uniform(params.am_rate_min, params.am_rate_max)
        depth = rng.uniform(0.0, 1.0)
        t = np.arange(event.length) / SAMPLE_RATE
        env = env * (1.0 - depth * 0.5 * (1.0 - np.cos(2 * math.pi * rate * t)))
        info.update(am_hz=round(float(rate), 4), am_depth=round(float(depth), 4))
    return tone * env, {**info, **shape}


def synthesize(params: AudioChirpParams, rng: np.random.Generator, frames: int):
    """``(waveform at 16 kHz, info)`` of a clip of ``frames`` 10-ms frames."""
    return synthesize_events(params, rng, frames, make_event)



register(audio_kind("audio-chirp", AudioChirpParams, synthesize,
                    "linear/exponential/up-down sweeps of 1-4 partials, half amplitude "
                    "modulated (2-40 Hz); the log-mel of 16 kHz audio"))
