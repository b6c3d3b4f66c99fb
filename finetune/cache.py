"""The embedding cache: one ``.npz`` per (encoder, task, settings, split), verified on load.

A cache file is untrusted: it may be truncated by a crash, damaged on disk, or swapped for
another entry of the same shape (which would silently change accuracies). Each entry therefore
stores its own key and the sha256 of its array; an entry whose key or checksum does not match,
or that cannot be read, is reported in one warning line naming the file and recomputed. Writes
go to a unique temporary name in the same folder, are fsync'ed and renamed, so two runs that
fill the same entry at once never leave a corrupt file.
"""
from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path
from typing import Callable

import numpy as np

from generators.atomic import atomic_open
from generators.regular_files import irregular


def array_digest(x: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(x).tobytes()).hexdigest()


def load_entry(path: Path, key: str, report: Callable[[str], None]) -> np.ndarray | None:
    """The cached array of ``key`` at ``path``; ``None`` (after a warning if the file exists
    but is damaged or belongs to another key) when it must be recomputed."""
    kind = irregular(path)
    if kind is not None:  # a FIFO would block, a link would be followed: neither is opened
        report(f"warning: embedding cache {path} is {kind}, not a regular file; recomputing")
        return None
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            x, stored_key, digest = data["x"], str(data["key"]), str(data["sha256"])
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        report(f"warning: embedding cache {path} is unreadable ({type(exc).__name__}); recomputing")
        return None
    if stored_key != key:
        report(f"warning: embedding cache {path} holds another entry ({stored_key[:24]}); recomputing")
        return None
    if array_digest(x) != digest:
        report(f"warning: embedding cache {path} fails its checksum; recomputing")
        return None
    return x


def save_entry(path: Path, key: str, x: np.ndarray) -> None:
    """Write ``x`` with its key and checksum atomically (unique temporary name, fsync, rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(path) as handle:  # generators.atomic: also fsyncs the folder
        np.savez(handle, x=x, key=np.array(key), sha256=np.array(array_digest(x)))
