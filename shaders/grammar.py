"""A grammar of random, type-correct GLSL fragment programs.

A program is built in four stages, each a random choice among building blocks
(:mod:`shaders.blocks`):

1. coordinate transforms ``vec2 -> vec2`` (a time-dependent motion first, then rotations,
   folds, tilings, polar maps, swirls, inversions, sine and noise warps);
2. scalar fields ``vec2 -> float`` in about ``[0, 1]`` (noise, fbm, cellular, waves, tilings,
   Truchet, escape-time, SDF shapes, ...);
3. combinators that join fields into trees (mix, product, min/max, difference, thresholds,
   sine folding, domain warping of a sub-tree by two other fields);
4. a colour mapping ``float(s) -> vec3`` (cosine palette, HSV, two-colour mix, channels).

Every block has a per-pixel cost in units of one value-noise evaluation; blocks are only
chosen while the remaining cost budget allows them, so a program's cost is bounded by
construction. Loops appear only inside helpers with compile-time bounds (fbm <= 8 octaves,
escape time <= 64, cellular 3x3), so every program terminates. The program text includes
exactly the helper functions it calls (``shaders/common.glsl``), so it compiles on its own.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from shaders import blocks
from shaders.builder import GrammarConfig, ProgramBuilder
from shaders.helpers import HEADER, helper_source


@dataclass(frozen=True)
class Program:
    """A generated program: its complete ``source`` and its estimated per-pixel ``cost``."""

    source: str
    cost: float


def generate_program(rng: np.random.Generator, config: GrammarConfig = GrammarConfig()) -> Program:
    """Compose one random program from ``rng`` (deterministic for a given stream)."""
    builder = ProgramBuilder(rng, config)
    coords = builder.emit("vec2", "(2.0 * gl_FragCoord.xy - u_resolution) / u_resolution.y")
    coords = builder.choose(blocks.MOTIONS, coords)
    for _ in range(builder.integer(0, config.max_transforms)):
        coords = builder.choose(blocks.TRANSFORMS, coords)
    colour = blocks.colour_mapping(builder, coords)
    body = "\n".join(builder.lines)
    source = "\n".join([
        HEADER,
        helper_source(sorted(builder.helpers)),
        "void main() {",
        body,
        f"    frag_color = vec4(clamp({colour}, 0.0, 1.0), 1.0);",
        "}",
        "",
    ])
    return Program(source=source, cost=round(builder.cost, 2))
