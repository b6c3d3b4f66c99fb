"""Checking a shard directory against ``dataset.json`` and the sidecars."""

from __future__ import annotations

import re
import tarfile
from pathlib import Path

from generators.reader import iter_raw_samples, decode_sample
from generators.regular_files import irregular
from generators.shards import (DATASET_FILE, ShardError, file_sha256, read_dataset_info,
                               read_sidecar, sample_key, shard_name, shard_ranges,
                               sidecar_matches, sidecar_path)


def verify_shard(tar_path: Path, first: int, stop: int) -> str | None:
    """The problem with one shard, or ``None`` if it is complete and intact: present, a regular
    file with a regular sidecar (a FIFO or link is never opened), the sidecar's range, size and
    sha256, and every sample a decodable PNG of the dataset's size and mode."""
    name = tar_path.name
    for path in (tar_path, sidecar_path(tar_path)):
        kind = irregular(path)
        if kind is not None:
            return f"{path.name}: {kind}, not a regular file (not opened or followed)"
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
    if file_sha256(tar_path) != sidecar.sha256:
        return f"{name}: sha256 differs from the sidecar (corrupt)"
    try:
        keys = []
        for raw in iter_raw_samples([tar_path]):
            keys.append(raw["__key__"])
            decode_sample(raw)
        expected = [sample_key(i) for i in range(first, stop)]
        if keys != expected:
            return f"{name}: holds {len(keys)} samples, not the keys {expected[0]}..{expected[-1]}"
    except ShardError as error:  # names the shard's full path: keep the folder-relative name
        return f"{name}: {str(error).removeprefix(f'{tar_path}: ')}"
    except (tarfile.TarError, OSError, ValueError) as error:
        return f"{name}: unreadable ({error})"
    return None


def verify_dataset(folder: str | Path) -> list[str]:
    """All problems of a shard directory (empty list = every shard present and intact)."""
    return verify_report(folder)[0]


def verify_report(folder: str | Path) -> tuple[list[str], list[str]]:
    """``(problems, warnings)`` of a shard directory.

    Problems: a missing, truncated or corrupt shard, a bad ``dataset.json``, or a shard file of
    this kind outside ``num_shards`` (a stray from another render). Warnings: leftover
    temporary files of a killed run and other files in the folder.
    """
    folder = Path(folder)
    try:
        info = read_dataset_info(folder)
    except (FileNotFoundError, ValueError) as error:
        return [str(error)], []
    problems = []
    for k, first, stop in shard_ranges(info["n"], info["shard_size"]):
        problem = verify_shard(folder / f"{shard_name(info['kind'], k)}.tar", first, stop)
        if problem:
            problems.append(problem)
    extra, warnings = stray_files(folder, info)
    return problems + extra, warnings


def stray_files(folder: Path, info: dict) -> tuple[list[str], list[str]]:
    """``(extra shards, other leftovers)`` in a dataset folder, as messages."""
    expected = {DATASET_FILE}
    for k in range(info["num_shards"]):
        expected |= {f"{shard_name(info['kind'], k)}.tar", f"{shard_name(info['kind'], k)}.json"}
    shard_file = re.compile(re.escape(info["kind"]) + r"-\d{6,}\.(tar|json)")
    extra, warnings = [], []
    for path in sorted(folder.iterdir()):
        name = path.name
        if name in expected:
            continue
        if shard_file.fullmatch(name):
            extra.append(f"{name}: shard file outside the dataset's {info['num_shards']} shards "
                         f"(left by another render?)")
        elif ".tmp" in name:
            warnings.append(f"{name}: temporary file left by a killed run (safe to delete)")
        else:
            warnings.append(f"{name}: not part of the dataset")
    return extra, warnings
