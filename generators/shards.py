"""The shard format (docs/design.md, "Shards"): names, an atomic tar writer, sidecars,
``dataset.json``.

A shard ``{kind}-{k:06d}.tar`` holds samples ``k*shard_size ..`` as WebDataset groups
(``%09d.png``, ``.cls``, ``.json``), written in index order with fixed mtime and owner so the
bytes depend only on the content. It is written to a private temporary file, fsync'ed and
renamed (:mod:`generators.atomic`); then its sidecar ``{kind}-{k:06d}.json`` is written the
same way. A shard without a valid sidecar does not exist.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from generators.atomic import AtomicFile, write_bytes_atomic
from generators.bounds import IMAGE_SIDE, SAMPLES, SHARD_COUNT
from generators.regular_files import NotRegularFileError, irregular, open_regular, read_regular

DATASET_FILE = "dataset.json"
FORMAT_VERSION = 1
KEY_DIGITS = 9
# a kind names files inside the dataset folder: lower-case words joined by dashes, no paths
KIND_PATTERN = re.compile(r"[a-z0-9]+(?:[-_][a-z0-9]+)*")


class ShardError(ValueError):
    """A shard whose bytes do not hold what its sidecar promises (one line: shard and where)."""


def shard_name(kind: str, shard_index: int) -> str:
    return f"{kind}-{shard_index:06d}"


def sample_key(index: int) -> str:
    return f"{index:0{KEY_DIGITS}d}"


def shard_ranges(n: int, shard_size: int) -> list[tuple[int, int, int]]:
    """``(shard_index, first, stop)`` for every shard of an ``n``-sample dataset."""
    return [(k, start, min(start + shard_size, n))
            for k, start in enumerate(range(0, n, shard_size))]


class AtomicTarWriter:
    """Writes one tar of samples to ``path`` atomically (nothing visible until ``close``).

    One writer, one tar: it does not rotate into several shards (the shard loop in
    ``generators.render`` decides which samples go into which shard).
    ``write({"__key__": "000000042", "png": b"...", "cls": b"3", "json": b"{...}"})`` adds one
    member per field, in the order given (``__``-prefixed fields such as a read sample's
    ``__url__`` are metadata, not members). Use as a context manager; an exception discards it.
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        self._target = AtomicFile(self.path)
        self._hash = hashlib.sha256()
        self._tar = tarfile.open(fileobj=_HashingWriter(self._target.file, self._hash), mode="w",
                                 format=tarfile.USTAR_FORMAT)
        self.count = 0

    def write(self, sample: dict[str, Any]) -> None:
        key = sample["__key__"]
        if "." in key:
            raise ValueError(f"sample key {key!r} must not contain a dot")
        for ext, data in sample.items():
            if ext.startswith("__"):
                continue
            info = tarfile.TarInfo(f"{key}.{ext}")
            info.size = len(data)
            info.mtime = 0
            info.mode = 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            self._tar.addfile(info, io.BytesIO(data))
        self.count += 1

    def close(self) -> tuple[str, int]:
        """Finish the tar, fsync, rename into place; return ``(sha256, bytes)``."""
        self._tar.close()
        size = self._target.file.tell()
        self._target.commit()
        return self._hash.hexdigest(), size

    def discard(self) -> None:
        self._target.discard()

    def __enter__(self) -> "AtomicTarWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.discard()


class _HashingWriter:
    """A write-only file object that hashes what passes through it."""

    def __init__(self, raw, digest):
        self.raw, self.digest = raw, digest

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        return self.raw.write(data)

    def tell(self) -> int:
        return self.raw.tell()

    def flush(self) -> None:
        self.raw.flush()


@dataclass(frozen=True)
class Sidecar:
    """What a finished shard promises: its sample range and the digest of its bytes."""

    count: int
    first: int
    last: int
    sha256: str
    bytes: int

    def to_json(self) -> bytes:
        return json.dumps(self.__dict__, sort_keys=True, indent=1).encode()


def sidecar_path(tar_path: Path) -> Path:
    return Path(tar_path).with_suffix(".json")


def write_sidecar(tar_path: Path, sidecar: Sidecar) -> None:
    write_bytes_atomic(sidecar_path(tar_path), sidecar.to_json())


