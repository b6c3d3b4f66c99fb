"""Wavelet marginal model ("stat-wmm" of Baradad et al., "Learning to See by Looking at Noise",
NeurIPS 2021).

Ten rounds of forcing the marginal of every steerable-pyramid band (4 orientations, 3 levels at
128^2, 4 at 256^2) of three working channels to a heavy-tailed generalised Gaussian
``exp(-|x / 4^scale|^r)``, ``r ~ U(0.4, 0.8)`` per channel and band, starting from uniform
noise; then channel mixing by the colour PCA of a random Mondrian and min-max to uint8 RGB.
Heavy-tailed band marginals give sparse, edge-like structure. Model, sources and deliberate
differences from the reference code: :mod:`generators.kinds._statmodels`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from generators.kinds._statmodels import (ColorFields, IterationFields, WmmFields, Workspace,
                                          check_stat_params, synthesize)
from generators.registry import Kind, register


@dataclass(frozen=True)
class StatWmmParams(IterationFields, ColorFields, WmmFields):
    """Band exponent range and rounds; colour fields shape the channel mixing."""

    def __post_init__(self):
        check_stat_params(self)


def render_stat_wmm(params: StatWmmParams, rng: np.random.Generator, size: int,
                    context: Workspace | None = None):
    """``(size x size x 3 uint8, info)``; info: mean band exponent, colours, blur.

    ``context`` is the worker's :class:`Workspace` (scratch arrays; never changes pixels)."""
    return synthesize(params, rng, size, spectrum=False, wmm=True, color=False, workspace=context)


register(Kind(name="stat-wmm", params_type=StatWmmParams, render=render_stat_wmm, channels=3,
              make_context=Workspace,
              summary="wavelet marginal model: heavy-tailed steerable-pyramid bands "
                      "(Baradad et al. 2021)"))
