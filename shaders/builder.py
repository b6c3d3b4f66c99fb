"""The state of one program being generated: its statements, helpers and cost.

:mod:`shaders.blocks` (the building blocks) and :mod:`shaders.grammar` (the four stages that
compose them) both use it; it imports neither, so the two do not import each other.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


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
