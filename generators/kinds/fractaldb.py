"""FractalDB: iterated-function-system fractals (Kataoka et al., "Pre-training without
Natural Images", ACCV 2020), with the published category search and instance design.

Class (category) search, as in the reference ``ifs_search.py``:

* number of affine maps ``k`` uniform in 2..7 (the code's ``randint(2, 8)``);
* every map's ``a, b, c, d, e, f ~ U(-1, 1)``, acting as ``x' = a x + b y + e``,
  ``y' = c x + d y + f``; map probability ``p_j ∝ |a_j d_j - b_j c_j|``, normalised;
* a candidate is rendered with 100,000 points on a 512² canvas, one pixel per point, and
  accepted when its filling rate (non-zero pixels / all pixels) is ≥ 0.2 (about 3 % of
  candidates are accepted).

Instances, as in the reference ``make_fractaldb.py`` with the recommended weights file 0.4:
25 parameter variants (identity, and for each of a..f that parameter multiplied in all maps by
one of 1 - 2s, 1 - s, 1 + s, 1 + 2s with s = ``weight_step`` = 0.4, i.e. 0.2, 0.6, 1.4, 1.8;
the weights file 0.1 gives 0.8, 0.9, 1.1, 1.2) x 4 flips (none, vertical, horizontal, both)
x 10 renders that differ only in the random 3x3 patch mask = 1,000 instances per class.
Each sample draws its variant (1 of 25) and flip (1 of 4) uniformly from its own random stream
(the reference enumerates the 100 combinations x 10 masks; drawing gives every instance the same
distribution while keeping samples independent of their position in the dataset). The map
probabilities stay those of the class (as in the reference, which reuses its csv).

Rendering (``draw="patch"``, the authors' recommended setting): 200,000 chaos-game iterations
from (0, 0), x and y min-max scaled separately into ``[pad, size - pad]`` (pad 6 px at 362²,
scaled with the image size; aspect not preserved), each point stamps a 3x3 patch whose pixels
are set to gray 127 on black where that point's random 9-bit mask (``randrange(1, 512)`` per
point in the reference's ``draw_patch``) has a 1. ``draw="point"`` sets single pixels.
Grayscale.

Defects of the reference fixed here (the published intent is kept):

* patch masks were unseeded (Python's global ``random``); here they come from the sample's
  random stream, so images are reproducible;
* the reference seeds the chaos game with a fixed ``np.random.seed(100)``, so all instances
  of a class share one orbit sequence; here every sample draws its own orbit (with 200k points
  both cover the same attractor);
* the reference's rescaling subtracts the minimum only when it is negative (a positive-only
  orbit is not min-max scaled and can leave the canvas); here x and y are always min-max
  scaled, which is the documented intent;
* diverging orbits (inf/NaN) were silently truncated; here a diverging candidate is rejected
  during the search, and an instance variant whose perturbed maps diverge (maps need not be
  contractive) falls back to the class's own maps (recorded as ``variant_fallback``);
* the search was pure Python (8 s per accepted class); here the chaos game and the filling
  count run in numba (~50 ms per accepted class).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from generators.params import check_fields, param
from generators.registry import Kind, RenderError, register

NUM_VARIANTS = 25  # identity + 6 parameters x 4 factors (reference weights file)
NUM_FLIPS = 4      # none, vertical, horizontal, both
REFERENCE_SIZE = 362
REFERENCE_PAD = 6  # pixels at 362²


@dataclass(frozen=True)
class FractalDBParams:
    num_classes: int = param(1000, "number of fractal categories (FractalDB-1k)", low=1,
                             high=1_000_000)
    min_maps: int = param(2, "fewest affine maps per category (reference: 2)", low=1, high=16)
    max_maps: int = param(7, "most affine maps per category (reference: 7)", low=1, high=16)
    fill_threshold: float = param(0.2, "filling rate a category needs (reference: 0.2)",
                                  low=0.0, high=1.0)
    search_points: int = param(100_000, "points of the acceptance render (reference: 100k)",
                               low=1_000, high=10_000_000)
    search_size: int = param(512, "canvas side of the acceptance render (reference: 512)",
                             low=32, high=4096)
    num_points: int = param(200_000, "chaos-game points per image (reference: 200k)",
                            low=1_000, high=10_000_000)
    weight_step: float = param(0.4, "instance perturbation step s: factors 1±s, 1±2s "
                                    "(reference weights files 0.4 and 0.1)", low=0.0, high=0.49)
    flips: bool = param(True, "use the 4 flips of the instance design")
    draw: str = param("patch", "patch = 3x3 random-mask stamps (reference), point = pixels",
                      choices=("patch", "point"))
    gray: int = param(127, "gray level of drawn pixels (reference: 127)", low=1, high=255)
    max_candidates: int = param(100_000, "give up a category after this many rejected "
                                         "candidates", low=1, high=10_000_000)

    def __post_init__(self):
        check_fields(self)
        if self.min_maps > self.max_maps:
            raise ValueError(f"parameter min_maps={self.min_maps} must be <= "
                             f"max_maps={self.max_maps}")


LIMIT = 1e12  # |coordinate| beyond which an orbit counts as diverged


@njit(cache=True)
def chaos_game(maps, cumulative, bits, points):
    """Iterate the IFS from (0, 0), writing ``points``; return how many are finite.

    ``bits`` holds one raw 64-bit random word per step: its high 32 bits pick the map
    (u = high / 2^32 against the cumulative probabilities); the low 32 bits are left for the
    point's patch mask (see :func:`draw_points`). The map index is a branch-free count of
    ``u >= cumulative[m]`` (3x faster than a search loop: random map choices defeat branch
    prediction). Divergence is checked every 256 steps and the orbit truncated at its first
    point beyond ``LIMIT`` (or NaN).
    """
    x = 0.0
    y = 0.0
    k = maps.shape[0]
    n = bits.shape[0]
    for t in range(n):
        u = np.float64(bits[t] >> np.uint64(32)) * (1.0 / 4294967296.0)
        j = 0
        for m in range(k - 1):
            j += u >= cumulative[m]
        x, y = (maps[j, 0] * x + maps[j, 1] * y + maps[j, 4],
                maps[j, 2] * x + maps[j, 3] * y + maps[j, 5])
        points[t, 0] = x
        points[t, 1] = y
        if (t & 255) == 255 or t == n - 1:
            if not (abs(x) < LIMIT and abs(y) < LIMIT):
                for first in range(max(0, t - 255), t + 1):
                    if not (abs(points[first, 0]) < LIMIT and abs(points[first, 1]) < LIMIT):
                        return first
    return n


@njit(cache=True)
def _extent(points, count):
    xmin, xmax = points[0, 0], points[0, 0]
    ymin, ymax = points[0, 1], points[0, 1]
    for t in range(count):
        xmin = min(xmin, points[t, 0])
        xmax = max(xmax, points[t, 0])
        ymin = min(ymin, points[t, 1])
        ymax = max(ymax, points[t, 1])
    return xmin, xmax, ymin, ymax


@njit(cache=True)
def _scales(points, count, size, pad):
    """Min-max scaling of x and y separately into [pad, size - 1 - pad], as the reference."""
    xmin, xmax, ymin, ymax = _extent(points, count)
    span = size - 1 - 2 * pad
    sx = span / (xmax - xmin) if xmax > xmin else 0.0
    sy = span / (ymax - ymin) if ymax > ymin else 0.0
    # a zero span (all points on one line) maps to the canvas centre
    ox = pad + 0.5 if sx > 0 else size // 2 + 0.5
    oy = pad + 0.5 if sy > 0 else size // 2 + 0.5
    return xmin, sx, ox, ymin, sy, oy


@njit(cache=True)
def filled_pixels(points, count, size, pad):
    """Number of distinct pixels hit by the first ``count`` points on a ``size``² canvas."""
    canvas = np.zeros((size, size), np.uint8)
    xmin, sx, ox, ymin, sy, oy = _scales(points, count, size, pad)
    filled = 0
    for t in range(count):
        col = int((points[t, 0] - xmin) * sx + ox)
        row = int((points[t, 1] - ymin) * sy + oy)
        filled += 1 - canvas[row, col]
        canvas[row, col] = 1
    return filled


@njit(cache=True)
def draw_points(points, count, size, pad, bits, gray, patch):
    """Stamp a 3x3 patch at every point (``patch``) or set single pixels.

    Each point's mask is uniform in 1..511 (the reference's ``randrange(1, 512)`` per point),
    from the low 32 bits of its random word by a multiply-shift; pixel (r, c) of the patch is
    drawn where bit ``3 r + c`` is set. ``pad >= 1`` keeps every stamp inside the canvas.
    Branch-free: every pixel is 0 or ``gray``, so OR-ing ``gray * bit`` sets it or keeps it
    (random mask bits would defeat branch prediction).
    """
    flat = np.zeros(size * size, np.uint8)
    offsets = np.empty(9, np.int64)
    for bit in range(9):
        offsets[bit] = (bit // 3 - 1) * size + (bit % 3 - 1)
    xmin, sx, ox, ymin, sy, oy = _scales(points, count, size, pad)
    low = np.uint64(0xFFFFFFFF)
    for t in range(count):
        col = int((points[t, 0] - xmin) * sx + ox)
        row = int((points[t, 1] - ymin) * sy + oy)
        centre = row * size + col
        if patch:
            mask = np.int64(1 + (((bits[t] & low) * np.uint64(511)) >> np.uint64(32)))
            for bit in range(9):
                flat[centre + offsets[bit]] |= np.uint8(gray * ((mask >> bit) & 1))
        else:
            flat[centre] = gray
    return flat.reshape(size, size)


def pad_pixels(size: int) -> int:
    """The reference's 6-pixel margin at 362², scaled to ``size``."""
    return max(1, int(round(REFERENCE_PAD * size / REFERENCE_SIZE)))


