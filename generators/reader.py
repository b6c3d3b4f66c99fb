"""Reading shards without torch: samples in order, decoded or raw.

``pretrain`` uses this reader; plain ``tarfile`` and the ``webdataset`` library read the same
files. Only finished shards (with a valid sidecar) are listed.
"""

from __future__ import annotations

import json
import tarfile
from pathlib import Path
from typing import Iterator

import numpy as np

from generators.sample import decode_png
from generators.shards import ShardError, dataset_shards, read_sidecar, sample_key


def finished_shards(folder: str | Path) -> list[Path]:
    """Tars of a shard directory that have a sidecar, in shard order.

    Raises ``FileNotFoundError`` if the directory has no ``dataset.json`` or no finished shard.
    """
    folder = Path(folder)
    paths = [p for p in dataset_shards(folder) if p.exists() and read_sidecar(p) is not None]
    if not paths:
        raise FileNotFoundError(f"{folder} holds no finished shard")
    return paths


def iter_raw_samples(shards: list[str | Path]) -> Iterator[dict]:
    """Yield ``{"__key__": "000000042", "png": bytes, "cls": bytes, "json": bytes, ...}``.

    Samples come in shard order and, inside a shard, in index order. A field is the member
    name after the first dot, as in WebDataset. A shard with a sidecar must yield exactly the
    sidecar's ``count`` samples with the keys ``first .. last``: a damaged tar (``tarfile``
    silently stops at a bad member header) raises :class:`ShardError` naming the shard, the
    sample and the byte offset, never a short read.
    """
    for shard in shards:
        yield from _shard_samples(Path(shard))


def _shard_samples(shard: Path) -> Iterator[dict]:
    sidecar = read_sidecar(shard)
    expected = sidecar.first if sidecar is not None else None
    count = 0

    def broken(reason: str, offset: int) -> ShardError:
        where = f"sample {expected + count}" if expected is not None else f"sample {count}"
        total = f" of {sidecar.count}" if sidecar is not None else ""
        return ShardError(f"{shard}: damaged shard: {reason} at {where}, byte offset {offset} "
                          f"({count}{total} samples read); rerun the render command to repair it")

    try:
        tar = tarfile.open(shard, mode="r:")
    except (tarfile.TarError, OSError) as error:
        raise ShardError(f"{shard}: not a readable tar ({error}); rerun the render command "
                         f"to repair it") from None
    with tar:
        sample: dict = {}
        while True:
            offset = tar.offset
            try:
                member = tar.next()
            except (tarfile.TarError, OSError) as error:
                raise broken(f"bad tar header ({error})", offset) from None
            if member is None:
                break
            if not member.isfile():
                continue
            key, _, ext = member.name.partition(".")
            if sample and key != sample["__key__"]:
                yield sample
                count += 1
                sample = {}
            if not sample:
                if expected is not None and key != sample_key(expected + count):
                    raise broken(f"member {member.name!r} where key "
                                 f"{sample_key(expected + count)} belongs", offset)
                sample["__key__"] = key
            try:
                sample[ext] = tar.extractfile(member).read()
            except (tarfile.TarError, OSError) as error:
                raise broken(f"unreadable member {member.name!r} ({error})", offset) from None
        if sample:
            yield sample
            count += 1
        if sidecar is not None and count != sidecar.count:
            raise broken("tar ends early (bad or missing member header)", tar.offset)


def decode_sample(raw: dict) -> dict:
    """Raw sample -> ``{"key", "index", "image": uint8 array, "cls": int|None, "meta": dict}``."""
    return {
        "key": raw["__key__"],
        "index": int(raw["__key__"]),
        "image": decode_png(raw["png"]),
        "cls": int(raw["cls"]) if "cls" in raw else None,
        "meta": json.loads(raw["json"]) if "json" in raw else {},
    }


def iter_samples(shards: list[str | Path]) -> Iterator[dict]:
    """Decoded samples of ``shards`` in order (see :func:`decode_sample`)."""
    for raw in iter_raw_samples(shards):
        yield decode_sample(raw)


def read_images(folder: str | Path, limit: int) -> tuple[list[np.ndarray], list[int | None]]:
    """The first ``limit`` images and labels of a shard directory (for previews and stats)."""
    images, labels = [], []
    for sample in iter_samples(finished_shards(folder)):
        images.append(sample["image"])
        labels.append(sample["cls"])
        if len(images) >= limit:
            break
    return images, labels
