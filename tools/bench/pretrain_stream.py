"""Benchmark of the pre-training loader: kinds rendered on the fly vs shards, in one run.

For each source it prints the images/s of the real loader (``pretrain.data.PretrainStream`` ->
DataLoader: read or render, grayscale, random crop, resize, standardise, batch) with 0 (in the
calling process), 1 and 2 worker processes, the ratio of each on-the-fly rate to the shard
loader's measured in the same run, the images per CPU second of the in-process loader (the
rate of one core, unaffected by other work on a shared machine), and the number of worker
cores one GPU's MAE would need:

  cores = ceil(GPU images/s / images per CPU second)

with the GPU's throughput given by ``--gpu-images-per-s``. Its default, 2,000 images/s, is a
ViT-B/16 MAE on one A100: "DailyMAE: Towards Pretraining Masked Autoencoders in One
Day" (arXiv:2404.00509, 2024) pre-trains MAE-Base/16 on ImageNet-1k (1,281,167 images) for 800
epochs in 18 hours on 8 A100s, i.e. 1.02e9 images / 64,800 s / 8 = ~1,980 images/s per GPU
(with their data-loading and progressive-resolution optimisations; they report the original MAE
code up to 5.8x slower). Newer GPUs consume more: scale the cores with ``--gpu-images-per-s``.

The shard baseline is fractaldb rendered into a temporary folder first (not timed) unless
``--shards DIR`` is given. Class parameters are computed once per source before timing (their
time is printed). Each rate is measured over ``--seconds`` after the workers have started and
their prefetch buffers have been drained. Run it under the shared CPU lock:

  flock /tmp/synthgen-cpu.lock python tools/bench/pretrain_stream.py
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path

# run as a script, this file's folder comes first on sys.path and its name would shadow the
# ``pretrain`` package: drop that entry before importing it
if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
    sys.path.pop(0)

import torch  # noqa: E402

from pretrain.cli import parse_size  # noqa: E402
from pretrain.data import PretrainStream, make_loader  # noqa: E402
from pretrain.patterns import compute_classes  # noqa: E402
from pretrain.sources import Source, data_source, with_stats  # noqa: E402

KINDS = ("pattern:fractaldb,num_classes=100", "pattern:deadleaves-squares", "pattern:stat-spectrum",
         "pattern:shaders-random,num_classes=100")
GPU_IMAGES_PER_S = 2000.0


def open_source(spec: str, height: int) -> tuple[Source, float]:
    """The source with classes and statistics, and the seconds its classes took."""
    source = data_source(spec, height)
    began = time.perf_counter()
    if source.kind == "pattern":
        source.pattern.classes = compute_classes(source.pattern.spec, 1, progress=False)
    classes_s = time.perf_counter() - began
    return with_stats(source), classes_s


def cpu_seconds() -> float:
    """CPU seconds of this process and its live descendants (a kind's render service, e.g. the
    shader kinds' OpenGL child, works for it); Linux ``/proc``, else this process alone."""
    total = time.process_time()
    try:
        parents = {}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:  # the process ended meanwhile
                continue
            parents[int(stat.parent.name)] = (int(fields[1]), int(fields[11]) + int(fields[12]))
        ticks = os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError):
        return total
    family, changed = {os.getpid()}, True
    while changed:
        grown = family | {pid for pid, (ppid, _) in parents.items() if ppid in family}
        changed, family = grown != family, grown
    return total + sum(parents[pid][1] for pid in family - {os.getpid()}) / ticks


def loader_rate(source: Source, size: tuple[int, int], batch: int, workers: int,
                seconds: float) -> tuple[float, float]:
    """Images per wall second and per CPU second of this process over ``seconds``, after
    start-up and the prefetched batches (the CPU rate is that of one core when ``workers`` is 0,
    and does not depend on how busy the machine is)."""
    loader = make_loader(PretrainStream([source], size, seed=0, batch_size=batch), workers)
    iterator = iter(loader)
    for _ in range(4 * workers + 1):  # start-up, JIT cache loads, the prefetch buffer
        next(iterator)
    began, cpu, images = time.perf_counter(), cpu_seconds(), 0
    while time.perf_counter() - began < seconds:
        images += next(iterator).image.shape[0]
    rates = images / (time.perf_counter() - began), images / max(cpu_seconds() - cpu, 1e-9)
    del iterator
    return rates


