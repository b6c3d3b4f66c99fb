"""Reading shards without torch: samples in order, decoded or raw.

``pretrain`` uses this reader; plain ``tarfile`` and the ``webdataset`` library read the same
files. Only finished shards (with a valid sidecar) are listed.

Shard folders are untrusted. Entries are opened only if they are regular files
(:mod:`generators.regular_files`: a FIFO never blocks a reader, a link is never followed), tar
members are never extracted, and every sample must be one group of regular members with a
``.png`` whose header declares the dataset's size and mode (read from the header's bytes
before anything is decoded, so a decompression bomb is refused without allocating it).
Anything else is a :class:`ShardError` naming the shard and the sample.
"""

from __future__ import annotations

import json
import struct
import tarfile
from pathlib import Path
from typing import Iterator

import numpy as np

from generators.bounds import IMAGE_SIDE
from generators.regular_files import NotRegularFileError, irregular, open_regular
from generators.sample import decode_png
from generators.shards import (ShardError, dataset_shards, read_dataset_info, read_sidecar,
                               sample_key, sidecar_path)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: ``(bit depth, colour type)`` of an IHDR chunk -> image mode (what ``synthgen render`` writes)
PNG_MODES = {(8, 0): "L", (8, 2): "RGB"}


def finished_shards(folder: str | Path) -> list[Path]:
    """Tars of a shard directory that have a sidecar, in shard order.

    Raises ``FileNotFoundError`` if the directory has no ``dataset.json`` or no finished shard,
    and :class:`ShardError` if a shard or sidecar name is taken by anything but a regular file
    (a FIFO, a link, a folder: never opened or followed).
    """
    folder = Path(folder)
    shards = dataset_shards(folder)
    for path in (p for shard in shards for p in (shard, sidecar_path(shard))):
        kind = irregular(path)
        if kind is not None:
            raise ShardError(f"{path} is {kind}, not a regular file (never opened or followed); "
                             f"remove it and rerun the render command")
    paths = [p for p in shards if p.exists() and read_sidecar(p) is not None]
    if not paths:
        raise FileNotFoundError(f"{folder} holds no finished shard")
    return paths


def iter_raw_samples(shards: list[str | Path]) -> Iterator[dict]:
    """Yield ``{"__key__": "000000042", "__url__": shard path, "png": bytes, "cls": bytes,
    "json": bytes, ...}``.

    Samples come in shard order and, inside a shard, in index order. A field is the member
    name after the first dot, as in WebDataset (``__url__``: the shard, as WebDataset names
    it). A shard with a sidecar must yield exactly the sidecar's ``count`` samples with the
    keys ``first .. last``: a damaged tar (``tarfile`` silently stops at a bad member header)
    raises :class:`ShardError` naming the shard, the sample and the byte offset, never a short
    read. A sample with a member that is not a regular file, without a ``.png``, or whose PNG
    header does not declare the dataset's size and mode (:func:`png_problem`) is a
    :class:`ShardError` naming the shard and the sample.
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

    size, mode = declared_image(shard.parent)
    try:
        handle = open_regular(shard)
    except NotRegularFileError as error:
        raise ShardError(f"{error}; remove it and rerun the render command") from None
    except OSError as error:
        raise ShardError(f"{shard}: not a readable tar ({error}); rerun the render command "
                         f"to repair it") from None
    try:
        tar = tarfile.open(fileobj=handle, mode="r:")
    except (tarfile.TarError, OSError) as error:
        handle.close()
        raise ShardError(f"{shard}: not a readable tar ({error}); rerun the render command "
                         f"to repair it") from None

    def finish(sample: dict) -> dict:
        problem = png_problem(sample.get("png"), size, mode)
        if problem:
            raise sample_error(shard, sample["__key__"], problem)
        return sample

    with handle, tar:
        sample: dict = {}
        while True:
            offset = tar.offset
            try:
                member = tar.next()
            except (tarfile.TarError, OSError) as error:
                raise broken(f"bad tar header ({error})", offset) from None
            if member is None:
                break
            key, _, ext = member.name.partition(".")
            if not member.isfile():
                kind = "a symbolic link" if member.issym() else (
                    "a hard link" if member.islnk() else "not a regular file")
                raise sample_error(shard, key, f"member {member.name!r} is {kind}, not a regular "
                                               f"file (never extracted or followed)")
            if sample and key != sample["__key__"]:
                yield finish(sample)
                count += 1
                sample = {}
            if not sample:
                if expected is not None and key != sample_key(expected + count):
                    raise broken(f"member {member.name!r} where key "
                                 f"{sample_key(expected + count)} belongs", offset)
                sample["__key__"], sample["__url__"] = key, str(shard)
            try:
                sample[ext] = tar.extractfile(member).read()
            except (tarfile.TarError, OSError) as error:
                raise broken(f"unreadable member {member.name!r} ({error})", offset) from None
        if sample:
            yield finish(sample)
            count += 1
        if sidecar is not None and count != sidecar.count:
            raise broken("tar ends early (bad or missing member header)", tar.offset)


def sample_error(shard: str | Path, key: str, reason: str) -> ShardError:
    """A sample that is not what ``synthgen render`` writes (its sidecar may still match)."""
    return ShardError(f"{shard}: sample {key}: {reason}; remove the shard and its .json and "
                      f"rerun the render command")


def declared_image(folder: Path) -> tuple[int | None, str | None]:
    """``(size, mode)`` from a shard folder's ``dataset.json`` (``None``s without one)."""
    try:
        info = read_dataset_info(folder)
    except FileNotFoundError:
        return None, None
    return info.get("size"), info.get("mode")


