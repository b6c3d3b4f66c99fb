"""Dead-leaves kinds: the defining properties of the model, not just shapes and dtypes."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from generators.kinds import _deadleaves as dl
from generators.params import make_params
from generators.registry import get_kind
from generators.sample import render_sample
from generators.seeding import sample_rng

FLAT_KINDS = ("deadleaves-squares", "deadleaves-oriented", "deadleaves-mixed")


def render(name: str, seed: int = 0, index: int = 0, size: int = 64, mode: str = "RGB",
           **overrides):
    kind = get_kind(name)
    params = kind.params_type(**overrides)
    return render_sample(kind, params, seed, index, size, mode)


# --- parameters -----------------------------------------------------------------------------

def test_defaults_are_the_published_ones():
    params = dl.DeadLeavesParams()
    assert (params.radius_min, params.radius_max, params.radius_steps) == (0.03, 1.0, 200)
    assert params.exponent == 3.0 and params.max_shapes == 5000 and params.order == "painter"


@pytest.mark.parametrize("overrides, words", [
    ({"radius_min": 0.5, "radius_max": 0.2}, ["radius_min=0.5", "radius_max=0.2"]),
    ({"radius_min": 0.3, "radius_max": 0.3}, ["radius_min=0.3", "radius_max=0.3"]),
    ({"radius_min": 0.0}, ["radius_min=0.0", "0.001 .. 2.0"]),
    ({"radius_max": 5.0}, ["radius_max=5.0", "0.001 .. 2.0"]),
    ({"radius_steps": 1}, ["radius_steps=1", "2 .. 100000"]),
    ({"exponent": -1.0}, ["exponent=-1.0"]),
    ({"max_shapes": 0}, ["max_shapes=0"]),
    ({"order": "backwards"}, ["order='backwards'", "painter", "front-to-back"]),
])
def test_bad_parameters_name_field_value_and_range(overrides, words):
    with pytest.raises(ValueError) as error:
        dl.DeadLeavesParams(**overrides)
    message = str(error.value)
    assert "\n" not in message
    for word in words:
        assert word in message


def test_command_line_overrides_are_typed_and_checked():
    params = make_params(dl.DeadLeavesParams, ["radius_min=0.1", "order=front-to-back"])
    assert params.radius_min == 0.1 and params.order == "front-to-back"
    with pytest.raises(ValueError, match="radius_min=1.5 must be < radius_max=1.0"):
        make_params(dl.DeadLeavesParams, ["radius_min=1.5"])


# --- radius distribution ----------------------------------------------------------------------

def test_radius_probabilities_follow_inverse_cube_minus_tail():
    params = dl.DeadLeavesParams()
    grid, cdf = dl.radius_cdf(params)
    assert len(grid) == 200 and grid[0] == pytest.approx(0.03) and grid[-1] == 1.0
    pmf = np.diff(cdf, prepend=0.0)
    expected = grid ** -3.0 - 1.0
    np.testing.assert_allclose(pmf, expected / expected.sum(), rtol=1e-9, atol=1e-15)
    assert pmf[-1] == 0.0  # p(rmax) = 0


def test_sampled_radii_match_the_grid_distribution():
    params = dl.DeadLeavesParams()
    grid, cdf = dl.radius_cdf(params)
    size = 1000
    rng = np.random.default_rng(5)
    _, geom, _, _ = dl.draw_shapes(rng, 200_000, (dl.CIRCLE,), size, grid, cdf)
    index = np.rint((geom[:, 2] / size - grid[0]) / (grid[1] - grid[0])).astype(int)
    counts = np.bincount(index, minlength=len(grid))
    pmf = np.diff(cdf, prepend=0.0)
    assert counts[-1] == 0
    # the 10 most likely radii carry ~40 % of the mass: compare within 4 standard deviations
    for i in range(10):
        expected = pmf[i] * len(index)
        assert abs(counts[i] - expected) < 4 * np.sqrt(expected)
    # centres uniform over the image
    assert geom[:, :2].min() >= 0 and geom[:, :2].max() < size
    assert abs(geom[:, 0].mean() - size / 2) < 0.01 * size


# --- exactly the published painter's model ----------------------------------------------------

def _shape_mask(shape, cx, cy, r, extra, size):
    """Pixels whose centres lie in the shape, computed independently of the numba code."""
    y, x = np.mgrid[0:size, 0:size] + 0.5
    if shape == dl.CIRCLE:
        return (x - cx) ** 2 + (y - cy) ** 2 <= r * r
    vx, vy = np.empty(4), np.empty(4)
    n = dl._polygon(shape, cx, cy, r, extra, vx, vy)
    cross = []
    for e in range(n):
        x0, y0, x1, y1 = vx[e], vy[e], vx[(e + 1) % n], vy[(e + 1) % n]
        cross.append((x1 - x0) * (y - y0) - (y1 - y0) * (x - x0))
    cross = np.array(cross)
    return np.all(cross >= -1e-9, axis=0) | np.all(cross <= 1e-9, axis=0)


def _slow_painter(types, geom, extra, size):
    """The reference's loop: paint on top, check the whole image after every shape."""
    labels = np.zeros((size, size), dtype=np.int32)
    for s in range(len(types)):
        labels[_shape_mask(types[s], *geom[s], extra[s], size)] = s + 1
        if not (labels == 0).any():
            return labels, s + 1
    return labels, len(types)