def render_shards(folder: Path, size: int, n: int) -> str:
    from generators.params import make_params
    from generators.registry import get_kind
    from generators.render import RenderConfig, render_dataset

    params = make_params(get_kind("fractaldb").params_type, ["num_classes=100"])
    render_dataset(RenderConfig("fractaldb", params, n=n, size=size, shard_size=250), folder,
                   workers=1, progress=False)
    return str(folder)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", action="append", help=f"sources to time (default: {', '.join(KINDS)})")
    parser.add_argument("--shards", help="shard directory of the baseline (default: 2,000 fractaldb "
                                         "images rendered at the input height into a temporary folder)")
    parser.add_argument("--input-size", type=parse_size, default=(128, 128), metavar="HxW",
                        help="encoder input; patterns are rendered at its height (default 128x128)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--workers", default="1,2", help="worker counts to time (default 1,2)")
    parser.add_argument("--seconds", type=float, default=5.0, help="timed seconds per rate (default 5)")
    parser.add_argument("--repeats", type=int, default=2, help="rounds over all sources, best kept (default 2)")
    parser.add_argument("--gpu-images-per-s", type=float, default=GPU_IMAGES_PER_S,
                        help="images/s one GPU's MAE consumes (default 2000: ViT-B/16 on an A100, see above)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    size = tuple(args.input_size)
    counts = [int(w) for w in args.workers.split(",")]
    with tempfile.TemporaryDirectory() as scratch:
        shards = args.shards or render_shards(Path(scratch) / "fractaldb", size[0], 2000)
        specs = [shards, *(args.data or KINDS)]
        opened = [open_source(spec, size[0]) for spec in specs]
        # rounds over all sources, best of each kept: a burst of other work on the shared
        # machine then lowers one round, not one source
        measured = [[[] for _ in counts] for _ in specs]
        per_cpu = [[] for _ in specs]
        for _ in range(args.repeats):
            for k, (source, _) in enumerate(opened):
                per_cpu[k].append(loader_rate(source, size, args.batch_size, 0, args.seconds)[1])
                for j, w in enumerate(counts):
                    measured[k][j].append(loader_rate(source, size, args.batch_size, w, args.seconds)[0])
        rows = []
        for spec, (_, classes_s), rates, cpu in zip(specs, opened, measured, per_cpu):
            rows.append({"source": "shards (fractaldb)" if spec == shards else spec[len("pattern:"):],
                         "classes_s": round(classes_s, 2), "per_cpu_s": round(max(cpu), 1),
                         **{f"w{w}": round(max(r), 1) for w, r in zip(counts, rates)},
                         "all": {"per_cpu_s": [round(v, 1) for v in cpu],
                                 **{f"w{w}": [round(v, 1) for v in r] for w, r in zip(counts, rates)}}})
            print(json.dumps(rows[-1]), flush=True)
    base = rows[0]
    print(f"\ninput {size[0]}x{size[1]}, batch {args.batch_size}, {os.cpu_count()} CPUs, best of "
          f"{args.repeats} x {args.seconds:g} s per rate; ratios against the shard loader of this run")
    header = "".join(f"{f'{w} worker(s)':>22}" for w in counts)
    print(f"{'source':34}{header}{'img per CPU-s':>22}{'cores per GPU':>15}")
    for row in rows:
        cells = "".join(f"{row[f'w{w}']:>9.0f} img/s {row[f'w{w}'] / base[f'w{w}']:>5.2f}x" for w in counts)
        cpu = f"{row['per_cpu_s']:>11.0f} {row['per_cpu_s'] / base['per_cpu_s']:>8.2f}x"
        cores = math.ceil(args.gpu_images_per_s / row["per_cpu_s"])
        print(f"{row['source']:34}{cells}{cpu:>22}{cores:>15}")
    print(f"img per CPU-s: images per CPU second of an in-process loader (one core, whatever the load); "
          f"cores per GPU = ceil({args.gpu_images_per_s:g} images/s of a ViT-B MAE on one GPU / img per CPU-s)")


if __name__ == "__main__":
    main()
