"""The shared GLSL helper sections (``common.glsl``) and the standard program header.

``common.glsl`` is split into sections that start with ``//@ name: dep1 dep2``. A program
asks for the helpers it calls; :func:`helper_source` returns those sections plus their
dependencies, in file order, so the result compiles on its own.
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources

#: Uniforms every program may use (see :mod:`shaders.renderer`), and its one output.
HEADER = """#version 330
uniform vec2 u_resolution;
uniform float u_time;
uniform uint u_seed;
out vec4 frag_color;
"""

_SECTION = re.compile(r"^//@ ([a-z0-9_]+)(?::(.*))?$")


@lru_cache(maxsize=None)
def helper_sections() -> dict[str, tuple[tuple[str, ...], str]]:
    """``name -> (dependencies, source)`` for every section of ``common.glsl``, in file order."""
    text = resources.files("shaders").joinpath("common.glsl").read_text()
    sections: dict[str, tuple[tuple[str, ...], str]] = {}
    name, deps, lines = None, (), []
    for line in text.splitlines():
        match = _SECTION.match(line)
        if match:
            if name is not None:
                sections[name] = (deps, "\n".join(lines).strip() + "\n")
            name = match.group(1)
            deps = tuple((match.group(2) or "").split())
            lines = []
        elif name is not None:
            lines.append(line)
    if name is not None:
        sections[name] = (deps, "\n".join(lines).strip() + "\n")
    return sections


def helper_source(names: set[str] | frozenset[str] | list[str] | tuple[str, ...]) -> str:
    """Source of the requested helper sections and everything they depend on."""
    sections = helper_sections()
    needed: set[str] = set()

    def visit(name: str) -> None:
        if name not in sections:
            raise KeyError(f"unknown GLSL helper {name!r}; known: {', '.join(sections)}")
        if name in needed:
            return
        needed.add(name)
        for dep in sections[name][0]:
            visit(dep)

    for name in names:
        visit(name)
    return "\n".join(sections[n][1] for n in sections if n in needed)
