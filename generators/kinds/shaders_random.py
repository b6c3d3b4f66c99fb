"""``shaders-random``: random GLSL programs from a grammar, rendered with moderngl.

Like Shaders21k (Baradad et al., NeurIPS 2022) a class is one shader program and its
instances are renders at different times; unlike it, the programs are generated: a grammar
(``shaders/grammar.py``) composes coordinate transforms, scalar fields, combinators and a
colour mapping into a type-correct program whose loops all have compile-time bounds and whose
per-pixel cost is at most ``max_cost`` value-noise evaluations. A class's program is derived
from ``(seed, class index)``; a candidate that fails to compile or renders a (nearly)
constant ``check_size``² image is replaced by the next candidate of the class stream
(counted as ``rejections`` in ``dataset.json``). The program's complete source is part of the
class parameters, so every sample's ``.json`` holds what is needed to re-render it
(``shaders.reproduce.render_from_meta``).

An instance draws ``u_time ~ U(0, time_range)`` and a noise seed. Renders run in a watched
child process; one that exceeds ``timeout_s`` is killed and the sample fails with a clear
error (no replacement image, which would make the dataset depend on machine speed).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from generators.kinds._shadercalls import class_check, render_program
from generators.params import check_fields, param
from generators.registry import Kind, register


@dataclass(frozen=True)
class RandomShadersParams:
    num_classes: int = param(1000, "number of generated programs (classes)", low=1,
                             high=1_000_000)
    max_cost: float = param(24.0, "per-pixel cost budget of a program, in value-noise "
                                  "evaluations (a 6-octave fbm costs 6)", low=1.0, high=200.0)
    max_depth: int = param(3, "deepest nesting of field combinators", low=0, high=6)
    max_transforms: int = param(3, "most coordinate transforms after the motion", low=0, high=8)
    time_range: float = param(10.0, "instance time u_time ~ U(0, time_range) seconds",
                              low=0.0, high=1e6)
    check_size: int = param(64, "side of the class check render in pixels", low=8, high=1024)
    timeout_s: float = param(60.0, "time limit of one render (compile + draw) in seconds",
                             low=0.1, high=86400.0)

    def __post_init__(self):
        check_fields(self)


def make_random_shaders_context(params):
    from shaders.service import RenderService

    return RenderService(timeout_s=params.timeout_s)


def sample_random_shaders_class(params: RandomShadersParams, rng: np.random.Generator):
    from shaders.classes import sample_random_class
    from shaders.context import class_check_service
    from shaders.grammar import GrammarConfig

    service = class_check_service(params.timeout_s)
    config = GrammarConfig(max_cost=params.max_cost, max_depth=params.max_depth,
                           max_transforms=params.max_transforms)
    return sample_random_class(
        rng, config,
        lambda source, uniforms: class_check(service, source, params.check_size, uniforms,
                                             "shaders-random"),
        params.time_range)


def render_random_shaders(params: RandomShadersParams, rng: np.random.Generator, size: int,
                          class_params, context=None):
    from shaders.context import class_check_service

    # Callers without a worker context (tests, one-off renders) share the process's service.
    context = context if context is not None else class_check_service(params.timeout_s)

    source = class_params["source"] if isinstance(class_params, dict) else class_params.source
    time = round(float(rng.uniform(0.0, params.time_range)), 4)
    seed = int(rng.integers(0, 2**31))
    image = render_program(context, source, size, {"u_time": time, "u_seed": seed},
                           f"shaders-random (time {time}, seed {seed})")
    return image, {"time": time, "seed": seed}


register(Kind(name="shaders-random", params_type=RandomShadersParams,
              render=render_random_shaders,
              summary="random GLSL programs from a grammar (bounded loops), moderngl",
              channels=3, sample_class=sample_random_shaders_class,
              make_context=make_random_shaders_context, requires=("moderngl",),
              install_hint="pip install moderngl; and an EGL driver "
              "(Debian/Ubuntu: apt install libegl1 libgl1 libgl1-mesa-dri)",
              class_stats=("rejections",)))
