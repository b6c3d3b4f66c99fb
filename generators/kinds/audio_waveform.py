"""The classic oscillator waveforms (AudioPG's sawtooth/square/triangle family), band-limited:
each is its Fourier series summed only over the partials below Nyquist (saw ``1/k``; square
``1/k``, odd ``k``; triangle ``+-1/k^2``, odd ``k``), so no partial aliases. A fundamental
log-uniform in ``f0_min..f0_max`` with a glide (up to +-``glide_octaves``) and an ADSR
envelope per event; the shape is drawn per event from ``shapes``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from generators.kinds._audio import (adsr, audio_kind, check_events, check_range, EnvelopeFields,
                                     EventFields, harmonic_tone, log_uniform, synthesize_events,
                                     waveform_amplitudes)
from generators.params import check_fields, param
from generators.registry import register

SHAPES = ("saw", "square", "triangle")


@dataclass(frozen=True)
class AudioWaveformParams(EventFields, EnvelopeFields):
    f0_min: float = param(50.0, "lowest fundamental in Hz (drawn log-uniform)", low=20.0, high=4000.0)
    f0_max: float = param(800.0, "highest fundamental in Hz", low=20.0, high=4000.0)
    shapes: str = param("saw,square,triangle", "comma-separated waveforms drawn from (saw, "
                                               "square, triangle)")
    partials: int = param(200, "most partials of the series (those at or above 8 kHz are "
                               "dropped)", low=1, high=400)
    glide_octaves: float = param(0.5, "largest glide over an event, up or down, in octaves",
                                 low=0.0, high=3.0)

    def __post_init__(self):
        check_fields(self)
        check_events(self)
        check_range(self, "f0_min", "f0_max")
        names = [s.strip() for s in self.shapes.split(",")]
        bad = [s for s in names if s not in SHAPES]
        if bad or not names:
            raise ValueError(f"parameter shapes={self.shapes!r} must be a comma-separated list "
                             f"of {', '.join(SHAPES)}")

    @property
    def shape_list(self) -> tuple[str, ...]:
        return tuple(s.strip() for s in self.shapes.split(","))


def make_event(params: AudioWaveformParams, rng: np.random.Generator, event):
    shape = params.shape_list[int(rng.integers(len(params.shape_list)))]
    f0 = log_uniform(rng, params.f0_min, params.f0_max)
    glide = rng.uniform(-params.glide_octaves, params.glide_octaves)
    track = f0 * 2 ** (glide * np.linspace(0.0, 1.0, event.length))
    env, adsr_info = adsr(params, rng, event.length)
    tone = harmonic_tone(track, waveform_amplitudes(shape, params.partials))
    return tone * env, {"shape": shape, "f0": round(f0, 4), "glide_octaves": round(float(glide), 4),
                        **adsr_info}


def synthesize(params: AudioWaveformParams, rng: np.random.Generator, frames: int):
    """``(waveform at 16 kHz, info)`` of a clip of ``frames`` 10-ms frames."""
    return synthesize_events(params, rng, frames, make_event)



register(audio_kind("audio-waveform", AudioWaveformParams, synthesize,
                    "band-limited sawtooth, square and triangle tones with glides and ADSR; the "
                    "log-mel of 16 kHz audio (AudioPG)"))
