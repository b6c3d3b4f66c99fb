"""The shader kinds' calls into :mod:`shaders`, with its errors translated for the renderer.

The ``shaders`` package sits below ``generators`` (docs/design.md, "Layers") and raises its
own :class:`shaders.renderer.ShaderError`; here a time-out becomes the renderer-neutral
:class:`~generators.registry.RenderError`, which ``synthgen render`` reports in one line.
A time-out is never turned into a rejection or a replacement image: either would make the
dataset depend on the machine's speed.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from generators.registry import RenderError

_SLOW_HINT = "raise --param timeout_s=... if the machine is slow"


def class_check(service, source: str, size: int, uniforms: Mapping[str, Any],
                what: str) -> str | None:
    """Why a class draw is rejected, or ``None`` (:func:`shaders.context.check_program`)."""
    from shaders.context import check_program
    from shaders.renderer import ShaderTimeoutError

    try:
        return check_program(service, source, size, uniforms)
    except ShaderTimeoutError as error:
        raise RenderError(f"{what} class check: {error}; {_SLOW_HINT}") from None


def render_program(service, source: str, size: int, uniforms: Mapping[str, Any],
                   what: str) -> np.ndarray:
    """One RGB render of ``source`` by ``service``; ``what`` names the sample in errors."""
    from shaders.renderer import ShaderTimeoutError

    try:
        return service.render(source, size, uniforms, channels=3)
    except ShaderTimeoutError as error:
        raise RenderError(f"{what}: {error}; {_SLOW_HINT}") from None
