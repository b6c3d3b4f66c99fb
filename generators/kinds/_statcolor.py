"""Colour model of the statistical image models (Baradad et al. 2021, reference
``sample_colormodel`` / ``impose_color_model`` / ``correlate_channels``).

A random "Mondrian" — ``3 + floor(U(0, 20))`` colours, colour ``i`` on a share ``0.001 + U(0, 1)``
(normalised) of the pixels in raster order, colours ``U(0, 256)``, an ``m x m`` box blur with
``m = ceil(U(0, 10))``, per-pixel noise ``10 * U(0, 1)``, min-max scaled to [0, 255] — gives a
colour PCA (rotation + mean colour) and the 256-bin histograms of its decorrelated channels.
Model details and sources: :mod:`generators.kinds._statmodels`.

The kinds that use only the colour PCA (``stat-spectrum``, ``stat-wmm``: no colour histograms)
take the noise in expectation — mean ``5``, variance ``100 / 12`` per channel, independent,
support ``[min, max + 10]`` for the min-max scaling — instead of drawing 3 n² values: measured on
200 Mondrians at 128², the principal axes agree with the drawn-noise PCA to ``1 - |cos| < 5e-5``
and the mean colour to 1.5 of 255. The colour kinds draw the noise, which smooths the
histograms they impose.

Speed: the Mondrian's colour runs follow raster order, so every image row but those where one
colour ends (fewer than the number of colours) is a single colour, and a box blur leaves a row
unchanged wherever its whole window holds that one colour. Only the rows near a colour change
are blurred (horizontal running sums on mixed rows, direct vertical window sums on the rows
whose window mixes colours): the same image as a full-image box blur up to float32 rounding,
several times faster for large blurs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

#: Bins of the colour histograms (reference ``get_image_color_histograms(nbins=256)``).
COLOR_BINS = 256
#: Amplitude of the Mondrian's per-pixel noise ``NOISE * U(0, 1)`` (MATLAB ``image_model.m``).
NOISE = 10.0


@dataclass(frozen=True)
class ColorModel:
    """Colour PCA of a random Mondrian: principal axes (columns of ``axes``, largest variance
    first), mean colour, number of colours, blur, and (if sampled with histograms) the 256-bin
    histograms of the decorrelated channels as templates ``(values, cdf)``, each (3, 256)."""

    axes: np.ndarray
    mean: np.ndarray
    num_colors: int
    blur: int
    values: np.ndarray | None = None
    cdf: np.ndarray | None = None


@njit(cache=True)
def _mirror_table(count, size):
    """``table[k]`` = index ``k - size//2`` reflected into [0, count) with the edge repeated
    (scipy's 'reflect', also for windows wider than the image), for k in [0, count + size):
    the box window of ``i`` is ``table[i : i + size]``."""
    before = size // 2
    table = np.empty(count + size, np.int64)
    for k in range(count + size):
        j = (k - before) % (2 * count)                 # reflection repeats every 2 * count
        table[k] = 2 * count - j - 1 if j >= count else j
    return table


@njit(cache=True, fastmath=True)
def _blur_mondrian(img, row_color, size):
    """In place ``size x size`` box mean (window ``i - size//2 .. i + (size-1)//2``, mirrored
    borders, like ``scipy.ndimage.uniform_filter``) of the (n, n, 3) Mondrian ``img`` whose
    rows are one colour where ``row_color >= 0`` (-1: the row holds a colour change)."""
    n = img.shape[0]
    table = _mirror_table(n, size)
    inverse = np.float32(1.0 / size)
    line = np.empty((n, 3), np.float32)
    for y in range(n):                                 # horizontal pass: mixed rows only
        if row_color[y] >= 0:
            continue
        a0 = a1 = a2 = np.float32(0.0)
        for k in range(size):
            j = table[k]
            a0 += img[y, j, 0]
            a1 += img[y, j, 1]
            a2 += img[y, j, 2]
        for x in range(n):
            line[x, 0] = a0 * inverse
            line[x, 1] = a1 * inverse
            line[x, 2] = a2 * inverse
            enter, leave = table[x + size], table[x]
            a0 += img[y, enter, 0] - img[y, leave, 0]
            a1 += img[y, enter, 1] - img[y, leave, 1]
            a2 += img[y, enter, 2] - img[y, leave, 2]
        img[y] = line
    changed = np.zeros(n, np.bool_)                    # vertical pass: windows of mixed colour
    count = 0
    for y in range(n):
        first = row_color[table[y]]
        mixed = first < 0
        k = 1
        while not mixed and k < size:
            mixed = row_color[table[y + k]] != first
            k += 1
        changed[y] = mixed
        count += mixed
    rows = np.empty((count, n, 3), np.float32)
    r = 0
    for y in range(n):
        if not changed[y]:
            continue
        acc = rows[r]
        acc[:] = 0.0
        for k in range(size):
            src = img[table[y + k]]
            for x in range(n):
                acc[x, 0] += src[x, 0]
                acc[x, 1] += src[x, 1]
                acc[x, 2] += src[x, 2]
        r += 1
    r = 0
    for y in range(n):
        if changed[y]:
            for x in range(n):
                for a in range(3):
                    img[y, x, a] = rows[r, x, a] * inverse
            r += 1


@njit(cache=True, fastmath=True)
def _layout(counts, colors, blur, n):
    """The (n, n, 3) float32 Mondrian before noise: colour ``i`` on ``counts[i]`` consecutive
    pixels (raster order), then the ``blur x blur`` box filter."""
    img = np.empty((n, n, 3), np.float32)
    flat = img.reshape(n * n, 3)
    p = 0
    for i in range(counts.size):
        for _ in range(counts[i]):
            for a in range(3):
                flat[p, a] = colors[i, a]
            p += 1
    if blur > 1:
        row_color = np.empty(n, np.int64)              # colour of a one-colour row, else -1
        i = 0
        end = counts[0]
        for y in range(n):
            while end <= y * n:
                i += 1
                end += counts[i]
            row_color[y] = i if end >= (y + 1) * n else -1
        _blur_mondrian(img, row_color, blur)
    return img


@njit(cache=True, fastmath=True)
def _range_mean_scatter(pixels):
    """Smallest and largest value over all channels, mean colour and 3x3 scatter matrix about
    the mean of (N, 3) pixels, in one pass."""
    lo = np.inf
    hi = -np.inf
    s0 = s1 = s2 = s00 = s01 = s02 = s11 = s12 = s22 = 0.0
    for q in range(pixels.shape[0]):
        r = float(pixels[q, 0])
        g = float(pixels[q, 1])
        b = float(pixels[q, 2])
        lo = min(lo, r, g, b)
        hi = max(hi, r, g, b)
        s0 += r
        s1 += g
        s2 += b
        s00 += r * r
        s01 += r * g
        s02 += r * b
        s11 += g * g
        s12 += g * b
        s22 += b * b
    count = float(pixels.shape[0])
    mean = np.array([s0, s1, s2]) / count
    scatter = np.array([[s00, s01, s02], [s01, s11, s12], [s02, s12, s22]])
    for a in range(3):
        for b in range(3):
            scatter[a, b] -= count * mean[a] * mean[b]
    return lo, hi, mean, scatter


@njit(cache=True, fastmath=True)
def _mondrian(counts, colors, blur, noise):
    """The Mondrian plus ``noise`` (n, n, 3), min-max scaled to [0, 255]. Returns the (n*n, 3)
    float32 pixels, their mean colour and their 3x3 scatter matrix about the mean."""
    n = noise.shape[0]
    pixels = _layout(counts, colors, blur, n).reshape(n * n, 3)
    pixels += noise.reshape(n * n, 3)
    lo = pixels.min()
    scale = np.float32(255.0 / max(pixels.max() - lo, 1e-12))
    pixels -= lo
    pixels *= scale
    _, _, mean, scatter = _range_mean_scatter(pixels)    # of the scaled pixels: no cancellation
    return pixels, mean, scatter


@njit(cache=True, fastmath=True)
def _mondrian_moments(counts, colors, blur, n, noise):
    """Mean colour and scatter matrix of the Mondrian plus independent ``U(0, noise)`` pixel
    noise, taken in expectation over the noise (mean ``noise / 2``, variance ``noise^2 / 12``
    per channel, no cross terms) and min-max scaled over the noisy Mondrian's support
    ``[min, max + noise]``: no noise is drawn (what the colour PCA of the kinds without colour
    histograms needs)."""
    lo, hi, mean, scatter = _range_mean_scatter(_layout(counts, colors, blur, n).reshape(n * n, 3))
    for a in range(3):
        scatter[a, a] += n * n * noise * noise / 12.0
    scale = 255.0 / max(hi + noise - lo, 1e-12)
    return (mean + noise / 2.0 - lo) * scale, scatter * scale * scale


@njit(cache=True, fastmath=True)
def _decorrelated_histograms(pixels, mean, axes, nbins, values, cdf):
    """``nbins``-bin histograms (over each channel's range, like ``np.histogram``) of the pixels
    projected on the principal axes: bin centres -> ``values``, cumulative shares -> ``cdf``."""
    n = pixels.shape[0]
    proj = np.empty((3, n), np.float32)
    lo = np.full(3, np.inf)
    hi = np.full(3, -np.inf)
    for i in range(n):
        r = pixels[i, 0] - mean[0]
        g = pixels[i, 1] - mean[1]
        b = pixels[i, 2] - mean[2]
        for c in range(3):
            v = r * axes[0, c] + g * axes[1, c] + b * axes[2, c]
            proj[c, i] = v
            lo[c] = min(lo[c], v)
            hi[c] = max(hi[c], v)
    counts = np.zeros(nbins + 1, np.int64)
    for c in range(3):
        width = (hi[c] - lo[c]) / nbins if hi[c] > lo[c] else 1.0
        inverse = 1.0 / width
        counts[:] = 0
        for i in range(n):
            counts[int((proj[c, i] - lo[c]) * inverse)] += 1
        counts[nbins - 1] += counts[nbins]             # the maximum falls in the last bin
        total = 0
        for k in range(nbins):
            values[c, k] = lo[c] + (k + 0.5) * width
            total += counts[k]
            cdf[c, k] = total / n


def _principal_axes(scatter: np.ndarray) -> np.ndarray:
    """Eigenvectors of the scatter matrix as columns, largest variance first."""
    return np.linalg.eigh(scatter)[1][:, ::-1].copy()


def sample_color_model(params, rng: np.random.Generator, n: int,
                       histograms: bool = True) -> ColorModel:
    """Random Mondrian -> colour PCA (+ histograms); reference ``sample_colormodel``."""
    num_colors = int(rng.integers(params.colors_min, params.colors_max + 1))
    share = 0.001 + rng.uniform(0.0, 1.0, num_colors)
    counts = rng.multinomial(n * n, share / share.sum())
    colors = rng.uniform(0.0, 256.0, size=(num_colors, 3)).astype(np.float32)
    blur = int(rng.integers(params.blur_min, params.blur_max + 1))
    if not histograms:                                 # PCA only: noise in expectation
        mean, scatter = _mondrian_moments(counts, colors, blur, n, NOISE)
        return ColorModel(_principal_axes(scatter), mean, num_colors, blur)
    noise = rng.random((n, n, 3), dtype=np.float32) * np.float32(NOISE)
    pixels, mean, scatter = _mondrian(counts, colors, blur, noise)
    axes = _principal_axes(scatter)
    values, cdf = np.empty((3, COLOR_BINS)), np.empty((3, COLOR_BINS))
    _decorrelated_histograms(pixels, mean, axes, COLOR_BINS, values, cdf)
    return ColorModel(axes, mean, num_colors, blur, values, cdf)


def to_uint8_rgb(channels: np.ndarray, colors: ColorModel) -> np.ndarray:
    """Working channels (3, H, W) -> rotate back with the colour PCA, add the mean colour,
    min-max over all channels to [0, 255], truncate to uint8 (H, W, 3) (reference)."""
    out = np.empty(channels.shape[1:] + (3,), np.uint8)
    _to_uint8_rgb(channels, colors.axes.astype(np.float32), colors.mean.astype(np.float32), out)
    return out


@njit(cache=True)
def _to_uint8_rgb(channels, axes, mean, out):
    h, w = out.shape[:2]
    rgb = np.empty((h, w, 3), np.float32)
    lo = np.inf
    hi = -np.inf
    for y in range(h):
        for x in range(w):
            for a in range(3):
                v = mean[a] + axes[a, 0] * channels[0, y, x] + axes[a, 1] * channels[1, y, x] \
                    + axes[a, 2] * channels[2, y, x]
                rgb[y, x, a] = v
                lo = min(lo, v)
                hi = max(hi, v)
    span = float(hi - lo) if hi > lo else np.inf
    for y in range(h):
        for x in range(w):
            for a in range(3):                         # multiply first: the maximum is 255 exactly
                out[y, x, a] = np.uint8(float(rgb[y, x, a] - lo) * 255.0 / span)


