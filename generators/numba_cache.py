"""A writable numba cache folder, so kinds stay available on a read-only install.

The kinds compile their pixel loops with ``numba.njit(cache=True)``. numba stores the compiled
code next to the source (``__pycache__``) or in the user's cache folder (``~/.cache/numba``);
when neither is writable (a shared read-only install on a cluster, a read-only or missing
HOME) it refuses to compile the function at all ("cannot cache function ... no locator
available"), and every kind using it would be unavailable. :func:`ensure_cache_dir` detects
that case before the kinds are imported and points ``NUMBA_CACHE_DIR`` at a private per-user
folder under the temporary folder (created with mode 0700 and used only if this user owns it
and nobody else can write to it, since numba's cache index is a pickle); failing that, at a
fresh private temporary folder (compiled code is then not reused across runs). A
``NUMBA_CACHE_DIR`` set by the user is left alone.
"""

from __future__ import annotations

import os
import stat
import sys
import tempfile
from pathlib import Path

KINDS_DIR = Path(__file__).resolve().parent / "kinds"


def writable_folder(path: Path) -> bool:
    """Whether a file can be created in ``path`` (created if missing), as numba checks it."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
        return True
    except OSError:
        return False


def user_cache_root() -> Path:
    """numba's user-wide cache root on Linux/macOS (``$XDG_CACHE_HOME`` or ``~/.cache``)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "numba"


def private_folder(path: Path) -> bool:
    """Create ``path`` (mode 0700) unless present; true if this user owns it, it is a real
    folder (not a link) and no one else may write to it."""
    try:
        path.mkdir(mode=0o700, exist_ok=True)
        info = os.lstat(path)
    except OSError:
        return False
    return (stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid()
            and not info.st_mode & 0o022 and writable_folder(path))


def ensure_cache_dir(env: dict | None = None) -> str | None:
    """Set ``NUMBA_CACHE_DIR`` to a private writable folder when numba would have none; returns
    the folder chosen, or ``None`` when numba's own locations work (or the user chose one)."""
    env = os.environ if env is None else env
    if env.get("NUMBA_CACHE_DIR"):
        return None
    if writable_folder(KINDS_DIR / "__pycache__") or writable_folder(user_cache_root()):
        return None
    folder = Path(tempfile.gettempdir()) / f"synthgen-numba-{os.getuid()}"
    if not private_folder(folder):
        folder = Path(tempfile.mkdtemp(prefix="synthgen-numba-"))
    env["NUMBA_CACHE_DIR"] = str(folder)
    config = sys.modules.get("numba.core.config")
    if config is not None:  # numba already imported: it read the variable at import time
        config.CACHE_DIR = str(folder)
    return str(folder)
