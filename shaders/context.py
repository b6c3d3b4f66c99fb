"""Per-process render services and the class check render.

The shard renderer builds one context per worker (``make_context``) but samples class
parameters elsewhere (a pool, or the main process) without a context. Class sampling of
the shader kinds needs a test render (the degeneracy check), so :func:`class_check_service`
keeps one :class:`~shaders.service.RenderService` per process and time limit, created on
first use. It is the only process-wide state of the package: a cache, never read for
anything but rendering, and its child process exits with this one.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Mapping

from shaders.checks import degeneracy
from shaders.renderer import ShaderCompileError
from shaders.service import RenderService


@lru_cache(maxsize=None)
def class_check_service(timeout_s: float) -> RenderService:
    """This process's render service for class checks (one per time limit)."""
    return RenderService(timeout_s=timeout_s, max_programs=64)


def check_program(service: RenderService, source: str, size: int,
                  uniforms: Mapping[str, Any]) -> str | None:
    """Why the program is rejected (compile error, degenerate image), or ``None`` if it passes.

    A time-out is *not* a rejection: it raises :class:`~shaders.renderer.ShaderTimeoutError`,
    because a verdict that depended on the machine's speed would make class parameters differ
    between machines.
    """
    try:
        image = service.render(source, size, uniforms, channels=3)
    except ShaderCompileError as error:
        return f"compile error: {error}"
    return degeneracy(image)
