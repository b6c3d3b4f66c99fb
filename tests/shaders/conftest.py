"""Shader tests render in child processes only, as the toolkit does.

No test keeps a GL context in the pytest process. Mesa loads its llvmpipe driver
(``swrast_dri.so`` and its ``libLLVM-15``) with ``RTLD_GLOBAL``, which puts LLVM 15's symbols
into the process's global symbol scope. torch's ``import torchvision`` -> ``torch._dynamo``
imports triton, whose ``libtriton.so`` bundles a newer LLVM and exports it with default
visibility; the dynamic linker binds libtriton's references to the LLVM 15 definitions already
in the global scope, and libtriton's static initialisers (``PassBuilder.cpp`` registering a
``DebugCounter``) crash on the foreign objects: a segmentation fault in ``import torchvision``
for any test that ran after a shader test in the same process. (The other order works: an
extension module is loaded ``RTLD_LOCAL``, so Mesa's LLVM never sees triton's.) The render
service already gives every GL context its own process; the tests use it too, and the unit
tests of :class:`shaders.renderer.ShaderRenderer` run in a spawned child (:func:`child`).
"""

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor

import pytest

pytest.importorskip("moderngl")

from shaders.service import RenderService, default_environment  # noqa: E402

# The children (spawned and service) render with the service's llvmpipe settings.
for _name in ("LP_NUM_THREADS", "GALLIVM_PERF", "MESA_SHADER_CACHE_DIR"):
    os.environ.setdefault(_name, default_environment()[_name])


@pytest.fixture(scope="session")
def renderer():
    """A render service (the GL context lives in its child process)."""
    service = RenderService(timeout_s=300, max_programs=64)
    try:
        service.info
    except Exception as error:  # no EGL driver on this machine
        service.close()
        pytest.skip(f"no headless OpenGL context: {error}")
    yield service
    service.close()


@pytest.fixture(scope="session")
def child():
    """``child(function, *args)``: run a module-level function in one spawned process (kept
    for the session) and return its result; its exceptions are re-raised here."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        yield lambda function, *args: pool.submit(function, *args).result()
