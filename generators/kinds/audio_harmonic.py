"""Additive harmonic tones (AudioPG's harmonic family): partial ``k`` has amplitude ``k^-gamma``
with ``gamma ~ U(gamma_min, gamma_max)`` (published 0.5-2), on a fundamental drawn
log-uniform in ``f0_min..f0_max`` with vibrato (3-``vibrato_rate_max`` Hz, up to
``vibrato_cents``), a glide over the event of up to +-``glide_octaves`` and an ADSR envelope.
Partials stop below Nyquist (band-limited). Stored as the 8-bit log-mel of the front end
(:mod:`generators.kinds._audio`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from generators.kinds._audio import (adsr, audio_kind, check_events, check_range, EnvelopeFields,
                                     EventFields, harmonic_tone, log_uniform, power_law_amplitudes,
                                     synthesize_events, vibrato)
from generators.params import check_fields, param
from generators.registry import register


@dataclass(frozen=True)
class AudioHarmonicParams(EventFields, EnvelopeFields):
    f0_min: float = param(60.0, "lowest fundamental in Hz (drawn log-uniform)", low=20.0, high=4000.0)
    f0_max: float = param(1000.0, "highest fundamental in Hz", low=20.0, high=4000.0)
    gamma_min: float = param(0.5, "smallest spectral decay gamma of k^-gamma (AudioPG: 0.5)",
                             low=0.0, high=4.0)
    gamma_max: float = param(2.0, "largest spectral decay gamma (AudioPG: 2)", low=0.0, high=4.0)
    partials: int = param(40, "most partials (those at or above 8 kHz are dropped)", low=1, high=200)
    vibrato_rate_max: float = param(7.0, "fastest vibrato in Hz (drawn from 3 Hz)", low=3.0, high=20.0)
    vibrato_cents: float = param(40.0, "deepest vibrato in cents (drawn from 0)", low=0.0, high=200.0)
    glide_octaves: float = param(0.5, "largest glide over an event, up or down, in octaves",
                                 low=0.0, high=3.0)

    def __post_init__(self):
        check_fields(self)
        check_events(self)
        check_range(self, "f0_min", "f0_max")
        check_range(self, "gamma_min", "gamma_max")


def make_event(params: AudioHarmonicParams, rng: np.random.Generator, event):
    f0 = log_uniform(rng, params.f0_min, params.f0_max)
    gamma = rng.uniform(params.gamma_min, params.gamma_max)
    glide = rng.uniform(-params.glide_octaves, params.glide_octaves)
    factor, vib = vibrato(rng, event.length, params.vibrato_rate_max, params.vibrato_cents)
    track = f0 * 2 ** (glide * np.linspace(0.0, 1.0, event.length)) * factor
    env, shape = adsr(params, rng, event.length)
    tone = harmonic_tone(track, power_law_amplitudes(params.partials, gamma),
                         rng.uniform(0, 2 * np.pi))
    return tone * env, {"f0": round(f0, 4), "gamma": round(float(gamma), 4),
                        "glide_octaves": round(float(glide), 4), **vib, **shape}


def synthesize(params: AudioHarmonicParams, rng: np.random.Generator, frames: int):
    """``(waveform at 16 kHz, info)`` of a clip of ``frames`` 10-ms frames."""
    return synthesize_events(params, rng, frames, make_event)



register(audio_kind("audio-harmonic", AudioHarmonicParams, synthesize,
                    "additive harmonic tones, partials k^-gamma (gamma 0.5-2), vibrato, glide, "
                    "ADSR; the log-mel of 16 kHz audio (AudioPG)"))
