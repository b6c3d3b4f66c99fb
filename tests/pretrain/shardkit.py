"""Tiny shard directories for the pretrain tests (written with the generators shard writer)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from generators.sample import encode_png
from generators.shards import ShardWriter, Sidecar, sample_key, shard_name, write_sidecar


def pattern(index: int, size: int) -> np.ndarray:
    """A learnable pattern: oriented sinusoidal stripes with a per-sample frequency and phase."""
    rng = np.random.default_rng(index)
    y, x = np.mgrid[0:size, 0:size] / size
    angle, freq, phase = rng.uniform(0, np.pi), rng.uniform(2, 6), rng.uniform(0, 2 * np.pi)
    wave = np.sin(2 * np.pi * freq * (x * np.cos(angle) + y * np.sin(angle)) + phase)
    return ((wave + 1) * 127.5).astype(np.uint8)


def write_shards(folder: Path, n: int = 64, shard_size: int = 8, size: int = 32,
                 kind: str = "stripes") -> Path:
    """``n`` samples in ``ceil(n / shard_size)`` shards with sidecars and ``dataset.json``."""
    folder.mkdir(parents=True, exist_ok=True)
    starts = list(range(0, n, shard_size))
    for k, first in enumerate(starts):
        stop = min(first + shard_size, n)
        path = folder / f"{shard_name(kind, k)}.tar"
        writer = ShardWriter(path)
        for i in range(first, stop):
            writer.write({"__key__": sample_key(i), "png": encode_png(pattern(i, size)),
                          "cls": str(i % 4).encode(), "json": b"{}"})
        digest, size_bytes = writer.close()
        write_sidecar(path, Sidecar(count=stop - first, first=first, last=stop - 1,
                                    sha256=digest, bytes=size_bytes))
    info = {"kind": kind, "params": {}, "seed": 0, "n": n, "size": size, "mode": "L",
            "shard_size": shard_size, "num_shards": len(starts)}
    (folder / "dataset.json").write_text(json.dumps(info))
    return folder
