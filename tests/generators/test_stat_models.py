"""The statistical image models (Baradad et al. 2021): each kind's defining property.

* stat-spectrum: the power spectrum falls as |f|^(-2 s) for the drawn amplitude slope s;
* stat-wmm: oriented band-pass coefficients are heavy-tailed (kurtosis well above Gaussian);
* colour models: the pixels' colour-PCA marginals are the Mondrian's, channels correlate;
* the pieces: tight-frame pyramid, CDF matching, spectrum projection; parameter errors.
"""

from __future__ import annotations

import numpy as np
import pytest

from generators.kinds import _statcolor, _statmodels as sm, _steerable as sp
from generators.kinds.stat_spectrum import StatSpectrumParams, render_stat_spectrum
from generators.kinds.stat_spectrum_color import (StatSpectrumColorParams,
                                                  render_stat_spectrum_color)
from generators.kinds.stat_spectrum_color_wmm import render_stat_spectrum_color_wmm
from generators.kinds.stat_wmm import StatWmmParams, render_stat_wmm
from generators.params import make_params
from generators.registry import get_kind
from generators.sample import convert_mode, render_sample

STAT_KINDS = ("stat-spectrum", "stat-wmm", "stat-spectrum-color", "stat-spectrum-color-wmm")


def rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


# --------------------------------------------------------------------------- measurements
def power_slope(image: np.ndarray) -> float:
    """Log-log slope of the radially averaged power spectrum, summed over the RGB channels.

    The channels are an orthogonal mix (colour PCA) of three fields with the same amplitude,
    so their summed power is exactly the imposed one. Radii are averaged in the log domain in
    quarter-octave bins from 2 cycles to N/4, keeping bins 100x above the uint8 rounding floor.
    """
    n = image.shape[0]
    x = image.astype(np.float64).transpose(2, 0, 1)
    x -= x.mean(axis=(1, 2), keepdims=True)
    power = (np.abs(np.fft.rfft2(x)) ** 2).sum(axis=0)
    radius = np.hypot(np.fft.fftfreq(n)[:, None] * n, np.fft.rfftfreq(n)[None, :] * n)
    used = (radius >= 2) & (radius <= n / 4)
    bins = np.round(4 * np.log2(np.where(used, radius, 1.0))).astype(int)
    floor = 3 * n * n / 12.0                           # 3 channels of uniform rounding noise
    log_r, log_p = [], []
    for b in np.unique(bins[used]):
        ring = used & (bins == b)
        if power[ring].mean() > 100 * floor:
            log_r.append(np.log(radius[ring]).mean())
            log_p.append(np.log(power[ring]).mean())
    assert len(log_r) >= 5, "too few frequency bins above the rounding floor"
    return float(np.polyfit(log_r, log_p, 1)[0])


def oriented_band_kurtosis(image: np.ndarray) -> float:
    """Mean kurtosis of the 4 finest oriented steerable-pyramid bands of each RGB channel."""
    x = np.ascontiguousarray(image.astype(np.float32).transpose(2, 0, 1))
    n = x.shape[1]
    pyramid = sp.steerable_pyramid(n, sp.pyramid_height(n))
    coeffs = np.empty((3,) + pyramid.filters[0].shape, np.complex64)
    sp.analyse_level(sm._rfft2(x), pyramid.filters[0], True, coeffs)
    bands = sm._irfft2(coeffs, n)[:, 1:].astype(np.float64)       # drop the high-pass residual
    bands -= bands.mean(axis=(2, 3), keepdims=True)
    return float(((bands ** 4).mean(axis=(2, 3)) / (bands ** 2).mean(axis=(2, 3)) ** 2).mean())


def decorrelated_distance(image: np.ndarray, colors: _statcolor.ColorModel) -> float:
    """Largest Kolmogorov distance between the image's pixels projected on the colour model's
    principal axes and that model's decorrelated histograms (both standardised)."""
    pixels = image.reshape(-1, 3).astype(np.float64)
    projected = (pixels - pixels.mean(axis=0)) @ colors.axes
    worst = 0.0
    for c in range(3):
        mass = np.diff(colors.cdf[c], prepend=0.0)
        mean = (mass * colors.values[c]).sum()
        std = np.sqrt((mass * (colors.values[c] - mean) ** 2).sum())
        template = (colors.values[c] - mean) / std
        sample = np.sort((projected[:, c] - projected[:, c].mean()) / projected[:, c].std())
        empirical = np.searchsorted(sample, template, side="right") / sample.size
        worst = max(worst, float(np.abs(empirical - colors.cdf[c]).max()))
    return worst


