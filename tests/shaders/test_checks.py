"""The degeneracy check and the helper sections programs are assembled from."""

import numpy as np
import pytest

from shaders.checks import degeneracy
from shaders.helpers import helper_sections, helper_source


def test_constant_and_mostly_flat_images_are_degenerate():
    flat = np.full((32, 32, 3), 90, np.uint8)
    assert "near-constant" in degeneracy(flat)
    almost = flat.copy()
    almost[:2] = 255  # 6 % of pixels differ: still a blank image
    assert "mostly flat" in degeneracy(almost)
    assert degeneracy(np.full((16, 16), 3, np.uint8)) is not None  # grayscale too


def test_patterns_pass():
    x = np.linspace(0, 6 * np.pi, 32)
    stripes = (127 + 120 * np.sin(x))[None, :, None].repeat(32, 0).repeat(3, 2).astype(np.uint8)
    assert degeneracy(stripes) is None
    noise = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    assert degeneracy(noise) is None


def test_helper_source_includes_dependencies_in_file_order():
    source = helper_source(["fbm"])
    assert "float fbm(" in source and "float vnoise(" in source and "uint pcg(" in source
    assert source.index("uint pcg(") < source.index("float vnoise(") < source.index("float fbm(")
    assert "float gnoise(" not in source  # only what is needed
    assert set(helper_sections()) >= {"hash", "vnoise", "gnoise", "fbm", "voronoi", "julia"}
    with pytest.raises(KeyError, match="unknown GLSL helper 'nope'"):
        helper_source(["nope"])


def test_helpers_use_integer_hashes_only():
    # float-sine hashes give different images on different CPUs; only PCG-style uint maths.
    source = helper_source(list(helper_sections()))
    assert "43758" not in source and "fract(sin" not in source
