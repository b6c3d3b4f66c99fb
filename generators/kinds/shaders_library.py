"""``shaders``: the hand-written GLSL library x random uniforms, rendered with moderngl.

In the spirit of Shaders1k / Shaders21k (Baradad et al., "Procedural Image Programs for
Representation Learning", NeurIPS 2022), where classes are shader programs and instances
are frames at different times. Here the programs are our own (``shaders/library/*.glsl``,
39 families: fbm and gradient noise, domain warping, cellular patterns, interference and
moire, stripes and tilings, Truchet, polar/spiral/kaleidoscope, escape-time fractals,
raymarched SDF scenes, reaction-diffusion-like patterns, ...), and a class is a family with
drawn shape parameters and a cosine palette, so a few dozen compiled programs give any number
of classes. An instance draws ``u_time ~ U(0, time_range)`` and a noise seed.

A class's parameters are accepted only if a ``check_size``² test render is not (nearly)
constant; rejected draws are replaced by the next draw of the class stream and counted
(``rejections`` in ``dataset.json``). Every render runs in a watched child process: one that
exceeds ``timeout_s`` is killed and the sample fails with a clear error (no replacement image,
since a replacement would make the dataset depend on the machine's speed). See docs/shaders.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from generators.kinds._shadercalls import class_check, render_program
from generators.params import check_fields, param
from generators.registry import Kind, register


@dataclass(frozen=True)
class ShadersParams:
    num_classes: int = param(1000, "classes = (family, shape parameters, palette) draws",
                             low=1, high=1_000_000)
    families: str = param("all", "comma-separated library families, or 'all' "
                                 "(see docs/shaders.md for the list)")
    time_range: float = param(10.0, "instance time u_time ~ U(0, time_range) seconds",
                              low=0.0, high=1e6)
    check_size: int = param(64, "side of the class check render in pixels", low=8, high=1024)
    timeout_s: float = param(60.0, "time limit of one render (compile + draw) in seconds",
                             low=0.1, high=86400.0)

    def __post_init__(self):
        check_fields(self)
        if self.families != "all":
            from shaders.library import family_names

            known = set(family_names())
            for name in self.families.split(","):
                if name.strip() not in known:
                    raise ValueError(f"parameter families={self.families!r}: unknown family "
                                     f"{name.strip()!r}; known: {', '.join(sorted(known))}")

    def family_names(self) -> tuple[str, ...]:
        from shaders.library import family_names

        if self.families == "all":
            return family_names()
        return tuple(sorted({name.strip() for name in self.families.split(",")}))


def make_shaders_context(params):
    from shaders.service import RenderService

    # Room for every family (39 x ~2-3 MB): classes arrive in random family order, and an
    # LRU smaller than the library would recompile on most switches.
    return RenderService(timeout_s=params.timeout_s, max_programs=64)


def sample_shaders_class(params: ShadersParams, rng: np.random.Generator):
    from shaders.classes import sample_library_class
    from shaders.context import class_check_service

    service = class_check_service(params.timeout_s)
    return sample_library_class(
        params.family_names(), rng,
        lambda source, uniforms: class_check(service, source, params.check_size, uniforms,
                                             "shaders"),
        params.time_range)


def render_shaders(params: ShadersParams, rng: np.random.Generator, size: int, class_params,
                   context=None):
    from shaders.library import get_family, uniform_values
    from shaders.context import class_check_service

    # Callers without a worker context (tests, one-off renders) share the process's service.
    context = context if context is not None else class_check_service(params.timeout_s)

    family = class_params["family"] if isinstance(class_params, dict) else class_params.family
    uniforms = class_params["uniforms"] if isinstance(class_params, dict) else class_params.uniforms
    time = round(float(rng.uniform(0.0, params.time_range)), 4)
    seed = int(rng.integers(0, 2**31))
    values = {**uniform_values(uniforms), "u_time": time, "u_seed": seed}
    image = render_program(context, get_family(family).source, size, values,
                           f"shaders family {family} (time {time}, seed {seed})")
    return image, {"time": time, "seed": seed}


register(Kind(name="shaders", params_type=ShadersParams, render=render_shaders,
              summary="GLSL library families x random uniforms, moderngl (EGL/llvmpipe)",
              channels=3, sample_class=sample_shaders_class, make_context=make_shaders_context,
              requires=("moderngl",), install_hint="pip install moderngl; and an EGL driver "
              "(Debian/Ubuntu: apt install libegl1 libgl1 libgl1-mesa-dri)",
              class_stats=("rejections",)))