def read_sidecar(tar_path: Path) -> Sidecar | None:
    """The shard's sidecar, or ``None`` if it is missing, unreadable or not a regular file."""
    try:
        values = json.loads(read_regular(sidecar_path(tar_path)))
        return Sidecar(**{k: values[k] for k in ("count", "first", "last", "sha256", "bytes")})
    except (OSError, ValueError, KeyError, TypeError):
        return None


def sidecar_matches(sidecar: Sidecar, first: int, stop: int) -> bool:
    """The sidecar promises exactly samples ``first .. stop-1``."""
    return (sidecar.first, sidecar.last + 1, sidecar.count) == (first, stop, stop - first)


def shard_is_finished(tar_path: Path, first: int, stop: int, check_bytes: bool = True) -> bool:
    """Used by resume: sidecar present, matching range, tar of the promised size and (with
    ``check_bytes``) of the promised sha256, so a shard corrupted after rendering is redone."""
    sidecar = read_sidecar(tar_path)
    if sidecar is None or not sidecar_matches(sidecar, first, stop):
        return False
    try:
        if irregular(tar_path) or Path(tar_path).stat().st_size != sidecar.bytes:
            return False
        return not check_bytes or file_sha256(tar_path) == sidecar.sha256
    except OSError:
        return False


def file_sha256(path: Path, progress=None) -> str:
    """sha256 of a regular file (never a FIFO or a link: :mod:`generators.regular_files`) read
    in 1 MiB blocks; ``progress(nbytes)`` is called after each block."""
    digest = hashlib.sha256()
    with open_regular(path) as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
            if progress is not None:
                progress(len(block))
    return digest.hexdigest()


def read_dataset_info(folder: Path) -> dict:
    """``dataset.json`` of a shard directory (``FileNotFoundError``/``ValueError`` if bad).

    The file is untrusted: it must be a JSON object whose ``kind`` is a plain name (it becomes
    part of file names, so it can never point outside the folder) and whose counts are
    consistent non-negative integers; anything else is a ``ValueError`` naming the file.
    """
    folder = Path(folder)
    path = folder / DATASET_FILE
    if folder.exists() and not folder.is_dir():
        raise FileNotFoundError(f"{folder} is a file, not a synthgen shard directory")
    try:
        info = json.loads(read_regular(path))
    except FileNotFoundError:
        raise FileNotFoundError(f"{path} not found: not a synthgen shard directory") from None
    except NotRegularFileError as error:
        raise ValueError(str(error)) from None
    except (ValueError, OSError) as error:
        raise ValueError(f"{path} is not valid JSON: {error}") from None
    check_dataset_info(info, path)
    return info


def check_dataset_info(info: Any, path: Path) -> None:
    """``ValueError`` naming ``path`` unless ``info`` is a well-formed ``dataset.json``."""
    if not isinstance(info, dict):
        raise ValueError(f"{path} holds a JSON {type(info).__name__}, expected an object")
    kind = info.get("kind")
    if not isinstance(kind, str) or not KIND_PATTERN.fullmatch(kind):
        raise ValueError(f"{path}: kind {kind!r} is not a pattern kind name "
                         f"(lower-case letters, digits and dashes)")
    for key in ("n", "shard_size", "num_shards"):
        value = info.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{path}: {key} {value!r} must be a positive integer")
    SAMPLES.check(info["n"], f"{path}: n")
    if info["num_shards"] != -(-info["n"] // info["shard_size"]):  # counted, never listed here
        raise ValueError(f"{path}: num_shards {info['num_shards']} does not match n {info['n']} "
                         f"and shard_size {info['shard_size']}")
    SHARD_COUNT.check(info["num_shards"], f"{path}: n {info['n']} in shards of "
                      f"{info['shard_size']}", "not a dataset synthgen renders")
    if "size" in info:
        IMAGE_SIDE.check(info["size"], f"{path}: size")
    if info.get("mode", "L") not in ("L", "RGB"):
        raise ValueError(f"{path}: mode {info['mode']!r} must be L or RGB")
    if "params" in info and not isinstance(info["params"], dict):
        raise ValueError(f"{path}: params must be an object, not {type(info['params']).__name__}")


def dataset_shards(folder: Path, info: dict | None = None) -> list[Path]:
    """The tar paths a dataset directory should hold, in shard order."""
    info = info or read_dataset_info(folder)
    return [Path(folder) / f"{shard_name(info['kind'], k)}.tar" for k in range(info["num_shards"])]
