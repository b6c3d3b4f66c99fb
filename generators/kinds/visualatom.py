"""VisualAtom: contours built from two sinusoidal waves and Perlin noise, orbit by orbit.

Takashima et al., "Visual Atoms: Pre-training Vision Transformers with Sinusoidal Waves",
CVPR 2023; reference renderer ``visual_atomic_renderer/render_VisualAtom.py`` with the settings
of ``make_VisualAtom.sh`` (repository masora1030/CVPR2023-FDSL-on-VisualAtom). VisualAtom-1k is
1,000 classes x 1,000 instances of 512 x 512 gray-on-black images.

A *visual atom* starts as an oval of ``V`` vertices around a centre and is pushed outward
``K`` times (the orbits); after each push the closed polyline is drawn in a new gray level, so
the image shows ``K`` nested, growing contours. For vertex ``v`` at angle
``theta_v = 2 pi v / V`` one push is::

    N_v = perlin(u) * c - c - 0.5 sin(n1 theta_v) - 0.5 sin(n2 theta_v)
    x_v -= cos(theta_v) * (N_v - w)          # y_v likewise with sin(theta_v)
                                             # and its own noise draw u

so the radius grows by ``c (1 - perlin) + w`` plus the two sinusoids each orbit: after ``k``
orbits the contour carries ``0.5 k (sin n1 theta + sin n2 theta)`` -- the class's frequencies
-- on top of a growing oval, roughened by accumulated noise.

Class parameters (drawn by :func:`sample_visualatom_class` from the class stream, i.e. from
``(seed, class_index)`` only; the reference seeds Python's ``random`` per *process block*, so
its classes change with the number of processes -- fixed here). Ranges are the reference
settings in ``make_VisualAtom.sh``; Python's ``randint`` bounds are inclusive:

* vertices ``V ~ randint(200, 1000)`` (``--vertex_num_min/max``): the quantisation of the
  sinusoids (the paper's "quantization" parameter);
* orbits ``K ~ randint(1, 200)`` (``--line_num_min/max``);
* Perlin coefficient ``c ~ U(0, 4)`` (``--perlin_min=0``, the code draws ``U(min, min + 4)``);
* line width ``w ~ U(0, 0.1)`` (``--line_width=0.1``): a constant outward offset per orbit in
  pixels, *not* the stroke width (strokes are 1 px, ``draw.line(width=1)``);
* start radius ``r0 ~ randint(10, 60)`` pixels at 512 x 512 (``--radius_min=10``; the code
  draws ``randint(min, min + 50)``);
* frequencies ``n1, n2 ~ randint(0, 20)`` (``--nami_1/2_min/max``), ``n2`` redrawn while it
  equals ``n1`` unless ``n1 = 0``;
* oval ratios ``a_x, a_y ~ U(1, 2)`` (``--oval_rate=2``): the start contour is
  ``(r0 a_x cos theta, r0 a_y sin theta)``.

Instance variation (from the sample stream), as in the reference:

* centre uniform over the canvas (``(512 + randint(-512, 512)) / 2`` per axis,
  ``--start_pos=512``), so an atom may leave the canvas partly;
* each orbit a gray level ``randint(0, 255)`` (inclusive; 0 draws black, erasing what it
  crosses, as in the reference);
* fresh noise for every vertex, orbit and axis: ``perlin(u)`` is the 1-D gradient noise of the
  ``noise`` package (``pnoise1``, one octave: Perlin's 2002 permutation table, gradient
  ``(h & 7) + 1`` or ``-1`` when ``h & 8``, quintic fade, scaled by 0.4) evaluated at
  ``u ~ U(0, 10000)``. Only the lattice cell ``floor(u) mod 256`` and the fraction of ``u``
  matter, so ``u ~ U(0, 256)`` draws the same distribution (the reference's cells 0..15 are
  0.25 % more likely, because 10,000 is not a multiple of 256). The ``2 V K`` noise draws of
  an instance come from a SplitMix64 stream seeded from the sample stream (32 bits per draw:
  8 for the cell, 24 for the fraction), generated inside the numba kernel.

Size scaling: every length above (``r0`` and the per-orbit push ``N_v - w``, hence ``c``, the
0.5-pixel sinusoid amplitudes and ``w``) is in pixels of the published 512 x 512 canvas and is
multiplied by ``size / 512``, so an image of another size has the geometry of a resized
512 x 512 one (the same sample index draws the same centre fraction, grays and noise at every
size). Strokes (``line``):

* ``paper``: the reference's aliased 1-px Pillow lines (coordinates truncated, Bresenham, later
  orbits overwrite earlier ones); at 512 x 512 the published look. Below 512 its strokes are
  relatively thicker than the published ones (a 256 x 256 image ~25 % brighter than the
  downscaled 512 x 512 one).
* ``antialiased``: Wu-style lines blended over the image, with coverage ``size / 512`` below
  512 (how a 1-px line looks after downscaling; a 256 render correlates ~0.97 with the 2x2
  box-downscaled 512 render, same mean); one pixel wide from 512 up.
* ``auto`` (default): ``paper`` from 512 up, ``antialiased`` below, so every size looks like
  the published images at that size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit

from generators.kinds._polyline import draw_closed_aliased, draw_closed_antialiased
from generators.params import check_fields, param
from generators.registry import Kind, register

#: Canvas side of the published dataset; pixel lengths are scaled by ``size / REFERENCE_SIZE``.
REFERENCE_SIZE = 512

LINE_STYLES = ("auto", "antialiased", "paper")

#: Ken Perlin's permutation table ("Improving Noise", SIGGRAPH 2002), used by ``noise.pnoise1``.
PERLIN_PERMUTATION = np.array([
    151, 160, 137, 91, 90, 15, 131, 13, 201, 95, 96, 53, 194, 233, 7, 225, 140, 36, 103, 30,
    69, 142, 8, 99, 37, 240, 21, 10, 23, 190, 6, 148, 247, 120, 234, 75, 0, 26, 197, 62, 94,
    252, 219, 203, 117, 35, 11, 32, 57, 177, 33, 88, 237, 149, 56, 87, 174, 20, 125, 136, 171,
    168, 68, 175, 74, 165, 71, 134, 139, 48, 27, 166, 77, 146, 158, 231, 83, 111, 229, 122, 60,
    211, 133, 230, 220, 105, 92, 41, 55, 46, 245, 40, 244, 102, 143, 54, 65, 25, 63, 161, 1,
    216, 80, 73, 209, 76, 132, 187, 208, 89, 18, 169, 200, 196, 135, 130, 116, 188, 159, 86,
    164, 100, 109, 198, 173, 186, 3, 64, 52, 217, 226, 250, 124, 123, 5, 202, 38, 147, 118,
    126, 255, 82, 85, 212, 207, 206, 59, 227, 47, 16, 58, 17, 182, 189, 28, 42, 223, 183, 170,
    213, 119, 248, 152, 2, 44, 154, 163, 70, 221, 153, 101, 155, 167, 43, 172, 9, 129, 22, 39,
    253, 19, 98, 108, 110, 79, 113, 224, 232, 178, 185, 112, 104, 218, 246, 97, 228, 251, 34,
    242, 193, 238, 210, 144, 12, 191, 179, 162, 241, 81, 51, 145, 235, 249, 14, 239, 107, 49,
    192, 214, 31, 181, 199, 106, 157, 184, 84, 204, 176, 115, 121, 50, 45, 127, 4, 150, 254,
    138, 236, 205, 93, 222, 114, 67, 29, 24, 72, 243, 141, 128, 195, 78, 66, 215, 61, 156, 180,
], dtype=np.int64)


@dataclass(frozen=True)
class VisualAtomParams:
    """Dataset-level parameters; defaults are the published VisualAtom-1k settings."""

    num_classes: int = param(1000, "number of classes (VisualAtom-1k: 1000)", low=1, high=1_000_000)
    vertices_min: int = param(200, "fewest vertices per orbit (paper: randint(200, 1000))",
                              low=3, high=100_000)
    vertices_max: int = param(1000, "most vertices per orbit", low=3, high=100_000)
    orbits_min: int = param(1, "fewest orbits (paper: randint(1, 200))", low=1, high=10_000)
    orbits_max: int = param(200, "most orbits", low=1, high=10_000)
    perlin_min: float = param(0.0, "lowest Perlin coefficient c (paper: U(0, 4))",
                              low=0.0, high=100.0)
    perlin_max: float = param(4.0, "highest Perlin coefficient c", low=0.0, high=100.0)
    line_width_max: float = param(0.1, "highest per-orbit offset w, 512-px pixels "
                                  "(paper: U(0, 0.1))", low=0.0, high=100.0)
    radius_min: int = param(10, "smallest start radius, 512-px pixels (paper: randint(10, 60))",
                            low=0, high=10_000)
    radius_max: int = param(60, "largest start radius, 512-px pixels", low=0, high=10_000)
    freq_min: int = param(0, "lowest sinusoid frequency n1, n2 (paper: randint(0, 20))",
                          low=0, high=10_000)
    freq_max: int = param(20, "highest sinusoid frequency", low=0, high=10_000)
    oval_max: float = param(2.0, "largest oval ratio (paper: U(1, 2) for x and y)",
                            low=1.0, high=100.0)
    line: str = param("auto", "stroke drawing: paper (the reference's aliased 1-px lines), "
                      "antialiased (1 px at 512, thinner below), auto (paper from 512 up, "
                      "antialiased below)", choices=LINE_STYLES)

    def __post_init__(self):
        check_fields(self)
        for low, high in (("vertices_min", "vertices_max"), ("orbits_min", "orbits_max"),
                          ("perlin_min", "perlin_max"), ("radius_min", "radius_max"),
                          ("freq_min", "freq_max")):
            if getattr(self, low) > getattr(self, high):
                raise ValueError(f"parameter {low}={getattr(self, low)} must be <= "
                                 f"{high}={getattr(self, high)}")
        if self.freq_min == self.freq_max and self.freq_min != 0:
            raise ValueError(f"parameter freq_max={self.freq_max} must be > freq_min="
                             f"{self.freq_min}: n2 must differ from n1 unless n1 = 0")


@dataclass(frozen=True)
class VisualAtomClass:
    """One class: the shape-defining parameters shared by all its instances.

    Lengths (``start_radius``, ``perlin``, ``line_width``) are in pixels of a 512 x 512 canvas.
    """

    vertices: int      # V, vertices per orbit (quantisation of the sinusoids)
    orbits: int        # K, number of drawn contours
    perlin: float      # c, Perlin noise coefficient
    line_width: float  # w, constant outward offset per orbit
    start_radius: int  # r0 of the start oval
    n1: int            # first sinusoid frequency (cycles per turn)
    n2: int            # second sinusoid frequency
    oval_x: float      # start-oval ratio along x
    oval_y: float      # start-oval ratio along y


def sample_visualatom_class(params: VisualAtomParams, rng: np.random.Generator) -> VisualAtomClass:
    """Draw one class's parameters from its class stream (module docstring gives the ranges)."""
    n1 = int(rng.integers(params.freq_min, params.freq_max, endpoint=True))
    n2 = int(rng.integers(params.freq_min, params.freq_max, endpoint=True))
    while n2 == n1 and n1 != 0:  # the reference's rule; __post_init__ rules out an endless loop
        n2 = int(rng.integers(params.freq_min, params.freq_max, endpoint=True))
    return VisualAtomClass(
        vertices=int(rng.integers(params.vertices_min, params.vertices_max, endpoint=True)),
        orbits=int(rng.integers(params.orbits_min, params.orbits_max, endpoint=True)),
        perlin=float(rng.uniform(params.perlin_min, params.perlin_max)),
        line_width=float(rng.uniform(0.0, params.line_width_max)),
        start_radius=int(rng.integers(params.radius_min, params.radius_max, endpoint=True)),
        n1=n1,
        n2=n2,
        oval_x=float(rng.uniform(1.0, params.oval_max)),
        oval_y=float(rng.uniform(1.0, params.oval_max)),
    )


