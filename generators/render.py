"""Rendering a dataset into shards: planning, class parameters, worker processes, resume.

Every shard is a pure function of ``(kind, params, seed, size, mode, shard_size, png_level,
shard index)``, so any number of workers and nodes can render disjoint shards of one
directory, in any order, and a rerun only renders the shards that are not finished.
"""

from __future__ import annotations

import ctypes
import dataclasses
import json
import multiprocessing
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from generators import lifeline
from generators.atomic import write_bytes_atomic
from generators.nodes import node_share
from generators.regular_files import NotRegularFileError, read_regular
from generators.registry import Kind, get_kind
from generators.sample import (DEFAULT_PNG_LEVEL, batches, encode_json, encode_png,
                               render_samples, sample_class_params)
from generators.seeding import class_of
from generators.shards import (DATASET_FILE, FORMAT_VERSION, AtomicTarWriter, Sidecar,
                               check_dataset_info, file_sha256, read_sidecar, sample_key,
                               shard_is_finished, shard_name, shard_ranges, write_sidecar)


@dataclass(frozen=True)
class RenderConfig:
    """Everything that determines the bytes of a dataset (stored in ``dataset.json``)."""

    kind: str
    params: Any
    n: int
    seed: int = 0
    size: int = 256
    mode: str = "L"
    shard_size: int = 1000
    png_level: int = DEFAULT_PNG_LEVEL
    #: "cpu" or "cuda" (torch kinds only): GPU bytes differ from CPU bytes in the last bits.
    device: str = "cpu"

    def describe(self) -> dict:
        from generators import __version__
        import numpy
        import PIL

        return {
            "format_version": FORMAT_VERSION,
            "kind": self.kind,
            "params": dataclasses.asdict(self.params),
            "seed": self.seed,
            "n": self.n,
            "size": self.size,
            "mode": self.mode,
            "shard_size": self.shard_size,
            "png_level": self.png_level,
            "device": self.device,
            "num_shards": len(shard_ranges(self.n, self.shard_size)),
            "versions": {"synthgen": __version__, "numpy": numpy.__version__,
                         "pillow": PIL.__version__,
                         "python": ".".join(map(str, sys.version_info[:3]))},
        }


class DatasetMismatchError(ValueError):
    """``--out`` already holds a dataset rendered with a different configuration."""


# --- worker process state: one per process, set by the pool initializer ---------------------
_worker: dict[str, Any] = {}