# --------------------------------------------------------------------------- defining properties
@pytest.mark.parametrize("slope", [None, 0.5, 2.0, 3.5])
def test_spectrum_power_falls_as_f_to_minus_twice_the_amplitude_slope(slope):
    fixed = {} if slope is None else {"slope_min": slope, "slope_max": slope}
    params = StatSpectrumParams(**fixed)
    for seed in range(6):
        image, info = render_stat_spectrum(params, rng(seed), 128)
        assert slope is None or info["slope"] == slope
        assert 0.5 <= info["slope"] <= 3.5
        # s is the slope of the amplitude |F| ~ 1/|f|^s: the power slope is -2 s
        assert abs(-power_slope(image) / 2 - info["slope"]) <= 0.2, (seed, info)


def test_spectrum_anisotropy_tilts_the_axes_slopes():
    # along fx the amplitude is exactly |fx/N|^-(s+d), along fy |fy/N|^-(s-d)
    params = StatSpectrumParams(slope_min=2.0, slope_max=2.0, anisotropy_std=0.5)
    spec_rng = rng(5)
    model = sm.sample_spectrum(params, spec_rng, 64)
    k = np.arange(1, 16)
    along_x = np.polyfit(np.log(k), np.log(model.amplitude[0, k]), 1)[0]
    along_y = np.polyfit(np.log(k), np.log(model.amplitude[k, 0]), 1)[0]
    assert along_x == pytest.approx(-(2.0 + model.anisotropy), abs=1e-3)
    assert along_y == pytest.approx(-(2.0 - model.anisotropy), abs=1e-3)
    assert abs(model.anisotropy) > 0.01 and model.amplitude[0, 0] == 0


def test_wmm_bands_are_heavy_tailed_and_spectrum_bands_are_gaussian():
    wmm = [oriented_band_kurtosis(render_stat_wmm(StatWmmParams(), rng(s), 128)[0])
           for s in range(4)]
    gaussian = [oriented_band_kurtosis(render_stat_spectrum(StatSpectrumParams(), rng(s), 128)[0])
                for s in range(4)]
    assert min(wmm) > 4.5, wmm                         # Gaussian: 3
    assert max(gaussian) < 3.4, gaussian


def test_wmm_exponent_controls_the_tails():
    light = StatWmmParams(exponent_min=1.9, exponent_max=2.0)   # near-Gaussian templates
    heavy = StatWmmParams(exponent_min=0.4, exponent_max=0.45)
    k_light = np.mean([oriented_band_kurtosis(render_stat_wmm(light, rng(s), 64)[0])
                       for s in range(3)])
    k_heavy = np.mean([oriented_band_kurtosis(render_stat_wmm(heavy, rng(s), 64)[0])
                       for s in range(3)])
    assert k_heavy > k_light + 1.5, (k_light, k_heavy)


@pytest.mark.parametrize("render, params", [
    (render_stat_spectrum_color, StatSpectrumColorParams()),
    (render_stat_spectrum_color_wmm, sm.SpectrumColorWmmParams()),
])
def test_colour_models_impose_the_mondrian_colour_marginals(render, params):
    for seed in range(3):
        image, _ = render(params, rng(seed), 64)
        # the colour model is the first thing drawn from the sample's stream
        colors = sm.sample_color_model(params, rng(seed), 64, histograms=True)
        assert decorrelated_distance(image, colors) < 0.04   # measured 0.007 .. 0.021
    # without the colour model the same comparison fails (measured 0.075 .. 0.35)
    for seed in range(3):
        image, _ = render_stat_spectrum(StatSpectrumParams(), rng(seed), 64)
        colors = sm.sample_color_model(StatSpectrumParams(), rng(seed), 64, histograms=True)
        assert decorrelated_distance(image, colors) > 0.06


def test_colour_models_have_correlated_distinct_channels():
    corr = []
    for seed in range(8):
        image, _ = render_stat_spectrum_color(StatSpectrumColorParams(), rng(seed), 64)
        assert not np.array_equal(image[..., 0], image[..., 1])
        c = np.corrcoef(image.reshape(-1, 3).T.astype(np.float64))
        corr.append(np.abs(c[np.triu_indices(3, 1)]).max())
    assert np.median(corr) > 0.3, corr


@pytest.mark.parametrize("name", STAT_KINDS)
def test_grayscale_is_the_luma_of_the_rgb_model(name):
    kind = get_kind(name)
    assert kind.channels == 3
    params = make_params(kind.params_type, [])
    rgb, meta = render_sample(kind, params, 7, 2, 64, "RGB")
    gray, meta_gray = render_sample(kind, params, 7, 2, 64, "L")
    assert rgb.shape == (64, 64, 3) and gray.shape == (64, 64)
    assert np.array_equal(gray, convert_mode(rgb, "L")) and meta == meta_gray
    assert rgb.min() == 0 and rgb.max() == 255          # min-max over all channels