@njit(cache=True)
def _perlin_cell(cell: int, t: float) -> float:
    h0 = PERLIN_PERMUTATION[cell & 255]
    h1 = PERLIN_PERMUTATION[(cell + 1) & 255]
    g0 = -1.0 if h0 & 8 else float((h0 & 7) + 1)  # the package's gradient rule, kept as is
    g1 = -1.0 if h1 & 8 else float((h1 & 7) + 1)
    fade = t * t * t * (t * (t * 6.0 - 15.0) + 10.0)
    a = g0 * t
    b = g1 * (t - 1.0)
    return (a + fade * (b - a)) * 0.4


@njit(cache=True)
def perlin1(u: float) -> float:
    """``noise.pnoise1(u)`` (one octave, base 0) for ``u >= 0``."""
    cell = int(u)
    return _perlin_cell(cell, u - cell)


@njit(cache=True)
def _perlin_bits(bits: np.uint64) -> float:
    """``perlin1`` at a uniform point of ``[0, 256)`` given by 32 random bits: the top 8 bits
    pick the lattice cell, the low 24 the fraction (finer than the reference's float32
    argument near 10,000, whose fraction has 11 bits)."""
    return _perlin_cell(int(bits >> np.uint64(24)),
                        float(bits & np.uint64(0xFFFFFF)) * (1.0 / 16777216.0))


