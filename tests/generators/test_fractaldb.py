"""FractalDB: the published category search and instance design, and non-degenerate images."""

from __future__ import annotations

import numpy as np
import pytest

from generators.kinds.fractaldb import (FractalDBParams, chaos_game, filling_rate,
                                        map_probabilities, sample_fractal_class, variant_maps)
from generators.registry import get_kind
from generators.sample import render_sample, sample_class_params

PARAMS = FractalDBParams(num_classes=100, num_points=50_000)


@pytest.fixture(scope="module")
def classes():
    kind = get_kind("fractaldb")
    return [sample_class_params(kind, PARAMS, 0, c) for c in range(PARAMS.num_classes)]


def test_categories_follow_the_published_search(classes):
    for cls in classes:
        maps = np.asarray(cls["maps"])
        assert 2 <= len(maps) <= 7 and np.all(np.abs(maps) <= 1)
        assert np.allclose(cls["probabilities"], map_probabilities(maps))
        assert cls["fill_rate"] >= 0.2
    # ~3 % of candidates are accepted in the paper's search
    acceptance = len(classes) / sum(c["candidates"] for c in classes)
    assert 0.01 < acceptance < 0.08
    assert len({len(c["maps"]) for c in classes}) >= 4


def test_fill_rate_holds_for_fresh_points(classes):
    rng = np.random.default_rng(1)
    rates = [filling_rate(np.asarray(c["maps"]), np.asarray(c["probabilities"]), rng)
             for c in classes]
    assert min(rates) >= 0.18  # a new 100k-point orbit of an accepted category stays filled
    assert np.median(rates) >= 0.2


def test_diverging_candidates_are_rejected():
    maps = np.array([[1.5, 0.0, 0.0, 1.5, 0.1, 0.1], [0.5, 0.0, 0.0, 0.5, 0.0, 0.0]])
    points = np.empty((10_000, 2))
    assert chaos_game(maps, np.cumsum([0.9, 0.1]), np.random.default_rng(0).integers(0, 2**63, 10_000, dtype=np.uint64),
                      points) < 10_000
    assert filling_rate(maps, np.array([0.9, 0.1]), np.random.default_rng(0), 10_000) == 0.0


def test_instance_variants_scale_one_parameter():
    maps = np.arange(12, dtype=float).reshape(2, 6) + 1
    assert np.array_equal(variant_maps(maps, 0, 0.4), maps)
    scaled = variant_maps(maps, 1 + 4 * 2 + 3, 0.4)  # parameter c, factor 1 + 2s
    assert np.allclose(scaled[:, 2], maps[:, 2] * 1.8)
    assert np.array_equal(np.delete(scaled, 2, axis=1), np.delete(maps, 2, axis=1))


def _flips(small):
    return [small, small[::-1], small[:, ::-1], small[::-1, ::-1]]


def test_instances_resemble_their_class_more_than_other_classes(classes):
    kind = get_kind("fractaldb")
    num, per = 20, 4
    small = {}
    for c in range(num):
        for j in range(per):
            image, meta = render_sample(kind, PARAMS, 0, j * PARAMS.num_classes + c, 64, "L",
                                        classes[c])
            assert meta["class"] == c
            assert (image > 0).mean() > 0.005, f"blank instance of class {c}"
            small[c, j] = image.reshape(16, 4, 16, 4).mean(axis=(1, 3)) / 127.0

    def distance(a, b):  # flip-invariant: flips are part of the instance design
        return min(np.abs(a - f).mean() for f in _flips(b))

    keys = list(small)
    table = np.array([[distance(small[a], small[b]) if a != b else np.inf for b in keys]
                      for a in keys])
    same = np.array([[a[0] == b[0] for b in keys] for a in keys])
    intra = table[same & np.isfinite(table)].mean()
    inter = table[~same].mean()
    assert intra < 0.95 * inter
    nearest_same = same[np.arange(len(keys)), table.argmin(axis=1)].mean()
    assert nearest_same >= 5 * (per - 1) / (len(keys) - 1)  # chance: 3/79 ~ 4 %
    print(f"intra {intra:.3f} inter {inter:.3f} nearest-neighbour same class {nearest_same:.2f}")


def test_no_blank_images_over_many_classes(classes):
    kind = get_kind("fractaldb")
    for c, cls in enumerate(classes):
        image, _ = render_sample(kind, PARAMS, 0, 500 + c, 64, "L", cls)
        assert image.max() == 127 and (image > 0).mean() > 0.005


def test_class_search_is_deterministic_and_independent_of_other_classes():
    kind = get_kind("fractaldb")
    a = sample_class_params(kind, PARAMS, 7, 42)
    b = sample_class_params(kind, PARAMS, 7, 42)
    assert a == b
    assert a != sample_class_params(kind, PARAMS, 8, 42)
    assert sample_fractal_class(PARAMS, np.random.default_rng(0)) == \
        sample_fractal_class(PARAMS, np.random.default_rng(0))


def test_bad_parameters_name_field_and_range():
    with pytest.raises(ValueError, match=r"min_maps=5 must be <= max_maps=3"):
        FractalDBParams(min_maps=5, max_maps=3)
    with pytest.raises(ValueError, match=r"draw='lines' must be one of patch, point"):
        FractalDBParams(draw="lines")
    with pytest.raises(ValueError, match=r"weight_step=0.6 is out of range"):
        FractalDBParams(weight_step=0.6)
