"""Class parameters of the two shader kinds, drawn from a class random stream.

* ``shaders``: a class is a library family (drawn uniformly) with drawn shape parameters
  and a palette.
* ``shaders-random``: a class is one grammar program; its complete source is part of the
  class parameters (stored in every sample's ``.json``).

A candidate that fails to compile or renders a (near-)constant image is rejected and
replaced by the next candidate from the *same* class stream, so the accepted class depends
only on ``(seed, class index)`` and the renderer's pixels. ``rejections`` counts the
replaced candidates (summed over classes into ``dataset.json``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from shaders.grammar import GrammarConfig, generate_program
from shaders.library import families, sample_family_uniforms
from shaders.renderer import source_hash

#: Candidates tried per class before giving up with an error.
MAX_ATTEMPTS = 64

#: ``check(source, uniforms) -> reason or None``: the test render of a candidate.
Check = Callable[[str, dict], "str | None"]


class ClassRejectedError(RuntimeError):
    """No acceptable candidate within :data:`MAX_ATTEMPTS` draws."""


@dataclass(frozen=True)
class LibraryClass:
    """A library family with fixed shape parameters and palette (uniform name -> values)."""

    family: str
    uniforms: dict = field(default_factory=dict)
    rejections: int = 0


@dataclass(frozen=True)
class RandomProgramClass:
    """One grammar program: ``source`` (complete GLSL), its ``program`` hash (16 hex digits),
    estimated per-pixel ``cost`` (value-noise evaluations) and replaced candidates."""

    source: str
    program: str
    cost: float
    rejections: int = 0


def check_uniforms(time_range: float) -> dict:
    """Uniforms of a class's test render: mid-range time, instance seed 0."""
    return {"u_time": 0.5 * time_range, "u_seed": 0}


def sample_library_class(family_names: tuple[str, ...], rng: np.random.Generator, check: Check,
                         time_range: float) -> LibraryClass:
    """A family drawn uniformly from ``family_names`` with parameters that pass ``check``."""
    name = family_names[int(rng.integers(len(family_names)))]
    source = next(f for f in families() if f.name == name).source
    reasons = []
    for attempt in range(MAX_ATTEMPTS):
        uniforms = sample_family_uniforms(rng)
        reason = check(source, {**uniforms, **check_uniforms(time_range)})
        if reason is None:
            return LibraryClass(family=name, uniforms=uniforms, rejections=attempt)
        reasons.append(reason)
    raise ClassRejectedError(f"family {name}: no acceptable parameters in "
                             f"{MAX_ATTEMPTS} draws; last reason: {reasons[-1]}")


def sample_random_class(rng: np.random.Generator, config: GrammarConfig, check: Check,
                        time_range: float) -> RandomProgramClass:
    """The first grammar program from ``rng`` that passes ``check``."""
    reasons = []
    for attempt in range(MAX_ATTEMPTS):
        program = generate_program(rng, config)
        reason = check(program.source, check_uniforms(time_range))
        if reason is None:
            return RandomProgramClass(source=program.source, program=source_hash(program.source)[:16],
                                      cost=program.cost, rejections=attempt)
        reasons.append(reason)
    raise ClassRejectedError(f"no acceptable program in {MAX_ATTEMPTS} candidates; "
                             f"last reason: {reasons[-1]}")