@njit(cache=True)
def _splitmix64(state: np.uint64) -> tuple[np.uint64, np.uint64]:
    """SplitMix64 (Steele et al. 2014): the next state and a 64-bit output. The noise stream
    of an instance starts from a seed drawn from its sample stream, so it is reproducible
    without materialising ``2 V K`` draws in an array."""
    state = state + np.uint64(0x9E3779B97F4A7C15)
    z = state
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return state, z ^ (z >> np.uint64(31))


@njit(cache=True)
def _push_orbit(xs, ys, cos_t, sin_t, wave, state, c, w, scale):
    """One orbit update of every vertex (in place), fresh noise per vertex and axis; lengths
    scaled by ``scale``. Returns the noise stream's new state."""
    for v in range(xs.shape[0]):
        state, bits = _splitmix64(state)
        nx = _perlin_bits(bits >> np.uint64(32)) * c - c - wave[v]
        ny = _perlin_bits(bits & np.uint64(0xFFFFFFFF)) * c - c - wave[v]
        xs[v] -= cos_t[v] * (nx - w) * scale
        ys[v] -= sin_t[v] * (ny - w) * scale
    return state


@njit(cache=True)
def _start_oval(vertices, centre_x, centre_y, radius_x, radius_y, n1, n2):
    theta = np.arange(vertices) * (2.0 * math.pi / vertices)
    cos_t = np.cos(theta)
    sin_t = np.sin(theta)
    wave = 0.5 * np.sin(n1 * theta) + 0.5 * np.sin(n2 * theta)
    xs = cos_t * radius_x + centre_x
    ys = sin_t * radius_y + centre_y
    return xs, ys, cos_t, sin_t, wave