def _reuse_freed_memory() -> None:
    """Keep freed image buffers in this process instead of returning them to the OS.

    glibc serves allocations above 128 KiB-32 MiB (adaptive) with fresh ``mmap`` pages and
    unmaps them on free, so every image pays page faults again for its working arrays (about a
    quarter of ``stat-spectrum``'s time at 256²). Fixed thresholds (32 MiB mmap, 256 MiB trim)
    let the heap reuse them. Only in render processes; silently skipped without glibc."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return
    mallopt(-3, 32 << 20)     # M_MMAP_THRESHOLD
    mallopt(-1, 256 << 20)    # M_TRIM_THRESHOLD


def _init_worker(config: RenderConfig, classes: list | None) -> None:
    # One thread per worker: processes give the parallelism, threads would oversubscribe.
    os.environ.setdefault("LP_NUM_THREADS", "1")
    _reuse_freed_memory()
    kind = get_kind(config.kind)
    _worker.clear()
    _worker.update(config=config, kind=kind, classes=classes,
                   context=kind.build_context(config.params, config.device))


def _class_job(args: tuple) -> Any:
    kind_name, params, seed, class_index = args
    return sample_class_params(get_kind(kind_name), params, seed, class_index)


def render_shard(out: Path, shard_index: int, first: int, stop: int) -> int:
    """Render samples ``first .. stop-1`` into shard ``shard_index`` (in a worker process)."""
    config: RenderConfig = _worker["config"]
    kind: Kind = _worker["kind"]
    classes = _worker["classes"]
    indices = list(range(first, stop))
    if classes is not None:
        # Render grouped by class so kinds with per-class caches (compiled shader programs,
        # generator weights) reuse them; samples are still written in index order.
        indices.sort(key=lambda i: (class_of(i, config.params.num_classes), i))
    encoded: dict[int, dict] = {}
    # Batched kinds render consecutive groups of this order (a pure function of the shard).
    for batch in batches(indices, kind.batch_size(config.params)):
        rendered = render_samples(kind, config.params, config.seed, batch, config.size,
                                  config.mode, classes, _worker["context"])
        for i, (image, meta) in zip(batch, rendered):
            sample = {"__key__": sample_key(i), "png": encode_png(image, config.png_level)}
            if kind.has_classes:
                sample["cls"] = str(meta["class"]).encode()
            sample["json"] = encode_json(meta)
            encoded[i] = sample
    path = out / f"{shard_name(config.kind, shard_index)}.tar"
    with AtomicTarWriter(path) as writer:
        for i in range(first, stop):
            writer.write(encoded.pop(i))
        digest, size = writer.close()
    write_sidecar(path, Sidecar(count=stop - first, first=first, last=stop - 1,
                                sha256=digest, bytes=size))
    return stop - first


def _render_shard_job(job: tuple) -> tuple[int, float, float]:
    """``(images, started, finished)``: wall-clock times, comparable across processes."""
    out, shard_index, first, stop = job
    started = time.time()
    images = render_shard(Path(out), shard_index, first, stop)
    return images, started, time.time()


def prepare_output(out: Path, config: RenderConfig) -> dict:
    """Create ``out`` and its ``dataset.json``, or check that an existing one matches."""
    description = config.describe()
    out.mkdir(parents=True, exist_ok=True)
    existing_path = out / DATASET_FILE
    if existing_path.exists() or existing_path.is_symlink():
        try:
            existing = json.loads(read_regular(existing_path))  # a FIFO would block read_text
            check_dataset_info(existing, existing_path)
        except (ValueError, NotRegularFileError) as error:
            raise DatasetMismatchError(f"{error}; use another --out or delete it") from None
        keys = ("kind", "params", "seed", "n", "size", "mode", "shard_size", "png_level", "device")
        existing.setdefault("device", "cpu")                  # written before devices existed
        different = [k for k in keys if existing.get(k) != description[k]]
        if different:
            raise DatasetMismatchError(
                f"{out} already holds a different dataset ({', '.join(different)} differ); "
                f"use another --out")
        return existing
    write_bytes_atomic(existing_path, json.dumps(description, indent=1, sort_keys=True).encode())
    return description


def _executor(workers: int, initializer=None, initargs: tuple = ()) -> ProcessPoolExecutor:
    """Worker processes (spawned: no inherited GL/torch/thread state). Unlike
    ``multiprocessing.Pool``, a worker that dies (even in its initializer) fails the run with
    ``BrokenProcessPool`` instead of hanging it; finished shards are kept for a rerun. Each
    worker exits by itself if this process dies (``generators.lifeline``)."""
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=lifeline.init_worker,
                               initargs=(os.getpid(), initializer, initargs))


def sample_all_classes(config: RenderConfig, workers: int, progress: bool) -> list:
    """Class parameters of every class, computed in a pool (deterministic per class)."""
    from tqdm import tqdm

    kind = get_kind(config.kind)
    jobs = [(config.kind, config.params, config.seed, c) for c in range(config.params.num_classes)]
    if workers <= 1:
        return [_class_job(job) for job in tqdm(jobs, desc="classes", unit="class",
                                                disable=not progress)]
    with _executor(workers) as pool:
        try:
            iterator = pool.map(_class_job, jobs, chunksize=max(1, len(jobs) // (workers * 16)))
            return list(tqdm(iterator, total=len(jobs), desc=f"classes of {kind.name}",
                             unit="class", disable=not progress))
        except KeyboardInterrupt:
            lifeline.stop_pool(pool)
            raise


def record_class_stats(out: Path, kind: Kind, classes: list) -> None:
    """Sum ``kind.class_stats`` over all classes into ``dataset.json`` (same on every node)."""
    if not kind.class_stats:
        return
    path = out / DATASET_FILE
    description = json.loads(path.read_text())
    stats = {}
    for name in kind.class_stats:
        values = [c[name] if isinstance(c, dict) else getattr(c, name) for c in classes]
        stats[name] = int(sum(values))
    if description.get("class_stats") != stats:
        description["class_stats"] = stats
        write_bytes_atomic(path, json.dumps(description, indent=1, sort_keys=True).encode())


STALE_SECONDS = 600


def remove_stale_temporaries(out: Path, kind_name: str, shard_indices: list[int]) -> None:
    """Delete temporaries a killed run left for this node's shards (only this node writes them)
    and ``dataset.json`` temporaries older than ``STALE_SECONDS`` (any node may be writing a
    fresh one; writing it takes milliseconds)."""
    for k in shard_indices:
        for leftover in out.glob(f"{shard_name(kind_name, k)}.*.tmp*"):
            leftover.unlink(missing_ok=True)
    for leftover in out.glob(f"{DATASET_FILE}.tmp*"):
        try:
            if time.time() - leftover.stat().st_mtime > STALE_SECONDS:
                leftover.unlink()
        except FileNotFoundError:
            pass


def unfinished_shards(out: Path, kind_name: str, shards: list[tuple[int, int, int]],
                      progress: bool = True) -> list[tuple[int, int, int]]:
    """The ``(shard, first, stop)`` of ``shards`` that must be (re-)rendered: no valid sidecar,
    a different size, or bytes whose sha256 differs from the sidecar's (corrupted after
    rendering). Hashing reads every finished shard once, with a progress bar over the bytes."""
    from tqdm import tqdm

    todo, finished = [], []
    for k, first, stop in shards:
        path = out / f"{shard_name(kind_name, k)}.tar"
        (finished if shard_is_finished(path, first, stop, check_bytes=False) else todo).append(
            (k, first, stop))
    if not finished:
        return todo
    sizes = {k: read_sidecar(out / f"{shard_name(kind_name, k)}.tar").bytes
             for k, _, _ in finished}
    with tqdm(total=sum(sizes.values()), desc="check finished shards", unit="B",
              unit_scale=True, disable=not progress) as bar:
        for k, first, stop in finished:
            path = out / f"{shard_name(kind_name, k)}.tar"
            sidecar = read_sidecar(path)
            try:
                intact = sidecar is not None and file_sha256(path, bar.update) == sidecar.sha256
            except OSError:
                intact = False
            if not intact:
                tqdm.write(f"{path}: bytes differ from its sidecar (corrupt); rendering it again",
                           file=sys.stderr)
                todo.append((k, first, stop))
    return sorted(todo)


def render_dataset(config: RenderConfig, out: Path, *, workers: int = 1, num_nodes: int = 1,
                   node_rank: int = 0, progress: bool = True, classes: list | None = None) -> dict:
    """Render this node's unfinished shards of ``config`` into ``out``.

    ``classes`` may hold the already sampled class parameters (benchmarks time them apart).
    Returns ``{"rendered": shards, "skipped": shards, "images": n}`` for this node, plus
    ``"class_seconds"`` when the class parameters were searched here and, when shards were
    rendered, ``"render_seconds"`` (first shard's start to last shard's end, so without the
    start of worker processes).
    """
    from tqdm import tqdm

    kind = get_kind(config.kind)
    prepare_output(out, config)
    ranges = shard_ranges(config.n, config.shard_size)
    mine = [ranges[k] for k in node_share(len(ranges), num_nodes, node_rank)]
    remove_stale_temporaries(out, config.kind, [k for k, _, _ in mine])
    todo = [(str(out), k, a, b) for k, a, b in unfinished_shards(out, config.kind, mine, progress)]
    result = {"rendered": len(todo), "skipped": len(mine) - len(todo),
              "images": sum(b - a for _, _, a, b in todo)}
    if not todo:
        return result
    if kind.has_classes and classes is None:
        started = time.perf_counter()
        classes = sample_all_classes(config, workers, progress)
        result["class_seconds"] = time.perf_counter() - started
    if kind.has_classes:
        record_class_stats(out, kind, classes)
    bar = tqdm(total=result["images"], desc=f"render {kind.name}", unit="img",
               disable=not progress, smoothing=0.1)
    spans = []

    def done(job_result: tuple[int, float, float]) -> None:
        spans.append(job_result[1:])
        bar.update(job_result[0])

    try:
        if workers <= 1:
            _init_worker(config, classes)
            for job in todo:
                done(_render_shard_job(job))
        else:
            with _executor(min(workers, len(todo)), initializer=_init_worker,
                           initargs=(config, classes)) as pool:
                try:
                    for future in as_completed([pool.submit(_render_shard_job, job)
                                                for job in todo]):
                        done(future.result())
                except KeyboardInterrupt:  # Ctrl-C or SIGTERM: stop now, keep finished shards
                    lifeline.stop_pool(pool)
                    raise
                except OSError:  # a full disk: let running shards end (each cleans up its
                    pool.shutdown(wait=True, cancel_futures=True)  # temporary), start no more
                    raise
    finally:
        bar.close()
    # from the first shard's start to the last one's end: rendering without the start of the
    # worker processes (benchmarks report it apart; a long run pays the start once)
    result["render_seconds"] = max(end for _, end in spans) - min(start for start, _ in spans)
    return result
