"""The real steerable pyramid of the wavelet marginal model, in the Fourier domain.

Used by :mod:`generators.kinds._statmodels` (the ``stat-wmm`` and ``stat-spectrum-color-wmm``
kinds and the textures of ``deadleaves-textures``): the masks of every level for one image
size (cached), and the two per-level operations, analysis into oriented bands and synthesis
back. Everything works on ``rfft2`` half-plane spectra; the inverse FFTs are the caller's.
Masks and units follow pyrtools' ``SteerablePyramidFreq``, the pyramid of the statistical
models' reference code (see ``docs/statistical-models.md``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numba import njit

#: Orientations of the steerable pyramid (reference: pyrtools default order 3 -> 4 bands).
ORIENTATIONS = 4


@dataclass(frozen=True)
class SteerablePyramid:
    """Fourier-domain real steerable pyramid on the ``rfft2`` half plane.

    Masks follow pyrtools ``SteerablePyramidFreq`` (the reference's pyramid): radial
    raised-cosine halves in ``log2`` radius (high-pass residual rising from 1/2 to 1 Nyquist,
    each level's band from 1/4 to 1/2 of the level's Nyquist), angular filters
    ``sqrt(0.8) cos^3(theta - pi b / 4)`` times ``(-i)^3 = i`` (so bands are real); a tight
    frame. Level ``l`` lives on an ``n / 2^l`` grid obtained by cropping the spectrum without
    renormalisation (pyrtools' units).

    Attributes:
        size: image side (divisible by ``2^height``).
        height: number of band levels.
        filters: per level, (k, m, m//2+1) float32 real filters; band ``b``'s analysis filter
            is ``i * filters[b]`` (synthesis: the conjugate), except at level 0 where
            ``filters[0]`` is the high-pass residual mask (no ``i``) and bands follow it; level
            0's bands include the low-pass mask of the high-pass split.
        lowpass: per level, the low-pass mask on the *cropped* (m/2, m/4+1) grid (it is zero
            outside the crop).
    """

    size: int
    height: int
    filters: tuple[np.ndarray, ...]
    lowpass: tuple[np.ndarray, ...]


def _raised_cosine(log_rad: np.ndarray, top: float) -> tuple[np.ndarray, np.ndarray]:
    """(high, low) masks with high rising from 0 at ``log2 r = top - 1`` to 1 at ``top``."""
    t = np.clip(log_rad - top, -1.0, 0.0)
    return np.cos(0.5 * np.pi * t), np.abs(np.sin(0.5 * np.pi * t))


def _polar_grid(m: int) -> tuple[np.ndarray, np.ndarray]:
    """``log2`` radius (1 = Nyquist) and angle on the rfft2 half plane of side ``m``."""
    ky = np.fft.fftfreq(m)[:, None] * 2.0
    kx = np.fft.rfftfreq(m)[None, :] * 2.0
    rad = np.sqrt(kx ** 2 + ky ** 2)
    rad[0, 0] = 2.0 / m                                # DC like its neighbour (pyrtools)
    return np.log2(rad), np.arctan2(ky, kx)


def pyramid_height(size: int) -> int:
    """Levels down to a ~16 px low-pass residual: 3 at 128, 4 at 256 (reference)."""
    return max(1, int(math.floor(math.log2(size / 16))))


@lru_cache(maxsize=8)
def steerable_pyramid(size: int, height: int) -> SteerablePyramid:
    if size % (2 ** (height + 1)):
        raise ValueError(f"pyramid size {size} must be divisible by 2^{height + 1}")
    order = ORIENTATIONS - 1
    const = (2 ** (2 * order)) * math.factorial(order) ** 2 / (
        ORIENTATIONS * math.factorial(2 * order))   # 0.8: the angular filters' squares sum to 1
    orient = np.pi * np.arange(ORIENTATIONS)[:, None, None] / ORIENTATIONS
    filters, lowpass = [], []
    for level in range(height):
        m = size >> level
        log_rad, angle = _polar_grid(m)
        high, low = _raised_cosine(log_rad, -1.0)
        filt = math.sqrt(const) * np.cos(angle - orient) ** order * high
        if level == 0:
            highpass, low0 = _raised_cosine(log_rad, 0.0)
            filt = np.concatenate([highpass[None], filt * low0])
            low = low * low0
        filters.append(filt.astype(np.float32))
        lowpass.append(crop_half(low).astype(np.float32))
    for array in filters + lowpass:
        array.setflags(write=False)
    return SteerablePyramid(size, height, tuple(filters), tuple(lowpass))


def crop_half(spec: np.ndarray) -> np.ndarray:
    """Central half of an rfft2 half-plane spectrum (..., m, m//2+1) -> (..., m/2, m/4+1)."""
    m = spec.shape[-2]
    q = m // 4
    return np.concatenate([spec[..., :q, :q + 1], spec[..., m - q:, :q + 1]], axis=-2)


def pad_double(spec: np.ndarray) -> np.ndarray:
    """Inverse of :func:`crop_half`: zero-pad (..., m, m//2+1) to (..., 2m, m+1)."""
    m = spec.shape[-2]
    q = m // 2
    out = np.zeros(spec.shape[:-2] + (2 * m, m + 1), dtype=spec.dtype)
    out[..., :q, :q + 1] = spec[..., :q, :]
    out[..., 2 * m - q:, :q + 1] = spec[..., q:, :]
    return out


@njit(cache=True, fastmath=True)
def analyse_level(low, filt, first_real, out):
    """out[c, b] = i * low[c] * filt[b] (``low[c] * filt[0]`` for b = 0 if ``first_real``)."""
    h, w = low.shape[1], low.shape[2]
    for c in range(low.shape[0]):
        for b in range(filt.shape[0]):
            src = low[c]
            dst = out[c, b]
            f = filt[b]
            if first_real and b == 0:
                for y in range(h):
                    for x in range(w):
                        dst[y, x] = src[y, x] * f[y, x]
            else:
                for y in range(h):
                    for x in range(w):
                        v = src[y, x]
                        dst[y, x] = complex(-v.imag * f[y, x], v.real * f[y, x])


@njit(cache=True, fastmath=True)
def synthesise_level(spec, filt, first_real, out):
    """out[c] += sum_b conj(analysis filter b) * spec[c, b]: collapse the bands of one level."""
    h, w = out.shape[1], out.shape[2]
    start = 1 if first_real else 0
    for c in range(spec.shape[0]):
        dst = out[c]
        if first_real:
            for y in range(h):
                for x in range(w):
                    dst[y, x] += spec[c, 0, y, x] * filt[0, y, x]
        for b in range(start, filt.shape[0]):
            src = spec[c, b]
            f = filt[b]
            for y in range(h):
                for x in range(w):
                    v = src[y, x]                      # -i * v * f
                    dst[y, x] += complex(v.imag * f[y, x], -v.real * f[y, x])
