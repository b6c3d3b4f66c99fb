"""Building blocks of the program grammar (:mod:`shaders.grammar`).

Tables hold rows ``(weight, cost, function)``; a function receives the
:class:`~shaders.builder.ProgramBuilder` and the name of a ``vec2`` (coordinates) or
``float`` variables, emits statements and returns the name of its result. Costs are per-pixel
value-noise evaluations (a value noise = 4 integer hashes); a few arithmetic operations cost
0.1-0.3 and the simplest leaves (one sine or floor) are free, so a choice always fits the budget.
Every field returns roughly ``[0, 1]``. All weights and ranges are ours.
"""

from __future__ import annotations

import math

from shaders.builder import ProgramBuilder as B


# --- 1. coordinate transforms (vec2 -> vec2) -----------------------------------------------
def _scaled(b: B, q: str) -> str:
    return b.emit("vec2", f"{q} * {b.num(0.5, 2.0)}")


MOTIONS = [  # the first transform: what changes with u_time
    (3, 0.0, lambda b, q: b.emit("vec2", f"{q} * {b.num(0.5, 1.5)} + u_time * {b.vec2(-0.25, 0.25)}")),
    (2, 0.0, lambda b, q: (b.use("rot"), b.emit(
        "vec2", f"rot({b.num(0, 6.283)} + u_time * {b.num(-0.4, 0.4)}) * {q} * {b.num(0.5, 1.5)}"))[1]),
    (1, 0.0, lambda b, q: b.emit(
        "vec2", f"{q} * ({b.num(0.6, 1.5)} + {b.num(0.05, 0.3)} * sin(u_time * {b.num(0.2, 1.0)}))")),
]


def _fold_kaleido(b: B, q: str) -> str:
    b.use("kfold")
    return b.emit("vec2", f"kfold({q}, {float(b.integer(3, 12)):.1f})")


def _polar(b: B, q: str) -> str:
    # An integer angular multiple keeps the seam at +-pi continuous for periodic fields.
    return b.emit("vec2", f"vec2(atan({q}.y, {q}.x) * {float(b.integer(1, 6)):.1f} / 3.14159265, "
                          f"length({q}) * {b.num(0.5, 3.0)})")


def _log_polar(b: B, q: str) -> str:
    return b.emit("vec2", f"vec2(atan({q}.y, {q}.x) * {float(b.integer(1, 6)):.1f} / 3.14159265, "
                          f"log(length({q}) + 0.001) * {b.num(0.5, 2.0)})")


def _noise_warp(b: B, q: str) -> str:
    x = field(b, q, depth=b.config.max_depth)  # the sub-fields pay for their own cost
    y = field(b, b.emit("vec2", f"{q} + {b.vec2(-9, 9)}"), depth=b.config.max_depth)
    return b.emit("vec2", f"{q} + {b.num(0.2, 1.5)} * (vec2({x}, {y}) - 0.5)")


TRANSFORMS = [
    (3, 0.0, lambda b, q: (b.use("rot"), b.emit("vec2", f"rot({b.num(0, 6.283)}) * {q}"))[1]),
    (2, 0.0, _scaled),
    (2, 0.0, lambda b, q: b.emit("vec2", f"abs({q}) - {b.num(0.0, 0.8)}")),
    (2, 0.1, _fold_kaleido),
    (2, 0.1, lambda b, q: b.emit("vec2", f"fract({q} * {b.num(0.5, 3.0)}) - 0.5")),
    (1, 0.1, _polar),
    (1, 0.1, _log_polar),
    (2, 0.1, lambda b, q: (b.use("rot"), b.emit(
        "vec2", f"rot(length({q}) * {b.num(-4.0, 4.0)}) * {q}"))[1]),
    (1, 0.0, lambda b, q: b.emit("vec2", f"{q} / max(dot({q}, {q}), {b.num(0.05, 0.3)})")),
    (1, 0.0, lambda b, q: b.emit("vec2", f"{q} * (1.0 + {b.num(-0.4, 0.8)} * dot({q}, {q}))")),
    (2, 0.1, lambda b, q: b.emit(
        "vec2", f"{q} + {b.num(0.05, 0.5)} * sin({q}.yx * {b.num(1.0, 8.0)} + u_time * {b.num(-1, 1)})")),
    (2, 2.0, _noise_warp),
]


