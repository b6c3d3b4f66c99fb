"""Re-rendering a sample of ``shaders`` or ``shaders-random`` from its ``.json`` alone.

A ``shaders-random`` sample's metadata holds the program's complete source
(``class_params.source``) and the instance uniforms (``time``, ``seed``); a ``shaders``
sample's holds the family name and uniforms (the family's source ships with this package).
Pixels match the shard's exactly on the same renderer (e.g. the same Mesa version).
"""

from __future__ import annotations

from typing import Any

import numpy as np


def program_and_uniforms(meta: dict) -> tuple[str, dict[str, Any]]:
    """The fragment program and uniform values of a sample, from its metadata."""
    from shaders.library import get_family, uniform_values

    class_params = meta["class_params"]
    uniforms: dict[str, Any] = {"u_time": float(meta["time"]), "u_seed": int(meta["seed"])}
    if "source" in class_params:
        return class_params["source"], uniforms
    uniforms.update(uniform_values(class_params["uniforms"]))
    return get_family(class_params["family"]).source, uniforms


def render_from_meta(meta: dict, size: int, renderer: Any = None) -> np.ndarray:
    """The RGB image (``size`` x ``size`` x 3, uint8) of the sample described by ``meta``.

    ``renderer`` is a :class:`~shaders.renderer.ShaderRenderer` or
    :class:`~shaders.service.RenderService` (a new render service if omitted).
    """
    from shaders.service import RenderService

    source, uniforms = program_and_uniforms(meta)
    if renderer is not None:
        return renderer.render(source, size, uniforms, channels=3)
    with RenderService() as service:
        return service.render(source, size, uniforms, channels=3)
