"""The data root: the one folder that holds a user's audio datasets (``fsdd/``,
``instruments/``, ``esc50/``, ...), set once.

Commands that take ``--data-root DIR`` use it; otherwise the environment variable
``SYNTHGEN_DATA`` names it. Task files of ``python -m finetune suite`` write roots under it as
``$SYNTHGEN_DATA/fsdd`` (or ``${SYNTHGEN_DATA}/fsdd``), so one task file serves every machine;
on the command line the shell expands the same spelling.
"""
from __future__ import annotations

import os
from pathlib import Path

from finetune.task import UserError

ENV = "SYNTHGEN_DATA"
PREFIXES = ("$" + ENV, "${" + ENV + "}")


def data_root(given: str | Path | None = None, option: str = "--data-root") -> Path:
    """``given`` (a command's ``option``) or else ``$SYNTHGEN_DATA``, which must be a folder;
    ``UserError`` naming what is missing otherwise."""
    text = str(given) if given is not None and str(given) != "" else os.environ.get(ENV, "")
    if not text:
        raise UserError(f"no data root: pass {option} DIR or set {ENV}=DIR (the folder holding fsdd/, "
                        f"instruments/, ...; see README, 'Data')")
    root = Path(text).expanduser()
    if not root.is_dir():
        where = option if given is not None and str(given) != "" else ENV
        raise UserError(f"data root {root} ({where}) is not a folder")
    return root


def expand_root(text: str, given: str | Path | None = None, option: str = "--data-root") -> Path:
    """A dataset path that may start with ``$SYNTHGEN_DATA``: that prefix becomes the data root
    (:func:`data_root`); any other path is returned as it is."""
    for prefix in PREFIXES:
        if text == prefix or text.startswith(prefix + "/"):
            return data_root(given, option) / text[len(prefix):].lstrip("/")
    return Path(text)