@pytest.mark.parametrize("name", STAT_KINDS)
def test_deterministic_for_a_seed_and_any_size(name):
    kind = get_kind(name)
    params = make_params(kind.params_type, [])
    a, info_a = kind.render(params, rng(11), 100)      # not a power of two
    b, info_b = kind.render(params, rng(11), 100)
    c, _ = kind.render(params, rng(12), 100)
    assert a.shape == (100, 100, 3) and a.dtype == np.uint8
    assert np.array_equal(a, b) and info_a == info_b
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("name", ["stat-wmm", "stat-spectrum-color-wmm"])
def test_a_reused_workspace_never_changes_pixels(name):
    kind = get_kind(name)
    params = make_params(kind.params_type, [])
    workspace = kind.make_context(params)
    first, _ = kind.render(params, rng(1), 64, context=workspace)
    kind.render(params, rng(2), 96, context=workspace)
    kind.render(params, rng(3), 64, context=workspace)
    again, _ = kind.render(params, rng(1), 64, context=workspace)
    fresh, _ = kind.render(params, rng(1), 64)
    assert np.array_equal(first, again) and np.array_equal(first, fresh)


def test_texture_function_is_the_full_model():
    params = sm.SpectrumColorWmmParams()
    image = sm.render_spectrum_color_wmm(params, rng(3), 64)
    same, _ = render_stat_spectrum_color_wmm(params, rng(3), 64)
    pooled = sm.render_spectrum_color_wmm(params, rng(3), 64, workspace=sm.Workspace())
    assert np.array_equal(image, same) and np.array_equal(image, pooled)


# --------------------------------------------------------------------------- the pieces
@pytest.mark.parametrize("size", [32, 128, 256])
def test_steerable_pyramid_is_a_tight_frame(size):
    pyramid = sp.steerable_pyramid(size, sp.pyramid_height(size))
    assert pyramid.height == {32: 1, 128: 3, 256: 4}[size]
    image = rng(0).random((2, size, size), dtype=np.float32)
    spec = sm._rfft2(image)
    # no band changed: the projection with identity "templates" is skipped by collapsing directly
    low, levels = spec, []
    for level, (filt, lowmask) in enumerate(zip(pyramid.filters, pyramid.lowpass)):
        coeffs = np.empty((2,) + filt.shape, np.complex64)
        sp.analyse_level(low, filt, level == 0, coeffs)
        levels.append(coeffs)
        low = sp.crop_half(low) * lowmask
    energy = sum(float((np.abs(c) ** 2).sum()) for c in levels)
    for level in reversed(range(pyramid.height)):
        collapsed = sp.pad_double(low * pyramid.lowpass[level])
        sp.synthesise_level(levels[level], pyramid.filters[level], level == 0, collapsed)
        low = collapsed
    assert np.abs(sm._irfft2(low, size) - image).max() < 1e-4
    assert energy < float((np.abs(spec) ** 2).sum())   # the low-pass residual holds the rest


@pytest.mark.parametrize("n,blur", [(64, 2), (64, 7), (100, 10), (16, 37), (8, 64)])
def test_mondrian_blur_equals_a_full_image_box_filter(n, blur):
    """Blurring only the rows near colour changes gives scipy's full-image box filter, also
    for windows wider than the image (reflected borders)."""
    import scipy.ndimage as ndi

    r = rng(n * 100 + blur)
    share = 0.001 + r.uniform(0, 1, 9)
    counts = r.multinomial(n * n, share / share.sum())
    colors = r.uniform(0, 256, (9, 3)).astype(np.float32)
    pixels, mean, scatter = _statcolor._mondrian(counts, colors, blur, np.zeros((n, n, 3),
                                                                                np.float32))
    image = np.repeat(colors, counts, axis=0).reshape(n, n, 3).astype(np.float64)
    expected = ndi.uniform_filter(image, size=(blur, blur, 1), mode="reflect")
    expected = (expected - expected.min()) * 255 / (expected.max() - expected.min())
    assert np.abs(pixels.reshape(n, n, 3) - expected).max() < 0.01
    assert np.allclose(mean, expected.reshape(-1, 3).mean(axis=0), atol=1e-3)
    centred = expected.reshape(-1, 3) - expected.reshape(-1, 3).mean(axis=0)
    assert np.allclose(scatter, centred.T @ centred, rtol=1e-4, atol=1e-2 * n * n)


