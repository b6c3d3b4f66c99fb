"""VisualAtom: class parameters, shared class frequencies, faithful noise, scaling, errors."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from tests.helpers import run_synthgen
from generators.kinds.visualatom import (
    VisualAtomClass,
    VisualAtomParams,
    _perlin_bits,
    line_style,
    outer_orbit,
    perlin1,
    render_visualatom,
    sample_visualatom_class,
    _instance_draws,
)
from generators.registry import get_kind
from generators.sample import render_sample, sample_class_params
from generators.seeding import class_rng, sample_rng

KIND = get_kind("visualatom")


def radius_spectrum(xs: np.ndarray, ys: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """|FFT| of the radius of the orbit's vertices over the vertex angle (bin n = n per turn)."""
    radius = np.hypot(xs - centre[0], ys - centre[1])
    return np.abs(np.fft.rfft(radius - radius.mean()))


def top_two(spectrum: np.ndarray) -> set[int]:
    return {int(i) for i in np.argsort(spectrum[1:])[-2:] + 1}


def test_class_parameters_cover_the_published_ranges():
    params = VisualAtomParams()
    classes = [sample_visualatom_class(params, class_rng(0, c)) for c in range(600)]
    values = {f.name: np.array([getattr(c, f.name) for c in classes])
              for f in dataclasses.fields(VisualAtomClass)}
    for name, low, high in [("vertices", 200, 1000), ("orbits", 1, 200),
                            ("start_radius", 10, 60), ("n1", 0, 20), ("n2", 0, 20)]:
        assert values[name].min() >= low and values[name].max() <= high, name
        # inclusive integer bounds (Python's randint), both ends reachable
        assert values[name].min() <= low + (high - low) // 10, name
        assert values[name].max() >= high - (high - low) // 10, name
    for name, low, high in [("perlin", 0, 4), ("line_width", 0, 0.1), ("oval_x", 1, 2),
                            ("oval_y", 1, 2)]:
        assert low <= values[name].min() < low + 0.1 * (high - low), name
        assert high - 0.1 * (high - low) < values[name].max() <= high, name
    n1, n2 = values["n1"], values["n2"]
    assert np.all((n1 != n2) | (n1 == 0))
    assert np.any((n1 == 0) & (n2 == 0))  # allowed by the reference's rule


def test_class_parameters_depend_only_on_seed_and_class_index():
    few, many = VisualAtomParams(num_classes=10), VisualAtomParams()
    assert sample_class_params(KIND, few, 7, 3) == sample_class_params(KIND, many, 7, 3)
    assert sample_class_params(KIND, many, 7, 3) != sample_class_params(KIND, many, 7, 4)
    assert sample_class_params(KIND, many, 7, 3) != sample_class_params(KIND, many, 8, 3)


def test_perlin_noise_matches_the_reference_package():
    # noise.pnoise1(u) (package "noise" 1.2.2), the reference's noise function.
    expected = {0.3: 0.7577807903289795, 1.7: 0.1460927575826645, 12.25: 0.30000001192092896,
                100.9: 0.045819759368896484, 200.5: -0.4000000059604645,
                255.6: -0.4927576184272766, 7.05: -0.01953682117164135}
    for u, value in expected.items():
        u32 = float(np.float32(u))  # the package evaluates in single precision
        assert perlin1(u32) == pytest.approx(value, abs=2e-6), u
    # The kernel's 32-bit draws: top 8 bits the lattice cell, low 24 bits the fraction.
    for cell, fraction in [(0, 0.3), (12, 0.25), (255, 0.6), (100, 0.0)]:
        bits = np.uint64(cell << 24 | int(fraction * 2**24))
        assert _perlin_bits(bits) == pytest.approx(perlin1(cell + fraction), abs=1e-7)


def test_instances_of_a_class_share_its_two_frequencies():
    params = VisualAtomParams()
    checked = 0
    for c in range(200):
        cls = sample_visualatom_class(params, class_rng(0, c))
        if cls.orbits < 40 or min(cls.n1, cls.n2) < 3:  # ovals put energy at 2 cycles per turn
            continue
        for instance in range(3):
            xs, ys, centre = outer_orbit(cls, sample_rng(0, c + 1000 * instance), 512)
            assert top_two(radius_spectrum(xs, ys, centre)) == {cls.n1, cls.n2}, (c, cls)
        checked += 1
        if checked == 5:
            break
    assert checked == 5


def test_drawn_image_shows_the_class_frequencies_around_the_centre():
    cls = VisualAtomClass(vertices=500, orbits=50, perlin=0.5, line_width=0.05, start_radius=40,
                          n1=5, n2=11, oval_x=1.0, oval_y=1.0)
    params = VisualAtomParams()
    for index in range(100):  # an instance whose centre keeps the atom on the canvas
        if np.all(np.abs(_instance_draws(cls, sample_rng(0, index), 512)[0] - 256) < 80):
            break
    image, info = render_visualatom(params, sample_rng(0, index), 512, cls)
    rows, cols = np.nonzero(image)
    dx, dy = cols + 0.5 - info["centre"][0], rows + 0.5 - info["centre"][1]
    bins = 120  # 3 degrees: at least ~2 px of the smallest contour per bin
    angle_bin = ((np.arctan2(dy, dx) % (2 * np.pi)) / (2 * np.pi) * bins).astype(int) % bins
    outer = np.zeros(bins)
    np.maximum.at(outer, angle_bin, np.hypot(dx, dy))
    assert outer.min() > 0  # a closed contour: lit pixels at every angle
    assert top_two(np.abs(np.fft.rfft(outer - outer.mean()))) == {5, 11}


