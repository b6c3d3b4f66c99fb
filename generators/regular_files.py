"""Opening files of a dataset folder that may be hostile: regular files only.

A FIFO in place of a shard blocks ``open`` forever (no writer), a device reads without end, a
symbolic link points anywhere. Readers of dataset folders (``dataset.json``, sidecars, shards)
therefore open entries through here: the entry is ``lstat``'ed first, opened with
``O_NOFOLLOW | O_NONBLOCK`` (so a FIFO swapped in meanwhile cannot block and a link is not
followed) and checked again with ``fstat``. Anything but a regular file is a
:class:`NotRegularFileError` naming the path and what it is.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import BinaryIO

_KINDS = ((stat.S_ISLNK, "a symbolic link"), (stat.S_ISFIFO, "a FIFO"),
          (stat.S_ISDIR, "a directory"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"))


class NotRegularFileError(OSError):
    """A dataset entry that is not a regular file (never opened, never followed)."""


def entry_kind(mode: int) -> str:
    """``"a FIFO"``, ``"a symbolic link"``, ... for an ``st_mode``; ``"a regular file"``."""
    if stat.S_ISREG(mode):
        return "a regular file"
    return next((name for test, name in _KINDS if test(mode)), "not a file")


def irregular(path: str | Path) -> str | None:
    """What ``path`` is if it exists and is not a regular file (``lstat``: links not followed);
    ``None`` for a regular file or no entry at all."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return None
    return None if stat.S_ISREG(mode) else entry_kind(mode)


def _refuse(path: str | Path, kind: str) -> NotRegularFileError:
    return NotRegularFileError(f"{path} is {kind}, not a regular file (not opened)")


def open_regular(path: str | Path) -> BinaryIO:
    """``open(path, "rb")`` for a regular file; :class:`NotRegularFileError` for anything else
    (``FileNotFoundError`` if absent). Never blocks on a FIFO, never follows a link."""
    kind = irregular(path)
    if kind is not None:
        raise _refuse(path, kind)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as error:
        if error.errno == errno.ELOOP:  # it became a link after the lstat
            raise _refuse(path, "a symbolic link") from None
        raise
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise _refuse(path, entry_kind(mode))
    return os.fdopen(fd, "rb")


def read_regular(path: str | Path) -> bytes:
    """The bytes of a regular file (see :func:`open_regular`)."""
    with open_regular(path) as handle:
        return handle.read()
