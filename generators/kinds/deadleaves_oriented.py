"""Dead leaves of randomly rotated squares (Baradad et al., NeurIPS 2021, "dead_leaves-oriented").

The squares of ``deadleaves-squares`` (side ``r*sqrt(2)``, ``r`` on ``linspace(0.03, 1, 200)``
with probability ∝ ``1/r^3 - 1``, uniform centres and RGB colours, painted until every pixel
is covered, at most 5,000 shapes), each rotated about its centre by ``U(0, 2*pi)`` (reference
code: ``theta = np.random.uniform(0, 2 * np.pi)``). Details and sources:
:mod:`generators.kinds._deadleaves`.
"""

from __future__ import annotations

import numpy as np

from generators.kinds._deadleaves import ORIENTED_SQUARE, DeadLeavesParams, render_flat_leaves
from generators.registry import Kind, register

SHAPES = (ORIENTED_SQUARE,)


def render_deadleaves_oriented(params: DeadLeavesParams, rng: np.random.Generator, size: int):
    """``(size x size x 3 uint8, info)``; info: shapes painted, visible regions, uncovered."""
    return render_flat_leaves(params, rng, size, SHAPES)


register(Kind(name="deadleaves-oriented", params_type=DeadLeavesParams,
              render=render_deadleaves_oriented, channels=3,
              summary="dead leaves of randomly rotated squares (Baradad et al. 2021)"))