@pytest.mark.parametrize("name, shapes", [("squares", (dl.SQUARE,)),
                                          ("oriented", (dl.ORIENTED_SQUARE,)),
                                          ("mixed", tuple(range(6)))])
def test_counter_stops_where_a_full_coverage_check_would(name, shapes):
    params = dl.DeadLeavesParams()
    grid, cdf = dl.radius_cdf(params)
    size = 40
    for seed in range(3):
        types, geom, extra, _ = dl.draw_shapes(np.random.default_rng(seed), 3000, shapes, size,
                                               grid, cdf)
        expected, stop = _slow_painter(types, geom, extra, size)
        labels = np.zeros((size, size), dtype=np.int32)
        used, uncovered = dl.paint_shapes(labels, 1, types, geom, extra, False, size * size)
        assert (used, uncovered) == (stop, 0)
        # pixel centres exactly on an edge may round either way; nothing else may differ
        assert np.mean(labels != expected) < 0.002


def test_front_to_back_keeps_the_first_shape_on_top():
    params = dl.DeadLeavesParams()
    grid, cdf = dl.radius_cdf(params)
    size = 40
    types, geom, extra, _ = dl.draw_shapes(np.random.default_rng(1), 3000, (dl.SQUARE,), size,
                                           grid, cdf)
    labels = np.zeros((size, size), dtype=np.int32)
    used, uncovered = dl.paint_shapes(labels, 1, types, geom, extra, True, size * size)
    assert uncovered == 0
    # every pixel shows the first shape that covers it
    first = np.zeros((size, size), dtype=np.int32)
    for s in range(used - 1, -1, -1):
        first[_shape_mask(types[s], *geom[s], extra[s], size)] = s + 1
    assert np.mean(labels != first) < 0.002


# --- the images ---------------------------------------------------------------------------------

@pytest.mark.parametrize("name", FLAT_KINDS)
def test_full_coverage_and_piecewise_constant(name):
    for index in range(3):
        image, meta = render(name, index=index, size=96)
        assert image.shape == (96, 96, 3) and image.dtype == np.uint8
        assert meta["uncovered"] == 0 and 0 < meta["shapes"] < 5000
        codes = image.astype(np.int64) @ np.array([65536, 256, 1])
        # one flat colour per visible shape (distinct random colours coincide ~never)
        assert len(np.unique(codes)) == meta["visible"]
        assert meta["visible"] < meta["shapes"]
        # piecewise constant: almost all neighbouring pixels share their colour
        assert np.mean(codes[:, 1:] == codes[:, :-1]) > 0.65


def test_cap_leaves_uncovered_pixels_black():
    image, meta = render("deadleaves-squares", size=64, max_shapes=5)
    assert meta["shapes"] == 5 and meta["uncovered"] > 0
    assert np.sum(image.sum(axis=2) == 0) >= meta["uncovered"]


def _connected_regions(image):
    """Number of 4-connected regions of constant colour."""
    codes = image.astype(np.int64) @ np.array([65536, 256, 1])
    total = 0
    for code in np.unique(codes):
        total += ndimage.label(codes == code)[1]
    return total


@pytest.mark.parametrize("name", FLAT_KINDS)
def test_regions_multiply_as_the_smallest_shape_shrinks(name):
    regions = []
    for radius_min in (0.3, 0.1, 0.03):
        regions.append(np.mean([_connected_regions(render(name, index=i, size=96,
                                                          radius_min=radius_min)[0])
                                for i in range(3)]))
    assert regions[0] < regions[1] < regions[2]
    assert regions[2] > 3 * regions[0]


