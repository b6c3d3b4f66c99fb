"""Statistical image models of Baradad et al., "Learning to See by Looking at Noise" (NeurIPS 2021).

An image is synthesised by alternating projections, starting from uniform noise
``256 * U(0, 1)`` in three working channels, for ``iterations`` rounds (10 in the paper and its
reference code ``generate_datasets/statistical/generate_datasets.py`` of
mbaradad/learning_with_noise, and its MATLAB original ``image_model.m``), in this order:

1. **spectrum**: every channel keeps its Fourier phase, mean and standard deviation and gets the
   amplitude ``|F(fx, fy)| = 1 / (|fx/N|^(s+d) + |fy/N|^(s-d))``, ``|F(0, 0)| = 0``, with the
   slope ``s ~ U(0.5, 3.5)`` and the anisotropy ``d ~ N(0, 1) * (3.5 - 0.5) / 15 / 4 = N(0, 1) * 0.05``
   (reference ``sample_1f_spectrum``). ``s`` is the slope of the *amplitude* spectrum: the power
   spectrum falls as ``|f|^(-2 s)`` (exactly so when ``d = 0``, since
   ``|fx|^s + |fy|^s = |f|^s (|cos t|^s + |sin t|^s)`` along every direction ``t``).
2. **WMM** (wavelet marginal model): a real steerable pyramid with 4 orientations (cubic angular
   filters) and ``height`` levels, 3 at 128^2 and 4 at 256^2 in the reference, i.e. down to a
   16^2 low-pass residual: ``height = max(1, floor(log2(size / 16)))``. The marginal of every band
   except the low-pass residual is forced, by CDF matching, to the generalised Gaussian
   ``h(x) = exp(-|x / s_b|^r)`` tabulated on ``x = -200:0.5:200`` with ``r ~ U(0.4, 0.8)`` drawn per
   channel and band and ``s_b = 4^(N / band height)`` (4 for the high-pass residual and level 0,
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
  which does not decorrelate; we use the proper projection ``V^T (x - mean)`` (MATLAB ``x*colorPC``).
* The reference maps source ranks ``i/n`` to template quantiles, so each band's largest
  coefficient is sent to the end of the template's support (+200); we use mid-ranks
  ``(i - 1/2)/n``. Source ranks come from a 2048-bin histogram with linear interpolation inside
  bins instead of a full sort (same result to within a bin; an O(n) pass instead of a sort).
* The spectrum projection is idempotent (it keeps the phase), so the spectrum-only model applies it
  once instead of 10 times: the same image up to float rounding.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import scipy.fft as sfft
from numba import njit
from scipy.ndimage import uniform_filter

from generators.params import check_fields, param

#: Rounds of alternating projections (reference ``Niter = 10``).
ITERATIONS = 10
#: WMM template grid ``x = -200:0.5:200`` (reference ``sample_wmm_model``).
WMM_GRID = np.arange(-400, 401, dtype=np.float64) * 0.5
#: Orientations of the steerable pyramid (reference: pyrtools default order 3 -> 4 bands).
ORIENTATIONS = 4
#: Bins of the colour histograms (reference ``get_image_color_histograms(nbins=256)``).
COLOR_BINS = 256
#: Histogram bins used to rank source values in CDF matching (ours; see module docstring).
RANK_BINS = 2048
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
class SpectrumColorWmmParams(SpectrumFields, WmmFields, ColorFields, IterationFields):
    """Parameters of the full model (spectrum + WMM + colour), ``stat-spectrum-color-wmm``."""

    def __post_init__(self):
        check_stat_params(self)


# --------------------------------------------------------------------------- CDF matching
@njit(cache=True)
def _match_rows(data, tvals, tcdf, nbins, tmean, tstd, standardise):
    """Force the marginal of every row of ``data`` (B, n) to a tabulated template, in place.

    Template ``b`` is the piecewise-linear quantile function through ``(tcdf[b], tvals[b])``
    (clamped at both ends, like ``np.interp``). A source value's mid-rank quantile is read from a
    ``nbins`` histogram of the row with linear interpolation inside a bin. With ``standardise``
    the result is shifted and scaled to mean ``tmean[b]`` and std ``tstd[b]``.
    """
    rows, n = data.shape
    width = tvals.shape[1]
    counts = np.empty(nbins, np.int64)
    out_at_edge = np.empty(nbins + 1, np.float64)
    for b in range(rows):
        row = data[b]
        lo = row[0]
        hi = row[0]
        for i in range(n):
            v = row[i]
            if v < lo:
                lo = v
            elif v > hi:
                hi = v
        scale = nbins / (hi - lo) if hi > lo else 0.0
        counts[:] = 0
        for i in range(n):
            k = int((row[i] - lo) * scale)
            counts[min(k, nbins - 1)] += 1
        # template quantile at the CDF of every bin edge (edges and quantiles both increase)
        below = 0
        j = 0
        for e in range(nbins + 1):
            q = (0.5 + below * (n - 1.0) / n) / n
            while j < width and tcdf[b, j] < q:
                j += 1
            if j == 0:
                out_at_edge[e] = tvals[b, 0]
            elif j == width:
                out_at_edge[e] = tvals[b, width - 1]
            else:
                c0 = tcdf[b, j - 1]
                t = (q - c0) / (tcdf[b, j] - c0)
                out_at_edge[e] = tvals[b, j - 1] + t * (tvals[b, j] - tvals[b, j - 1])
            if e < nbins:
                below += counts[e]
        total = 0.0
        total2 = 0.0
        for i in range(n):
            t = (row[i] - lo) * scale
            k = min(int(t), nbins - 1)
            v = out_at_edge[k] + (t - k) * (out_at_edge[k + 1] - out_at_edge[k])
            row[i] = v
            total += v
            total2 += v * v
        if standardise:
            mean = total / n
            std = math.sqrt(max(total2 / n - mean * mean, 0.0))
            gain = tstd[b] / std if std > 0 else 0.0
            shift = tmean[b] - mean * gain
            for i in range(n):
                row[i] = row[i] * gain + shift


def match_marginals(data: np.ndarray, tvals: np.ndarray, tcdf: np.ndarray,
                    tmean: np.ndarray | None = None, tstd: np.ndarray | None = None) -> None:
    """CDF-match each leading-axis slice of ``data`` (float32, in place) to a template.

    Args:
        data: (B, ...) float32, C-contiguous; slice ``b`` is matched to template ``b``.
        tvals, tcdf: (B, T) template values and their cumulative probabilities (increasing).
        tmean, tstd: (B,) if given, each slice is then standardised to this mean and std.
    """
    rows = data.reshape(data.shape[0], -1)
    standardise = tmean is not None
    if not standardise:
        tmean = tstd = np.zeros(data.shape[0])
    _match_rows(rows, tvals, tcdf, RANK_BINS, tmean, tstd, standardise)


# --------------------------------------------------------------------------- spectrum model
def sample_spectrum(params, rng: np.random.Generator, n: int) -> tuple[np.ndarray, float, float]:
    """Amplitude on the ``rfft2`` half plane of an ``n x n`` image: ``(n, n//2+1)`` float32."""
    slope = rng.uniform(params.slope_min, params.slope_max)
    aniso = rng.normal() * params.anisotropy_std
    fy = np.abs(np.fft.fftfreq(n))[:, None]           # |fy / N|, cycles per pixel
    fx = np.abs(np.fft.rfftfreq(n))[None, :]
    with np.errstate(divide="ignore"):
        amplitude = 1.0 / (1e-16 + fx ** (slope + aniso) + fy ** (slope - aniso))
    amplitude[0, 0] = 0.0                              # no gain at DC
    return amplitude.astype(np.float32), float(slope), float(aniso)


@lru_cache(maxsize=16)
def _half_plane_weights(n: int) -> np.ndarray:
    """Multiplicity of each ``rfft2`` coefficient in the full spectrum (for Parseval sums)."""
    w = np.full(n // 2 + 1, 2.0, np.float32)
    w[0] = 1.0
    if n % 2 == 0:
        w[-1] = 1.0
    w.setflags(write=False)
    return w


def impose_spectrum(spec: np.ndarray, amplitude: np.ndarray, n: int) -> np.ndarray:
    """Spectrum projection in the Fourier domain; ``spec`` is (C, n, n//2+1) of the image.

    Keeps each channel's phase, mean and std (reference ``impose_spectrum``), returns the
    Fourier coefficients of the projected image.
    """
    weights = _half_plane_weights(n)
    power = spec.real ** 2 + spec.imag ** 2
    npix = float(n * n)
    mean = spec[:, 0, 0].real / npix
    magnitude = np.sqrt(power)
    power[:, 0, 0] = 0.0                               # variance excludes the mean
    var = (power * weights).sum(axis=(1, 2), dtype=np.float64) / npix / npix
    gain = amplitude / np.maximum(magnitude, 1e-30)
    out = spec * gain
    new_var = (amplitude ** 2 * weights).sum(dtype=np.float64) / npix / npix
    out *= (np.sqrt(np.maximum(var, 0.0) / new_var)).astype(np.float32)[:, None, None]
    out[:, 0, 0] = mean * npix
    return out


# --------------------------------------------------------------------------- steerable pyramid
@dataclass(frozen=True)
class SteerablePyramid:
    """Fourier-domain real steerable pyramid on the ``rfft2`` half plane (pyrtools' layout).

    Masks follow pyrtools ``SteerablePyramidFreq``: radial raised-cosine halves in
    ``log2`` radius (high-pass residual from 1/2 to 1 Nyquist, each level's band from 1/4 to
    1/2 of the level's Nyquist), angular filters ``sqrt(0.8) cos^3(theta - pi b / 4)`` times
    ``(-i)^3`` (so bands are real), a tight frame. Level ``l`` lives on an ``n / 2^l`` grid
    obtained by cropping the spectrum without renormalisation (pyrtools' units).

    Attributes:
        size: side of the image (divisible by ``2^height``).
        height: number of band levels.
        highpass: (size, size//2+1) float32 high-pass residual mask.
        bands: per level, (4, m, m//2+1) complex64 analysis filters (level 0 includes the
            low-pass residual mask of the high-pass split).
        lowpass: per level, (m, m//2+1) float32 mask applied before cropping to the next level.
    """

    size: int
    height: int
    highpass: np.ndarray
    bands: tuple[np.ndarray, ...]
    lowpass: tuple[np.ndarray, ...]


def _raised_cosine(log_rad: np.ndarray, top: float) -> tuple[np.ndarray, np.ndarray]:
    """(high, low) masks with high rising from 0 at ``log2 r = top - 1`` to 1 at ``top``."""
    t = np.clip(log_rad - top, -1.0, 0.0)
    return np.cos(0.5 * np.pi * t), np.abs(np.sin(0.5 * np.pi * t))


def _polar_grid(m: int) -> tuple[np.ndarray, np.ndarray]:
    """``log2`` of the radius (1 = Nyquist) and the angle of the rfft2 half plane of side ``m``."""
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
    if size % (2 ** height):
        raise ValueError(f"pyramid size {size} must be divisible by 2^{height}")
    order = ORIENTATIONS - 1
    const = (2 ** (2 * order)) * math.factorial(order) ** 2 / (
        ORIENTATIONS * math.factorial(2 * order))   # 0.8: the angular filters sum to 1
    log_rad, _ = _polar_grid(size)
    highpass, low0 = _raised_cosine(log_rad, 0.0)
    bands, lowpass = [], []
    for level in range(height):
        m = size >> level
        log_rad, angle = _polar_grid(m)
        high, low = _raised_cosine(log_rad, -1.0)
        orient = np.pi * np.arange(ORIENTATIONS)[:, None, None] / ORIENTATIONS
        filt = (-1j) ** order * math.sqrt(const) * np.cos(angle - orient) ** order * high
        if level == 0:
            filt, low = filt * low0, low * low0
        bands.append(filt.astype(np.complex64))
        lowpass.append(low.astype(np.float32))
    for array in (highpass, *bands, *lowpass):
        array.setflags(write=False)
    return SteerablePyramid(size, height, highpass.astype(np.float32), tuple(bands),
                            tuple(lowpass))


def _crop_half(spec: np.ndarray) -> np.ndarray:
    """Central half of an rfft2 half-plane spectrum (..., m, m//2+1) -> (..., m/2, m/4+1)."""
    m = spec.shape[-2]
    q = m // 4
    return np.concatenate([spec[..., :q, :q + 1], spec[..., m - q:, :q + 1]], axis=-2)


def _pad_double(spec: np.ndarray) -> np.ndarray:
    """Inverse of :func:`_crop_half`: zero-pad (..., m, m//2+1) to (..., 2m, m+1)."""
    m = spec.shape[-2]
    q = m // 2
    out = np.zeros(spec.shape[:-2] + (2 * m, m + 1), dtype=spec.dtype)
    out[..., :q, :q + 1] = spec[..., :q, :]
    out[..., 2 * m - q:, :q + 1] = spec[..., q:, :]
    return out


def _rfft2(x: np.ndarray) -> np.ndarray:
    return sfft.rfft2(x, workers=1)


def _irfft2(x: np.ndarray, m: int) -> np.ndarray:
    return sfft.irfft2(x, s=(m, m), workers=1)


# --------------------------------------------------------------------------- wavelet marginals
@dataclass(frozen=True)
class WmmModel:
    """Per-channel, per-band generalised-Gaussian templates, bands ordered high-pass, then
    level 0 orientations 0..3, level 1, ...; arrays have a leading (3 * bands) axis."""

    values: np.ndarray
    cdf: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    exponents: np.ndarray


def sample_wmm(params, rng: np.random.Generator, height: int) -> WmmModel:
    """Draw ``r ~ U(exponent_min, exponent_max)`` per channel and band (reference
    ``sample_wmm_model``): template ``exp(-|x / 4^scale|^r)`` with ``scale = N / band side``."""
    scales = np.concatenate([[1.0], np.repeat(2.0 ** np.arange(height), ORIENTATIONS)])
    exponents = rng.uniform(params.exponent_min, params.exponent_max, size=(3, scales.size))
    width = (4.0 ** scales)[None, :, None]
    h = np.exp(-np.abs(WMM_GRID / width) ** exponents[:, :, None]).reshape(-1, WMM_GRID.size)
    total = h.sum(axis=1)
    mean = (h * WMM_GRID).sum(axis=1) / total
    std = np.sqrt((h * (WMM_GRID - mean[:, None]) ** 2).sum(axis=1) / total)
    values = np.broadcast_to(WMM_GRID, h.shape).copy()
    return WmmModel(values, np.cumsum(h, axis=1) / total[:, None], mean, std, exponents)


def impose_wmm(spec: np.ndarray, pyramid: SteerablePyramid, model: WmmModel) -> np.ndarray:
    """WMM projection of (3, n, n//2+1) Fourier coefficients; returns the projected ones.

    Every band but the low-pass residual is decomposed, CDF-matched to its template,
    standardised, and the pyramid is collapsed again (reference ``impose_wmm``).
    """
    channels = spec.shape[0]
    stride = 1 + ORIENTATIONS * pyramid.height
    pick = np.arange(channels)[:, None] * stride          # template rows of each channel
    highpass = _irfft2(spec * pyramid.highpass, pyramid.size)
    _match(highpass, model, pick[:, 0])
    levels = []
    low = spec
    for level, (filt, lowmask) in enumerate(zip(pyramid.bands, pyramid.lowpass)):
        m = pyramid.size >> level
        bands = _irfft2(low[:, None] * filt, m)           # (3, 4, m, m)
        rows = (pick + 1 + ORIENTATIONS * level + np.arange(ORIENTATIONS)).ravel()
        _match(bands.reshape(-1, m, m), model, rows)
        levels.append(bands)
        low = _crop_half(low * lowmask)
    for level in reversed(range(pyramid.height)):
        filt, lowmask = pyramid.bands[level], pyramid.lowpass[level]
        low = (_rfft2(levels[level]) * filt.conj()).sum(axis=1) + _pad_double(low) * lowmask
    return low + _rfft2(highpass) * pyramid.highpass


def _match(data: np.ndarray, model: WmmModel, rows: np.ndarray) -> None:
    match_marginals(data, model.values[rows], model.cdf[rows], model.mean[rows], model.std[rows])


# --------------------------------------------------------------------------- colour model
@dataclass(frozen=True)
class ColorModel:
    """Colour PCA of a random Mondrian: principal axes (columns of ``axes``), mean colour,
    the number of colours and the blur, and (optionally) 256-bin histograms of the
    decorrelated channels as templates ``(values, cdf)``, each (3, 256)."""

    axes: np.ndarray
    mean: np.ndarray
    num_colors: int
    blur: int
    values: np.ndarray | None = None
    cdf: np.ndarray | None = None


def sample_color_model(params, rng: np.random.Generator, n: int,
                       histograms: bool = True) -> ColorModel:
    """Random Mondrian -> colour PCA (+ histograms); reference ``sample_colormodel``."""
    num_colors = int(rng.integers(params.colors_min, params.colors_max + 1))
    share = 0.001 + rng.uniform(0.0, 1.0, num_colors)
    counts = rng.multinomial(n * n, share / share.sum())
    colors = rng.uniform(0.0, 256.0, size=(num_colors, 3)).astype(np.float32)
    blur = int(rng.integers(params.blur_min, params.blur_max + 1))
    # pixels sorted by colour index: runs along rows, as in the reference
    mondrian = colors[np.repeat(np.arange(num_colors), counts)].reshape(n, n, 3)
    if blur > 1:
        mondrian = uniform_filter(mondrian, size=(blur, blur, 1), mode="reflect")
    mondrian += rng.uniform(0.0, 10.0, size=mondrian.shape).astype(np.float32)
    pixels = mondrian.reshape(-1, 3).astype(np.float64)
    pixels -= pixels.min()
    pixels *= 255.0 / max(pixels.max(), 1e-12)
    mean = pixels.mean(axis=0)
    pixels -= mean
    _, axes = np.linalg.eigh(pixels.T @ pixels)
    axes = axes[:, ::-1].copy()                        # largest variance first
    if not histograms:
        return ColorModel(axes, mean, num_colors, blur)
    decorrelated = pixels @ axes
    values = np.empty((3, COLOR_BINS))
    cdf = np.empty((3, COLOR_BINS))
    for c in range(3):
        hist, edges = np.histogram(decorrelated[:, c], bins=COLOR_BINS)
        values[c] = 0.5 * (edges[1:] + edges[:-1])
        cdf[c] = np.cumsum(hist) / decorrelated.shape[0]
    return ColorModel(axes, mean, num_colors, blur, values, cdf)


# --------------------------------------------------------------------------- the models
def synthesize(params, rng: np.random.Generator, size: int, *, spectrum: bool, wmm: bool,
               color: bool) -> tuple[np.ndarray, dict]:
    """Render one image of the chosen model: ``(size, size, 3)`` uint8 and an info dict.

    Random draws, in order: colour model, spectrum, WMM exponents, initial noise.
    """
    if not isinstance(size, (int, np.integer)) or size < MIN_SIZE:
        raise ValueError(f"size={size!r} must be an integer >= {MIN_SIZE}")
    size = int(size)
    height = pyramid_height(size) if wmm else 0
    n = -(-size // 2 ** height) * 2 ** height          # the pyramid needs 2^height | n
    colors = sample_color_model(params, rng, n, histograms=color)
    info: dict = {"colors": colors.num_colors, "blur_px": colors.blur}
    if spectrum:
        amplitude, slope, aniso = sample_spectrum(params, rng, n)
        info.update(slope=round(slope, 6), anisotropy=round(aniso, 6))
    if wmm:
        pyramid = steerable_pyramid(n, height)
        marginals = sample_wmm(params, rng, height)
        info["wmm_exponent_mean"] = round(float(marginals.exponents.mean()), 6)
    image = rng.uniform(0.0, 256.0, size=(3, n, n)).astype(np.float32)
    rounds = params.iterations if (wmm or color) else 1   # the spectrum projection is idempotent
    spec = None
    for _ in range(rounds):
        if spectrum or wmm:
            spec = _rfft2(image) if spec is None else spec
            if spectrum:
                spec = impose_spectrum(spec, amplitude, n)
            if wmm:
                spec = impose_wmm(spec, pyramid, marginals)
        if color:
            image = _irfft2(spec, n) if spec is not None else image
            match_marginals(image, colors.values, colors.cdf)
            spec = None
    if spec is not None:
        image = _irfft2(spec, n)
    return to_uint8_rgb(image[:, :size, :size], colors), info


def to_uint8_rgb(channels: np.ndarray, colors: ColorModel) -> np.ndarray:
    """Working channels (3, H, W) -> rotate back with the colour PCA, add the mean colour,
    min-max over all channels to [0, 255], truncate to uint8 (H, W, 3) (reference)."""
    rgb = np.tensordot(channels, colors.axes.T.astype(np.float32), axes=([0], [0]))
    rgb += colors.mean.astype(np.float32)
    low, high = rgb.min(), rgb.max()
    scale = 255.0 / (high - low) if high > low else 0.0
    return ((rgb - low) * scale).astype(np.uint8)


def render_spectrum_color_wmm(params: SpectrumColorWmmParams, rng: np.random.Generator,
                              size: int) -> np.ndarray:
    """One ``stat-spectrum-color-wmm`` image, ``(size, size, 3)`` uint8 (for other kinds)."""
    return synthesize(params, rng, size, spectrum=True, wmm=True, color=True)[0]
