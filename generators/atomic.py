"""Atomic file writes: a file appears under its name complete, or not at all.

Every file the toolkit writes for later reading (shards and their sidecars, ``dataset.json``,
checkpoints, training logs, reproduction markers, embedding caches) goes through here:

1. the data is written to a temporary file in the target's own folder, named
   ``{name}.tmp{pid}.{random}`` (unique per process and call, so two writers of one target
   never share a temporary; created with ``O_EXCL`` and the usual ``umask`` permissions);
2. the file is flushed and ``fsync``'ed, then renamed onto the target with ``os.replace``
   (atomic within one file system);
3. the folder is ``fsync``'ed, so the rename itself survives a power cut;
4. on any failure (including ``KeyboardInterrupt`` and a full disk) the temporary file is
   unlinked first and then closed without writing out its buffer (which would fail again on a
   full disk), and the target is left as it was.

A killed process can leave a temporary file behind (nothing runs at ``SIGKILL``); readers
never open ``*.tmp*`` names, and writers that own a folder may delete them
(``generators.render.remove_stale_temporaries``). This module uses the standard library only,
so every layer (``generators`` and above) can import it.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import secrets
from pathlib import Path
from typing import IO, Any, Callable, Iterator


def temporary_name(path: str | Path) -> Path:
    """A fresh temporary name next to ``path`` (``{name}.tmp{pid}.{8 hex digits}``)."""
    path = Path(path)
    return path.with_name(f"{path.name}.tmp{os.getpid()}.{secrets.token_hex(4)}")


def fsync_folder(folder: str | Path) -> None:
    """Make the entries of ``folder`` (a rename into it) durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class AtomicFile:
    """An open temporary file that becomes ``path`` on :meth:`commit` (or vanishes on
    :meth:`discard`). ``file`` is the binary handle to write to."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        while True:
            self.tmp = temporary_name(self.path)
            try:
                fd = os.open(self.tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
                break
            except FileExistsError:  # pragma: no cover - 32 random bits collided
                continue
        #: The permissions a new file gets here (``0o666`` less the umask).
        self.mode = os.fstat(fd).st_mode & 0o777
        self.file: IO[bytes] = os.fdopen(fd, "wb")

    def commit(self) -> None:
        """Flush, fsync, rename onto ``path``, fsync the folder. On failure: discard, raise."""
        try:
            self.file.flush()
            os.fsync(self.file.fileno())
            self.file.close()
            os.replace(self.tmp, self.path)
        except BaseException:
            self.discard()
            raise
        fsync_folder(self.path.parent)

    def discard(self) -> None:
        """Remove the temporary file, then close it without writing out what is still buffered
        (a flush on a full disk would fail again and leave the file); ``path`` is untouched."""
        self.tmp.unlink(missing_ok=True)
        raw = getattr(self.file, "raw", self.file)
        raw.close()  # the buffered writer counts as closed now and never flushes


@contextlib.contextmanager
def atomic_open(path: str | Path) -> Iterator[IO[bytes]]:
    """``with atomic_open(path) as f: f.write(...)``: ``path`` appears when the block ends
    without an exception; an exception removes the temporary file and is re-raised."""
    target = AtomicFile(path)
    try:
        yield target.file
    except BaseException:
        target.discard()
        raise
    target.commit()


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """For libraries that write by file name (``safetensors.torch.save_file``, ...): yields
    the temporary path to write; it becomes ``path`` as in :func:`atomic_open`. The file gets
    the permissions of a new file even if the library recreated it with others (safetensors
    writes ``0600``)."""
    target = AtomicFile(path)
    target.file.close()
    try:
        yield target.tmp
        os.chmod(target.tmp, target.mode)
        with open(target.tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(target.tmp, target.path)
    except BaseException:
        target.tmp.unlink(missing_ok=True)
        raise
    fsync_folder(target.path.parent)


def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (see the module docstring)."""
    with atomic_open(path) as handle:
        handle.write(data)


def write_json_atomic(path: str | Path, data: Any, **dumps: Any) -> None:
    """``json.dumps(data, **dumps)`` plus a final newline, written atomically (UTF-8)."""
    write_bytes_atomic(path, (json.dumps(data, **dumps) + "\n").encode())


def _lock_exclusive(handle: IO[bytes]) -> bool:
    """Take an exclusive POSIX record lock (``lockf``) on the whole open file, waiting for it;
    False where the file system has no locks (``ENOLCK``, ``ENOSYS``, ``EOPNOTSUPP``: e.g. NFS
    without a lock daemon, Lustre without ``-o flock``)."""
    try:
        fcntl.lockf(handle, fcntl.LOCK_EX)
    except OSError as error:
        if error.errno in (errno.ENOLCK, errno.ENOSYS, errno.EOPNOTSUPP):
            return False
        raise
    return True


def append_json_lines(path: str | Path, records: list[dict],
                      unless: Callable[[bytes], bool] | None = None) -> bool:
    """Append ``records`` as JSON lines (sorted keys) in one write, then fsync: the lines are in
    the file all or none. A torn last line left by a writer killed mid-line is ended with a
    newline first, so only it is lost.

    Concurrent writers (processes), also on several machines: the append runs under an exclusive ``lockf``
    lock on the file, so blocks of any size never interleave or overwrite each other; on NFS the
    lock also makes the client re-read the file's size and write its data back before the next
    writer gets the lock (O_APPEND alone is not atomic there). ``unless(content)`` is called
    under the lock with the file's bytes; when it returns True nothing is appended (a check and
    an append no other writer can come between). Returns whether the records were appended.
    Where the file system refuses locks, the append is a single O_APPEND write, which does not
    interleave on a local file system but is not safe on NFS."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    blob = "".join(json.dumps(r, sort_keys=True) + "\n" for r in records).encode()
    with open(path, "a+b") as f:
        locked = _lock_exclusive(f)
        try:
            if unless is not None:
                f.seek(0)
                if unless(f.read()):
                    return False
            if f.seek(0, 2) > 0:
                f.seek(-1, 2)
                if f.read(1) != b"\n":
                    blob = b"\n" + blob
            f.write(blob)
            f.flush()
            os.fsync(f.fileno())
        finally:
            if locked:
                fcntl.lockf(f, fcntl.LOCK_UN)
    return True