def test_mixed_draws_every_shape_type():
    totals = dict.fromkeys(dl.SHAPE_NAMES, 0)
    for index in range(3):
        _, meta = render("deadleaves-mixed", index=index, size=64)
        counts = meta["shape_counts"]
        assert sum(counts.values()) == meta["shapes"]
        for shape, count in counts.items():
            totals[shape] += count
    total = sum(totals.values())
    for shape in dl.SHAPE_NAMES:  # uniform over six: each about 1/6
        assert 0.10 < totals[shape] / total < 0.23, (shape, totals)


def test_single_shape_kinds_report_no_type_counts():
    _, meta = render("deadleaves-squares", size=32)
    assert "shape_counts" not in meta


def _axis_aligned_edge_fraction(image):
    """Share of edge pixels whose gradient points along x or y (within ~6 degrees)."""
    luma = image.astype(float) @ np.array([0.299, 0.587, 0.114])
    gx, gy = ndimage.sobel(luma, axis=1), ndimage.sobel(luma, axis=0)
    magnitude = np.hypot(gx, gy)
    edges = magnitude > 20
    small = np.minimum(np.abs(gx), np.abs(gy))[edges]
    return np.mean(small < 0.1 * magnitude[edges])


def test_squares_have_axis_aligned_edges_and_oriented_do_not():
    squares = np.mean([_axis_aligned_edge_fraction(render("deadleaves-squares", index=i,
                                                          size=128)[0]) for i in range(2)])
    oriented = np.mean([_axis_aligned_edge_fraction(render("deadleaves-oriented", index=i,
                                                           size=128)[0]) for i in range(2)])
    assert squares > 0.55 and squares > 2.5 * oriented
    assert oriented < 0.3  # random orientations: ~0.13 of edges within 6 degrees of an axis


@pytest.mark.parametrize("name", FLAT_KINDS)
def test_colour_is_not_grayscale_and_gray_is_its_luma(name):
    rgb, _ = render(name, size=64)
    channels = rgb.astype(int)
    assert np.mean(np.abs(channels[..., 0] - channels[..., 1])) > 20
    gray, _ = render(name, size=64, mode="L")
    assert gray.shape == (64, 64)
    np.testing.assert_array_equal(gray, np.asarray(Image.fromarray(rgb).convert("L")))
    luma = channels @ np.array([0.299, 0.587, 0.114])
    assert np.max(np.abs(gray - luma)) <= 1.0


@pytest.mark.parametrize("name", FLAT_KINDS)
def test_deterministic_per_seed_and_index(name):
    first, meta = render(name, seed=7, index=3, size=64)
    again, meta_again = render(name, seed=7, index=3, size=64)
    np.testing.assert_array_equal(first, again)
    assert meta == meta_again
    assert not np.array_equal(first, render(name, seed=8, index=3, size=64)[0])
    assert not np.array_equal(first, render(name, seed=7, index=4, size=64)[0])


def test_front_to_back_is_another_image_with_full_coverage():
    painter, _ = render("deadleaves-mixed", size=64)
    front, meta = render("deadleaves-mixed", size=64, order="front-to-back")
    assert meta["uncovered"] == 0
    assert not np.array_equal(painter, front)


def test_render_function_is_pure():
    kind = get_kind("deadleaves-oriented")
    params = kind.params_type()
    a = kind.render(params, sample_rng(1, 2), 48)
    b = kind.render(params, sample_rng(1, 2), 48)
    np.testing.assert_array_equal(a[0], b[0])


# --- textures -----------------------------------------------------------------------------------

def _textures():
    from generators.kinds import deadleaves_textures
    return deadleaves_textures


def _small_texture_params(**overrides):
    # a tiny pool keeps the tests fast; the defaults are checked separately
    values = {"texture_pool": 3, "texture_size": 32, **overrides}
    return _textures().TexturedDeadLeavesParams(**values)


def test_texture_defaults_and_validation():
    params = _textures().TexturedDeadLeavesParams()
    assert params.texture_size == 128 and params.radius_min == 0.03 and params.max_shapes == 5000
    with pytest.raises(ValueError, match=r"texture_pool=0 is out of range 1 \.\. 100000"):
        _small_texture_params(texture_pool=0)
    with pytest.raises(ValueError, match="radius_min=0.5 must be < radius_max=0.2"):
        _small_texture_params(radius_min=0.5, radius_max=0.2)


