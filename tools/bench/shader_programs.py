"""Speed of the shader programs themselves: compile time and steady draw rate, one process.

For every library family and for ``--programs`` grammar programs it measures, in one render
process (``RenderService``, the child the kinds use: one llvmpipe thread, ``GALLIVM_PERF=nopt``):

* compile + first draw time (ms), with a fresh Mesa shader disk cache, then with the cache
  warm (what the render workers pay after the class check compiled a program once);
* steady images/s at ``--size`` (draw + read-back + transfer to the parent, no PNG).

The baseline of the same run is a trivial program (a gradient), so ratios stay meaningful
under CPU contention.

Example:
    python tools/bench/shader_programs.py --size 256 --programs 50 --frames 20
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np

TRIVIAL = """#version 330
uniform vec2 u_resolution;
uniform float u_time;
out vec4 frag_color;
void main() {
    vec2 uv = gl_FragCoord.xy / u_resolution;
    frag_color = vec4(uv, fract(u_time), 1.0);
}
"""


def measure(service, source: str, uniforms: dict, size: int, frames: int) -> tuple[float, float]:
    """(compile + first draw in ms, steady images/s)."""
    started = time.perf_counter()
    service.render(source, size, {**uniforms, "u_time": 0.0})
    first_ms = 1000 * (time.perf_counter() - started)
    started = time.perf_counter()
    for frame in range(frames):
        service.render(source, size, {**uniforms, "u_time": 0.1 * (frame + 1)})
    return first_ms, frames / (time.perf_counter() - started)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--programs", type=int, default=50, help="grammar programs to time")
    parser.add_argument("--frames", type=int, default=20, help="steady frames per program")
    args = parser.parse_args(argv)

    from shaders.grammar import generate_program
    from shaders.library import families, sample_family_uniforms, uniform_values
    from shaders.service import RenderService

    programs = [(f.name, f.source, uniform_values(sample_family_uniforms(np.random.default_rng(0))))
                for f in families()]
    programs += [(f"grammar-{i}", generate_program(np.random.default_rng([99, i])).source, {})
                 for i in range(args.programs)]
    rows = {}
    with tempfile.TemporaryDirectory(prefix="synthgen-mesa-") as cache:
        for warm in (False, True):
            with RenderService(timeout_s=300, environment={"MESA_SHADER_CACHE_DIR": cache}) as s:
                _, trivial = measure(s, TRIVIAL, {}, args.size, args.frames * 5)
                for name, source, uniforms in programs:
                    first_ms, rate = measure(s, source, uniforms, args.size, args.frames)
                    rows.setdefault(name, {})["warm_ms" if warm else "cold_ms"] = first_ms
                    rows[name]["rate"] = rate
                rows.setdefault("(trivial baseline)", {})["rate"] = trivial

    print(f"{'program':>22} | {'cold ms':>8} | {'warm ms':>8} | {'img/s':>8} | ratio to trivial")
    baseline = rows["(trivial baseline)"]["rate"]
    for name, row in rows.items():
        if name.startswith("grammar-"):
            continue
        print(f"{name:>22} | {row.get('cold_ms', float('nan')):8.1f} | "
              f"{row.get('warm_ms', float('nan')):8.1f} | {row['rate']:8.1f} | "
              f"{row['rate'] / baseline:.3f}")
    grammar = [row for name, row in rows.items() if name.startswith("grammar-")]
    library = [row for name, row in rows.items() if not name.startswith("(") and
               not name.startswith("grammar-")]
    for label, group in (("library", library), ("grammar", grammar)):
        if not group:
            continue
        rates = np.array([r["rate"] for r in group])
        cold = np.array([r["cold_ms"] for r in group])
        warm = np.array([r["warm_ms"] for r in group])
        print(f"{label}: {len(group)} programs; img/s median {np.median(rates):.0f} "
              f"(p10 {np.percentile(rates, 10):.0f}, p90 {np.percentile(rates, 90):.0f}); "
              f"compile+first draw median {np.median(cold):.0f} ms cold, "
              f"{np.median(warm):.0f} ms with a warm Mesa cache")
    print(f"trivial baseline: {baseline:.0f} img/s at {args.size}x{args.size}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
