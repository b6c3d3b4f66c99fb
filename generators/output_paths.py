"""Output paths checked before any work starts (every command of every layer uses these).

A sheet, a statistics file, a results file or an output folder that cannot be written would
otherwise be found out after minutes or hours of rendering, reading or training. Each check
raises :class:`OutputPathError` (a ``ValueError``: one line naming the flag and the path) and
writes nothing: writability is probed with an unnamed temporary file (``O_TMPFILE``: no entry
ever appears in the folder) or by opening an existing file for appending (its bytes and times
stay). A path that is not a regular file or folder (a FIFO, a device, a socket) is refused,
never opened, so no command can block on it. A symlink loop, a file used as a folder and a
read-only file system are named by their system error.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path


class OutputPathError(ValueError):
    """An output path that cannot be written (one line: the flag, the path, why)."""


def _stat(path: Path, flag: str) -> os.stat_result | None:
    """``os.stat`` of ``path`` (following links), ``None`` if nothing is there."""
    try:
        return os.stat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:  # a symlink loop (ELOOP), a file used as a folder (ENOTDIR), ...
        raise OutputPathError(f"{flag} {path}: {exc.strerror or exc}") from None


def _probe_folder(folder: Path, flag: str, path: Path) -> None:
    """``OutputPathError`` unless a file can be created in ``folder`` (or, when it does not
    exist yet, in its nearest existing ancestor, where it will be created)."""
    for parent in (folder, *folder.parents):
        st = _stat(parent, flag)
        if st is None:
            continue
        if not stat.S_ISDIR(st.st_mode):
            raise OutputPathError(f"{flag} {path}: {parent} is not a folder")
        try:
            with tempfile.TemporaryFile(dir=parent):
                pass
        except OSError as exc:
            raise OutputPathError(f"{flag} {path}: cannot write in {parent} "
                                  f"({exc.strerror or exc})") from None
        return


def check_output_file(path: str | Path | None, flag: str) -> None:
    """``path`` (given as ``flag``) can be created or replaced: absent (its folder writable)
    or an existing writable regular file. ``None`` (an unset option) passes."""
    if path is None:
        return
    path = Path(path)
    st = _stat(path, flag)
    if st is None:
        _probe_folder(path.parent, flag, path)
        return
    if stat.S_ISDIR(st.st_mode):
        raise OutputPathError(f"{flag} {path} is a folder; give a file")
    if not stat.S_ISREG(st.st_mode):
        raise OutputPathError(f"{flag} {path} is not a regular file (a FIFO, device or socket); "
                              f"give a file")
    try:
        with open(path, "ab"):
            pass
    except OSError as exc:
        raise OutputPathError(f"{flag} {path} cannot be written ({exc.strerror or exc})") from None


def check_output_folder(path: str | Path | None, flag: str) -> None:
    """``path`` (given as ``flag``) is a writable folder, or can be created as one."""
    if path is None:
        return
    path = Path(path)
    st = _stat(path, flag)
    if st is not None and not stat.S_ISDIR(st.st_mode):
        raise OutputPathError(f"{flag} {path} is a file; give a folder")
    _probe_folder(path, flag, path)
