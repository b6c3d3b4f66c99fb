"""Each image property on images whose answer is known."""

from __future__ import annotations

import numpy as np
import pytest

from generators.image_properties import (diversity, edge_density, image_properties,
                                         intensity_entropy, mean_pairwise_distance, png_ratio,
                                         resize_gray, self_similarity, spectrum_slope, to_gray)


def power_law_noise(exponent: float, size: int = 128, seed: int = 0) -> np.ndarray:
    """Random-phase noise whose power spectrum is 1/f^exponent, scaled to [0, 1]."""
    rng = np.random.default_rng(seed)
    f = np.hypot(np.fft.fftfreq(size)[:, None], np.fft.fftfreq(size)[None, :])
    f[0, 0] = 1.0
    amplitude = f ** (-exponent / 2)
    amplitude[0, 0] = 0.0
    x = np.real(np.fft.ifft2(amplitude * np.exp(2j * np.pi * rng.random((size, size)))))
    return (x - x.min()) / (x.max() - x.min())


@pytest.mark.parametrize("exponent", [0.0, 1.0, 2.0, 3.0])
def test_spectrum_slope_recovers_the_power_law(exponent):
    slopes = [spectrum_slope(power_law_noise(exponent, seed=s)) for s in range(3)]
    assert np.mean(slopes) == pytest.approx(-exponent, abs=0.15)


def test_spectrum_slope_of_a_constant_image_is_undefined():
    assert np.isnan(spectrum_slope(np.full((64, 64), 0.5)))


def test_constant_image_has_no_edges_minimum_entropy_and_compresses_well():
    flat = np.full((128, 128), 0.3)
    assert edge_density(flat) == 0.0
    assert intensity_entropy(flat) == 0.0
    assert png_ratio(flat) < 0.02
    assert np.isnan(self_similarity(flat))


def test_entropy_of_two_equal_levels_is_one_bit_and_of_all_levels_eight():
    half = np.zeros((64, 64))
    half[:, 32:] = 1.0
    assert intensity_entropy(half) == pytest.approx(1.0)
    ramp = (np.arange(256 * 4).reshape(32, 32) % 256) / 255.0
    assert intensity_entropy(ramp) == pytest.approx(8.0)


def test_edge_density_counts_the_pixels_next_to_a_step():
    step = np.zeros((64, 64))
    step[:, 32:] = 1.0
    # The Sobel response covers the two columns on either side of the jump.
    assert edge_density(step) == pytest.approx(2 / 64)
    assert edge_density(step * 0.05) == 0.0  # a 5 % step is below the 10 % threshold


def test_white_noise_is_incompressible_and_dense_in_edges():
    noise = np.random.default_rng(1).random((128, 128))
    assert png_ratio(noise) > 0.95
    assert edge_density(noise) > 0.8
    assert spectrum_slope(noise) == pytest.approx(0.0, abs=0.25)  # one realisation


def test_self_similarity_is_one_for_a_periodic_texture_and_lower_for_a_patchwork():
    stripes = np.tile((np.arange(64) % 8 < 4).astype(float), (64, 1))
    assert self_similarity(stripes) == pytest.approx(1.0)
    patchwork = np.zeros((64, 64))
    patchwork[:32, :32] = stripes[:32, :32]          # vertical edges in one quadrant
    patchwork[32:, 32:] = stripes[:32, :32].T        # horizontal edges in another
    assert self_similarity(patchwork) < 0.6


def test_to_gray_uses_itu_601_luma_and_rejects_other_shapes():
    rgb = np.zeros((2, 2, 3), np.uint8)
    rgb[..., 1] = 255
    assert to_gray(rgb) == pytest.approx(np.full((2, 2), 0.587))
    assert to_gray(np.full((2, 2), 255, np.uint8)) == pytest.approx(np.ones((2, 2)))
    with pytest.raises(ValueError, match="4 channels"):
        to_gray(np.zeros((2, 2, 4), np.uint8))


def test_resize_keeps_the_mean():
    image = power_law_noise(2.0, size=256)
    small = resize_gray(image, 128)
    assert small.shape == (128, 128)
    assert small.mean() == pytest.approx(image.mean(), abs=1e-6)


def test_diversity_is_zero_for_identical_images_and_the_gap_between_classes():
    zeros, ones = np.zeros((3, 16)), np.ones((3, 16))
    assert mean_pairwise_distance(zeros) == 0.0
    result = diversity(np.vstack([zeros, ones]), [0, 0, 0, 1, 1, 1])
    assert result["intra_class"] == 0.0
    assert result["inter_class"] == pytest.approx(1.0)
    # 9 of the 15 pairs differ by 1: mean 0.6
    assert result["diversity"] == pytest.approx(9 / 15)
    assert diversity(zeros, None)["intra_class"] is None


def test_image_properties_returns_every_property():
    props = image_properties(power_law_noise(2.0))
    assert set(props) == {"spectrum_slope", "edge_density", "intensity_entropy", "png_ratio",
                          "self_similarity"}
    assert all(np.isfinite(v) for v in props.values())