@njit(cache=True)
def _draw_atom_antialiased(canvas, strength, vertices, centre_x, centre_y, radius_x, radius_y,
                           n1, n2, c, w, scale, grays, seed):
    """Push and draw every orbit (one per entry of ``grays``), blending into ``canvas``."""
    xs, ys, cos_t, sin_t, wave = _start_oval(vertices, centre_x, centre_y, radius_x, radius_y,
                                             n1, n2)
    state = np.uint64(seed)
    for k in range(grays.shape[0]):
        state = _push_orbit(xs, ys, cos_t, sin_t, wave, state, c, w, scale)
        draw_closed_antialiased(canvas, xs, ys, float(grays[k]), strength)


@njit(cache=True)
def _draw_atom_paper(canvas, vertices, centre_x, centre_y, radius_x, radius_y, n1, n2, c, w,
                     scale, grays, seed):
    """As :func:`_draw_atom_antialiased` with the reference's aliased, overwriting lines."""
    xs, ys, cos_t, sin_t, wave = _start_oval(vertices, centre_x, centre_y, radius_x, radius_y,
                                             n1, n2)
    state = np.uint64(seed)
    for k in range(grays.shape[0]):
        state = _push_orbit(xs, ys, cos_t, sin_t, wave, state, c, w, scale)
        draw_closed_aliased(canvas, xs, ys, np.uint8(grays[k]))