def png_problem(data: bytes | None, size: int | None, mode: str | None) -> str | None:
    """What is wrong with a sample's PNG, from its signature and header bytes only (nothing is
    decompressed): missing, not a PNG, another size or mode than declared, or (with nothing
    declared) a side beyond :data:`generators.bounds.IMAGE_SIDE`. ``None`` if it may be
    decoded."""
    if data is None:
        return "no .png member"
    if data[:8] != PNG_SIGNATURE or data[12:16] != b"IHDR" or len(data) < 26:
        return f"not a PNG image (starts with {data[:8]!r})"
    width, height = struct.unpack(">II", data[16:24])
    found = PNG_MODES.get((data[24], data[25]), f"bit depth {data[24]}, colour type {data[25]}")
    if size is not None and (width, height) != (size, size):
        return f"PNG of {width}x{height} pixels, expected {size}x{size} (dataset.json)"
    if size is None and not (IMAGE_SIDE.low <= min(width, height)
                             and max(width, height) <= IMAGE_SIDE.high):
        return f"PNG of {width}x{height} pixels, sides must be in {IMAGE_SIDE.describe()}"
    if mode is not None and found != mode:
        return f"PNG in mode {found}, expected {mode} (dataset.json)"
    if found not in PNG_MODES.values():
        return f"PNG with {found}, expected mode L or RGB"
    return None


def decode_sample(raw: dict) -> dict:
    """Raw sample -> ``{"key", "index", "image": uint8 array, "cls": int|None, "meta": dict}``.

    Bytes that do not decode (corrupt pixel data behind a valid header, a bad label or json)
    are a :class:`ShardError` naming the shard (``__url__``) and the sample."""
    key = raw["__key__"]
    try:
        problem = png_problem(raw.get("png"), None, None)
        if problem:
            raise ValueError(problem)
        return {
            "key": key,
            "index": int(key),
            "image": decode_png(raw["png"]),
            "cls": int(raw["cls"]) if "cls" in raw else None,
            "meta": json.loads(raw["json"]) if "json" in raw else {},
        }
    except Exception as error:  # untrusted bytes: PIL, int and json raise many types
        reason = str(error) if isinstance(error, ValueError) else f"{type(error).__name__}: {error}"
        raise sample_error(raw.get("__url__", "shard"), key, f"does not decode ({reason})") \
            from None


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
