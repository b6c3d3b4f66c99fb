"""The library of hand-written GLSL families (``shaders/library/*.glsl``) and their instances.

Each family file defines ``vec3 image(vec2 p)`` for ``p`` in ``[-1, 1]^2`` and reads its
shape from eight parameters in ``[0, 1]`` (``u_p0``, ``u_p1``), its colours from a cosine
palette (``pal(t)``, four ``vec3`` uniforms), its animation from ``u_time`` and its noise
lattice from ``u_seed``. One compiled program therefore yields unlimited instances: a *class*
is (family, parameters, palette), an *instance* adds a time and a seed.

The first line of each file is ``// name: one-line description``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np

from shaders.helpers import HEADER, helper_source

LIBRARY_UNIFORMS = """uniform vec4 u_p0;
uniform vec4 u_p1;
uniform vec3 u_pal_a;
uniform vec3 u_pal_b;
uniform vec3 u_pal_c;
uniform vec3 u_pal_d;
"""

LIBRARY_HELPERS = ("hash", "vnoise", "gnoise", "fbm", "ridged", "voronoi", "rot", "cospal", "tri")

PALETTE_FUNCTION = """vec3 pal(float t) {
    return cospal(t, u_pal_a, u_pal_b, u_pal_c, u_pal_d);
}
"""

MAIN = """void main() {
    vec2 p = (2.0 * gl_FragCoord.xy - u_resolution) / u_resolution.y;
    frag_color = vec4(clamp(image(p), 0.0, 1.0), 1.0);
}
"""


@dataclass(frozen=True)
class Family:
    """One library program: ``name`` (file stem), ``description`` and its ``image`` code."""

    name: str
    description: str
    body: str

    @property
    def source(self) -> str:
        """The complete fragment program."""
        return library_program(self.body)


def library_program(body: str) -> str:
    """Header, uniforms, helpers, palette and ``main`` around a family's ``image`` function."""
    return "\n".join([HEADER, LIBRARY_UNIFORMS, helper_source(LIBRARY_HELPERS),
                      PALETTE_FUNCTION, body, MAIN])


@lru_cache(maxsize=None)
def families() -> tuple[Family, ...]:
    """Every family of the library, sorted by name (the order defines family indices)."""
    folder = resources.files("shaders").joinpath("library")
    found = []
    for entry in folder.iterdir():
        if not entry.name.endswith(".glsl"):
            continue
        text = entry.read_text()
        first = text.splitlines()[0] if text else ""
        name = entry.name[: -len(".glsl")]
        prefix = f"// {name}:"
        if not first.startswith(prefix):
            raise ValueError(f"{entry.name}: first line must start with {prefix!r}")
        found.append(Family(name=name, description=first[len(prefix):].strip(), body=text))
    return tuple(sorted(found, key=lambda f: f.name))


def family_names() -> tuple[str, ...]:
    return tuple(f.name for f in families())


def get_family(name: str) -> Family:
    for family in families():
        if family.name == name:
            return family
    raise KeyError(f"unknown shader family {name!r}; known: {', '.join(family_names())}")


def sample_palette(rng: np.random.Generator) -> dict[str, list[float]]:
    """A random cosine palette ``a + b cos(2 pi (c t + d))`` that stays mostly inside [0, 1].

    Ranges are ours: offset a ~ U(0.3, 0.7), amplitude b ~ U(0.2, 0.5) per channel (so
    a +- b stays near [0, 1]), frequency c ~ U(0.3, 1.5), phase d ~ U(0, 1).
    """
    return {
        "u_pal_a": rng.uniform(0.3, 0.7, 3).round(4).tolist(),
        "u_pal_b": rng.uniform(0.2, 0.5, 3).round(4).tolist(),
        "u_pal_c": rng.uniform(0.3, 1.5, 3).round(4).tolist(),
        "u_pal_d": rng.uniform(0.0, 1.0, 3).round(4).tolist(),
    }


def sample_family_uniforms(rng: np.random.Generator) -> dict[str, list[float]]:
    """The eight shape parameters ``u_p0``, ``u_p1`` ~ U(0, 1) and a palette."""
    uniforms = {"u_p0": rng.uniform(0.0, 1.0, 4).round(4).tolist(),
                "u_p1": rng.uniform(0.0, 1.0, 4).round(4).tolist()}
    uniforms.update(sample_palette(rng))
    return uniforms


def uniform_values(uniforms: dict[str, list[float]]) -> dict[str, tuple[float, ...]]:
    """JSON lists -> the tuples moderngl expects."""
    return {name: tuple(float(v) for v in value) for name, value in uniforms.items()}
