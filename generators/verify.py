"""Checking a shard directory against ``dataset.json`` and the sidecars."""

from __future__ import annotations

import hashlib
import tarfile
from pathlib import Path

from generators.reader import iter_raw_samples, decode_sample
from generators.shards import (read_dataset_info, read_sidecar, sample_key, shard_name,
                               shard_ranges, sidecar_matches)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_shard(tar_path: Path, first: int, stop: int) -> str | None:
    """The problem with one shard, or ``None`` if it is complete and intact."""
    name = tar_path.name
    if not tar_path.exists():
        return f"{name}: missing"
    sidecar = read_sidecar(tar_path)
    if sidecar is None:
        return f"{name}: sidecar {tar_path.with_suffix('.json').name} missing or unreadable"
    if not sidecar_matches(sidecar, first, stop):
        return (f"{name}: sidecar says samples {sidecar.first}..{sidecar.last}, "
                f"expected {first}..{stop - 1}")
    size = tar_path.stat().st_size
    if size != sidecar.bytes:
        return f"{name}: {size} bytes, sidecar says {sidecar.bytes} (truncated or appended)"
    if _sha256(tar_path) != sidecar.sha256:
        return f"{name}: sha256 differs from the sidecar (corrupt)"
    try:
        keys = []
        first_sample = None
        for raw in iter_raw_samples([tar_path]):
            keys.append(raw["__key__"])
            if first_sample is None:
                first_sample = decode_sample(raw)
        expected = [sample_key(i) for i in range(first, stop)]
        if keys != expected:
            return f"{name}: holds {len(keys)} samples, not the keys {expected[0]}..{expected[-1]}"
    except (tarfile.TarError, OSError, ValueError) as error:
        return f"{name}: unreadable ({error})"
    return None


def verify_dataset(folder: str | Path) -> list[str]:
    """All problems of a shard directory (empty list = every shard present and intact)."""
    folder = Path(folder)
    try:
        info = read_dataset_info(folder)
    except (FileNotFoundError, ValueError) as error:
        return [str(error)]
    problems = []
    for k, first, stop in shard_ranges(info["n"], info["shard_size"]):
        problem = verify_shard(folder / f"{shard_name(info['kind'], k)}.tar", first, stop)
        if problem:
            problems.append(problem)
    return problems
