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
from generators.shards import dataset_shards, read_sidecar


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
    name after the first dot, as in WebDataset.
    """
    for shard in shards:
        with tarfile.open(shard, mode="r:") as tar:
            sample: dict = {}
            for member in tar:
                if not member.isfile():
                    continue
                key, _, ext = member.name.partition(".")
                if sample and key != sample["__key__"]:
                    yield sample
                    sample = {}
                sample["__key__"] = key
                sample[ext] = tar.extractfile(member).read()
            if sample:
                yield sample


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
