"""Random-phase noise with a ``1/|f|^s`` amplitude spectrum ("stat-spectrum" of Baradad et al.,
"Learning to See by Looking at Noise", NeurIPS 2021).

Each of three working channels gets the phase of uniform noise and the amplitude
``1 / (|fx/N|^(s+d) + |fy/N|^(s-d))`` with ``s ~ U(0.5, 3.5)`` (slope of the *amplitude*
spectrum; the power spectrum falls as ``|f|^(-2s)``) and ``d ~ N(0, 1) * 0.05``; the channels
are then mixed by the colour PCA of a random Mondrian (reference ``correlate_channels=True``)
and min-max scaled to uint8 RGB. Model, sources and deliberate differences from the reference
code: :mod:`generators.kinds._statmodels`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from generators.kinds._statmodels import ColorFields, SpectrumFields, check_stat_params, synthesize
from generators.registry import Kind, register


@dataclass(frozen=True)
class StatSpectrumParams(ColorFields, SpectrumFields):
    """Spectrum slope range and anisotropy; colour fields shape the channel mixing."""

    def __post_init__(self):
        check_stat_params(self)


def render_stat_spectrum(params: StatSpectrumParams, rng: np.random.Generator, size: int):
    """``(size x size x 3 uint8, info)``; info: slope s, anisotropy d, colours, blur."""
    return synthesize(params, rng, size, spectrum=True, wmm=False, color=False)


register(Kind(name="stat-spectrum", params_type=StatSpectrumParams, render=render_stat_spectrum,
              channels=3, summary="random-phase noise with a 1/f^s amplitude spectrum, "
                                  "s ~ U(0.5, 3.5) (Baradad et al. 2021)"))
