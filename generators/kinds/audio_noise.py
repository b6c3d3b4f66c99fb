"""Coloured-noise bursts (AudioPG's pink-noise family, generalised): Gaussian noise with power
spectrum ``1/f^beta``, ``beta ~ U(beta_min, beta_max)`` (0 white, 1 pink, 2 brown), drawn per
event; with probability ``bandpass_prob`` band-passed to a band of ``1..band_octaves_max``
octaves at a log-uniform centre (wind, breath, hiss, rumble); under an ADSR envelope.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from generators.kinds._audio import (NYQUIST, adsr, audio_kind, band_pass, check_events,
                                     check_range, coloured_noise, EnvelopeFields, EventFields,
                                     log_uniform, synthesize_events)
from generators.params import check_fields, param
from generators.registry import register


@dataclass(frozen=True)
class AudioNoiseParams(EventFields, EnvelopeFields):
    beta_min: float = param(0.0, "smallest spectral slope beta of 1/f^beta (white)", low=0.0, high=3.0)
    beta_max: float = param(2.0, "largest spectral slope beta (brown)", low=0.0, high=3.0)
    bandpass_prob: float = param(0.5, "probability that an event is band-passed", low=0.0, high=1.0)
    band_octaves_max: float = param(3.0, "widest pass band in octaves (drawn from 1)", low=1.0, high=8.0)

    def __post_init__(self):
        check_fields(self)
        check_events(self)
        check_range(self, "beta_min", "beta_max")


def make_event(params: AudioNoiseParams, rng: np.random.Generator, event):
    beta = rng.uniform(params.beta_min, params.beta_max)
    noise = coloured_noise(rng, event.length, beta)
    info = {"beta": round(float(beta), 4)}
    if rng.uniform() < params.bandpass_prob:
        width = rng.uniform(1.0, params.band_octaves_max)
        centre = log_uniform(rng, 100.0, 6000.0)
        low = max(20.0, centre * 2 ** (-width / 2))
        high = min(NYQUIST * 0.98, centre * 2 ** (width / 2))
        noise = band_pass(noise, low, high)
        info.update(band_low=round(low, 3), band_high=round(high, 3))
    env, shape = adsr(params, rng, event.length)
    return noise * env, {**info, **shape}


def synthesize(params: AudioNoiseParams, rng: np.random.Generator, frames: int):
    """``(waveform at 16 kHz, info)`` of a clip of ``frames`` 10-ms frames."""
    return synthesize_events(params, rng, frames, make_event)



register(audio_kind("audio-noise", AudioNoiseParams, synthesize,
                    "1/f^beta noise bursts (beta 0-2), half of them band-passed, ADSR; the "
                    "log-mel of 16 kHz audio (AudioPG)"))
