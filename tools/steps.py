"""Cached, resumable pipeline steps: one marker file per finished step, an optional CPU lock.

A step named ``NAME`` is finished when ``WORK/steps/NAME.done`` exists. The marker (JSON: what
the step produced, its wall time, when it finished) is written atomically after the step
succeeded, so a killed step has no marker and runs again on the next invocation; the commands
the steps run are themselves resumable (shard rendering, ``pretrain --resume``).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Callable, Iterator

from generators import atomic


class StepError(RuntimeError):
    """A step failed; the message names the step and ends with the tail of its log."""


def marker(work: Path, name: str) -> Path:
    return Path(work) / "steps" / f"{name}.done"


def read_marker(work: Path, name: str) -> dict | None:
    path = marker(work, name)
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def write_json_atomic(path: Path, data: dict) -> None:
    """``data`` as indented JSON, written atomically (:mod:`generators.atomic`), folder created."""
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic.write_json_atomic(path, data, indent=1, sort_keys=True, default=str)


@contextlib.contextmanager
def cpu_lock(path: str | Path | None) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path`` (shared with ``flock PATH cmd``); no-op for None."""
    if path is None:
        yield
        return
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def run_step(work: Path, name: str, body: Callable[[], dict | None], *, lock: str | Path | None = None,
             log: Callable[[str], None] = print) -> dict:
    """Run ``body`` under ``lock`` unless step ``name`` already finished; returns its marker."""
    done = read_marker(work, name)
    if done is not None:
        log(f"[skip] {name} (finished {done.get('finished', '?')})")
        return done
    log(f"[run ] {name}")
    with cpu_lock(lock):
        started = time.monotonic()
        info = body() or {}
    info = {**info, "seconds": round(time.monotonic() - started, 1),
            "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    write_json_atomic(marker(work, name), info)
    log(f"[done] {name} in {info['seconds']:.0f} s")
    return info


def run_command(command: list[str], log_path: Path, env: dict | None = None) -> None:
    """Run ``command`` with stdout+stderr appended to ``log_path``; ``StepError`` on failure."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "a") as handle:
        handle.write(f"$ {' '.join(command)}\n")
        handle.flush()
        code = subprocess.call(command, stdout=handle, stderr=subprocess.STDOUT,
                               env={**os.environ, **(env or {})})
    if code != 0:
        tail = log_path.read_text(errors="replace").splitlines()[-5:]
        raise StepError(f"{' '.join(command[:4])} ... exited {code}; see {log_path}: "
                        + " | ".join(line.strip() for line in tail))


def copy_mini_fsdd(data: Path, out: Path, clips_per_label: int) -> dict:
    """``OUT/DIGIT/*.wav``: the first ``clips_per_label`` FSDD recordings (sorted by name) of
    every digit, copied from ``DATA/fsdd/recordings``."""
    source = Path(data) / "fsdd" / "recordings"
    files = sorted(source.glob("*.wav"))
    if not files:
        raise StepError(f"{source} holds no FSDD recordings")
    for digit in range(10):
        mine = [f for f in files if f.name.startswith(f"{digit}_")][:clips_per_label]
        (out / str(digit)).mkdir(parents=True, exist_ok=True)
        for f in mine:
            shutil.copyfile(f, out / str(digit) / f.name)
    return {"clips": sum(1 for _ in out.rglob("*.wav"))}


def checkpoint_step(out: Path) -> int:
    """The step of the pre-training checkpoint in ``out`` (its ``config.json``); 0 when there
    is none yet or it cannot be read."""
    try:
        return int(json.loads((Path(out) / "config.json").read_text()).get("step", 0))
    except (OSError, ValueError):
        return 0
