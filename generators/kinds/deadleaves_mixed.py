"""Dead leaves of six mixed shapes (Baradad et al., NeurIPS 2021, "dead_leaves-mixed").

Each shape is, with probability 1/6 each (reference code: ``random.choice(available_shapes)``),
a circle of radius ``r``; a square of side ``r*sqrt(2)``; the same square rotated by
``U(0, 2*pi)``; an axis-aligned rectangle with corners ``(±r cos a, ±r sin a)``,
``a ~ U(0, pi/2)``; a triangle or a quadrilateral with 3 or 4 sorted angles ``U(0, 2*pi)`` on
the circle of radius ``r``. Radii, centres, colours and the stopping rule are those of
``deadleaves-squares`` (``r`` on ``linspace(0.03, 1, 200)``, probability ∝ ``1/r^3 - 1``,
painted until every pixel is covered, at most 5,000 shapes). The info dict counts the shapes
painted per type (``shape_counts``). Details and sources: :mod:`generators.kinds._deadleaves`.
"""

from __future__ import annotations

import numpy as np

from generators.kinds._deadleaves import SHAPE_NAMES, DeadLeavesParams, render_flat_leaves
from generators.registry import Kind, register

SHAPES = tuple(range(len(SHAPE_NAMES)))


def render_deadleaves_mixed(params: DeadLeavesParams, rng: np.random.Generator, size: int):
    """``(size x size x 3 uint8, info)``; info adds ``shape_counts`` per shape type."""
    return render_flat_leaves(params, rng, size, SHAPES)


register(Kind(name="deadleaves-mixed", params_type=DeadLeavesParams,
              render=render_deadleaves_mixed, channels=3,
              summary="dead leaves of circles, squares, rectangles, triangles, quadrilaterals "
                      "(Baradad et al. 2021)"))
