"""The watched render service: watchdog, errors across the process boundary, determinism."""

import time

import numpy as np
import pytest

from shaders.helpers import HEADER
from shaders.library import get_family, sample_family_uniforms, uniform_values
from shaders.renderer import ShaderCompileError, ShaderTimeoutError
from shaders.service import RenderService
from tests.shaders.programs import ENDLESS


def _plasma():
    uniforms = uniform_values(sample_family_uniforms(np.random.default_rng(5)))
    return get_family("plasma").source, {**uniforms, "u_time": 1.25, "u_seed": 7}


def test_watchdog_kills_a_render_over_the_limit_and_recovers():
    source, uniforms = _plasma()
    with RenderService(timeout_s=1.5) as service:
        expected = service.render(source, 64, uniforms)
        first_pid = service.pid
        start = time.monotonic()
        with pytest.raises(ShaderTimeoutError, match="time limit of 1.5 s"):
            service.render(ENDLESS, 128, {"u_time": 1.0})
        assert time.monotonic() - start < 10
        assert service.pid is None and service.restarts == 1
        again = service.render(source, 64, uniforms)  # a fresh child takes over
        assert service.pid != first_pid
        assert np.array_equal(again, expected)


def test_compile_error_crosses_the_process_boundary():
    with RenderService(timeout_s=30) as service:
        with pytest.raises(ShaderCompileError, match="undeclared|undefined_name"):
            service.render(HEADER + "void main() { frag_color = undefined_name; }\n", 8)
        assert service.info["renderer"]  # still alive after the error


def _render_in_process(source, size, uniforms):
    from shaders.renderer import ShaderRenderer

    return ShaderRenderer().render(source, size, uniforms)


def test_same_bytes_in_process_and_with_one_or_two_rasteriser_threads():
    """The service's bytes equal a direct render in a fresh process (not this one: conftest)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    source, uniforms = _plasma()
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        local = pool.submit(_render_in_process, source, 96, uniforms).result()
    for threads in ("1", "2"):
        with RenderService(timeout_s=30, environment={"LP_NUM_THREADS": threads}) as service:
            assert np.array_equal(service.render(source, 96, uniforms), local), threads


def test_invalid_time_limit():
    with pytest.raises(ValueError, match="timeout_s"):
        RenderService(timeout_s=0)