# --- 2. scalar fields (vec2 -> float in ~[0, 1]) -------------------------------------------
def _at(b: B, q: str, low: float, high: float) -> str:
    """``q`` scaled and offset for one leaf (so sibling leaves sample different places)."""
    return f"({q} * {b.num(low, high)} + {b.vec2(-20, 20)})"


def _fbm(b: B, q: str, octaves: int) -> str:
    b.use("fbm")
    # fbm concentrates around 0.5; stretching by 2 uses the whole [0, 1] range.
    return b.emit("float", f"clamp(fbm({_at(b, q, 0.7, 3)}, {octaves}, {b.num(1.8, 2.6)}, "
                           f"{b.num(0.35, 0.65)}) * 2.0 - 0.5, 0.0, 1.0)")


def _ridged(b: B, q: str, octaves: int) -> str:
    b.use("ridged")
    return b.emit("float", f"ridged({_at(b, q, 0.7, 3)}, {octaves}, {b.num(1.8, 2.6)}, {b.num(0.35, 0.65)})")


def _cellular(b: B, q: str) -> str:
    b.use("voronoi")
    v = b.emit("vec3", f"voronoi({_at(b, q, 1.5, 6)}, {b.num(0.3, 1.0)})")
    options = [f"clamp({v}.x * 1.3, 0.0, 1.0)", f"clamp(({v}.y - {v}.x) * 2.5, 0.0, 1.0)",
               f"{v}.z", f"clamp({v}.y * 0.9, 0.0, 1.0)",
               f"mix({v}.z, smoothstep(0.0, 0.1, {v}.y - {v}.x), 0.5)"]
    return b.emit("float", options[b.integer(0, len(options) - 1)])


def _waves(b: B, q: str) -> str:
    n = b.integer(3, 7)
    k = b.num(4.0, 15.0)
    offset = b.rng.uniform(0.0, 3.14159)
    terms = []
    for i in range(n):
        angle = offset + 3.14159265 * i / n
        terms.append(f"cos(dot({q}, vec2({math.cos(angle):.4f}, {math.sin(angle):.4f})) * {k} + u_time * {b.num(-1, 1)})")
    return b.emit("float", f"0.5 + 0.5 * ({' + '.join(terms)}) / {float(n):.1f}")


def _julia(b: B, q: str) -> str:
    b.use("julia")
    angle = b.rng.uniform(0.0, 6.283)
    radius = b.rng.uniform(0.62, 0.8)  # near the main cardioid's edge, where Julia sets are rich
    c = f"vec2({radius * math.cos(angle):.4f}, {radius * math.sin(angle):.4f})"
    return b.emit("float", f"julia({q} * {b.num(0.6, 1.6)}, {c}, {b.integer(16, 40)})")


def _stripes(b: B, q: str) -> str:
    return b.emit("float", f"0.5 + 0.5 * sin(dot({q}, {b.direction()}) * {b.num(3, 20)} + u_time * {b.num(-2, 2)})")


def _rings(b: B, q: str) -> str:
    return b.emit("float", f"0.5 + 0.5 * sin(length({q} - {b.vec2(-1, 1)}) * {b.num(4, 25)} - u_time * {b.num(-2, 2)})")


def _spiral(b: B, q: str) -> str:
    return b.emit("float", f"0.5 + 0.5 * sin({float(b.integer(1, 9)):.1f} * atan({q}.y, {q}.x) + "
                           f"{b.num(-10, 10)} * log(length({q}) + 0.001) + u_time * {b.num(-2, 2)})")


def _checker(b: B, q: str) -> str:
    s = b.num(1.5, 6.0)
    return b.emit("float", f"mod(floor({q}.x * {s}) + floor({q}.y * {s}), 2.0)")


def _grid(b: B, q: str) -> str:
    g = b.emit("vec2", f"abs(fract({q} * {b.num(1.5, 6.0)}) - 0.5)")
    return b.emit("float", f"smoothstep(0.0, {b.num(0.03, 0.25)}, min({g}.x, {g}.y))")