def map_probabilities(maps: np.ndarray) -> np.ndarray:
    det = np.abs(maps[:, 0] * maps[:, 3] - maps[:, 1] * maps[:, 2])
    total = det.sum()
    return det / total if total > 0 else np.full(len(maps), 1.0 / len(maps))


def filling_rate(maps: np.ndarray, probabilities: np.ndarray, rng: np.random.Generator,
                 points: int = 100_000, size: int = 512) -> float:
    """Filling rate of a point render (the acceptance statistic); 0 for a diverging orbit."""
    buffer = np.empty((points, 2))
    count = chaos_game(maps, np.cumsum(probabilities), rng.bit_generator.random_raw(points),
                       buffer)
    if count < points:  # diverging orbit: the reference truncates it; we reject the candidate
        return 0.0
    return filled_pixels(buffer, count, size, pad_pixels(size)) / size**2


def sample_fractal_class(params: FractalDBParams, rng: np.random.Generator) -> dict:
    """Search IFS candidates until one fills ``fill_threshold`` of the canvas (the paper)."""
    for candidate in range(1, params.max_candidates + 1):
        k = int(rng.integers(params.min_maps, params.max_maps + 1))
        maps = rng.uniform(-1.0, 1.0, size=(k, 6))
        probabilities = map_probabilities(maps)
        rate = filling_rate(maps, probabilities, rng, params.search_points, params.search_size)
        if rate >= params.fill_threshold:
            return {"maps": maps.tolist(), "probabilities": probabilities.tolist(),
                    "fill_rate": rate, "candidates": candidate}
    raise RenderError(f"no IFS category reached fill_threshold={params.fill_threshold} "
                       f"in {params.max_candidates} candidates; lower the threshold")


