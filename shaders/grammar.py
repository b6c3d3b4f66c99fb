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

from shaders.helpers import HEADER, helper_source


@dataclass(frozen=True)
class GrammarConfig:
    """Size limits of generated programs.

    Args:
        max_cost: per-pixel cost budget in value-noise evaluations (a 6-octave fbm costs 6).
        max_depth: deepest combinator nesting of a field tree.
        max_transforms: most coordinate transforms after the initial motion.
    """

    max_cost: float = 24.0
    max_depth: int = 3
    max_transforms: int = 3


@dataclass(frozen=True)
class Program:
    """A generated program: its complete ``source`` and its estimated per-pixel ``cost``."""

    source: str
    cost: float


class ProgramBuilder:
    """Accumulates the statements, helpers and cost of one program being generated."""

    def __init__(self, rng: np.random.Generator, config: GrammarConfig):
        self.rng = rng
        self.config = config
        self.lines: list[str] = []
        self.helpers: set[str] = set()
        self.cost = 0.0
        self._count = 0

    # --- literals ------------------------------------------------------------------------
    def num(self, low: float, high: float, digits: int = 3) -> str:
        """A float literal drawn from U(low, high)."""
        return f"{self.rng.uniform(low, high):.{digits}f}"

    def integer(self, low: int, high: int) -> int:
        """An integer drawn uniformly from ``low .. high`` (inclusive)."""
        return int(self.rng.integers(low, high + 1))

    def vec2(self, low: float, high: float) -> str:
        return f"vec2({self.num(low, high)}, {self.num(low, high)})"

    def vec3(self, low: float, high: float) -> str:
        return f"vec3({self.num(low, high)}, {self.num(low, high)}, {self.num(low, high)})"

    def direction(self) -> str:
        angle = self.rng.uniform(0.0, 2.0 * np.pi)
        return f"vec2({np.cos(angle):.3f}, {np.sin(angle):.3f})"

    def chance(self, probability: float) -> bool:
        return bool(self.rng.random() < probability)

    # --- statements ------------------------------------------------------------------------
    def emit(self, glsl_type: str, expression: str) -> str:
        """Append ``glsl_type vN = expression;`` and return the new variable's name."""
        name = f"v{self._count}"
        self._count += 1
        self.lines.append(f"    {glsl_type} {name} = {expression};")
        return name

    def use(self, *helpers: str) -> None:
        self.helpers.update(helpers)

    @property
    def budget(self) -> float:
        return self.config.max_cost - self.cost

    def choose(self, table: list, *args) -> str:
        """Pick a block from ``table`` (rows ``(weight, cost, function)``) that fits the budget.

        ``cost`` is the block's own cost (its sub-blocks pay for themselves); every table
        has free rows (cost 0), so a choice always exists.
        """
        rows = [row for row in table if row[1] <= self.budget]
        weights = np.array([row[0] for row in rows], dtype=float)
        _, cost, function = rows[int(self.rng.choice(len(rows), p=weights / weights.sum()))]
        self.cost += cost
        return function(self, *args)


def generate_program(rng: np.random.Generator, config: GrammarConfig = GrammarConfig()) -> Program:
    """Compose one random program from ``rng`` (deterministic for a given stream)."""
    from shaders import blocks

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
