"""Atomic writes: complete file or old file, unique temporaries, no leftovers on failure."""

from __future__ import annotations

import os
import stat

import pytest

from generators import atomic
from generators.atomic import (AtomicFile, atomic_open, atomic_path, write_bytes_atomic,
                               write_json_atomic)


def test_write_replaces_the_target_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "a.json"
    target.write_text("old")
    write_json_atomic(target, {"b": 1, "a": [2]}, sort_keys=True)
    assert target.read_text() == '{"a": [2], "b": 1}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_failure_keeps_the_old_file_and_removes_the_temporary(tmp_path):
    target = tmp_path / "state.bin"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError, match="boom"):
        with atomic_open(target) as handle:
            handle.write(b"half of the new")
            raise RuntimeError("boom")
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.bin"]
    with pytest.raises(KeyboardInterrupt):
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"new")
            raise KeyboardInterrupt
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.bin"]


def test_temporaries_are_unique_per_writer_and_in_the_target_folder(tmp_path):
    target = tmp_path / "shard.tar"
    first, second = AtomicFile(target), AtomicFile(target)
    assert first.tmp != second.tmp and first.tmp.parent == second.tmp.parent == tmp_path
    assert first.tmp.name.startswith(f"shard.tar.tmp{os.getpid()}.")
    first.file.write(b"first")
    second.file.write(b"second")
    second.commit()
    first.commit()  # the later commit wins, neither writer saw the other's bytes
    assert target.read_bytes() == b"first"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shard.tar"]


def test_file_and_folder_are_fsynced_before_and_after_the_rename(tmp_path, monkeypatch):
    calls = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(atomic.os, "fsync", lambda fd: (calls.append(
        ("fsync", stat.S_ISDIR(os.fstat(fd).st_mode))), real_fsync(fd))[1])
    monkeypatch.setattr(atomic.os, "replace", lambda a, b: (calls.append(("replace", None)),
                                                            real_replace(a, b))[1])
    write_bytes_atomic(tmp_path / "x", b"data")
    assert calls == [("fsync", False), ("replace", None), ("fsync", True)]
    calls.clear()
    with atomic_path(tmp_path / "y") as tmp:
        tmp.write_bytes(b"data")
    assert calls == [("fsync", False), ("replace", None), ("fsync", True)]


def test_new_files_get_the_usual_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        write_bytes_atomic(tmp_path / "x", b"data")
        with atomic_path(tmp_path / "y") as tmp:  # a library that recreates the file 0600
            tmp.unlink()
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT, 0o600))
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "x").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "y").stat().st_mode) == 0o644


# --- append_json_lines: concurrent writers ----------------------------------------------------

APPENDER = """
import json, sys, time
from generators import atomic
path, writer, start = sys.argv[1], sys.argv[2], float(sys.argv[3])
time.sleep(max(0.0, start - time.time()))
if writer.startswith("once"):  # append unless the file already holds a line of "u", checking slowly
    def held(content):
        time.sleep(0.3)
        return b'"unit": "u"' in content
    print(atomic.append_json_lines(path, [{"unit": "u", "by": writer}], unless=held))
else:
    for i in range(20):  # blocks of ~40 KB: far beyond one pipe buffer or one buffered write
        atomic.append_json_lines(path, [{"writer": writer, "i": i, "pad": "x" * 20000}] * 2)
"""


def _appenders(path, writers):
    import subprocess
    import sys
    import time

    from tests.helpers import REPO

    start = time.time() + 1.0  # every process waits for the same moment, then appends
    processes = [subprocess.Popen([sys.executable, "-c", APPENDER, str(path), w, str(start)],
                                  cwd=REPO, stdout=subprocess.PIPE, text=True) for w in writers]
    outputs = [p.communicate(timeout=60)[0].strip() for p in processes]
    assert all(p.returncode == 0 for p in processes)
    return outputs


def test_concurrent_appends_from_several_processes_are_all_kept_whole(tmp_path):
    import json

    path = tmp_path / "results.jsonl"
    path.write_bytes(b'{"torn": ')  # a writer killed mid-line before: only that line is lost
    _appenders(path, ["a", "b", "c", "d"])
    lines = path.read_bytes().split(b"\n")
    assert lines[0] == b'{"torn": ' and lines[-1] == b""
    records = [json.loads(line) for line in lines[1:-1]]
    assert len(records) == 4 * 20 * 2 and all(len(r["pad"]) == 20000 for r in records)
    assert sorted((r["writer"], r["i"]) for r in records[::2]) == [(w, i) for w in "abcd" for i in range(20)]
    assert all(records[k] == records[k + 1] for k in range(0, len(records), 2))  # each block in one piece


def test_the_unless_check_and_its_append_are_one_step_for_concurrent_processes(tmp_path):
    import json

    path = tmp_path / "results.jsonl"
    outputs = _appenders(path, ["once-1", "once-2", "once-3"])
    assert sorted(outputs) == ["False", "False", "True"]
    assert [json.loads(line)["unit"] for line in path.read_text().splitlines()] == ["u"]
