"""The in-process renderer: compile errors, read-back layout, program cache."""

import numpy as np
import pytest

from shaders.helpers import HEADER
from shaders.renderer import ShaderCompileError

GRADIENT = HEADER + """
void main() {
    vec2 uv = gl_FragCoord.xy / u_resolution;
    frag_color = vec4(uv.x, uv.y, u_time, 1.0);
}
"""


def test_broken_program_raises_with_the_info_log(renderer):
    broken = HEADER + "void main() { frag_color = vec4(undefined_name); }\n"
    with pytest.raises(ShaderCompileError) as error:
        renderer.render(broken, 16)
    message = str(error.value)
    assert "failed to compile" in message
    assert "undefined_name" in message  # the compiler's own words, with the culprit


def test_top_row_first_and_uniforms(renderer):
    image = renderer.render(GRADIENT, 32, {"u_time": 0.5})
    assert image.shape == (32, 32, 3) and image.dtype == np.uint8
    # x grows to the right, y grows upwards in GL: row 0 is the top, so green is largest there.
    assert image[0, 0, 1] > 240 and image[-1, 0, 1] < 15
    assert image[0, 0, 0] < 15 and image[0, -1, 0] > 240
    assert abs(int(image[5, 5, 2]) - 128) <= 1


def test_single_channel_target(renderer):
    image = renderer.render(GRADIENT, 16, channels=1)
    assert image.shape == (16, 16)
    rgb = renderer.render(GRADIENT, 16, channels=3)
    assert np.array_equal(image, rgb[:, :, 0])


def test_programs_are_compiled_once_and_evicted_lru(renderer):
    before = len(renderer._programs)
    renderer.render(GRADIENT, 8)
    renderer.render(GRADIENT, 8, {"u_time": 1.0})
    assert len(renderer._programs) <= before + 1
    limit = renderer.max_programs
    renderer.max_programs = 2
    try:
        for k in range(3):
            renderer.render(GRADIENT + f"// variant {k}\n", 8)
        assert len(renderer._programs) == 2
    finally:
        renderer.max_programs = limit


def test_bad_arguments_are_rejected(renderer):
    with pytest.raises(ValueError, match="channels"):
        renderer.render(GRADIENT, 8, channels=2)
    with pytest.raises(ValueError, match="size"):
        renderer.render(GRADIENT, 0)