def test_pca_only_colour_model_matches_the_noisy_mondrian():
    """Kinds without colour histograms take the Mondrian noise in expectation: the same colour
    PCA (axes and mean colour) as drawing the per-pixel noise."""
    r = rng(11)
    for _ in range(20):
        n, k = 96, int(r.integers(3, 23))
        share = 0.001 + r.uniform(0, 1, k)
        counts = r.multinomial(n * n, share / share.sum())
        colors = r.uniform(0, 256, (k, 3)).astype(np.float32)
        blur = int(r.integers(1, 11))
        noise = r.random((n, n, 3), dtype=np.float32) * np.float32(_statcolor.NOISE)
        _, drawn_mean, drawn_scatter = _statcolor._mondrian(counts, colors, blur, noise)
        mean, scatter = _statcolor._mondrian_moments(counts, colors, blur, n, _statcolor.NOISE)
        cosines = np.abs((_statcolor._principal_axes(drawn_scatter)
                          * _statcolor._principal_axes(scatter)).sum(axis=0))
        assert cosines.min() > 0.999
        assert np.abs(mean - drawn_mean).max() < 2.0           # of 255
        assert np.abs(scatter - drawn_scatter).max() < 0.01 * np.abs(drawn_scatter).max()


def test_match_marginals_gives_the_template_and_keeps_the_order():
    data = rng(1).normal(size=(2, 4096)).astype(np.float32)
    before = data.copy()
    grid = np.linspace(-10, 10, 801)
    laplace = np.exp(-np.abs(grid))
    cdf = np.cumsum(laplace) / laplace.sum()
    values, cdfs = np.stack([grid, grid * 3]), np.stack([cdf, cdf])
    sm.match_marginals(data, values, cdfs, np.array([0.0, 1.0]), np.array([1.0, 2.0]))
    for row, old in zip(data, before):
        assert (np.diff(row[np.argsort(old)]) >= 0).all()      # a monotone map of the values
    assert data[0].mean() == pytest.approx(0.0, abs=1e-3)
    assert data[0].std() == pytest.approx(1.0, rel=1e-2)
    assert data[1].mean() == pytest.approx(1.0, abs=1e-2)
    assert data[1].std() == pytest.approx(2.0, rel=1e-2)
    z = data[0] / data[0].std()
    kurtosis = (z ** 4).mean()
    assert kurtosis == pytest.approx(6.0, rel=0.15)    # Laplace, not Gaussian (3)


def test_spectrum_projection_keeps_phase_mean_and_std():
    params = StatSpectrumParams(slope_min=1.5, slope_max=1.5)
    model = sm.sample_spectrum(params, rng(2), 64)
    image = rng(3).random((3, 64, 64), dtype=np.float32) * 256
    spec = sm._rfft2(image)
    out = sm._irfft2(sm.impose_spectrum(spec, model), 64)
    assert np.allclose(out.mean(axis=(1, 2)), image.mean(axis=(1, 2)), rtol=1e-4)
    assert np.allclose(out.std(axis=(1, 2)), image.std(axis=(1, 2)), rtol=1e-3)
    new = sm._rfft2(out - out.mean(axis=(1, 2), keepdims=True))
    ratio = np.abs(new[:, 1:, 1:]) / model.amplitude[1:, 1:]
    assert np.allclose(ratio, ratio[:, :1, :1], rtol=1e-2)          # amplitude imposed
    phase = np.angle(new[:, 3, 5] / spec[:, 3, 5])
    assert np.allclose(phase, 0.0, atol=1e-3)                        # phase kept


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("name, overrides, message", [
    ("stat-spectrum", ["slope_min=3", "slope_max=1"], "slope_min=3.0 must be <= slope_max=1.0"),
    ("stat-spectrum", ["slope_max=9"], "slope_max=9.0 is out of range 0.0 .. 6.0"),
    ("stat-wmm", ["exponent_min=0.9", "exponent_max=0.5"], "exponent_min=0.9 must be <="),
    ("stat-spectrum-color", ["colors_min=30", "colors_max=5"], "colors_min=30 must be <="),
    ("stat-spectrum-color-wmm", ["blur_min=0"], "blur_min=0 is out of range 1 .. 64"),
    ("stat-spectrum-color-wmm", ["iterations=0"], "iterations=0 is out of range 1 .. 100"),
])
def test_bad_parameters_name_field_value_and_range(name, overrides, message):
    with pytest.raises(ValueError, match=message.replace(".", r"\.")):
        make_params(get_kind(name).params_type, overrides)


def test_too_small_size_is_refused():
    with pytest.raises(ValueError, match="size=4 must be an integer >= 8"):
        render_stat_spectrum(StatSpectrumParams(), rng(0), 4)
