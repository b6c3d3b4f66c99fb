"""The renderer itself: compile errors, read-back layout, program cache, argument checks.

:class:`~shaders.renderer.ShaderRenderer` runs in a spawned child (``child`` fixture, see
conftest.py): one GL context per process, never the pytest process.
"""

from functools import lru_cache

import numpy as np
import pytest

from shaders.helpers import HEADER
from shaders.renderer import ShaderCompileError, source_hash

GRADIENT = HEADER + """
void main() {
    vec2 uv = gl_FragCoord.xy / u_resolution;
    frag_color = vec4(uv.x, uv.y, u_time, 1.0);
}
"""


@lru_cache(maxsize=None)
def _renderer():
    """The child's one renderer (a second context in a process would take over the first)."""
    from shaders.renderer import ShaderRenderer

    return ShaderRenderer(max_programs=64)


def _render(*args, **kwargs):
    return _renderer().render(*args, **kwargs)


def _cache_after_variants() -> tuple[int, int, list[str]]:
    """Cache sizes after one program twice, then the keys after 3 variants with room for 2."""
    renderer = _renderer()
    renderer._programs.clear()
    renderer.render(GRADIENT, 8)
    once = len(renderer._programs)
    renderer.render(GRADIENT, 8, {"u_time": 1.0})
    twice = len(renderer._programs)
    limit, renderer.max_programs = renderer.max_programs, 2
    try:
        for k in range(3):
            renderer.render(GRADIENT + f"// variant {k}\n", 8)
        return once, twice, list(renderer._programs)
    finally:
        renderer.max_programs = limit


def test_broken_program_raises_with_the_info_log(child):
    broken = HEADER + "void main() { frag_color = vec4(undefined_name); }\n"
    with pytest.raises(ShaderCompileError) as error:
        child(_render, broken, 16)
    message = str(error.value)
    assert "failed to compile" in message
    assert "undefined_name" in message  # the compiler's own words, with the culprit


def test_top_row_first_and_uniforms(child):
    image = child(_render, GRADIENT, 32, {"u_time": 0.5})
    assert image.shape == (32, 32, 3) and image.dtype == np.uint8
    # x grows to the right, y grows upwards in GL: row 0 is the top, so green is largest there.
    assert image[0, 0, 1] > 240 and image[-1, 0, 1] < 15
    assert image[0, 0, 0] < 15 and image[0, -1, 0] > 240
    assert abs(int(image[5, 5, 2]) - 128) <= 1


def test_single_channel_target(child):
    image = child(_render, GRADIENT, 16, None, 1)
    assert image.shape == (16, 16)
    rgb = child(_render, GRADIENT, 16, None, 3)
    assert np.array_equal(image, rgb[:, :, 0])


def test_programs_are_compiled_once_and_evicted_lru(child):
    once, twice, kept = child(_cache_after_variants)
    assert once == twice == 1  # new uniforms, same program: no second compile
    assert kept == [source_hash(GRADIENT + f"// variant {k}\n") for k in (1, 2)]


def test_bad_arguments_are_rejected(child):
    with pytest.raises(ValueError, match="channels=2 must be 1 or 3"):
        child(_render, GRADIENT, 8, None, 2)
    with pytest.raises(ValueError, match="size=0 must be in 1 .. 8192"):
        child(_render, GRADIENT, 0)


def test_torchvision_imports_after_shader_renders(renderer, child):
    """The regression test of conftest.py's segmentation fault: after renders through the
    service and the spawned child, this process holds no GL context and imports torchvision."""
    import sys

    assert renderer.render(GRADIENT, 8).shape == child(_render, GRADIENT, 8).shape == (8, 8, 3)
    assert "glcontext.egl" not in sys.modules
    pytest.importorskip("torchvision")  # crashed here while a GL context lived in this process