def _dots(b: B, q: str) -> str:
    r = b.rng.uniform(0.15, 0.45)
    return b.emit("float", f"smoothstep({r:.3f}, {r - 0.08:.3f}, length(fract({q} * {b.num(1.5, 6.0)}) - 0.5))")


def _tiles(b: B, q: str) -> str:
    b.use("hash")
    return b.emit("float", f"hash21(ivec2(floor({_at(b, q, 1.5, 6)})))")


def _truchet(b: B, q: str) -> str:
    b.use("truchet")
    d = b.emit("float", f"truchet({_at(b, q, 2, 6)})")
    if b.chance(0.5):
        return b.emit("float", f"smoothstep({b.num(0.05, 0.2)}, 0.0, {d})")
    return b.emit("float", f"0.5 + 0.5 * cos({d} * {b.num(10, 40)})")


def _boxes(b: B, q: str) -> str:
    b.use("sdbox")
    d = b.emit("float", f"sdbox(fract({q} * {b.num(1.0, 6.0)}) - 0.5, {b.vec2(0.1, 0.4)})")
    if b.chance(0.5):
        return b.emit("float", f"smoothstep({b.num(0.02, 0.08)}, 0.0, abs({d}))")
    return b.emit("float", f"0.5 + 0.5 * cos({d} * {b.num(15, 60)})")


def _hex(b: B, q: str) -> str:
    b.use("hexdist")
    d = b.emit("float", f"hexdist({_at(b, q, 1.5, 6)})")
    if b.chance(0.5):
        return b.emit("float", f"clamp({d} * 1.73, 0.0, 1.0)")
    return b.emit("float", f"smoothstep(0.5, {b.num(0.3, 0.45)}, {d})")


def _triangle_weave(b: B, q: str) -> str:
    b.use("tri")
    return b.emit("float", f"tri({q}.x * {b.num(0.5, 5)} + tri({q}.y * {b.num(0.5, 5)}) * {b.num(0.2, 2)})")


def _radial(b: B, q: str) -> str:
    return b.emit("float", f"exp(-dot({q}, {q}) * {b.num(0.3, 4.0)})")


LEAVES = [
    (3, 0.0, _stripes),
    (3, 1.0, lambda b, q: (b.use("vnoise"), b.emit("float", f"vnoise({_at(b, q, 1, 5)})"))[1]),
    (3, 1.0, lambda b, q: (b.use("gnoise"), b.emit("float", f"0.5 + 0.7 * gnoise({_at(b, q, 1, 5)})"))[1]),
    (2, 0.0, _rings),
    (2, 0.2, _spiral),
    (2, 0.0, _checker),
    (2, 0.2, _grid),
    (2, 0.2, _dots),
    (2, 0.3, _tiles),
    (2, 0.3, _triangle_weave),
    (1, 0.0, _radial),
    (2, 0.8, _waves),
    (2, 0.6, _truchet),
    (2, 0.4, _boxes),
    (2, 0.4, _hex),
    (2, 3.0, lambda b, q: _fbm(b, q, 3)),
    (2, 5.0, lambda b, q: _fbm(b, q, 5)),
    (1, 7.0, lambda b, q: _fbm(b, q, 7)),
    (2, 5.0, lambda b, q: _ridged(b, q, 4)),
    (3, 4.5, _cellular),
    (1, 5.0, _julia),
]


# --- 3. combinators (float trees) -----------------------------------------------------------
def _binary(b: B, q: str, depth: int, template: str) -> str:
    x = field(b, q, depth - 1)
    y = field(b, q, depth - 1)
    return b.emit("float", template.format(x=x, y=y, w=b.num(0.2, 0.8)))


def _unary(b: B, q: str, depth: int, template: str) -> str:
    x = field(b, q, depth - 1)
    centre = b.rng.uniform(0.3, 0.7)
    width = b.rng.uniform(0.01, 0.2)
    return b.emit("float", template.format(x=x, k=b.num(3.0, 10.0), g=b.num(0.4, 2.5),
                                           lo=f"{centre - width:.3f}", hi=f"{centre + width:.3f}"))


