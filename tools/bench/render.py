"""Rendering speed of pattern kinds, against a PNG-encode + tar-write baseline of the same run.

For each kind it renders ``--n`` images into shards with 1 and 2 (``--workers``) processes,
then re-encodes the very same images to PNG and writes them into a tar in one process: that
baseline is the floor any renderer pays for the shard format. It prints

* images/s of the render phase for each worker count (class search timed apart, since a
  million-image run pays it once: ``s/class``); the render phase runs from the first
  shard's start to the last shard's end, measured in the workers, so the start of N worker
  processes (imports, worker context) is not in it; ``startN`` = the rest of the wall time
  (the longest of the timed renders with N processes),
* ``overhead`` = render time with 1 process / baseline time (1.0 = rendering is free),
* end-to-end images/s including the class search, for the largest worker count.

Kinds that render in batches (``stylegan-*``, ``featvis-*``: a ``batch_size`` parameter) are
also rendered one sample at a time (``batch_size=1``) at otherwise the same settings, in the
same run and alternating with the batched renders (``--rounds``), and it prints

* ``wN@1`` = images/s one at a time and ``xN`` = batched / one-at-a-time with N processes,
* ``h_105k`` / ``h_105k@1`` = hours to render 105,000 images on this machine at the best
  batched / one-at-a-time rate over the worker counts (the size of each of the paper's
  small-scale datasets; with ``--workers 1,2`` on a 2-core node, the node's time).

Audio kinds (``audio-*``: synthesised sound stored as a log-mel of ``size`` mel bins x ``size``
10-ms frames) are measured like every kind; ``--frames N`` instead times clips of ``--size`` mel
bins x N frames (``--size 128 --frames 1024`` = 10.24 s), which the square render contract of
the shard renderer does not make: in one process, the kind's waveform + log-mel + 8-bit image +
PNG + tar write of every clip (``w1``), against PNG + tar of the same images (``baseline``).

``--kinds neural`` selects the six batched kinds; ``--batch-sizes 8,16,32`` renders each
batched kind at each of these batch sizes (one row each, each against the same
one-at-a-time render) instead of at its default. The 1-minute load average is printed before
and after: rates measured while other jobs run are not this machine's speed.

Example:
    python tools/bench/render.py --kinds fractaldb --size 256 --n 1000 --workers 1,2
    python tools/bench/render.py --kinds visualatom --size 512 --workers 1 --param visualatom:num_classes=100
    python tools/bench/render.py --kinds neural --size 256 --mode RGB --n 32 --workers 1,2
    python tools/bench/render.py --kinds audio --size 128 --n 2000 --workers 1
    python tools/bench/render.py --kinds audio --size 128 --frames 1024 --n 300
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
import time
from pathlib import Path

from generators.params import make_params
from generators.reader import finished_shards, iter_raw_samples
from generators.registry import list_kinds, get_kind
from generators.render import RenderConfig, render_dataset, sample_all_classes
from generators.sample import decode_png, encode_png
from generators.shards import AtomicTarWriter
from tools.bench.kind_overrides import kind_overrides


def baseline_seconds(shard_dir: Path, png_level: int, out: Path) -> float:
    """Time to PNG-encode and tar-write the already rendered images of ``shard_dir``."""
    samples = list(iter_raw_samples(finished_shards(shard_dir)))
    images = [decode_png(s["png"]) for s in samples]
    started = time.perf_counter()
    with AtomicTarWriter(out) as writer:
        for sample, image in zip(samples, images):
            fields = {k: v for k, v in sample.items() if k != "png"}
            writer.write({**fields, "png": encode_png(image, png_level)})
        writer.close()
    return time.perf_counter() - started


def _timed_render(config: RenderConfig, out: Path, workers: int, classes) -> tuple[float, float]:
    """``(render seconds, start-up seconds)``: the render phase (first shard's start to the
    last one's end, measured in the workers) and the rest of the wall time (starting the
    worker processes: imports, worker context), which a long render pays once."""
    started = time.perf_counter()
    result = render_dataset(config, out, workers=workers, progress=False, classes=classes)
    wall = time.perf_counter() - started
    return result["render_seconds"], max(0.0, wall - result["render_seconds"])


def bench_kind(name: str, overrides: list[str], n: int, size: int, mode: str,
               workers: list[int], png_level: int, scratch: Path, rounds: int = 1,
               batch_size: int | None = None) -> dict:
    kind = get_kind(name)
    params = make_params(kind.params_type, overrides)
    if batch_size is not None and kind.render_batch is not None:
        params = dataclasses.replace(params, batch_size=batch_size)
    # shards of at least one batch, so that batches are not cut short by the shard size
    shard_size = max(1, -(-n // (2 * max(workers))), kind.batch_size(params))
    config = RenderConfig(kind=name, params=params, n=n, seed=0, size=size, mode=mode,
                          shard_size=shard_size, png_level=png_level)
    batched = kind.render_batch is not None and kind.batch_size(params) > 1
    single = dataclasses.replace(config, params=dataclasses.replace(params, batch_size=1)) \
        if batched else None
    row = {"kind": name, "n": n, "size": size}
    if batched:
        row["batch"] = kind.batch_size(params)
    classes, class_seconds = None, 0.0
    if kind.has_classes:
        started = time.perf_counter()
        classes = sample_all_classes(config, max(workers), progress=False)
        class_seconds = time.perf_counter() - started
        row["s_per_class"] = class_seconds / params.num_classes
    # one-time costs (oneDNN kernel generation, caches) before anything is timed: one batch
    for warm, label in ((config, "warm-up"), (single, "warm-up-one")):
        if warm is not None:
            render_dataset(dataclasses.replace(warm, n=min(n, kind.batch_size(warm.params))),
                           scratch / f"{name}-{label}", workers=1, progress=False,
                           classes=classes)
    for count in workers:
        seconds = seconds_single = start = 0.0
        for r in range(rounds):           # alternate, so both see the same machine load
            render, rest = _timed_render(config, scratch / f"{name}-w{count}-{r}", count,
                                         classes)
            seconds, start = seconds + render, max(start, rest)
            if batched:
                render, rest = _timed_render(single, scratch / f"{name}-w{count}-{r}-one",
                                             count, classes)
                seconds_single, start = seconds_single + render, max(start, rest)
        if count > 1:
            row[f"start{count}"] = start
        row[f"w{count}"] = n * rounds / seconds
        if batched:
            row[f"w{count}@1"] = n * rounds / seconds_single
            row[f"x{count}"] = seconds_single / seconds
    base = baseline_seconds(scratch / f"{name}-w{workers[0]}-0", png_level, scratch / "base.tar")
    row["baseline"] = n / base
    row["overhead"] = row["baseline"] / row[f"w{workers[0]}"] if workers[0] == 1 else float("nan")
    top = max(workers)
    row["end_to_end"] = n / (n / row[f"w{top}"] + class_seconds)
    best = max(row[f"w{count}"] for count in workers)
    row["h_105k"] = (105_000 / best + class_seconds) / 3600       # classes: once per dataset
    if batched:
        best_single = max(row[f"w{count}@1"] for count in workers)
        row["h_105k@1"] = (105_000 / best_single + class_seconds) / 3600
    return row


def bench_audio_clips(name: str, overrides: list[str], n: int, mels: int, frames: int,
                      png_level: int, scratch: Path) -> dict:
    """Clips of ``mels`` x ``frames`` of an audio kind, synthesised, turned into 8-bit log-mels,
    PNG-encoded and tar-written in one process (``w1``), and the PNG + tar floor of the same
    images (``baseline``); see the module docstring."""
    from generators.kinds._audio import render_clip
    from generators.sample import encode_json
    from generators.seeding import sample_rng
    from generators.shards import sample_key

    kind = get_kind(name)
    if kind.waveform is None:
        raise ValueError(f"--frames: pattern kind {name!r} renders images, not sound")
    params = make_params(kind.params_type, overrides)
    render_clip(kind.waveform, params, sample_rng(0, 0), mels, 16)  # compiled code loaded
    images = []
    started = time.perf_counter()
    with AtomicTarWriter(scratch / "clips.tar") as writer:
        for i in range(n):
            image, info = render_clip(kind.waveform, params, sample_rng(0, i), mels, frames)
            writer.write({"__key__": sample_key(i), "png": encode_png(image, png_level),
                          "json": encode_json({"index": i, **info})})
            images.append((image, info))
        writer.close()
    seconds = time.perf_counter() - started
    started = time.perf_counter()
    with AtomicTarWriter(scratch / "base.tar") as writer:
        for i, (image, info) in enumerate(images):
            writer.write({"__key__": sample_key(i), "png": encode_png(image, png_level),
                          "json": encode_json({"index": i, **info})})
        writer.close()
    base = time.perf_counter() - started
    return {"kind": name, "n": n, "size": f"{mels}x{frames}", "w1": n / seconds,
            "baseline": n / base, "overhead": seconds / base}


#: ``--kinds neural``: the kinds with a batched render path.
def neural_kinds() -> list[str]:
    return [k.name for k in list_kinds() if k.render_batch is not None]


def load_line(when: str) -> str:
    try:
        one, five, _ = os.getloadavg()
    except OSError:                                             # not on every platform
        return f"load average {when}: unknown"
    return (f"load average {when}: {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} "
            f"cores")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kinds", default="all", help="comma-separated kinds (default: all)")
    parser.add_argument("--n", type=int, default=400, help="images per kind and worker count")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--mode", default="L", choices=["L", "RGB"])
    parser.add_argument("--workers", default="1,2", help="worker counts, e.g. 1,2")
    parser.add_argument("--png-level", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=1,
                        help="batched kinds: alternate batched and one-at-a-time renders this "
                             "many times per worker count (fairer ratios on a busy machine)")
    parser.add_argument("--param", action="append", default=[], metavar="KIND:KEY=VALUE",
                        help="override a parameter of one kind (repeatable)")
    parser.add_argument("--frames", type=int, default=None,
                        help="audio kinds: time clips of --size mel bins x FRAMES 10-ms frames in "
                             "one process (see above) instead of size x size shards")
    parser.add_argument("--batch-sizes", default="",
                        help="batched kinds: comma-separated batch sizes, one row each "
                             "(default: each kind's own batch_size)")
    args = parser.parse_args(argv)
    if args.kinds == "all":
        names = [k.name for k in list_kinds() if not k.unavailable_reason()]
    elif args.kinds == "neural":
        names = neural_kinds()
    elif args.kinds == "audio":
        names = [k.name for k in list_kinds() if k.waveform is not None]
    else:
        names = args.kinds.split(",")
    try:
        workers = [int(w) for w in args.workers.split(",")]
        sizes = [int(b) for b in args.batch_sizes.split(",")] if args.batch_sizes else [None]
    except ValueError:
        parser.error(f"--workers {args.workers!r} and --batch-sizes {args.batch_sizes!r} must "
                     f"be comma-separated integers")
    if min(workers) < 1 or any(b is not None and b < 1 for b in sizes):
        parser.error("--workers and --batch-sizes must be at least 1")
    overrides = kind_overrides(parser, args.param)
    if args.frames is not None:
        if args.frames < 1:
            parser.error(f"--frames {args.frames} must be at least 1")
        bad = [name for name in names if get_kind(name).waveform is None]
        if bad:
            parser.error(f"--frames times audio kinds only; {', '.join(bad)} render images")
        print(load_line("before"))
        print(" | ".join(f"{c:>14}" for c in ("kind", "size", "w1", "baseline", "overhead")))
        print(f"(clips/s in one process: w1 = waveform + log-mel + PNG level {args.png_level} + "
              f"tar; baseline = PNG + tar of the same images; overhead = w1 time / baseline time)",
              flush=True)
        for name in names:
            with tempfile.TemporaryDirectory(prefix="synthgen-bench-") as scratch:
                row = bench_audio_clips(name, overrides.get(name, []), args.n, args.size,
                                        args.frames, args.png_level, Path(scratch))
            print(" | ".join(f"{row[c]:>14}" if isinstance(row[c], (str, int)) else f"{row[c]:14.1f}"
                             for c in ("kind", "size", "w1", "baseline", "overhead")), flush=True)
        print(load_line("after"))
        return 0
    columns = (["kind", "size", "batch"] + [f"w{w}" for w in workers]
               + [f"w{w}@1" for w in workers] + [f"x{w}" for w in workers]
               + [f"start{w}" for w in workers if w > 1]
               + ["baseline", "overhead", "s_per_class", "end_to_end", "h_105k", "h_105k@1"])
    print(load_line("before"))
    print(" | ".join(f"{c:>12}" for c in columns))
    print(f"(images/s; wN = N render processes; baseline = PNG level {args.png_level} encode + "
          f"tar write of the same images in 1 process; overhead = baseline / w1; wN@1 = one "
          f"sample at a time (batch_size=1), xN = wN / wN@1; h_105k / h_105k@1 = hours for "
          f"105,000 images at the best wN / wN@1 incl. classes; startN = seconds to start N "
          f"processes, not counted in wN)", flush=True)
    for name in names:
        batched = get_kind(name).render_batch is not None
        for batch_size in (sizes if batched else [None]):
            with tempfile.TemporaryDirectory(prefix="synthgen-bench-") as scratch:
                row = bench_kind(name, overrides.get(name, []), args.n, args.size, args.mode,
                                 workers, args.png_level, Path(scratch), args.rounds,
                                 batch_size)
            cells = [row.get(c, float("nan")) for c in columns]
            print(" | ".join(f"{c:>12}" if isinstance(c, (str, int)) else f"{c:12.3f}"
                             for c in cells), flush=True)
    print(load_line("after"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
