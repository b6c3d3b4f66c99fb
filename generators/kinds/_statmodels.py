"""Statistical image models of Baradad et al., "Learning to See by Looking at Noise" (NeurIPS 2021).

An image is synthesised by alternating projections, starting from uniform noise
``256 * U(0, 1)`` in three working channels, for ``iterations`` rounds (10 in the paper and its
reference code ``generate_datasets/statistical/generate_datasets.py`` of
mbaradad/learning_with_noise, and its MATLAB original ``image_model.m``), in this order:

1. **spectrum**: every channel keeps its Fourier phase, mean and standard deviation and gets the
   amplitude ``|F(fx, fy)| = 1 / (|fx/N|^(s+d) + |fy/N|^(s-d))``, ``|F(0, 0)| = 0``, with the
   slope ``s ~ U(0.5, 3.5)`` and the anisotropy
   ``d ~ N(0, 1) * (3.5 - 0.5) / 15 / 4 = N(0, 1) * 0.05`` (reference ``sample_1f_spectrum``).
   ``s`` is the slope of the *amplitude* spectrum: the power spectrum falls as ``|f|^(-2 s)``
   (exactly so when ``d = 0``, since ``|fx|^s + |fy|^s = |f|^s (|cos t|^s + |sin t|^s)`` along
   every direction ``t``).
2. **WMM** (wavelet marginal model): a real steerable pyramid with 4 orientations (cubic angular
   filters) and ``height`` levels, 3 at 128^2 and 4 at 256^2 in the reference, i.e. down to a
   16^2 low-pass residual: ``height = max(1, floor(log2(size / 16)))``. The marginal of every band
   except the low-pass residual is forced, by CDF matching, to the generalised Gaussian
   ``h(x) = exp(-|x / s_b|^r)`` tabulated on ``x = -200:0.5:200`` with ``r ~ U(0.4, 0.8)`` drawn per
   channel and band and ``s_b = 4^(N / band side)`` (4 for the high-pass residual and level 0,
   16 for level 1, 256 for level 2, 65536 for level 3), then standardised to that histogram's
   mean and standard deviation (reference ``sample_wmm_model`` / ``impose_wmm``). Band values are
   in the units of pyrtools' ``SteerablePyramidFreq`` (the reference's pyramid): a level's
   spectrum is cropped without renormalisation, so level ``l`` coefficients are ``4^l`` times
   larger than in the image; together with ``s_b`` this gives every octave a similar energy.
3. **colour**: a "Mondrian" with ``3 + floor(U(0, 20))`` colours (3..22), colour ``i`` covering a
   share ``0.001 + U(0, 1)`` (normalised) of the pixels through a multinomial draw, pixels sorted
   by colour index (horizontal runs), colours ``U(0, 256)``, box-blurred with an ``m x m`` box,
   ``m = ceil(U(0, 10))`` (1..10), plus per-pixel noise ``10 * U(0, 1)``, min-max scaled to
   [0, 255]. Its colour PCA gives a rotation and a mean colour; each working channel is
   histogram-matched to the 256-bin histogram of one decorrelated channel
   (reference ``sample_colormodel`` / ``impose_color_model``).

All four kinds finish like the reference with ``correlate_channels=True``: the working channels
are rotated back with the Mondrian's colour PCA, the mean colour is added, and the image is
min-max scaled over all channels to [0, 255] and truncated to uint8.

Where the reference has a defect we keep the published intent (MATLAB original) and say so:

* Python adds one scalar ``U(0, 10)`` to the whole Mondrian; the MATLAB original adds per-pixel
  noise ``10 * rand(size(ref))``, which is what smooths the colour histograms. We add per-pixel
  noise.
* Python projects colours with ``colorPC @ img`` where ``colorPC``'s columns are eigenvectors,
  which does not decorrelate; we use the proper projection ``V^T (x - mean)``
  (MATLAB ``x*colorPC``).
* The reference maps source ranks ``i/n`` to template quantiles, so each band's largest
  coefficient is sent to the end of the template's support (+200); we use mid-ranks
  ``(i - 1/2)/n``. Source ranks come from a histogram of the band (n/8 bins, at most 1024) with
  linear interpolation inside bins instead of a full sort (the same map to within a bin; two
  O(n) passes instead of an O(n log n) sort).
* The spectrum projection is idempotent (it keeps the phase), so the spectrum-only model applies
  it once instead of 10 times: the same image up to float rounding.
* Python's ``sample_image`` divides by the maximum of the *unshifted* image before the final
  min-max; only the last, correct min-max matters, and that is the one we do.

Sizes that the pyramid cannot halve ``height + 1`` times (e.g. 100) are synthesised on the next
multiple of ``2^(height+1)`` and cropped. The per-size grids and masks are cached (pure
functions of the size).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import ducc0
from numba import njit

from generators.kinds._statcolor import sample_color_model, to_uint8_rgb
from generators.kinds._steerable import (ORIENTATIONS, SteerablePyramid, analyse_level, crop_half,
                                         pad_double, pyramid_height, steerable_pyramid,
                                         synthesise_level)
from generators.params import check_fields, param

#: Rounds of alternating projections (reference ``Niter = 10``).
ITERATIONS = 10
#: WMM template grid ``x = -200:0.5:200`` (reference ``sample_wmm_model``).
WMM_GRID = np.arange(-400, 401, dtype=np.float64) * 0.5
#: Histogram bins used to rank source values in CDF matching (ours; see module docstring).
RANK_BINS = 1024
#: Smallest image side the pyramid supports.
MIN_SIZE = 8


# --------------------------------------------------------------------------- parameters
@dataclass(frozen=True)
class SpectrumFields:
    slope_min: float = param(0.5, "lowest amplitude-spectrum slope s (paper: s ~ U(0.5, 3.5))",
                             low=0.0, high=6.0)
    slope_max: float = param(3.5, "highest amplitude-spectrum slope s", low=0.0, high=6.0)
    anisotropy_std: float = param(0.05, "std of the slope difference d between x and y "
                                  "(reference: (3.5 - 0.5) / 15 / 4)", low=0.0, high=1.0)


@dataclass(frozen=True)
class WmmFields:
    exponent_min: float = param(0.4, "lowest generalised-Gaussian exponent r of a wavelet band "
                                "(paper: r ~ U(0.4, 0.8))", low=0.1, high=2.0)
    exponent_max: float = param(0.8, "highest generalised-Gaussian exponent r", low=0.1, high=2.0)


@dataclass(frozen=True)
class ColorFields:
    colors_min: int = param(3, "fewest colours of the colour model (paper: 3..22)", low=1, high=256)
    colors_max: int = param(22, "most colours of the colour model", low=1, high=256)
    blur_min: int = param(1, "smallest box blur of the colour layout, px (paper: 1..10)",
                          low=1, high=64)
    blur_max: int = param(10, "largest box blur of the colour layout, px", low=1, high=64)


@dataclass(frozen=True)
class IterationFields:
    iterations: int = param(ITERATIONS, "rounds of alternating projections (paper: 10)",
                            low=1, high=100)


_PAIRS = (("slope_min", "slope_max"), ("exponent_min", "exponent_max"),
          ("colors_min", "colors_max"), ("blur_min", "blur_max"))


def check_stat_params(params) -> None:
    """Field types and ranges, then every ``*_min <= *_max`` pair the dataclass has."""
    check_fields(params)
    for low, high in _PAIRS:
        if hasattr(params, low) and getattr(params, low) > getattr(params, high):
            raise ValueError(f"parameter {low}={getattr(params, low)} must be <= "
                             f"{high}={getattr(params, high)}")


@dataclass(frozen=True)
class SpectrumColorWmmParams(IterationFields, ColorFields, WmmFields, SpectrumFields):
    """Parameters of the full model (spectrum + WMM + colour), ``stat-spectrum-color-wmm``."""

    def __post_init__(self):
        check_stat_params(self)


# --------------------------------------------------------------------------- CDF matching
@njit(cache=True, fastmath=True, error_model="numpy")
def _match_rows(data, tvals, tcdf, tmean, tstd, standardise):
    """Force the marginal of every row of ``data`` (B, n) to a tabulated template, in place.

    Template ``b`` is the piecewise-linear quantile function through ``(tcdf[b], tvals[b])``
    (clamped at both ends, like ``np.interp``). A value's mid-rank quantile is read from a
    histogram of its row (``n / 8`` bins, 64..RANK_BINS) with linear interpolation inside a
    bin, so the whole map is piecewise linear between bin edges. With ``standardise`` the
    output is then shifted and scaled to mean ``tmean[b]`` and std ``tstd[b]`` (moments taken
    from the histogram, folded into the edge values: no extra pass over the data).
    """
    rows, n = data.shape
    width = tvals.shape[1]
    nbins = min(max(n // 8, 64), RANK_BINS)
    counts = np.empty(nbins + 1, np.int32)          # one spare slot: no clamping in the loops
    edge = np.empty(nbins + 1, np.float64)
    base = np.zeros(nbins + 1, np.float32)
    slope = np.zeros(nbins + 1, np.float32)
    for b in range(rows):
        row = data[b]
        lo = row[0]
        hi = row[0]
        for i in range(n):
            lo = min(lo, row[i])
            hi = max(hi, row[i])
        # 1e-5 below nbins: float32 rounding can reach nbins (the spare slot), never beyond
        scale = np.float32(nbins * (1.0 - 1e-5) / (hi - lo) if hi > lo else 0.0)
        counts[:] = 0
        for i in range(n):
            counts[np.int32((row[i] - lo) * scale)] += 1
        below = 0
        j = 0
        for e in range(nbins + 1):             # bin edges and their quantiles both increase
            q = (0.5 + below * (n - 1.0) / n) / n
            while j < width and tcdf[b, j] < q:
                j += 1
            if j == 0:
                edge[e] = tvals[b, 0]
            elif j == width:
                edge[e] = tvals[b, width - 1]
            else:
                c0 = tcdf[b, j - 1]
                t = (q - c0) / (tcdf[b, j] - c0)
                edge[e] = tvals[b, j - 1] + t * (tvals[b, j] - tvals[b, j - 1])
            below += counts[e]
        if standardise:
            total = 0.0
            total2 = 0.0
            for k in range(nbins):
                x0 = edge[k]
                x1 = edge[k + 1]
                total += counts[k] * 0.5 * (x0 + x1)
                total2 += counts[k] * (x0 * x0 + x0 * x1 + x1 * x1) / 3.0
            mean = total / n
            std = math.sqrt(max(total2 / n - mean * mean, 0.0))
            gain = tstd[b] / std if std > 0 else 0.0
            for e in range(nbins + 1):
                edge[e] = (edge[e] - mean) * gain + tmean[b]
        for k in range(nbins):
            base[k] = edge[k]
            slope[k] = edge[k + 1] - edge[k]
        base[nbins] = edge[nbins]
        for i in range(n):
            t = (row[i] - lo) * scale
            k = np.int32(t)
            row[i] = base[k] + (t - np.float32(k)) * slope[k]


def match_marginals(data: np.ndarray, tvals: np.ndarray, tcdf: np.ndarray,
                    tmean: np.ndarray | None = None, tstd: np.ndarray | None = None) -> None:
    """CDF-match each leading-axis slice of ``data`` (float32, C-contiguous, in place).

    Args:
        data: (B, ...) slice ``b`` is matched to template ``b``.
        tvals, tcdf: (B, T) template values and their cumulative probabilities (increasing).
        tmean, tstd: (B,) if given, each slice is then standardised to this mean and std.
    """
    rows = data.reshape(data.shape[0], -1)
    standardise = tmean is not None
    if not standardise:
        tmean = tstd = np.zeros(data.shape[0])
    _match_rows(rows, tvals, tcdf, tmean, tstd, standardise)


# --------------------------------------------------------------------------- spectrum model
@dataclass(frozen=True)
class SpectrumModel:
    """Amplitude ``(n, n//2+1)`` float32 on the rfft2 half plane, the variance of the image it
    gives with unit-modulus phases, and the drawn slope ``s`` and anisotropy ``d``."""

    amplitude: np.ndarray
    variance: float
    slope: float
    anisotropy: float


def sample_spectrum(params, rng: np.random.Generator, n: int) -> SpectrumModel:
    """``|F| = 1 / (|fx/N|^(s+d) + |fy/N|^(s-d))``, ``F(0, 0) = 0`` (reference
    ``sample_1f_spectrum``); ``s ~ U(slope_min, slope_max)``, ``d ~ N(0, anisotropy_std^2)``."""
    slope = rng.uniform(params.slope_min, params.slope_max)
    aniso = rng.normal() * params.anisotropy_std
    fy = np.abs(np.fft.fftfreq(n))[:, None]           # |fy / N|, cycles per pixel
    fx = np.abs(np.fft.rfftfreq(n))[None, :]
    with np.errstate(divide="ignore"):
        amplitude = 1.0 / (1e-16 + fx ** (slope + aniso) + fy ** (slope - aniso))
    amplitude[0, 0] = 0.0                              # no gain at DC
    variance = float((amplitude ** 2 * _half_plane_weights(n)).sum()) / float(n) ** 4
    return SpectrumModel(amplitude.astype(np.float32), variance, float(slope), float(aniso))


@lru_cache(maxsize=16)
def _half_plane_weights(n: int) -> np.ndarray:
    """Multiplicity of each ``rfft2`` column in the full spectrum (for Parseval sums)."""
    w = np.full(n // 2 + 1, 2.0)
    w[0] = 1.0
    if n % 2 == 0:
        w[-1] = 1.0
    w.setflags(write=False)
    return w


@njit(cache=True, fastmath=True)
def _impose_amplitude(spec, amplitude, weights, variance, out):
    """out[c] = spec[c] / |spec[c]| * amplitude, scaled to spec[c]'s variance, same mean."""
    n = spec.shape[1]
    npix = float(n) * n
    for c in range(spec.shape[0]):
        power = 0.0
        for y in range(n):
            for x in range(spec.shape[2]):
                v = spec[c, y, x]
                power += weights[x] * (v.real * v.real + v.imag * v.imag)
        dc = spec[c, 0, 0].real
        var = (power - dc * dc) / npix / npix
        gain = np.float32(math.sqrt(max(var, 0.0) / variance) if variance > 0 else 0.0)
        for y in range(n):
            for x in range(spec.shape[2]):
                v = spec[c, y, x]
                mag = max(math.sqrt(v.real * v.real + v.imag * v.imag), np.float32(1e-30))
                g = gain * amplitude[y, x] / mag
                out[c, y, x] = complex(v.real * g, v.imag * g)
        out[c, 0, 0] = dc


def impose_spectrum(spec: np.ndarray, model: SpectrumModel,
                    out: np.ndarray | None = None) -> np.ndarray:
    """Spectrum projection of (C, n, n//2+1) Fourier coefficients (reference
    ``impose_spectrum``): each channel keeps its phase, mean and std; returns the new
    coefficients (in ``out``, which may be ``spec`` itself)."""
    out = np.empty_like(spec) if out is None else out
    _impose_amplitude(spec, model.amplitude, _half_plane_weights(spec.shape[1]), model.variance,
                      out)
    return out


# FFTs come from ducc0 (the successor of the pocketfft inside numpy/scipy): 1.4-1.6x faster
# images for the WMM and colour models at 128². It is a hard dependency on purpose: pixels
# differ slightly between FFT libraries, and shard bytes must not depend on what is installed.
def _rfft2(x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    return ducc0.fft.r2c(x, axes=(-2, -1), out=out)


def _irfft2(x: np.ndarray, m: int) -> np.ndarray:
    return ducc0.fft.c2r(x, axes=(-2, -1), lastsize=m, forward=False, inorm=2,
                         allow_overwriting_input=True)


# --------------------------------------------------------------------------- wavelet marginals
@dataclass(frozen=True)
class WmmModel:
    """Generalised-Gaussian templates of every (channel, band) but the low-pass residual.

    ``groups[l]`` holds level ``l``'s bands of the 3 channels, channel-major, in the pyramid's
    filter order (level 0: high-pass residual, then 4 orientations); each group is
    ``(values, cdf, mean, std)``: (rows, 801) template tables and (rows,) target moments.
    """

    groups: tuple[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray], ...]
    exponents: np.ndarray


@njit(cache=True)
def _generalised_gaussians(grid, widths, exponents, cdf, mean, std):
    """Row r: h(x) = exp(-|x / widths[r]|^exponents[r]) on ``grid`` (symmetric about 0, like
    ``WMM_GRID``); its CDF and moments."""
    h = np.empty(grid.size)
    last = grid.size - 1
    for r in range(widths.size):
        for j in range(grid.size // 2 + 1):        # the grid is symmetric about 0
            h[j] = h[last - j] = math.exp(-abs(grid[j] / widths[r]) ** exponents[r])
        total = 0.0
        first = 0.0
        for j in range(grid.size):
            total += h[j]
            first += h[j] * grid[j]
            cdf[r, j] = total
        mean[r] = first / total
        second = 0.0
        for j in range(grid.size):
            second += h[j] * (grid[j] - mean[r]) ** 2
            cdf[r, j] /= total
        std[r] = math.sqrt(second / total)


def sample_wmm(params, rng: np.random.Generator, height: int) -> WmmModel:
    """Draw ``r ~ U(exponent_min, exponent_max)`` per channel and band (reference
    ``sample_wmm_model``): template ``exp(-|x / 4^scale|^r)`` with ``scale = N / band side``."""
    scales = np.concatenate([[1.0], np.repeat(2.0 ** np.arange(height), ORIENTATIONS)])
    exponents = rng.uniform(params.exponent_min, params.exponent_max, size=(3, scales.size))
    rows = exponents.size
    cdf, mean, std = np.empty((rows, WMM_GRID.size)), np.empty(rows), np.empty(rows)
    _generalised_gaussians(WMM_GRID, np.tile(4.0 ** scales, 3), exponents.ravel(), cdf, mean, std)
    cdf, mean, std = (a.reshape((3, scales.size) + a.shape[1:]) for a in (cdf, mean, std))
    groups = []
    for level in range(height):
        sel = slice(0, 1 + ORIENTATIONS) if level == 0 else slice(
            1 + ORIENTATIONS * level, 1 + ORIENTATIONS * (level + 1))
        count = 3 * (sel.stop - sel.start)
        groups.append((_wmm_grid_rows(count), np.ascontiguousarray(cdf[:, sel].reshape(count, -1)),
                       mean[:, sel].ravel(), std[:, sel].ravel()))
    return WmmModel(tuple(groups), exponents)


@lru_cache(maxsize=8)
def _wmm_grid_rows(count: int) -> np.ndarray:
    rows = np.ascontiguousarray(np.broadcast_to(WMM_GRID, (count, WMM_GRID.size)))
    rows.setflags(write=False)
    return rows


class PyramidBuffers:
    """Per-image scratch arrays of :func:`impose_wmm`, reused over the rounds of projections.

    Fresh megabyte-sized arrays every round cost page faults that doubled the inverse FFTs'
    time; the inverse transform therefore writes into these (ducc0's FFTs take ``out=``).
    """

    def __init__(self, pyramid: SteerablePyramid, channels: int = 3):
        self.coeffs, self.bands = [], []
        for level, filt in enumerate(pyramid.filters):
            m = pyramid.size >> level
            self.coeffs.append(np.empty((channels,) + filt.shape, np.complex64))
            self.bands.append(np.empty((channels, filt.shape[0], m, m), np.float32))


class Workspace:
    """Scratch arrays kept by one worker process across images (``Kind.make_context``).

    Every array handed out is completely overwritten before it is read, so images do not
    depend on what an earlier image left there; reusing them only saves page faults.
    """

    def __init__(self, params=None):
        self._pyramid_buffers: dict[tuple[int, int], PyramidBuffers] = {}

    def pyramid_buffers(self, pyramid: SteerablePyramid) -> PyramidBuffers:
        key = (pyramid.size, pyramid.height)
        if key not in self._pyramid_buffers:
            self._pyramid_buffers[key] = PyramidBuffers(pyramid)
        return self._pyramid_buffers[key]


def _irfft2_into(spec: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``irfft2`` over the last two axes into ``out``; ``spec`` is used as scratch (destroyed),
    which spares ducc0 a copy of it."""
    return ducc0.fft.c2r(spec, axes=(-2, -1), lastsize=out.shape[-1], forward=False, inorm=2,
                         out=out, allow_overwriting_input=True)


def impose_wmm(spec: np.ndarray, pyramid: SteerablePyramid, model: WmmModel,
               buffers: PyramidBuffers | None = None) -> np.ndarray:
    """WMM projection of (3, n, n//2+1) Fourier coefficients; returns the projected ones.

    Every band but the low-pass residual is CDF-matched to its template and standardised,
    then the pyramid is collapsed again (reference ``impose_wmm``).
    """
    buffers = buffers or PyramidBuffers(pyramid, spec.shape[0])
    low = spec
    for level, (filt, lowmask) in enumerate(zip(pyramid.filters, pyramid.lowpass)):
        m = pyramid.size >> level
        analyse_level(low, filt, level == 0, buffers.coeffs[level])
        bands = _irfft2_into(buffers.coeffs[level], buffers.bands[level])
        match_marginals(bands.reshape(-1, m, m), *model.groups[level])
        low = crop_half(low) * lowmask
    for level in reversed(range(pyramid.height)):
        collapsed = pad_double(low * pyramid.lowpass[level])
        synthesise_level(_rfft2(buffers.bands[level]), pyramid.filters[level], level == 0, collapsed)
        low = collapsed
    return low


# --------------------------------------------------------------------------- the models
def synthesize(params, rng: np.random.Generator, size: int, *, spectrum: bool, wmm: bool,
               color: bool, workspace: Workspace | None = None) -> tuple[np.ndarray, dict]:
    """Render one image of the chosen model: ``(size, size, 3)`` uint8 and an info dict.

    Random draws, in order: colour model, spectrum, WMM exponents, initial noise.
    ``workspace`` (optional) lends scratch arrays kept across images; it never changes pixels.
    """
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < MIN_SIZE:
        raise ValueError(f"size={size!r} must be an integer >= {MIN_SIZE}")
    size = int(size)
    height = pyramid_height(size) if wmm else 0
    n = -(-size // 2 ** (height + 1)) * 2 ** (height + 1)   # the pyramid halves height+1 times
    n = n if wmm else size
    colors = sample_color_model(params, rng, n, histograms=color)
    info: dict = {"colors": colors.num_colors, "blur_px": colors.blur}
    if spectrum:
        amplitude = sample_spectrum(params, rng, n)
        info.update(slope=round(amplitude.slope, 6), anisotropy=round(amplitude.anisotropy, 6))
    if wmm:
        pyramid = steerable_pyramid(n, height)
        buffers = (workspace or Workspace()).pyramid_buffers(pyramid)
        marginals = sample_wmm(params, rng, height)
        info["wmm_exponent_mean"] = round(float(marginals.exponents.mean()), 6)
    image = rng.random((3, n, n), dtype=np.float32) * np.float32(256.0)
    spectra = np.empty((3, n, n // 2 + 1), np.complex64)    # reused by every forward FFT
    rounds = params.iterations if (wmm or color) else 1   # the spectrum projection is idempotent
    spec = None
    for _ in range(rounds):
        if spectrum or wmm:
            spec = _rfft2(image, out=spectra) if spec is None else spec
            if spectrum:
                spec = impose_spectrum(spec, amplitude, out=spec)
            if wmm:
                spec = impose_wmm(spec, pyramid, marginals, buffers)
        if color:
            if spec is not None:
                _irfft2_into(spec, image)
            match_marginals(image, colors.values, colors.cdf)
            spec = None
    if spec is not None:
        _irfft2_into(spec, image)
    return to_uint8_rgb(image[:, :size, :size], colors), info


def render_spectrum_color_wmm(params: SpectrumColorWmmParams, rng: np.random.Generator,
                              size: int, workspace: Workspace | None = None) -> np.ndarray:
    """One ``stat-spectrum-color-wmm`` image, ``(size, size, 3)`` uint8 (for other kinds).

    Pass one :class:`Workspace` when rendering many images in a row (fewer page faults)."""
    return synthesize(params, rng, size, spectrum=True, wmm=True, color=True,
                      workspace=workspace)[0]
