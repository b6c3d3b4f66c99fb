"""Spectrum + colour + wavelet marginal model ("stat-spectrum_color_wmm" of Baradad et al.,
"Learning to See by Looking at Noise", NeurIPS 2021), the best of the paper's statistical models.

Ten rounds of alternating projections from uniform noise: ``1/|f|^s`` amplitude spectrum
(``s ~ U(0.5, 3.5)``), then heavy-tailed steerable-pyramid band marginals
(``exp(-|x / 4^scale|^r)``, ``r ~ U(0.4, 0.8)``), then the colour histograms of a random
Mondrian in its colour-PCA space; the PCA is undone and the image min-max scaled to uint8 RGB.
``deadleaves-textures`` fills its shapes with these images
(:func:`generators.kinds._statmodels.render_spectrum_color_wmm`). Model, sources and deliberate
differences from the reference code: :mod:`generators.kinds._statmodels`.
"""

from __future__ import annotations

import numpy as np

from generators.kinds._statmodels import SpectrumColorWmmParams, Workspace, synthesize
from generators.registry import Kind, register


def render_stat_spectrum_color_wmm(params: SpectrumColorWmmParams, rng: np.random.Generator,
                                   size: int, context: Workspace | None = None):
    """``(size x size x 3 uint8, info)``; info: slope, anisotropy, mean band exponent, colours.

    ``context`` is the worker's :class:`Workspace` (scratch arrays; never changes pixels)."""
    return synthesize(params, rng, size, spectrum=True, wmm=True, color=True, workspace=context)


register(Kind(name="stat-spectrum-color-wmm", params_type=SpectrumColorWmmParams,
              render=render_stat_spectrum_color_wmm, channels=3, make_context=Workspace,
              summary="1/f^s spectrum + wavelet marginals + Mondrian colours "
                      "(Baradad et al. 2021)"))