@njit(cache=True)
def _final_orbit(vertices, centre_x, centre_y, radius_x, radius_y, n1, n2, c, w, scale, orbits,
                 seed):
    xs, ys, cos_t, sin_t, wave = _start_oval(vertices, centre_x, centre_y, radius_x, radius_y,
                                             n1, n2)
    state = np.uint64(seed)
    for _ in range(orbits):
        state = _push_orbit(xs, ys, cos_t, sin_t, wave, state, c, w, scale)
    return xs, ys


def _instance_draws(cls: VisualAtomClass, rng: np.random.Generator, size: int):
    """The instance's random draws, in a fixed order: centre, gray levels, noise-stream seed."""
    centre = rng.uniform(0.0, size, 2)
    grays = rng.integers(0, 255, cls.orbits, endpoint=True).astype(np.int64)
    seed = int(rng.integers(0, 2**63))
    return centre, grays, seed


def _geometry(cls: VisualAtomClass, size: int, centre: np.ndarray) -> tuple:
    """Arguments shared by the kernels: vertices, centre, oval radii, n1, n2, c, w, scale."""
    scale = size / REFERENCE_SIZE
    return (cls.vertices, float(centre[0]), float(centre[1]),
            cls.start_radius * cls.oval_x * scale, cls.start_radius * cls.oval_y * scale,
            cls.n1, cls.n2, cls.perlin, cls.line_width, scale)


def outer_orbit(cls: VisualAtomClass, rng: np.random.Generator,
                size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Vertices of the last (outermost) orbit that :func:`render_visualatom` draws with the
    same ``rng`` state: ``(xs, ys, centre)`` in canvas pixels. For analysis and tests."""
    centre, _, seed = _instance_draws(cls, rng, size)
    xs, ys = _final_orbit(*_geometry(cls, size, centre), cls.orbits, seed)
    return xs, ys, centre


def line_style(params: VisualAtomParams, size: int) -> str:
    """The stroke drawing used at ``size``: ``auto`` is ``paper`` from 512 up, else
    ``antialiased``."""
    if params.line != "auto":
        return params.line
    return "paper" if size >= REFERENCE_SIZE else "antialiased"


def render_visualatom(params: VisualAtomParams, rng: np.random.Generator, size: int,
                      class_params: VisualAtomClass):
    """One instance of class ``class_params``: uint8 ``(size, size)`` gray-on-black image."""
    centre, grays, seed = _instance_draws(class_params, rng, size)
    geometry = _geometry(class_params, size, centre)
    if line_style(params, size) == "antialiased":
        layer = np.zeros((size, size), np.float32)
        _draw_atom_antialiased(layer, min(1.0, size / REFERENCE_SIZE), *geometry, grays, seed)
        canvas = np.rint(layer).astype(np.uint8)  # blending keeps values within 0..255
    else:
        canvas = np.zeros((size, size), np.uint8)
        _draw_atom_paper(canvas, *geometry, grays, seed)
    return canvas, {"centre": [round(float(centre[0]), 3), round(float(centre[1]), 3)]}


register(Kind(
    name="visualatom",
    params_type=VisualAtomParams,
    render=render_visualatom,
    sample_class=sample_visualatom_class,
    summary="VisualAtom: nested contours of two sinusoids + Perlin noise (Takashima et al. 2023)",
    channels=1,
))