def test_different_classes_give_different_shapes():
    params = VisualAtomParams()
    classes = [sample_visualatom_class(params, class_rng(0, c)) for c in range(2)]
    assert classes[0] != classes[1]
    rng_state = 123
    a, _ = render_visualatom(params, sample_rng(0, rng_state), 256, classes[0])
    b, _ = render_visualatom(params, sample_rng(0, rng_state), 256, classes[1])
    assert not np.array_equal(a, b)
    # Same instance draws, other class: the outer contour's spectrum follows the class.
    spectra = [radius_spectrum(*outer_orbit(cls, sample_rng(0, 5), 512))
               for cls in (dataclasses.replace(classes[0], n1=4, n2=9, orbits=80),
                           dataclasses.replace(classes[0], n1=6, n2=15, orbits=80))]
    assert top_two(spectra[0]) == {4, 9} and top_two(spectra[1]) == {6, 15}


def test_images_are_neither_blank_nor_saturated():
    params = VisualAtomParams()
    for index in range(24):
        image, _ = render_sample(KIND, params, 0, index, 128, "L")
        assert image.dtype == np.uint8 and image.shape == (128, 128)
        assert np.count_nonzero(image) >= 20, index
        assert np.mean(image == 255) < 0.2 and image.mean() < 150, index


def test_same_seed_same_image_and_instances_differ():
    params = VisualAtomParams(num_classes=4)
    a, meta_a = render_sample(KIND, params, 3, 9, 96, "L")
    b, meta_b = render_sample(KIND, params, 3, 9, 96, "L")
    assert np.array_equal(a, b) and meta_a == meta_b
    other_instance, meta_c = render_sample(KIND, params, 3, 13, 96, "L")  # class 1 again
    assert meta_c["class_params"] == meta_a["class_params"]
    assert not np.array_equal(a, other_instance)


def test_paper_lines_only_use_the_orbit_gray_levels():
    params = VisualAtomParams(line="paper")
    cls = sample_visualatom_class(params, class_rng(0, 2))
    image, _ = render_visualatom(params, sample_rng(0, 2), 256, cls)
    _, grays, _ = _instance_draws(cls, sample_rng(0, 2), 256)
    assert set(np.unique(image)) <= {0, *grays.tolist()}
    assert len(np.unique(image)) > 1


@pytest.mark.parametrize("line", ["antialiased", "auto"])
def test_smaller_canvas_looks_like_the_downscaled_published_size(line):
    params = VisualAtomParams(line=line)
    correlations = []
    for index in range(3):
        cls = sample_visualatom_class(params, class_rng(0, index))
        large, _ = render_visualatom(params, sample_rng(0, index), 512, cls)
        small, _ = render_visualatom(params, sample_rng(0, index), 256, cls)
        down = large.reshape(256, 2, 256, 2).mean(axis=(1, 3))
        correlations.append(np.corrcoef(down.ravel(), small.ravel())[0, 1])
        assert small.mean() == pytest.approx(down.mean(), rel=0.15)
    assert min(correlations) > 0.9


def test_auto_lines_are_the_papers_at_the_published_size():
    auto = VisualAtomParams()
    assert [line_style(auto, size) for size in (128, 511, 512, 1024)] == [
        "antialiased", "antialiased", "paper", "paper"]
    cls = sample_visualatom_class(auto, class_rng(0, 0))
    for size in (256, 512):
        expected = "paper" if size == 512 else "antialiased"
        image, _ = render_visualatom(auto, sample_rng(0, 1), size, cls)
        explicit, _ = render_visualatom(VisualAtomParams(line=expected), sample_rng(0, 1), size,
                                        cls)
        assert np.array_equal(image, explicit)


@pytest.mark.parametrize("overrides, message", [
    ({"vertices_min": 2}, "vertices_min=2 is out of range 3 .. 100000"),
    ({"orbits_min": 50, "orbits_max": 10}, "orbits_min=50 must be <= orbits_max=10"),
    ({"freq_min": 4, "freq_max": 4}, "freq_max=4 must be > freq_min=4"),
    ({"perlin_max": -1.0}, "perlin_max=-1.0 is out of range 0.0 .. 100.0"),
    ({"line": "smooth"}, "line='smooth' must be one of auto, antialiased, paper"),
])
def test_bad_parameters_name_field_value_and_range(overrides, message):
    with pytest.raises(ValueError, match=message.replace(".", r"\.")):
        VisualAtomParams(**overrides)


def test_bad_parameter_is_a_one_line_cli_error(tmp_path):
    result = run_synthgen("preview", "visualatom", "--out", tmp_path / "sheet.png",
                          "--param", "orbits_max=0")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "synthgen: error: visualatom: parameter orbits_max=0 is out of range 1 .. 10000"]
    assert not (tmp_path / "sheet.png").exists()
