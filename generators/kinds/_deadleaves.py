"""Dead-leaves images (Baradad et al., "Learning to See by Looking at Noise", NeurIPS 2021).

Shared by the ``deadleaves-*`` kinds: parameters, radius sampling, numba rasterisation of the
six shapes, occlusion, and the region labels that colour or texture the result.

The model (published parameters; reference code ``generate_datasets/dead_leaves/
generate_dataset.py`` of the paper's repository ``mbaradad/learning_with_noise``):

* radius ``r`` (a fraction of the image size) on a grid of 200 values ``linspace(0.03, 1)``
  with probability ∝ ``1/r^3 - 1/rmax^3`` (``sigma = 3``; the subtraction makes ``p(rmax) = 0``);
* centre uniform over the image; colour uniform over RGB;
* shapes are painted on top of each other (painter's order) until no pixel is uncovered, with
  a cap of 5,000 shapes (``max_iters=5000``); the paper reports 600-2,700 shapes typically;
* shapes (all inscribed in the circle of radius ``r`` around the centre): circle; square with
  side ``r*sqrt(2)``; the same square rotated by ``U(0, 2*pi)``; rectangle with corners
  ``(±r cos a, ±r sin a)``, ``a ~ U(0, pi/2)``; triangle and quadrilateral with 3 or 4 sorted
  angles ``U(0, 2*pi)`` on the circle of radius ``r``; "mixed" picks one of the six uniformly.

Fast, and exactly the published painter's model
------------------------------------------------
The reference checks the *whole image* for uncovered pixels after every shape (74 % of its
time). Here every pixel holds the label of the shape that is visible there (0 = uncovered);
painting a pixel whose label is 0 decrements an uncovered counter, so coverage costs nothing
extra and the loop stops exactly after the shape that the reference would stop after. The
rasterisation only visits the shape's bounding rows and, per row, the span inside the shape.

Why not front-to-back? Painting front-to-back (first shape on top, each new shape fills only
still-uncovered pixels, stop at full coverage) samples Matheron's *stationary* dead-leaves model
exactly (Kendall & Thönnes 1999, "perfect simulation"), but it is **not** the same distribution
as painter's order *stopped at first coverage*. Painter's order conditions the sequence on its
prefixes (the top shape is the one that closed the last hole), front-to-back on its suffixes.
Two pixels a, b and shapes covering {a}, {b} or {a, b} with probabilities pA, pB, pAB show it:
front-to-back shows one shape on both pixels with probability pAB; painter's order with
``pAB + pA*pAB/(pB+pAB) + pB*pAB/(pA+pAB)`` (the shape that completes the coverage tends to be
a big one on top). So the default ``order="painter"`` reproduces the published images in
distribution; ``order="front-to-back"`` is offered for the stationary model. Both cost the
same here (one read and at most one write of a label per pixel of a shape).

Deliberate differences from the reference code, keeping the published intent:

* geometry is continuous: centres ``U(0, size)`` instead of integer pixels, radii
  ``r*size`` pixels (at least 1 px, as the reference's ``max(int(r*res), 1)``) instead of
  truncated integers, and a pixel belongs to a shape when its centre does (the reference
  truncates corner offsets to int32 before rotating, which bends small squares);
* radius index by inverse CDF (first grid value whose CDF exceeds ``u``); the reference takes
  the grid value whose CDF is *nearest* to ``u``, shifting every probability by half a bin;
* colours uniform over all 256 levels per channel (the reference's ``int(255*u)`` never gives
  255); coverage is tracked by labels, so a black shape no longer counts as "uncovered";
* per-sample random streams (docs/design.md, "Determinism") instead of ``np.random.seed(i)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit

from generators.params import check_fields, param

#: Shape codes, in the order of the reference's ``available_shapes``.
SHAPE_NAMES = ("circle", "square", "oriented_square", "rectangle", "triangle", "quadrilateral")
CIRCLE, SQUARE, ORIENTED_SQUARE, RECTANGLE, TRIANGLE, QUADRILATERAL = range(6)

#: Shapes drawn per batch of random numbers: typical images need 600-2,700 shapes (paper), so
#: a few batches, without drawing the whole 5,000-shape cap's worth of numbers every time.
BATCH = 1024

ORDERS = ("painter", "front-to-back")


@dataclass(frozen=True)
class DeadLeavesParams:
    """Dead-leaves parameters, published defaults (Baradad et al. 2021, reference code)."""

    radius_min: float = param(0.03, "smallest shape radius, fraction of the image size "
                              "(paper: 0.03)", low=0.001, high=2.0)
    radius_max: float = param(1.0, "largest radius of the grid, fraction of the image size; "
                              "its probability is 0 (paper: 1)", low=0.001, high=2.0)
    radius_steps: int = param(200, "number of radius grid values from radius_min to radius_max "
                              "(paper: 200)", low=2, high=100_000)
    exponent: float = param(3.0, "radius probability ∝ 1/r^exponent - 1/radius_max^exponent "
                            "(paper: sigma = 3; 0 = uniform)", low=0.0, high=10.0)
    max_shapes: int = param(5000, "stop after this many shapes even if pixels are uncovered "
                            "(paper: 5000)", low=1, high=1_000_000)
    order: str = param("painter", "painter = the published model (each shape on top, stop at "
                       "full coverage); front-to-back = the stationary dead-leaves model",
                       choices=ORDERS)

    def __post_init__(self):
        check_fields(self)
        if self.radius_min >= self.radius_max:
            raise ValueError(f"parameter radius_min={self.radius_min} must be < "
                             f"radius_max={self.radius_max}")


def radius_cdf(params: DeadLeavesParams) -> tuple[np.ndarray, np.ndarray]:
    """The radius grid (fractions of the image size) and its cumulative distribution.

    Probability of grid value ``r_i`` ∝ ``r_i^-e - r_max^-e`` for ``e > 0`` (zero at
    ``r_max``), uniform for ``e = 0`` (the reference's ``if sigma > 0`` branch).
    """
    grid = np.linspace(params.radius_min, params.radius_max, params.radius_steps)
    weights = grid ** -params.exponent
    if params.exponent > 0:
        weights = weights - params.radius_max ** -params.exponent
    cdf = np.cumsum(weights)
    return grid, cdf / cdf[-1]


def draw_shapes(rng: np.random.Generator, n: int, shapes: tuple[int, ...], size: int,
                grid: np.ndarray, cdf: np.ndarray):
    """Random numbers of ``n`` shapes: types, geometry, colours.

    Returns ``types`` (int8, codes of ``SHAPE_NAMES``), ``geom`` (n x 3: centre x, centre y,
    radius, in pixels), ``extra`` (n x 4 uniforms for angles; zero columns where no shape of
    the kind uses them) and ``colours`` (n x 3 uint8).
    """
    if len(shapes) == 1:
        types = np.full(n, shapes[0], dtype=np.int8)
    else:
        types = np.asarray(shapes, dtype=np.int8)[rng.integers(0, len(shapes), n)]
    uniform = rng.random((n, 3))
    geom = np.empty((n, 3))
    geom[:, :2] = uniform[:, :2] * size
    # inverse CDF on the grid; min() guards u == 1 - tiny against round-off in cdf[-1]
    index = np.minimum(np.searchsorted(cdf, uniform[:, 2], side="right"), len(grid) - 1)
    geom[:, 2] = np.maximum(grid[index] * size, 1.0)
    needs_angles = any(s not in (CIRCLE, SQUARE) for s in shapes)
    extra = rng.random((n, 4)) if needs_angles else np.zeros((n, 4))
    colours = rng.integers(0, 256, (n, 3), dtype=np.uint8)
    return types, geom, extra, colours


@njit(cache=True)
def _paint_span(labels, row, x_left, x_right, label, front_to_back):
    """Give the pixels of ``row`` whose centres lie in [x_left, x_right] the ``label``.

    Returns how many of them were uncovered (label 0) before.
    """
    size = labels.shape[1]
    j0 = max(0, int(math.ceil(x_left - 0.5)))
    j1 = min(size - 1, int(math.floor(x_right - 0.5)))
    newly = 0
    if front_to_back:
        for j in range(j0, j1 + 1):
            if labels[row, j] == 0:
                labels[row, j] = label
                newly += 1
    else:
        for j in range(j0, j1 + 1):  # branch-free, so the loop vectorises
            newly += labels[row, j] == 0
            labels[row, j] = label
    return newly


@njit(cache=True)
def _polygon(shape, cx, cy, r, extra, vx, vy):
    """Vertices of a polygonal shape into ``vx``/``vy``; returns their number."""
    if shape == SQUARE or shape == ORIENTED_SQUARE:
        half = r / math.sqrt(2.0)  # side r*sqrt(2): the square inscribed in the circle
        theta = extra[0] * 2.0 * math.pi if shape == ORIENTED_SQUARE else 0.0
        c, s = math.cos(theta), math.sin(theta)
        for v in range(4):
            dx = half if (v == 1 or v == 2) else -half
            dy = half if v >= 2 else -half
            vx[v] = cx + c * dx - s * dy
            vy[v] = cy + s * dx + c * dy
        return 4
    if shape == RECTANGLE:
        a = extra[0] * 0.5 * math.pi
        hx, hy = r * math.cos(a), r * math.sin(a)
        vx[0], vy[0] = cx - hx, cy - hy
        vx[1], vy[1] = cx + hx, cy - hy
        vx[2], vy[2] = cx + hx, cy + hy
        vx[3], vy[3] = cx - hx, cy + hy
        return 4
    n = 3 if shape == TRIANGLE else 4
    # sorted angles on the circle make a convex polygon in angular order (insertion sort:
    # no allocation per shape)
    for v in range(n):
        angle = extra[v] * 2.0 * math.pi
        w = v
        while w > 0 and vx[w - 1] > angle:
            vx[w] = vx[w - 1]
            w -= 1
        vx[w] = angle
    for v in range(n):
        angle = vx[v]
        vx[v] = cx + r * math.cos(angle)
        vy[v] = cy + r * math.sin(angle)
    return n


@njit(cache=True)
def paint_shapes(labels, first_label, types, geom, extra, front_to_back, uncovered):
    """Paint shapes ``first_label, first_label + 1, ...`` into ``labels`` until none is uncovered.

    ``labels`` (size x size int32) holds the visible shape of every pixel, 0 where uncovered.
    Painter's order: every pixel of a shape gets its label (it lies on top). Front-to-back:
    only uncovered pixels do. Returns ``(shapes painted, pixels still uncovered)``.
    """
    size = labels.shape[0]
    vx, vy = np.empty(4), np.empty(4)
    edge_lo, edge_hi, edge_x, edge_x1, edge_slope = (np.empty(4), np.empty(4), np.empty(4),
                                                     np.empty(4), np.empty(4))
    for s in range(types.shape[0]):
        if uncovered == 0:
            return s, uncovered
        label = first_label + s
        cx, cy, r = geom[s, 0], geom[s, 1], geom[s, 2]
        shape = types[s]
        if shape == CIRCLE:
            row0 = max(0, int(math.ceil(cy - r - 0.5)))
            row1 = min(size - 1, int(math.floor(cy + r - 0.5)))
            for i in range(row0, row1 + 1):
                dy = i + 0.5 - cy
                h2 = r * r - dy * dy
                if h2 >= 0.0:
                    h = math.sqrt(h2)
                    uncovered -= _paint_span(labels, i, cx - h, cx + h, label, front_to_back)
            continue
        if shape == SQUARE or shape == RECTANGLE:
            # axis-aligned boxes: the same span on every row
            if shape == SQUARE:
                hx = hy = r / math.sqrt(2.0)
            else:
                a = extra[s, 0] * 0.5 * math.pi
                hx, hy = r * math.cos(a), r * math.sin(a)
            row0 = max(0, int(math.ceil(cy - hy - 0.5)))
            row1 = min(size - 1, int(math.floor(cy + hy - 0.5)))
            for i in range(row0, row1 + 1):
                uncovered -= _paint_span(labels, i, cx - hx, cx + hx, label, front_to_back)
            continue
        n = _polygon(shape, cx, cy, r, extra[s], vx, vy)
        ymin, ymax = vy[0], vy[0]
        for v in range(1, n):
            ymin = min(ymin, vy[v])
            ymax = max(ymax, vy[v])
        row0 = max(0, int(math.ceil(ymin - 0.5)))
        row1 = min(size - 1, int(math.floor(ymax - 0.5)))
        for e in range(n):  # edges as (lower y, upper y, x at lower y, dx/dy)
            x0, y0 = vx[e], vy[e]
            x1, y1 = vx[(e + 1) % n], vy[(e + 1) % n]
            if y0 > y1:
                x0, y0, x1, y1 = x1, y1, x0, y0
            edge_lo[e], edge_hi[e], edge_x[e] = y0, y1, x0
            edge_slope[e] = (x1 - x0) / (y1 - y0) if y1 > y0 else 0.0
            edge_x1[e] = x1
        for i in range(row0, row1 + 1):
            yc = i + 0.5
            # a convex polygon meets a row in one interval: between its edges' crossings
            x_left, x_right = np.inf, -np.inf
            for e in range(n):
                if edge_lo[e] <= yc <= edge_hi[e]:
                    if edge_hi[e] > edge_lo[e]:
                        x = edge_x[e] + (yc - edge_lo[e]) * edge_slope[e]
                        x_left, x_right = min(x_left, x), max(x_right, x)
                    else:  # a horizontal edge on this row's centre line
                        x_left = min(x_left, edge_x[e], edge_x1[e])
                        x_right = max(x_right, edge_x[e], edge_x1[e])
            if x_left <= x_right:
                uncovered -= _paint_span(labels, i, x_left, x_right, label, front_to_back)
    return types.shape[0], uncovered


def dead_leaves_labels(params: DeadLeavesParams, rng: np.random.Generator, size: int,
                       shapes: tuple[int, ...]):
    """Occlusion map of a dead-leaves image.

    Returns ``labels`` (size x size int32: 1-based index of the visible shape, 0 = uncovered,
    only where ``max_shapes`` ran out), ``colours`` ((painted + 1) x 3 uint8, row 0 black for
    uncovered pixels, row k the colour of shape k), ``types`` of the painted shapes and the
    number of uncovered pixels.
    """
    grid, cdf = radius_cdf(params)
    labels = np.zeros((size, size), dtype=np.int32)
    uncovered = size * size
    front_to_back = params.order == "front-to-back"
    colour_batches = [np.zeros((1, 3), dtype=np.uint8)]
    type_batches = []
    painted = 0
    while uncovered > 0 and painted < params.max_shapes:
        n = min(BATCH, params.max_shapes - painted)
        types, geom, extra, colours = draw_shapes(rng, n, shapes, size, grid, cdf)
        used, uncovered = paint_shapes(labels, painted + 1, types, geom, extra,
                                       front_to_back, uncovered)
        colour_batches.append(colours[:used])
        type_batches.append(types[:used])
        painted += used
    return labels, np.concatenate(colour_batches), np.concatenate(type_batches), uncovered


@njit(cache=True)
def count_visible(labels, painted):
    """How many of the shapes ``1..painted`` are visible somewhere in ``labels``."""
    seen = np.zeros(painted + 1, dtype=np.bool_)
    for label in labels.ravel():
        seen[label] = True
    return int(seen[1:].sum())


@njit(cache=True)
def colour_regions(labels, colours):
    """``colours[labels]`` (size x size x 3 uint8) without numpy's slow 2-D fancy indexing."""
    height, width = labels.shape
    image = np.empty((height, width, 3), dtype=np.uint8)
    for i in range(height):
        for j in range(width):
            label = labels[i, j]
            image[i, j, 0] = colours[label, 0]
            image[i, j, 1] = colours[label, 1]
            image[i, j, 2] = colours[label, 2]
    return image


def leaves_info(labels: np.ndarray, types: np.ndarray, uncovered: int,
                shapes: tuple[int, ...]) -> dict:
    """Small JSON-able summary: shapes painted, visible regions, uncovered pixels, types."""
    visible = count_visible(labels, len(types))
    info = {"shapes": int(len(types)), "visible": visible, "uncovered": int(uncovered)}
    if len(shapes) > 1:
        counts = np.bincount(types, minlength=len(SHAPE_NAMES))
        info["shape_counts"] = {SHAPE_NAMES[s]: int(counts[s]) for s in shapes}
    return info


def render_flat_leaves(params: DeadLeavesParams, rng: np.random.Generator, size: int,
                       shapes: tuple[int, ...]):
    """Dead leaves with one flat uniform-RGB colour per shape: ``(HxWx3 uint8, info)``."""
    labels, colours, types, uncovered = dead_leaves_labels(params, rng, size, shapes)
    return colour_regions(labels, colours), leaves_info(labels, types, uncovered, shapes)
