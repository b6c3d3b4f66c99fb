"""Output paths of the ``finetune`` commands, checked before any work starts.

A results file, a progress (``--state``) file, the embedding cache or a report folder that
cannot be written would otherwise be found out after minutes or hours of decoding, embedding and
training. The checks are :mod:`generators.output_paths` (shared with ``synthgen``); here each
ends in a ``UserError`` (one line naming the flag and the path) and writes nothing:
writability is probed with an unnamed temporary file (``O_TMPFILE``: no entry ever appears in
the folder) or by opening an existing file for appending (its bytes and times stay). A path
that is not a regular file or folder (a FIFO, a device, a socket) is refused, never opened, so
no command can block on it.
"""
from __future__ import annotations

import os
import stat
from pathlib import Path

from finetune.task import UserError
from generators import output_paths


def check_output_file(path: Path | None, flag: str) -> None:
    """``path`` (given as ``flag``) can be created or appended to: absent (its folder writable)
    or an existing writable regular file (:func:`generators.output_paths.check_output_file`)."""
    try:
        output_paths.check_output_file(path, flag)
    except output_paths.OutputPathError as error:
        raise UserError(str(error)) from None


def check_output_folder(path: Path | None, flag: str) -> None:
    """``path`` (given as ``flag``) is a writable folder, or can be created as one
    (:func:`generators.output_paths.check_output_folder`)."""
    try:
        output_paths.check_output_folder(path, flag)
    except output_paths.OutputPathError as error:
        raise UserError(str(error)) from None


def check_input_file(path: Path, what: str) -> None:
    """``path`` is an existing regular file (a FIFO or device is refused, never opened)."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise UserError(f"{what} {path} does not exist") from None
    except OSError as exc:  # a symlink loop (ELOOP), a file used as a folder (ENOTDIR), ...
        raise UserError(f"{what} {path}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(mode):
        raise UserError(f"{what} {path} is not a regular file")
