"""Benchmark of the MAE training step on this machine, against baselines measured in the same run.

Prints images/s of
  bare     forward + backward + AdamW of the MAE on an in-memory tensor batch (no data path),
  loop     the real training loop (shard stream -> DataLoader -> train_loop),
  loader   the shard DataLoader alone (decode, crop, normalise, batch),
and the ratios loop/bare (target >= 0.95: the data path does not slow training) and
loader/loop (target >= 5: the loader has headroom). Run it under the shared CPU lock:

  flock LOCKFILE python tools/bench/pretrain.py --data SHARDS   (e.g. shards/fractaldb-128)
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import time

# run as a script, this file's folder comes first on sys.path and its name would shadow the
# ``pretrain`` package: drop that entry before importing it
if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
    sys.path.pop(0)

import torch  # noqa: E402

from pretrain.cli import parse_size  # noqa: E402
from pretrain.data import PretrainStream, make_loader  # noqa: E402
from pretrain.engine import Hooks, LoopConfig, Schedule, mask_noise, train_loop  # noqa: E402
from pretrain.mae import MaskedAutoencoder  # noqa: E402
from pretrain.sources import shard_source, with_stats  # noqa: E402
from pretrain.train import make_optimizer  # noqa: E402

SETTINGS = {"weight_decay": 0.05, "lr": 1e-4}


def bench_bare(preset: str, size: tuple[int, int], batch: int, steps: int, warmup: int) -> float:
    mae = MaskedAutoencoder(preset, size, seed=0)
    optimizer = make_optimizer(mae, SETTINGS)
    images = torch.randn(batch, 1, *size)
    began = 0.0
    for step in range(warmup + steps):
        if step == warmup:
            began = time.perf_counter()
        loss, _, _ = mae(images, mask_noise(0, 0, step, 0, batch, mae.num_patches))
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    return batch * steps / (time.perf_counter() - began)


def make_stream(data: str, size: tuple[int, int], batch: int) -> PretrainStream:
    return PretrainStream([with_stats(shard_source(data))], size, seed=0, batch_size=batch)


def bench_loop(data: str, preset: str, size: tuple[int, int], batch: int, steps: int, warmup: int,
               workers: int) -> float:
    mae = MaskedAutoencoder(preset, size, seed=0)
    optimizer = make_optimizer(mae, SETTINGS)
    batches = iter(make_loader(make_stream(data, size, batch), workers))
    times: list[float] = []
    hooks = Hooks(log=lambda r: None, checkpoint=lambda s, n: None, recon=lambda s, x: None,
                  progress=lambda step, loss: times.append(time.perf_counter()))
    config = LoopConfig(total_steps=warmup + steps, log_every=0, save_every=0, recon_every=0)
    train_loop(mae, optimizer, Schedule(1e-4, 1, None), batches, 0, 0, config, hooks,
               mae.num_patches, torch.device("cpu"))
    return batch * steps / (times[-1] - times[warmup - 1])


def bench_loader(data: str, size: tuple[int, int], batch: int, batches: int, workers: int) -> float:
    iterator = iter(make_loader(make_stream(data, size, batch), workers))
    next(iterator)  # start-up (worker fork, first shard) is not throughput
    began = time.perf_counter()
    for _ in itertools.islice(iterator, batches):
        pass
    return batch * batches / (time.perf_counter() - began)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="synthgen shard directory")
    parser.add_argument("--preset", default="cpu-tiny")
    parser.add_argument("--input-size", type=parse_size, default=(128, 128), metavar="HxW")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=20, help="timed steps (after --warmup)")
    parser.add_argument("--warmup", type=int, default=8,
                        help="untimed steps first (the first ~5 steps of a process are slow: lazy init)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    parser.add_argument("--workers", type=int, default=1, help="DataLoader workers of the loop/loader")
    parser.add_argument("--repeats", type=int, default=2, help="alternating bare/loop repetitions (best kept)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    size = tuple(args.input_size)
    # alternate the two step benchmarks and keep the best of each: on a shared machine a burst
    # of someone else's work would otherwise land on one side of the ratio only
    bares, loops = [], []
    for _ in range(args.repeats):
        bares.append(bench_bare(args.preset, size, args.batch_size, args.steps, args.warmup))
        loops.append(bench_loop(args.data, args.preset, size, args.batch_size, args.steps, args.warmup,
                                args.workers))
    bare, loop = max(bares), max(loops)
    loader = bench_loader(args.data, size, args.batch_size, 40, args.workers)
    loader0 = bench_loader(args.data, size, args.batch_size, 20, 0)
    result = {"preset": args.preset, "input": list(size), "batch": args.batch_size, "threads": args.threads,
              "workers": args.workers, "bare_images_per_s": round(bare, 1), "loop_images_per_s": round(loop, 1),
              "loader_images_per_s": round(loader, 1), "loader_in_process_images_per_s": round(loader0, 1),
              "loop_over_bare": round(loop / bare, 3),
              "all_bare": [round(v, 1) for v in bares], "all_loop": [round(v, 1) for v in loops], "loader_over_loop": round(loader / loop, 2)}
    print(json.dumps(result))
    print(f"bare {bare:.1f} img/s | loop {loop:.1f} img/s ({loop / bare:.3f} of bare, target >= 0.95) | "
          f"loader {loader:.1f} img/s with {args.workers} worker(s) ({loader / loop:.1f}x the loop, target >= 5); "
          f"in-process loader {loader0:.1f} img/s")


if __name__ == "__main__":
    main()
