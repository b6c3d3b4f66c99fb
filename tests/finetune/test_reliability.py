"""Fault injection on finetune's files: a swapped or truncated embedding cache, torn results
lines, bad flags and a hostile WAV header (docs/reliability.md)."""
from __future__ import annotations

import json
import threading

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner

from finetune.cli import main

SMALL = ["--n-mels", "64", "--frames", "32", "--preset", "test-micro", "--threads", "1"]


def _run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def _linear(tone_folder, cache):
    out = _run("linear", "--ckpt", "random", "--task", "folder", "--root", tone_folder, *SMALL,
               "--cache", cache)
    assert out.exit_code == 0, out.output
    return out, json.loads(out.stdout.splitlines()[-1])["split_acc"]


# --- row 3: the embedding cache is verified, never trusted by name ---------------------------

def test_swapped_cache_entry_is_detected_and_recomputed(tmp_path, tone_folder):
    cache = tmp_path / "cache"
    _, first = _linear(tone_folder, cache)
    entries = sorted(cache.glob("*.npz"))
    assert len(entries) == 5  # one per split, all the same shape
    a, b = entries[0].read_bytes(), entries[1].read_bytes()
    entries[0].write_bytes(b)
    entries[1].write_bytes(a)
    out, again = _linear(tone_folder, cache)
    assert again == first
    for entry in entries[:2]:
        assert f"warning: embedding cache {entry} holds another entry" in out.stderr
    assert out.stderr.count("embedded") == 2  # only the two swapped entries were recomputed
    out, third = _linear(tone_folder, cache)
    assert third == first and "warning" not in out.stderr and "embedded" not in out.stderr


def test_truncated_or_damaged_cache_entry_is_recomputed(tmp_path, tone_folder):
    cache = tmp_path / "cache"
    _, first = _linear(tone_folder, cache)
    entries = sorted(cache.glob("*.npz"))
    entries[0].write_bytes(entries[0].read_bytes()[:100])   # torn write: BadZipFile
    data = bytearray(entries[1].read_bytes())               # same size, one bit flipped
    data[len(data) // 2] ^= 0x10
    entries[1].write_bytes(bytes(data))
    out, again = _linear(tone_folder, cache)
    assert again == first
    assert f"warning: embedding cache {entries[0]} is unreadable" in out.stderr
    assert str(entries[1]) in out.stderr and "Traceback" not in out.stderr
    assert out.stderr.count("embedded") == 2


def test_concurrent_cache_writes_never_leave_a_corrupt_entry(tmp_path):
    from finetune.cache import load_entry, save_entry

    path = tmp_path / "entry.npz"
    arrays = [np.full((200, 3, 64), k, dtype=np.float32) for k in range(2)]
    errors = []

    def writer(k):
        try:
            for _ in range(30):
                save_entry(path, "key", arrays[k])
        except Exception as exc:  # noqa: BLE001 - any failure of a writer fails the test
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    warnings = []
    x = load_entry(path, "key", warnings.append)
    assert warnings == [] and any(np.array_equal(x, a) for a in arrays)
    assert [p.name for p in tmp_path.iterdir()] == ["entry.npz"]  # no temporaries left


# --- row 6: a torn last line of a results file ------------------------------------------------

def test_torn_last_results_line_is_dropped_with_a_warning(tmp_path):
    from finetune.results import append_result

    res = tmp_path / "results.jsonl"
    record = {"task": "t", "name": "a", "acc_mean": 0.5, "acc_std": 0.1, "split_acc": [0.5]}
    append_result(res, record)
    with open(res, "a") as handle:
        handle.write('{"task": "t", "name": "b", "acc_me')  # killed mid-write
    out = _run("table", res, "--out", tmp_path / "report")
    assert out.exit_code == 0, out.output
    assert f"warning: {res} line 2: torn last line" in out.stderr
    assert "| a |" in (tmp_path / "report" / "results.md").read_text()
    append_result(res, {**record, "name": "c"})  # the next run appends after the torn line
    out = _run("table", res, "--out", tmp_path / "report")
    assert out.exit_code == 2 and f"{res} line 2: not valid JSON" in out.stderr
    lines = res.read_text().splitlines()
    assert json.loads(lines[-1])["name"] == "c"  # the new record is intact on its own line


# --- bad input: one line, finetune: error:, exit 2, nothing written --------------------------

@pytest.fixture
def one_hertz_wav(tmp_path):
    root = tmp_path / "hostile"
    for label in ("a", "b"):
        for i in range(3):
            (root / label).mkdir(parents=True, exist_ok=True)
            sf.write(root / label / f"{i}.wav", np.zeros(800, np.float32), 8000)
    sf.write(root / "a" / "9.wav", np.zeros(20, np.float32), 1)  # declares 1 Hz
    return root


@pytest.mark.parametrize("case", ["threads0", "table_out_file", "max_splits0", "one_hertz"])
def test_bad_input_is_one_line_with_prefix(tmp_path, tone_folder, one_hertz_wav, case):
    res = tmp_path / "results.jsonl"
    res.write_text(json.dumps({"task": "t", "name": "a", "acc_mean": 0.5, "acc_std": 0.1}) + "\n")
    target = tmp_path / "target"
    target.write_text("mine")
    args, message = {
        "threads0": (["linear", "--ckpt", "random", "--task", "folder", "--root", tone_folder,
                      *SMALL[:-1], "0", "--cache", "", "--results", tmp_path / "new.jsonl"],
                     "--threads 0 must be >= 1"),
        "table_out_file": (["table", res, "--out", target], f"--out {target} is a file"),
        "max_splits0": (["full", "--ckpt", "random", "--task", "folder", "--root", tone_folder,
                         *SMALL, "--max-splits", "0", "--results", tmp_path / "new.jsonl"],
                        "--max-splits 0 must be >= 1"),
        "one_hertz": (["linear", "--ckpt", "logmel-stats", "--task", "folder", "--root",
                       one_hertz_wav, *SMALL, "--results", tmp_path / "new.jsonl"],
                      "declares a sample rate of 1 Hz"),
    }[case]
    out = _run(*args)
    assert out.exit_code == 2, out.output
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("finetune: error: "), out.stderr
    assert message in lines[0]
    assert target.read_text() == "mine" and not (tmp_path / "new.jsonl").exists()


def test_class_missing_from_a_training_fold_is_one_error_line(tmp_path):
    """A CSV task where class b has one clip, in one fold: that fold's training set holds one
    class only (sklearn would raise a traceback)."""
    root = tmp_path / "csv"
    root.mkdir()
    rows = ["filename,label,fold"]
    rng = np.random.default_rng(0)
    for i in range(8):
        sf.write(root / f"c{i}.wav", rng.standard_normal(4000).astype(np.float32) * 0.1, 16000)
        rows.append(f"c{i}.wav,{'a' if i < 7 else 'b'},{i % 2 + 1}")
    (root / "task.csv").write_text("\n".join(rows) + "\n")
    out = _run("linear", "--ckpt", "logmel-stats", "--task", "csv", "--root", root / "task.csv",
               *SMALL, "--results", tmp_path / "r.jsonl")
    assert out.exit_code == 2, out.output
    errors = [line for line in out.stderr.splitlines() if "error" in line.lower()]
    assert len(errors) == 1 and errors[0].startswith("finetune: error: task csv:task, split fold")
    assert "cannot fit the probe" in errors[0] and "Traceback" not in out.stderr
    assert "Warning" not in out.stderr and not (tmp_path / "r.jsonl").exists()