def test_texture_pool_depends_only_on_its_parameters():
    textures = _textures()
    params = _small_texture_params()
    pool = textures.render_texture_pool(params)
    assert pool.shape == (3, 32, 32, 3) and pool.dtype == np.uint8
    np.testing.assert_array_equal(pool, textures.render_texture_pool(params))
    assert not np.array_equal(pool, textures.render_texture_pool(_small_texture_params(
        texture_seed=1)))
    assert not np.array_equal(pool[0], pool[1])


def test_texture_fill_follows_shift_flip_transpose_and_channel_order():
    textures = _textures()
    pool = np.arange(2 * 4 * 4 * 3, dtype=np.uint8).reshape(2, 4, 4, 3)
    labels = np.array([[0, 1, 1, 1], [2, 2, 2, 2], [2, 2, 2, 2], [2, 2, 2, 2]], dtype=np.int32)
    texture = np.array([0, 0, 1])
    shift_y, shift_x = np.array([0, 0, 1]), np.array([0, 0, 2])
    flips = np.array([0, 0, 4])  # shape 2: transposed
    channels = np.array([[0, 1, 2], [0, 1, 2], [2, 1, 0]])
    image = textures.texture_regions(labels, pool, texture, shift_y, shift_x, flips, channels)
    assert image[0, 0].tolist() == [0, 0, 0]  # uncovered stays black
    np.testing.assert_array_equal(image[0, 1:], pool[0, 0, 1:])
    for i in range(1, 4):
        for j in range(4):
            u, v = (i + 1) % 4, (j + 2) % 4
            np.testing.assert_array_equal(image[i, j], pool[1, v, u, ::-1])
    # nearest-neighbour resizing of a 4² texture to 8²: 2x2 blocks
    big = textures.texture_regions(np.ones((8, 8), np.int32), pool, texture, shift_y * 0,
                                   shift_x * 0, flips * 0, channels[[0, 0, 0]])
    np.testing.assert_array_equal(big, pool[0].repeat(2, axis=0).repeat(2, axis=1))


def test_every_region_shows_one_pool_texture_at_its_place():
    textures = _textures()
    params = _small_texture_params(texture_transforms=False)
    pool = textures.render_texture_pool(params)
    image, meta = textures.render_deadleaves_textures(params, sample_rng(0, 0), 32, pool)
    assert meta["uncovered"] == 0 and set(meta["shape_counts"]) == set(dl.SHAPE_NAMES)
    # replay the stream: the occlusion map, then one texture per shape
    rng = sample_rng(0, 0)
    labels, _, types, _ = dl.dead_leaves_labels(params, rng, 32, textures.SHAPES)
    texture = rng.integers(0, params.texture_pool, len(types) + 1)
    np.testing.assert_array_equal(image, pool[(texture[labels], *np.mgrid[0:32, 0:32])])
    # textured, not flat: far more colours than visible shapes
    codes = image.astype(np.int64) @ np.array([65536, 256, 1])
    assert len(np.unique(codes)) > 3 * meta["visible"]


def test_textured_image_is_deterministic_colour_and_gray_is_luma():
    textures = _textures()
    kind = get_kind("deadleaves-textures")
    params = _small_texture_params()
    pool = kind.make_context(params)
    rgb, meta = render_sample(kind, params, 3, 1, 64, "RGB", context=pool)
    again, meta_again = render_sample(kind, params, 3, 1, 64, "RGB", context=pool)
    np.testing.assert_array_equal(rgb, again)
    assert meta == meta_again
    assert not np.array_equal(rgb, render_sample(kind, params, 3, 2, 64, "RGB", context=pool)[0])
    # without a context the pool is rendered on the spot: the same image
    np.testing.assert_array_equal(rgb, textures.render_deadleaves_textures(
        params, sample_rng(3, 1), 64)[0])
    channels = rgb.astype(int)
    assert np.mean(np.abs(channels[..., 0] - channels[..., 2])) > 10
    gray, _ = render_sample(kind, params, 3, 1, 64, "L", context=pool)
    np.testing.assert_array_equal(gray, np.asarray(Image.fromarray(rgb).convert("L")))
