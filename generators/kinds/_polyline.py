"""Closed-polyline rasterisers (numba): 1-px aliased lines and anti-aliased lines.

Both draw a closed polyline given by vertex arrays ``xs, ys`` (float64, canvas pixels; segment
``i`` joins vertex ``i`` and ``(i + 1) % n``) onto a square 2-D canvas, clipping to the canvas.
They are plain ``@njit`` functions so that a kind's kernel can call them for every orbit or
stroke of an image without returning to Python.

* :func:`draw_closed_aliased` is the 1-px line of Pillow's ``ImageDraw.line(..., width=1)``:
  endpoints truncated towards zero (Pillow casts float coordinates with ``(int)``), Bresenham
  steps, both endpoints set, the gray value *overwrites* the pixel. Pixel ``i`` covers the
  continuous interval ``[i, i + 1)``.
* :func:`draw_closed_antialiased` is a Wu-style line with the same pixel convention (pixel
  centres at ``i + 0.5``): along the major axis one sample per pixel column (or row), split
  between the two nearest pixels of the minor axis by distance; each pixel is blended *over*
  the canvas, ``pixel += alpha * (gray - pixel)`` with ``alpha = coverage * strength``. A
  ``strength`` below 1 draws a line thinner than one pixel (its coverage), which is how a
  1-px line of a larger canvas looks after box-downscaling. Each segment covers the half-open
  major-axis range ``[start, end)`` so that shared vertices are not blended twice.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit


@njit(cache=True, inline="always")
def _outside_same_side(x0: float, y0: float, x1: float, y1: float, low: float,
                       high: float) -> bool:
    """Both endpoints beyond the same canvas edge: the segment cannot touch the canvas."""
    return ((x0 < low and x1 < low) or (x0 >= high and x1 >= high)
            or (y0 < low and y1 < low) or (y0 >= high and y1 >= high))


@njit(cache=True, inline="always")
def _bresenham(canvas: np.ndarray, x0: int, y0: int, x1: int, y1: int, gray: np.uint8) -> None:
    size = canvas.shape[0]
    dx = abs(x1 - x0)
    dy = -abs(y1 - y0)
    sx = 1 if x0 < x1 else -1
    sy = 1 if y0 < y1 else -1
    err = dx + dy
    x, y = x0, y0
    while True:
        if 0 <= x < size and 0 <= y < size:
            canvas[y, x] = gray
        if x == x1 and y == y1:
            break
        e2 = 2 * err
        if e2 >= dy:
            err += dy
            x += sx
        if e2 <= dx:
            err += dx
            y += sy


@njit(cache=True)
def draw_closed_aliased(canvas: np.ndarray, xs: np.ndarray, ys: np.ndarray,
                        gray: np.uint8) -> None:
    """Draw the closed polyline with 1-px aliased lines that overwrite ``canvas`` (uint8)."""
    n = xs.shape[0]
    size = canvas.shape[0]
    for i in range(n):
        j = i + 1 if i + 1 < n else 0
        x0, y0, x1, y1 = xs[i], ys[i], xs[j], ys[j]
        if _outside_same_side(x0, y0, x1, y1, 0.0, float(size)):
            continue
        # Pillow truncates towards zero; int() does the same.
        _bresenham(canvas, int(x0), int(y0), int(x1), int(y1), gray)


@njit(cache=True, inline="always")
def _owned_range(a0: float, a1: float, size: int) -> tuple[int, int]:
    """Integer pixel centres ``u`` owned by a segment running from ``a0`` to ``a1`` along its
    major axis: ``[a0, a1)`` in drawing direction (so a shared vertex belongs to one
    segment), clamped to the canvas; returned as an ascending half-open range."""
    if a1 > a0:
        low, high = math.ceil(a0), math.ceil(a1)
    else:
        low, high = math.floor(a1) + 1.0, math.floor(a0) + 1.0
    return max(int(low), 0), min(int(high), size)


@njit(cache=True, inline="always")
def _wu_segment(canvas: np.ndarray, x0: float, y0: float, x1: float, y1: float,
                gray: np.float32, strength: float) -> None:
    # The major-axis index is clamped to the canvas by _owned_range, so only the minor-axis
    # index is checked; unsigned indices skip numba's negative-index wrap-around.
    size = canvas.shape[0]
    # Pixel-centre coordinates: pixel i has its centre at i.
    x0 -= 0.5
    y0 -= 0.5
    x1 -= 0.5
    y1 -= 0.5
    if abs(x1 - x0) >= abs(y1 - y0):  # one sample per column
        low, high = _owned_range(x0, x1, size)
        if low >= high:  # owns no column (e.g. shorter than a pixel): the neighbours draw it
            return
        slope = (y1 - y0) / (x1 - x0)
        for col in range(low, high):
            v = y0 + slope * (col - x0)
            base = math.floor(v)
            frac = v - base
            row = int(base)
            c = np.uint64(col)
            if 0 <= row < size:
                r = np.uint64(row)
                q = canvas[r, c]
                canvas[r, c] = q + np.float32((1.0 - frac) * strength) * (gray - q)
            if 0 <= row + 1 < size:
                r = np.uint64(row + 1)
                q = canvas[r, c]
                canvas[r, c] = q + np.float32(frac * strength) * (gray - q)
    else:  # one sample per row
        low, high = _owned_range(y0, y1, size)
        if low >= high:
            return
        slope = (x1 - x0) / (y1 - y0)
        for row in range(low, high):
            v = x0 + slope * (row - y0)
            base = math.floor(v)
            frac = v - base
            col = int(base)
            r = np.uint64(row)
            if 0 <= col < size:
                c = np.uint64(col)
                q = canvas[r, c]
                canvas[r, c] = q + np.float32((1.0 - frac) * strength) * (gray - q)
            if 0 <= col + 1 < size:
                c = np.uint64(col + 1)
                q = canvas[r, c]
                canvas[r, c] = q + np.float32(frac * strength) * (gray - q)


@njit(cache=True)
def draw_closed_antialiased(canvas: np.ndarray, xs: np.ndarray, ys: np.ndarray, gray: float,
                            strength: float) -> None:
    """Draw the closed polyline anti-aliased, blended over ``canvas`` (float32, 0..255)."""
    n = xs.shape[0]
    size = canvas.shape[0]
    for i in range(n):
        j = i + 1 if i + 1 < n else 0
        x0, y0, x1, y1 = xs[i], ys[i], xs[j], ys[j]
        if _outside_same_side(x0, y0, x1, y1, -1.0, float(size) + 1.0):
            continue
        _wu_segment(canvas, x0, y0, x1, y1, np.float32(gray), strength)
