"""``python -m finetune suite TASKS.toml --ckpt A --ckpt B ...``: every (checkpoint, task) pair
through the linear probe, resumable, then one paper-style table.

The task file (TOML) lists tasks; a root is under the data root when it starts with
``$SYNTHGEN_DATA`` (``--data-root``, else that environment variable; :mod:`finetune.data_root`),
otherwise relative to the working directory::

    [[task]]
    name = "fsdd"                 # column label in the table
    task = "fsdd"                 # loader (see --help of linear)
    root = "$SYNTHGEN_DATA/fsdd"

    [[task]]
    name = "instruments"
    task = "instruments"
    root = "$SYNTHGEN_DATA/instruments"
    folds = 5                     # optional: folds, fsdd_split, clip_seconds, clip, pooling,
    pooling = "freq"              # layers, norm, csv_paths_outside -- override the
                                  # command-line defaults per task

The file is UTF-8; ``name``, ``task`` and ``root`` are non-empty strings.

Every finished pair is appended to ``--results`` with a ``suite_key`` (a hash of the checkpoint,
the task entry as written, so the same on every machine, and the settings); a rerun skips the
pairs whose key is already there, so a killed suite resumes where it stopped. The table has the
encoders as rows, the tasks as columns (accuracy, or mAP for multi-label tasks: mean +- std over
folds; runs sharing ``--group`` also get a row aggregating them) and an average column.
"""
from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from finetune.data_root import expand_root
from finetune.progress import report_stderr

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10
    import tomli as tomllib
from finetune.task import UserError, check_clip_seconds

OPTIONS = {"folds": int, "fsdd_split": str, "clip_seconds": float, "clip": str, "pooling": str, "layers": str,
           "norm": str, "csv_paths_outside": bool}


@dataclass(frozen=True)
class SuiteTask:
    """One ``[[task]]`` entry: table label, loader name, root and per-task options."""

    name: str
    task: str
    root: Path
    options: dict = field(default_factory=dict)
    root_text: str = ""   # the root as the task file writes it (``$SYNTHGEN_DATA/...``): the key's


def read_task_file(path: Path, data_root: str | Path | None = None) -> list[SuiteTask]:
    """Parse and check the task file; ``UserError`` naming the file and entry on any mistake.
    ``data_root`` is what ``$SYNTHGEN_DATA`` in a root stands for (None: the environment variable)."""
    if not path.is_file():
        raise UserError(f"task file {path} does not exist")
    try:
        data = tomllib.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise UserError(f"task file {path}: not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset "
                        f"{exc.start}); TOML files are UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"task file {path}: not valid TOML ({exc})") from None
    entries = data.get("task")
    if not isinstance(entries, list) or not entries:
        raise UserError(f"task file {path}: needs at least one [[task]] entry")
    out, names = [], set()
    for n, entry in enumerate(entries, 1):
        if not isinstance(entry, dict):
            raise UserError(f"task file {path}: task {n} is a {type(entry).__name__}, expected a [[task]] table")
        missing = [k for k in ("name", "task", "root") if k not in entry]
        if missing:
            raise UserError(f"task file {path}: task {n} misses {', '.join(missing)}")
        unknown = sorted(set(entry) - {"name", "task", "root"} - set(OPTIONS))
        if unknown:
            raise UserError(f"task file {path}: task {entry['name']!r} has unknown option(s) {', '.join(unknown)} "
                            f"(known: {', '.join(OPTIONS)})")
        wrong = [k for k in ("name", "task", "root") if not isinstance(entry[k], str) or not entry[k].strip()]
        if wrong:
            raise UserError(f"task file {path}: task {n} {wrong[0]} {entry[wrong[0]]!r} must be a non-empty "
                            f"string")
        if entry["name"] in names:
            raise UserError(f"task file {path}: task name {entry['name']!r} appears twice")
        names.add(entry["name"])
        opts = {}
        for k in set(entry) & set(OPTIONS):
            try:
                if OPTIONS[k] is bool and not isinstance(entry[k], bool):
                    raise TypeError(k)
                opts[k] = OPTIONS[k](entry[k])
            except (TypeError, ValueError, OverflowError):
                raise UserError(f"task file {path}: task {entry['name']!r} option {k}={entry[k]!r} must be "
                                f"{OPTIONS[k].__name__}") from None
        if "clip_seconds" in opts:  # bounded before any task is decoded
            try:
                check_clip_seconds(opts["clip_seconds"])
            except UserError as exc:
                raise UserError(f"task file {path}: task {entry['name']!r}: {exc}") from None
        try:
            root = expand_root(entry["root"], data_root)
        except UserError as exc:
            raise UserError(f"task file {path}: task {entry['name']!r} root {entry['root']!r}: {exc}") from None
        out.append(SuiteTask(str(entry["name"]), str(entry["task"]), root, opts, entry["root"]))
    return out


def suite_key(ckpt: str, task: SuiteTask, settings: dict) -> str:
    root = task.root_text or str(task.root)
    blob = json.dumps({"ckpt": ckpt, "name": task.name, "task": task.task, "root": root, "settings": settings},
                      sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def finished_keys(results: Path) -> set[str]:
    """``suite_key`` of every complete line of ``results`` (absent file: none)."""
    if not results.is_file():
        return set()
    keys = set()
    for line in results.read_bytes().decode("utf-8", "replace").splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue  # a torn last line of a killed run: that pair is redone
        if isinstance(rec, dict) and isinstance(rec.get("suite_key"), str):
            keys.add(rec["suite_key"])
    return keys


def run_suite(tasks: list[SuiteTask], ckpts: list[str], groups: dict[str, str], results: Path,
              defaults: dict, evaluate: Callable[[SuiteTask, dict, list[str]], list[dict]],
              report: Callable[[str], None] = report_stderr) -> list[dict]:
    """Evaluate every pending (checkpoint, task) pair; ``evaluate(task, settings, ckpts)`` yields
    one record per checkpoint in order (sharing one decode of the task), each saved as soon as it
    is yielded. Returns the new records."""
    from finetune.results import append_result

    done = finished_keys(results)
    new = []
    total, step = len(tasks) * len(ckpts), 0
    for task in tasks:
        settings = {**defaults, **task.options}
        pending = [c for c in ckpts if suite_key(c, task, settings) not in done]
        for c in ckpts:
            if c not in pending:
                step += 1
                report(f"[{step}/{total}] {c} on {task.name}: already in {results}, skipped")
        if not pending:
            continue
        for ckpt, record in zip(pending, evaluate(task, settings, pending)):
            step += 1
            record.update(task=task.name, loader=record.get("task"), suite_key=suite_key(ckpt, task, settings))
            if groups.get(ckpt):
                record["group"] = groups[ckpt]
            append_result(results, record)
            new.append(record)
            report(f"[{step}/{total}] {record['name']} on {task.name}: {100 * record['acc_mean']:.1f} ± "
                   f"{100 * record['acc_std']:.1f} {'mAP' if record.get('metric') == 'mAP' else '%'}")
    return new