def _select(b: B, q: str, depth: int) -> str:
    x, y, w = (field(b, q, depth - 1) for _ in range(3))
    return b.emit("float", f"mix({x}, {y}, smoothstep(0.35, 0.65, {w}))")


def _domain_warp(b: B, q: str, depth: int) -> str:
    x = field(b, q, depth - 1)
    y = field(b, b.emit("vec2", f"{q} + {b.vec2(-9, 9)}"), depth - 1)
    warped = b.emit("vec2", f"{q} + {b.num(0.3, 2.0)} * (vec2({x}, {y}) - 0.5)")
    return field(b, warped, depth - 1)


COMBINATORS = [
    (3, 0.0, lambda b, q, d: _binary(b, q, d, "mix({x}, {y}, {w})")),
    (2, 0.0, lambda b, q, d: _binary(b, q, d, "{x} * {y} * 1.5")),
    (1, 0.0, lambda b, q, d: _binary(b, q, d, "min({x}, {y})")),
    (1, 0.0, lambda b, q, d: _binary(b, q, d, "max({x}, {y})")),
    (2, 0.0, lambda b, q, d: _binary(b, q, d, "abs({x} - {y}) * 1.5")),
    (1, 0.0, lambda b, q, d: _binary(b, q, d, "fract({x} + {y})")),
    (2, 0.1, lambda b, q, d: _unary(b, q, d, "0.5 + 0.5 * sin({x} * {k} + u_time)")),
    (2, 0.0, lambda b, q, d: _unary(b, q, d, "smoothstep({lo}, {hi}, {x})")),
    (1, 0.0, lambda b, q, d: _unary(b, q, d, "pow(clamp({x}, 0.0, 1.0), {g})")),
    (2, 0.0, _select),
    (3, 0.0, _domain_warp),
]


def field(b: B, q: str, depth: int) -> str:
    """A scalar field of coordinates ``q``: a leaf, or (while ``depth`` > 0) a combinator."""
    if depth > 0 and b.budget > 1.0 and b.chance(0.25 + 0.15 * depth):
        return b.choose(COMBINATORS, q, depth)
    return b.choose(LEAVES, q)


# --- 4. colour mapping (float fields -> vec3) -----------------------------------------------
def _two_colours(b: B) -> str:
    """Two RGB colours at least 0.6 apart (Euclidean), so a two-colour map shows contrast."""
    while True:
        first, second = b.rng.uniform(0.0, 1.0, 3), b.rng.uniform(0.0, 1.0, 3)
        if float(((first - second) ** 2).sum()) >= 0.36:
            break
    return ", ".join("vec3(" + ", ".join(f"{v:.3f}" for v in c) + ")" for c in (first, second))


def colour_mapping(b: B, q: str) -> str:
    """Build the field tree(s) of the program and map them to a colour; returns a vec3 expr."""
    depth = b.config.max_depth
    x = field(b, q, depth)
    choice = b.integer(0, 5)
    if choice <= 1:
        b.use("cospal")
        colour = (f"cospal({x} * {b.num(0.5, 2.0)}, {b.vec3(0.35, 0.65)}, {b.vec3(0.25, 0.5)}, "
                  f"{b.vec3(0.3, 1.5)}, {b.vec3(0, 1)})")
        if choice == 1:
            shade = field(b, q, depth - 1)
            colour = f"{colour} * (0.45 + 0.55 * {shade})"
        return colour
    if choice == 2:
        b.use("hsv")
        value = field(b, q, depth - 1)
        return (f"hsv2rgb(vec3({b.num(0, 1)} + {x} * {b.num(0.2, 1.0)}, {b.num(0.4, 1.0)}, "
                f"0.35 + 0.65 * {value}))")
    if choice == 3:
        return f"mix({_two_colours(b)}, smoothstep(0.1, 0.9, {x}))"
    if choice == 4:
        y = field(b, q, depth - 1)
        z = field(b, q, depth - 1)
        return f"mat3({', '.join(b.num(-0.2, 1.0) for _ in range(9))}) * vec3({x}, {y}, {z})"
    return f"vec3({x})"
