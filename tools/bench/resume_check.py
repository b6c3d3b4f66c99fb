"""Cost of the rerun check of ``synthgen render``: hashing every finished shard.

A rerun of ``synthgen render`` re-reads and sha256-hashes every finished shard of this node so
that a shard corrupted after rendering is rendered again. This benchmark renders a dataset of
``--shards`` shards in one process, then times (``--repeat`` times each)

* ``size check``: the previous check (sidecar + file size, no reading),
* ``hash check``: the sidecar, size and sha256 check that a rerun now performs,

and prints the hash check's time, its throughput (MB/s) and its ratio to the render time
measured in the same run. The files are in the page cache after rendering, so this is the
CPU cost; on a cold cache the check reads every byte once from disk (disk-bound).

Example:
    python tools/bench/resume_check.py --shards 100 --shard-size 20 --size 128
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from generators.params import make_params
from generators.registry import get_kind
from generators.render import RenderConfig, render_dataset, unfinished_shards
from generators.shards import shard_is_finished, shard_name, shard_ranges


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--kind", default="stat-spectrum")
    p.add_argument("--shards", type=int, default=100)
    p.add_argument("--shard-size", type=int, default=20)
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--repeat", type=int, default=5)
    args = p.parse_args(argv)
    kind = get_kind(args.kind)
    config = RenderConfig(kind=args.kind, params=make_params(kind.params_type), seed=0,
                          n=args.shards * args.shard_size, size=args.size,
                          shard_size=args.shard_size)
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "data"
        started = time.perf_counter()
        render_dataset(config, out, workers=1, progress=False)
        render_seconds = time.perf_counter() - started
        shards = shard_ranges(config.n, config.shard_size)
        total_bytes = sum(p.stat().st_size for p in out.glob("*.tar"))
        size_times, hash_times = [], []
        for _ in range(args.repeat):
            started = time.perf_counter()
            cheap = [s for s in shards if not shard_is_finished(
                out / f"{shard_name(args.kind, s[0])}.tar", s[1], s[2], check_bytes=False)]
            size_times.append(time.perf_counter() - started)
            started = time.perf_counter()
            todo = unfinished_shards(out, args.kind, shards, progress=False)
            hash_times.append(time.perf_counter() - started)
            assert cheap == [] and todo == [], "every shard should be finished"
    hash_median = statistics.median(hash_times)
    print(f"{args.shards} shards of {args.shard_size} {args.kind} images at {args.size}² "
          f"({total_bytes / 1e6:.1f} MB), rendered in {render_seconds:.1f} s (1 process)")
    print(f"size check: median {statistics.median(size_times) * 1e3:.1f} ms "
          f"(min {min(size_times) * 1e3:.1f}, max {max(size_times) * 1e3:.1f})")
    print(f"hash check: median {hash_median:.3f} s (min {min(hash_times):.3f}, "
          f"max {max(hash_times):.3f}), {total_bytes / 1e6 / hash_median:.0f} MB/s, "
          f"{100 * hash_median / render_seconds:.2f} % of the render time")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
