"""Spectrum + colour model ("stat-spectrum_color" of Baradad et al., "Learning to See by Looking
at Noise", NeurIPS 2021).

Ten rounds of alternating projections from uniform noise: the ``1/|f|^s`` amplitude spectrum
(``s ~ U(0.5, 3.5)``, phase, mean and std kept), then the colour model: each channel of the
colour-PCA space of a random Mondrian (3..22 colours, 1..10 px box blur) is histogram-matched
to that Mondrian's decorrelated channel; finally the PCA is undone and the image min-max scaled
to uint8 RGB, so channels are correlated like the Mondrian's colours. Model, sources and
deliberate differences from the reference code: :mod:`generators.kinds._statmodels`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from generators.kinds._statmodels import (ColorFields, IterationFields, SpectrumFields,
                                          check_stat_params, synthesize)
from generators.registry import Kind, register


@dataclass(frozen=True)
class StatSpectrumColorParams(IterationFields, ColorFields, SpectrumFields):
    """Spectrum slope range and anisotropy, colour model, rounds of projections."""

    def __post_init__(self):
        check_stat_params(self)


def render_stat_spectrum_color(params: StatSpectrumColorParams, rng: np.random.Generator,
                               size: int):
    """``(size x size x 3 uint8, info)``; info: slope s, anisotropy d, colours, blur."""
    return synthesize(params, rng, size, spectrum=True, wmm=False, color=True)


register(Kind(name="stat-spectrum-color", params_type=StatSpectrumColorParams,
              render=render_stat_spectrum_color, channels=3,
              summary="1/f^s spectrum + Mondrian colour histograms by alternating projections "
                      "(Baradad et al. 2021)"))
