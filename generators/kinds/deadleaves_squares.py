"""Dead leaves of axis-aligned squares (Baradad et al., NeurIPS 2021, "dead_leaves-squares").

Squares of side ``r*sqrt(2)`` (inscribed in the circle of radius ``r``), ``r`` on the grid
``linspace(0.03, 1, 200)`` (fraction of the image size) with probability ∝ ``1/r^3 - 1``,
uniform centres and uniform RGB colours, painted on top of each other until every pixel is
covered (at most 5,000 shapes). Published datasets: 105,000 images of 128² (small scale),
1.3M of 256² (large scale). Model details, sources and the few deliberate differences from the
reference code: :mod:`generators.kinds._deadleaves`.
"""

from __future__ import annotations

import numpy as np

from generators.kinds._deadleaves import SQUARE, DeadLeavesParams, render_flat_leaves
from generators.registry import Kind, register

SHAPES = (SQUARE,)


def render_deadleaves_squares(params: DeadLeavesParams, rng: np.random.Generator, size: int):
    """``(size x size x 3 uint8, info)``; info: shapes painted, visible regions, uncovered."""
    return render_flat_leaves(params, rng, size, SHAPES)


register(Kind(name="deadleaves-squares", params_type=DeadLeavesParams,
              render=render_deadleaves_squares, channels=3,
              summary="dead leaves of axis-aligned squares, 1/r^3 sizes (Baradad et al. 2021)"))
