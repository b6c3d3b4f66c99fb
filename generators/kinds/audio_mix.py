"""Mixtures (AudioPG's scenes: several events, background noise): ``layers_min..layers_max``
layers, each a clip of one of the six audio families (``audio-harmonic``, ``-fm``,
``-waveform``, ``-noise``, ``-chirp``, ``-modal`` at their defaults, drawn per layer from
``families``), each at a level drawn 0..``level_db`` dB down, so events of different families
overlap; over a background of ``1/f^beta`` noise (``beta ~ U(0, 2)``) filling the clip at a
signal-to-noise ratio ``snr ~ U(snr_min, snr_max)`` dB (mean power of the layers over that of
the background).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from generators.kinds import (audio_chirp, audio_fm, audio_harmonic, audio_modal, audio_noise,
                              audio_waveform)
from generators.kinds._audio import (audio_kind, check_range, clip_samples, coloured_noise, finish)
from generators.params import check_fields, param
from generators.registry import register

#: family -> (its synthesize, its default parameters)
FAMILIES = {
    "harmonic": (audio_harmonic.synthesize, audio_harmonic.AudioHarmonicParams()),
    "fm": (audio_fm.synthesize, audio_fm.AudioFMParams()),
    "waveform": (audio_waveform.synthesize, audio_waveform.AudioWaveformParams()),
    "noise": (audio_noise.synthesize, audio_noise.AudioNoiseParams()),
    "chirp": (audio_chirp.synthesize, audio_chirp.AudioChirpParams()),
    "modal": (audio_modal.synthesize, audio_modal.AudioModalParams()),
}


@dataclass(frozen=True)
class AudioMixParams:
    layers_min: int = param(2, "fewest layers (family clips) per mixture", low=1, high=8)
    layers_max: int = param(4, "most layers per mixture", low=1, high=8)
    families: str = param("harmonic,fm,waveform,noise,chirp,modal",
                          "comma-separated families the layers are drawn from")
    level_db: float = param(12.0, "each layer's level is drawn 0..level_db dB down",
                            low=0.0, high=60.0)
    snr_min: float = param(0.0, "lowest signal-to-background ratio in dB", low=-20.0, high=80.0)
    snr_max: float = param(30.0, "highest signal-to-background ratio in dB", low=-20.0, high=80.0)

    def __post_init__(self):
        check_fields(self)
        check_range(self, "layers_min", "layers_max")
        check_range(self, "snr_min", "snr_max")
        names = self.family_list
        bad = [n for n in names if n not in FAMILIES]
        if bad or not names:
            raise ValueError(f"parameter families={self.families!r} must be a comma-separated "
                             f"list of {', '.join(FAMILIES)}")

    @property
    def family_list(self) -> tuple[str, ...]:
        return tuple(s.strip() for s in self.families.split(",") if s.strip())


def synthesize(params: AudioMixParams, rng: np.random.Generator, frames: int):
    """``(waveform at 16 kHz, info)`` of a clip of ``frames`` 10-ms frames."""
    n = clip_samples(frames)
    count = int(rng.integers(params.layers_min, params.layers_max + 1))
    names = params.family_list
    signal = np.zeros(n)
    layers = []
    for _ in range(count):
        family = names[int(rng.integers(len(names)))]
        family_synthesize, family_params = FAMILIES[family]
        wave, info = family_synthesize(family_params, rng, frames)
        gain = 10 ** (-rng.uniform(0.0, params.level_db) / 20)
        signal += gain * wave
        layers.append({"family": family, "gain_db": round(20 * float(np.log10(gain)), 3), **info})
    snr = rng.uniform(params.snr_min, params.snr_max)
    beta = rng.uniform(0.0, 2.0)
    power = float(np.mean(signal ** 2))
    background = coloured_noise(rng, n, beta) * np.sqrt(power / 10 ** (snr / 10))
    return finish(signal + background), {"layers": layers, "snr_db": round(float(snr), 4),
                                         "background_beta": round(float(beta), 4)}



register(audio_kind("audio-mix", AudioMixParams, synthesize,
                    "2-4 overlapping clips of the six audio families over 1/f^beta background "
                    "noise at 0-30 dB SNR; the log-mel of 16 kHz audio (AudioPG)"))