def variant_maps(maps: np.ndarray, variant: int, step: float) -> np.ndarray:
    """Variant 0 = the class's maps; 1 + 4p + q scales parameter p by [1-2s, 1-s, 1+s, 1+2s][q]."""
    if variant == 0:
        return maps
    p, q = divmod(variant - 1, 4)
    factor = (1 - 2 * step, 1 - step, 1 + step, 1 + 2 * step)[q]
    scaled = maps.copy()
    scaled[:, p] *= factor
    return scaled


def render_fractal(params: FractalDBParams, rng: np.random.Generator, size: int,
                   class_params: dict):
    """One instance of a category: a parameter variant, a flip and a patch mask."""
    maps = np.asarray(class_params["maps"], dtype=np.float64)
    cumulative = np.cumsum(class_params["probabilities"])
    variant = int(rng.integers(NUM_VARIANTS)) if params.weight_step > 0 else 0
    flip = int(rng.integers(NUM_FLIPS)) if params.flips else 0
    bits = rng.bit_generator.random_raw(params.num_points)  # map choice + patch mask per point
    points = np.empty((params.num_points, 2))
    count = chaos_game(variant_maps(maps, variant, params.weight_step), cumulative, bits, points)
    fallback = count < params.num_points // 2
    if fallback:  # the perturbed maps diverge: draw the class's own fractal instead
        count = chaos_game(maps, cumulative, bits, points)
    image = draw_points(points, count, size, pad_pixels(size), bits, params.gray,
                        params.draw == "patch")
    if flip & 1:
        image = image[::-1]
    if flip & 2:
        image = image[:, ::-1]
    info = {"variant": variant, "flip": flip}
    if fallback:
        info["variant_fallback"] = True
    return np.ascontiguousarray(image), info


register(Kind(
    name="fractaldb",
    params_type=FractalDBParams,
    render=render_fractal,
    sample_class=sample_fractal_class,
    summary="IFS fractals with the FractalDB category search and instance design "
            "(Kataoka et al. 2020)",
    channels=1,
))
