"""Textured dead leaves (Baradad et al., NeurIPS 2021, "dead_leaves-textures").

The shapes, radii, centres and stopping rule of ``deadleaves-mixed`` (the reference script only
builds textured dead leaves from mixed shapes: ``--textured`` requires ``--shape-model mixed``),
but every visible shape shows a ``stat-spectrum-color-wmm`` texture (spectrum + wavelet
marginals + colour model, :mod:`generators.kinds._statmodels`) instead of a flat colour.

Texture pool. The reference loads 10,000 textures picked from its 128² ``stat-spectrum_color_wmm``
dataset, resizes them to the image size with nearest-neighbour interpolation (its ``cv2_resize``
default, ``INTER_NEAREST``), and gives each region one of them at random (with replacement),
placed at the image's own coordinates. Here each worker renders the same pool when it starts
(``make_context``): ``texture_pool`` textures of ``texture_size``² (default 128, as the
reference), texture ``j`` from its own stream ``SeedSequence(texture_seed, spawn_key=(j,
0x7E87))``, so the pool depends only on the parameters, never on the number of workers. It is
sampled with nearest-neighbour resizing like the reference.

A pool much smaller than 10,000 would repeat textures inside an image (~250 visible shapes).
With ``texture_transforms`` (default) every shape therefore also draws a cyclic shift, one of
the 8 flips/transposes and one of the 6 RGB channel orders for its texture. None of these
changes the texture's distribution: the model is stationary and periodic (every projection is
an FFT filter or a per-pixel histogram map on a torus, started from i.i.d. noise), its anisotropy
``d ~ N(0, 1)`` is symmetric (a transpose maps ``d`` to ``-d``), its pyramid's four
orientations map onto each other, and its colour model treats R, G and B alike. So each shape
still shows a sample of the published texture model; only shapes that share a pool texture
are dependent.

Fixed here, from the reference: its ``img * (1 - mask) + texture * mask`` on ``uint8`` arrays
(overflow on current numpy), and regions found by *colour* (two shapes of the same colour would
share a texture); regions are the painted shapes' labels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from generators.kinds._deadleaves import (SHAPE_NAMES, DeadLeavesParams, dead_leaves_labels,
                                          leaves_info)
from generators.kinds._statmodels import SpectrumColorWmmParams, render_spectrum_color_wmm
from generators.params import param
from generators.registry import Kind, register

SHAPES = tuple(range(len(SHAPE_NAMES)))

#: Second spawn-key entry of the texture streams (distinct from sample and class streams).
TEXTURE_KEY = 0x7E87

#: The 6 orders of the RGB channels.
CHANNEL_ORDERS = np.array([[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]],
                          dtype=np.int64)


@dataclass(frozen=True)
class TexturedDeadLeavesParams(DeadLeavesParams):
    """Dead-leaves parameters plus the texture pool (reference: 10,000 textures of 128²)."""

    texture_pool: int = param(256, "stat-spectrum-color-wmm textures rendered once per worker "
                              "(reference: 10,000 pre-rendered)", low=1, high=100_000)
    texture_size: int = param(128, "side of the pool's textures in pixels, resized to the image "
                              "by nearest neighbour (reference: 128)", low=16, high=2048)
    texture_seed: int = param(0, "seed of the texture pool", low=0, high=2**63 - 1)
    texture_transforms: bool = param(True, "random cyclic shift, flip/transpose and channel order "
                                     "of each shape's texture (distribution-preserving)")


def render_texture_pool(params: TexturedDeadLeavesParams) -> np.ndarray:
    """The pool: ``(texture_pool, texture_size, texture_size, 3)`` uint8, from the params only."""
    texture_params = SpectrumColorWmmParams()
    pool = np.empty((params.texture_pool, params.texture_size, params.texture_size, 3), np.uint8)
    for j in range(params.texture_pool):
        rng = np.random.default_rng(np.random.SeedSequence(params.texture_seed,
                                                           spawn_key=(j, TEXTURE_KEY)))
        pool[j] = render_spectrum_color_wmm(texture_params, rng, params.texture_size)
    return pool


@njit(cache=True)
def texture_regions(labels, pool, texture, shift_y, shift_x, flips, channels):
    """Fill every pixel with its shape's texture (label 0, uncovered, stays black).

    Per shape ``k``: pool texture ``texture[k]``, cyclic shift ``(shift_y[k], shift_x[k])``,
    ``flips[k]`` (bit 0 flips rows, bit 1 columns, bit 2 transposes) and channel order
    ``channels[k]``. Texture coordinates are nearest-neighbour resized: ``i * side // size``.
    """
    size = labels.shape[0]
    side = pool.shape[1]
    image = np.zeros((size, size, 3), dtype=np.uint8)
    for i in range(size):
        u0 = i * side // size
        for j in range(size):
            k = labels[i, j]
            if k == 0:
                continue
            u = (u0 + shift_y[k]) % side
            v = (j * side // size + shift_x[k]) % side
            f = flips[k]
            if f & 1:
                u = side - 1 - u
            if f & 2:
                v = side - 1 - v
            if f & 4:
                u, v = v, u
            t = texture[k]
            for c in range(3):
                image[i, j, c] = pool[t, u, v, channels[k, c]]
    return image


def make_texture_context(params: TexturedDeadLeavesParams) -> np.ndarray:
    """Built once per worker process: the texture pool."""
    return render_texture_pool(params)


def render_deadleaves_textures(params: TexturedDeadLeavesParams, rng: np.random.Generator,
                               size: int, context: np.ndarray | None = None):
    """``(size x size x 3 uint8, info)``; ``context`` is the pool (rendered here if None)."""
    pool = render_texture_pool(params) if context is None else context
    labels, _, types, uncovered = dead_leaves_labels(params, rng, size, SHAPES)
    n = len(types) + 1  # per label; index 0 (uncovered) is unused
    texture = rng.integers(0, params.texture_pool, n)
    if params.texture_transforms:
        shifts = rng.integers(0, params.texture_size, (2, n))
        flips = rng.integers(0, 8, n)
        channels = CHANNEL_ORDERS[rng.integers(0, 6, n)]
    else:
        shifts = np.zeros((2, n), dtype=np.int64)
        flips = np.zeros(n, dtype=np.int64)
        channels = np.broadcast_to(CHANNEL_ORDERS[0], (n, 3)).copy()
    image = texture_regions(labels, pool, texture, shifts[0], shifts[1], flips, channels)
    return image, leaves_info(labels, types, uncovered, SHAPES)


register(Kind(name="deadleaves-textures", params_type=TexturedDeadLeavesParams,
              render=render_deadleaves_textures, make_context=make_texture_context, channels=3,
              summary="dead leaves of mixed shapes filled with stat-spectrum-color-wmm textures "
                      "(Baradad et al. 2021)"))
