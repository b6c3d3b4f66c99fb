"""Shader tests render in this process too: give its llvmpipe the same settings as the
render service's child (one thread, fast compiles, the shared Mesa shader disk cache)."""

import os

import pytest

pytest.importorskip("moderngl")

from shaders.service import default_environment  # noqa: E402

for _name in ("LP_NUM_THREADS", "GALLIVM_PERF", "MESA_SHADER_CACHE_DIR"):
    os.environ.setdefault(_name, default_environment()[_name])


@pytest.fixture(scope="session")
def renderer():
    from shaders.renderer import ShaderRenderer

    try:
        instance = ShaderRenderer(max_programs=64)
    except Exception as error:  # no EGL driver on this machine
        pytest.skip(f"no headless OpenGL context: {error}")
    yield instance
    instance.release()
