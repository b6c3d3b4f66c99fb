"""Fault injection on finetune's files: a swapped or truncated embedding cache, torn results
lines, bad flags and a hostile WAV header (docs/reliability.md)."""
from __future__ import annotations

import json
import os
import re
import threading
from pathlib import Path

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


# --- issue: wrong results with exit 0 ---------------------------------------------------------

def _one_line(out, *expected):
    """``out`` ended with exit 2 and one stderr line ``finetune: error: ...`` holding ``expected``."""
    errors = [line for line in out.stderr.splitlines() if "error" in line.lower()]
    assert out.exit_code == 2, out.output
    assert len(errors) == 1 and errors[0].startswith("finetune: error: "), out.stderr
    assert "Traceback" not in out.stderr
    for text in expected:
        assert text in errors[0], errors[0]
    return errors[0]


@pytest.mark.parametrize("command", ["full", "linear"])
def test_nan_sample_in_a_clip_is_refused_naming_the_file(tmp_path, tone_folder, command):
    bad = tone_folder / "low" / "low03.wav"
    wave, sr = sf.read(bad, dtype="float32")
    wave[100] = np.nan
    sf.write(bad, wave, sr, subtype="FLOAT")
    extra = ["--steps", "1", "--max-splits", "1"] if command == "full" else ["--cache", ""]
    args = [command, "--ckpt", "random", "--task", "folder", "--root", tone_folder, *SMALL, *extra]
    out = _run(*args, "--results", tmp_path / "r.jsonl")
    _one_line(out, f"audio file {bad} holds non-finite samples")
    assert not (tmp_path / "r.jsonl").exists()
    out = _run(*args, "--skip-bad", "--results", tmp_path / "r.jsonl")  # reported, never silent
    assert out.exit_code == 0, out.output
    assert f"skipped: audio file {bad} holds non-finite samples" in out.stderr
    assert json.loads((tmp_path / "r.jsonl").read_text())["skipped"] == [str(bad)]


def _csv_task(tmp_path, rows, header="filename,label,fold", data: bytes | None = None):
    root = tmp_path / "csvtask"
    root.mkdir(exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(6):
        sf.write(root / f"c{i}.wav", rng.standard_normal(4000).astype(np.float32) * 0.1, 16000)
    path = root / "task.csv"
    path.write_bytes(data if data is not None else ("\n".join([header, *rows]) + "\n").encode())
    return path


CLEAN = [f"c{i}.wav,{'ab'[i % 2]},{i // 2 + 1}" for i in range(6)]


@pytest.mark.parametrize("extra, listed", [
    ("c0.wav,a,2", "fold '1', label 'a' and fold '2', label 'a'"),   # one clip in two folds
    ("c0.wav,b,1", "fold '1', label 'a' and fold '1', label 'b'"),   # one file, two labels
    ("./sub/../c0.wav,a,3", "fold '1', label 'a' and fold '3', label 'a'"),  # the same file spelt otherwise
])
def test_a_file_listed_twice_is_refused(tmp_path, extra, listed):
    csv_path = _csv_task(tmp_path, CLEAN + [extra])
    out = _run("linear", "--ckpt", "logmel-stats", "--task", "csv", "--root", csv_path, *SMALL,
               "--results", tmp_path / "r.jsonl")
    _one_line(out, "task csv:task: audio file", "is listed twice", listed, "one fold with one label")
    assert not (tmp_path / "r.jsonl").exists()


def test_splits_are_checked_for_every_loader():
    from finetune.task import Clip, Split, Task, UserError, check_splits, cv_task, fixed_split_task

    clips = [Clip(Path(f"/d/{i}.wav"), "ab"[i % 2], str(i % 2 + 1)) for i in range(4)]
    assert len(cv_task("t", clips).splits) == 2
    with pytest.raises(UserError, match="listed twice"):
        fixed_split_task("t", [Clip(Path("/d/x.wav"), "a", "train"), Clip(Path("/d/x.wav"), "a", "test")])
    overlap = Task("t", tuple(clips), (Split("s", (0, 1, 2), (2, 3)),))
    with pytest.raises(UserError, match="split s does not divide the clips into disjoint"):
        check_splits(overlap)
    uncovered = Task("t", tuple(clips), (Split("s", (0, 1), (2,)),))
    with pytest.raises(UserError, match="covering all 4 clips"):
        check_splits(uncovered)


# --- issue: the CSV names files outside its folder --------------------------------------------

@pytest.mark.parametrize("name", ["../outside.wav", "sub/../../outside.wav", "/etc/passwd", "ABS"])
def test_csv_paths_outside_its_folder_are_refused(tmp_path, name):
    outside = tmp_path / "outside.wav"
    sf.write(outside, np.random.default_rng(1).standard_normal(4000).astype(np.float32) * 0.1, 16000)
    name = str(outside) if name == "ABS" else name
    csv_path = _csv_task(tmp_path, CLEAN + [f"{name},a,3"])
    args = ["linear", "--ckpt", "logmel-stats", "--task", "csv", "--root", csv_path, *SMALL]
    out = _run(*args, "--results", tmp_path / "r.jsonl")
    _one_line(out, f"{csv_path}: data row 7: filename {name!r} is outside the CSV's folder",
              "--csv-paths-outside")
    assert "decoded" not in out.stderr and not (tmp_path / "r.jsonl").exists()
    if name in ("../outside.wav", str(outside)):  # the explicit option allows it
        out = _run(*args, "--csv-paths-outside", "--results", tmp_path / "r.jsonl")
        assert out.exit_code == 0, out.output
        assert json.loads((tmp_path / "r.jsonl").read_text())["n_clips"] == 7
    assert "--csv-paths-outside" in _run("linear", "--help").stdout


@pytest.mark.parametrize("case, message", [
    ("short_row", "data row 3 has 2 fields, the header has 3 (filename, label, fold)"),
    ("long_row", "data row 3 has 4 fields, the header has 3"),
    ("latin1", "not UTF-8 text (byte 0xe9"),
    ("empty_name", "data row 2 has an empty filename"),
])
def test_malformed_csv_is_one_line(tmp_path, case, message):
    rows = list(CLEAN)
    data = None
    if case == "short_row":
        rows[2] = "c2.wav,a"
    elif case == "long_row":
        rows[2] = "c2.wav,a,2,extra"
    elif case == "empty_name":
        rows[1] = ",b,1"
    else:
        data = ("filename,label,fold\n" + "\n".join(rows) + "\nc5.wav,caf\u00e9,3\n").encode("latin-1")
    csv_path = _csv_task(tmp_path, rows, data=data)
    out = _run("linear", "--ckpt", "logmel-stats", "--task", "csv", "--root", csv_path, *SMALL)
    _one_line(out, str(csv_path), message)


@pytest.mark.parametrize("case, message", [
    ("short_row", "data row 2 has 2 fields, the header has 3 (filename, fold, category)"),
    ("latin1", "not UTF-8 text (byte 0xe9"),
])
def test_every_loader_reads_its_csv_through_the_one_checked_reader(tmp_path, case, message):
    """The published loaders (here ESC-50's layout) get the csv loader's one-line refusals."""
    (tmp_path / "audio").mkdir()
    (tmp_path / "meta").mkdir()
    rows = ["a.wav,1,dog", "b.wav,2", "c.wav,3,cat"] if case == "short_row" else \
        ["a.wav,1,dog", "b.wav,2,caf\u00e9"]
    text = "filename,fold,category\n" + "\n".join(rows) + "\n"
    (tmp_path / "meta" / "esc50.csv").write_bytes(text.encode("utf-8" if case == "short_row" else "latin-1"))
    out = _run("linear", "--ckpt", "logmel-stats", "--task", "esc50", "--root", tmp_path, *SMALL)
    _one_line(out, str(tmp_path / "meta" / "esc50.csv"), message)


# --- issue: unbounded sizes --------------------------------------------------------------------

@pytest.mark.parametrize("value", ["100000", "nan", "inf", "-1", "600.5"])
def test_clip_seconds_is_bounded_before_allocating(tmp_path, tone_folder, value):
    out = _run("linear", "--ckpt", "logmel-stats", "--task", "folder", "--root", tone_folder, *SMALL,
               "--clip-seconds", value, "--results", tmp_path / "r.jsonl")
    _one_line(out, f"clip length {float(value)} s must be > 0 and <= 600")
    assert "decoded" not in out.stderr and not (tmp_path / "r.jsonl").exists()
    assert "(0, 600] s" in " ".join(_run("linear", "--help").stdout.split())


def test_bench_sizes_are_bounded_before_allocating():
    out = _run("bench", "--n", "65536", "--n-mels", "4096", "--frames", "4096")
    _one_line(out, "--n 65536 clips of --n-mels 4096 x --frames 4096 make 1,099,511,627,776 "
              "float32 values, more than the 268,435,456 allowed")
    assert _run("bench", "--n", "0").exit_code == 2
    assert "1<=x<=65536" in _run("bench", "--help").stdout


# --- issue: finetune table validates its rows -------------------------------------------------

@pytest.mark.parametrize("change, message", [
    ({"acc_mean": 57}, "acc_mean 57 must be a finite fraction in [0, 1]"),
    ({"acc_mean": float("nan")}, "acc_mean nan must be a finite fraction"),
    ({"acc_std": "0.1"}, "acc_std '0.1' must be a finite fraction"),
    ({"acc_mean": True}, "acc_mean True must be a finite fraction"),
    ({"name": 5}, "name 5 must be a non-empty string"),
    ({"task": None}, "task None must be a non-empty string"),
    ({"split_acc": "x"}, "split_acc 'x' must be a list of finite fractions"),
    ({"group": ["g"]}, "group ['g'] must be a string"),
    (["not", "a", "dict"], "a JSON list, expected an object"),
])
def test_table_refuses_rows_it_would_print_wrong(tmp_path, change, message):
    good = {"task": "t", "name": "a", "acc_mean": 0.5, "acc_std": 0.1, "split_acc": [0.5]}
    bad = change if isinstance(change, list) else {**good, "name": "b", **change}
    res = tmp_path / "results.jsonl"
    res.write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n" + json.dumps(good) + "\n")
    out = _run("table", res, "--out", tmp_path / "report")
    _one_line(out, f"{res} line 2: {message}")
    assert not (tmp_path / "report").exists()


# --- issue: HEAR config.json --------------------------------------------------------------------

@pytest.mark.parametrize("config, message", [
    ({"audio_norm": {"mean": float("nan"), "std": 1.0}}, "audio_norm {'mean': nan, 'std': 1.0} must be"),
    ({"audio_norm": {"mean": 0.0, "std": 0.0}}, "with finite numbers and S > 0"),
    ({"audio_norm": {"mean": 0.0, "std": float("inf")}}, "with finite numbers and S > 0"),
    ({"audio_norm": {"mean": "0", "std": 1}}, "audio_norm {'mean': '0', 'std': 1} must be"),
    ({"audio_norm": [0, 1]}, "audio_norm [0, 1] must be"),
    (None, "not a checkpoint config"),
    ([1, 2], "not a checkpoint config"),
    ({"timm_kwargs": None}, "not a checkpoint config"),
    ({"timm_kwargs": {"img_size": "64x32"}}, "not a checkpoint config"),
    ({"timm_kwargs": {"img_size": [64]}}, "not a checkpoint config"),
])
def test_hear_load_model_refuses_a_bad_config(tmp_path, config, message):
    import finetune.hear as hear
    from finetune.task import UserError
    from tests.finetune.fixtures import save_checkpoint

    folder = save_checkpoint(tmp_path / "ckpt")
    good = json.loads((folder / "config.json").read_text())
    if isinstance(config, dict):
        merged = {**good, **config}
        if isinstance(config.get("timm_kwargs"), dict):
            merged["timm_kwargs"] = {**good["timm_kwargs"], **config["timm_kwargs"]}
        config = merged
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(UserError, match=re.escape(message)):
        hear.load_model(str(folder))


def test_hear_refuses_non_finite_audio(tmp_path):
    import torch

    import finetune.hear as hear

    model = hear.load_model("random")
    audio = torch.zeros(2, 8000)
    audio[1, 5] = float("nan")
    with pytest.raises(ValueError, match="audio sound 1 holds non-finite samples"):
        hear.get_scene_embeddings(audio, model)


def test_non_finite_weights_are_refused_not_probed(tmp_path, tone_folder):
    from safetensors.torch import load_file, save_file

    from tests.finetune.fixtures import save_checkpoint

    folder = save_checkpoint(tmp_path / "ckpt", img_size=(64, 32))
    weights = load_file(str(folder / "encoder.safetensors"))
    weights["blocks.0.mlp.fc1.weight"][0, 0] = float("nan")
    save_file(weights, str(folder / "encoder.safetensors"))
    out = _run("linear", "--ckpt", folder, "--task", "folder", "--root", tone_folder, *SMALL, "--cache", "",
               "--results", tmp_path / "r.jsonl")
    _one_line(out, "encoder ckpt gives non-finite embeddings (NaN or inf) for", "are its weights finite?")
    assert not (tmp_path / "r.jsonl").exists()


# --- issue: --state progress files ---------------------------------------------------------------

FULL = ["full", "--ckpt", "random", "--task", "folder", "--steps", "1", *SMALL, "--batch-size", "8"]


@pytest.mark.parametrize("line, message", [
    ("[1, 2]", "a JSON list, expected a finished-split object"),
    ('{"key": 5}', "key 5 must be a non-empty string"),
    ('{"key": "k", "split": "fold1", "acc": "0.9", "lr": 0.1, "step": 1, "cpu_seconds": 1}', "acc '0.9' must be"),
    ('{"key": "k", "split": "fold1", "acc": 90, "lr": 0.1, "step": 1, "cpu_seconds": 1}', "acc 90 must be a fraction"),
    ('{"key": "k", "split": "fold1", "acc": 0.9, "lr": 0.1, "step": 0.5, "cpu_seconds": 1}', "step 0.5 must be an"),
    ('{"key": "k", "split": "fold1", "acc": 0.9, "lr": 0.1, "step": Infinity, "cpu_seconds": 1}', "step inf must be"),
    ('{"key": "k", "split": "fold1", "acc": 0.9, "lr": NaN, "step": 1, "cpu_seconds": 1}', "lr nan must be a finite"),
])
def test_state_line_of_the_wrong_shape_is_one_line(tmp_path, tone_folder, line, message):
    state = tmp_path / "state.jsonl"
    state.write_text(line + "\n")
    out = _run(*FULL, "--root", tone_folder, "--max-splits", "1", "--state", state)
    _one_line(out, f"{state} line 1: {message}")


def test_torn_last_state_line_is_skipped_and_the_next_record_starts_a_line(tmp_path, tone_folder):
    state = tmp_path / "state.jsonl"
    args = [*FULL, "--root", tone_folder, "--state", state]
    out = _run(*args, "--max-splits", "1")
    assert out.exit_code == 0, out.output
    first = json.loads(state.read_text())
    with open(state, "a") as handle:
        handle.write('{"key": "0123", "split": "fold2", "ac')  # killed while appending
    out = _run(*args, "--max-splits", "2")
    assert out.exit_code == 0, out.output
    assert f"warning: {state} line 2: torn line" in out.stderr
    assert "fold1: finished earlier" in out.stderr
    lines = state.read_text().splitlines()
    assert len(lines) == 3 and json.loads(lines[0]) == first
    assert json.loads(lines[2])["split"] == "fold2"  # intact, on its own line
    out = _run(*args, "--max-splits", "2")  # both splits are read back, nothing trained
    assert out.exit_code == 0 and "fold2: finished earlier" in out.stderr and "step 1/1" not in out.stderr


# --- issue: output paths are checked before the work starts --------------------------------------

@pytest.fixture
def bad_outputs(tmp_path):
    folder = tmp_path / "a-folder"
    folder.mkdir()
    loop = tmp_path / "loop"
    os.symlink(loop, loop)  # a symlink loop
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    afile = tmp_path / "afile"
    afile.write_text("mine")
    return {"folder": folder, "loop": loop, "fifo": fifo, "readonly": Path("/sys/results.jsonl"),
            "file": afile, "under_file": afile / "x.jsonl"}


# "command flag kind" of each case; what the one line says for each kind of bad path
OUTPUT_CASES = ("linear --results folder, linear --results loop, linear --results fifo, linear --results readonly, "
                "linear --results under_file, linear --cache file, full --state folder, full --state fifo, "
                "full --results loop, suite --results folder, suite --out file, suite --out readonly, "
                "table --out loop").split(", ")
OUTPUT_MESSAGES = {"folder": "is a folder; give a file", "loop": "Too many levels of symbolic links",
                   "fifo": "is not a regular file", "readonly": "cannot write in /sys", "under_file": "Not a directory",
                   "file": "is a file; give a folder"}


@pytest.mark.parametrize("case", OUTPUT_CASES)
def test_unwritable_outputs_are_refused_before_any_work(tmp_path, tone_folder, bad_outputs, case):
    command, flag, kind = case.split()
    message = OUTPUT_MESSAGES[kind]
    res = tmp_path / "results.jsonl"
    res.write_text(json.dumps({"task": "t", "name": "a", "acc_mean": 0.5, "acc_std": 0.1}) + "\n")
    tasks = tmp_path / "tasks.toml"
    tasks.write_text(f'[[task]]\nname = "tones"\ntask = "folder"\nroot = "{tone_folder}"\n')
    given = {"--results": tmp_path / "new.jsonl", "--out": tmp_path / "report", "--state": tmp_path / "s.jsonl",
             "--cache": ""}
    given[flag] = bad_outputs[kind]
    base = {"linear": ["linear", "--ckpt", "logmel-stats", "--task", "folder", "--root", tone_folder, *SMALL],
            "full": ["full", "--ckpt", "random", "--task", "folder", "--root", tone_folder, *SMALL],
            "suite": ["suite", tasks, "--ckpt", "logmel-stats", "--n-mels", "64", "--frames", "32",
                      "--threads", "1"],
            "table": ["table", res]}[command]
    flags = {"linear": ("--results", "--cache"), "full": ("--results", "--state"),
             "suite": ("--results", "--out", "--cache"), "table": ("--out",)}[command]
    out = _run(*base, *[x for f in flags for x in (f, given[f])])
    _one_line(out, f"{flag} {bad_outputs[kind]}", message)
    assert "decoded" not in out.stderr  # refused before the work
    assert bad_outputs["file"].read_text() == "mine"
    assert not (tmp_path / "new.jsonl").exists() and not (tmp_path / "report").exists()


# --- issue: suite task files ---------------------------------------------------------------------

@pytest.mark.parametrize("text, message", [
    (b'[[task]]\nname = "a"\ntask = 5\nroot = "x"\n', "task 1 task 5 must be a non-empty string"),
    (b'[[task]]\nname = "a"\ntask = "folder"\nroot = ["x"]\n', "task 1 root ['x'] must be a non-empty string"),
    (b'[[task]]\nname = 1.5\ntask = "folder"\nroot = "x"\n', "task 1 name 1.5 must be a non-empty string"),
    (b'task = [1, 2]\n', "task 1 is a int, expected a [[task]] table"),
    (b'[[task]]\nname = "caf\xe9"\ntask = "folder"\nroot = "x"\n', "not UTF-8 text (byte 0xe9"),
    (b'[[task]]\nname = "a"\ntask = "folder"\nroot = "x"\nfolds = inf\n', "option folds=inf must be int"),
    (b'[[task]]\nname = "a"\ntask = "folder"\nroot = "x"\nclip_seconds = 1e5\n',
     "task 'a': clip length 100000.0 s must be > 0 and <= 600"),
    (b'[[task]]\nname = "a"\ntask = "csv"\nroot = "x"\ncsv_paths_outside = "yes"\n',
     "option csv_paths_outside='yes' must be bool"),
])
def test_suite_task_file_of_wrong_types_is_one_line(tmp_path, text, message):
    tasks = tmp_path / "tasks.toml"
    tasks.write_bytes(text)
    out = _run("suite", tasks, "--ckpt", "logmel-stats", "--results", tmp_path / "r.jsonl",
               "--out", tmp_path / "report")
    _one_line(out, f"task file {tasks}", message)
    assert not (tmp_path / "r.jsonl").exists()


def test_cache_entries_that_are_not_regular_files_are_replaced_unopened(tmp_path, tone_folder):
    cache = tmp_path / "cache"
    _, first = _linear(tone_folder, cache)
    entries = sorted(cache.glob("*.npz"))
    secret = tmp_path / "elsewhere.npz"
    entries[0].rename(secret)
    os.symlink(secret, entries[0])  # a link: never followed
    entries[1].unlink()
    os.mkfifo(entries[1])  # a FIFO: never opened (it would block)
    out, again = _linear(tone_folder, cache)
    assert again == first
    assert f"warning: embedding cache {entries[0]} is a symbolic link, not a regular file" in out.stderr
    assert f"warning: embedding cache {entries[1]} is a FIFO, not a regular file" in out.stderr
    assert all(e.is_file() and not e.is_symlink() for e in entries)  # replaced by regular entries


@pytest.mark.parametrize("line, message", [
    ('{"task": "t", "name": "a", "acc_mean": 57, "acc_std": 0.1, "suite_key": ["k"]}', "acc_mean 57 must be"),
    ('{"task": "t", "name": "a", "acc_mean": 0.5, "acc_std": 0.1, "suite_key": "k"}\nnot json',
     "line 2: not valid JSON"),
])
def test_suite_refuses_a_bad_results_file_before_the_work(tmp_path, tone_folder, line, message):
    tasks = tmp_path / "tasks.toml"
    tasks.write_text(f'[[task]]\nname = "tones"\ntask = "folder"\nroot = "{tone_folder}"\n')
    res = tmp_path / "results.jsonl"
    res.write_text(line + "\n{}\n")
    before = res.read_bytes()
    out = _run("suite", tasks, "--ckpt", "logmel-stats", "--n-mels", "64", "--frames", "32", "--threads", "1",
               "--results", res, "--out", tmp_path / "report")
    _one_line(out, f"{res} line", message)
    assert "decoded" not in out.stderr and res.read_bytes() == before and not (tmp_path / "report").exists()


def test_audio_replaced_under_the_same_names_is_never_served_from_old_results(tmp_path, tone_folder):
    from tests.finetune.fixtures import write_wav

    cache, state = tmp_path / "cache", tmp_path / "state.jsonl"
    full = [*FULL, "--root", tone_folder, "--max-splits", "1", "--state", state]
    _linear(tone_folder, cache)
    assert _run(*full).exit_code == 0
    for i in range(10):  # the "high" clips re-recorded: same names, other sound
        write_wav(tone_folder / "high" / f"high{i:02d}.wav", 300.0 * (1 + 0.02 * i), seconds=0.4, noise=0.05,
                  seed=50 + i)
    out, _ = _linear(tone_folder, cache)
    assert out.stderr.count("embedded") == 5, "every split embedded again, no stale cache entry"
    out = _run(*full)
    assert out.exit_code == 0 and "finished earlier" not in out.stderr and "step 1/1" in out.stderr


@pytest.mark.parametrize("command, flag, value, bound", [
    ("linear", "--frames", "100000", "8..4096"), ("full", "--n-mels", "100000", "8..4096"),
    ("suite", "--batch-size", str(10**9), "1..65536"), ("linear", "--n-mels", "4", "8..4096"),
])
def test_sizes_that_allocate_are_bounded_before_any_work(tmp_path, tone_folder, command, flag, value, bound):
    tasks = tmp_path / "tasks.toml"
    tasks.write_text(f'[[task]]\nname = "tones"\ntask = "folder"\nroot = "{tone_folder}"\n')
    base = {"linear": ["linear", "--ckpt", "random", "--task", "folder", "--root", tone_folder, "--cache", ""],
            "full": ["full", "--ckpt", "random", "--task", "folder", "--root", tone_folder],
            "suite": ["suite", tasks, "--ckpt", "random", "--out", tmp_path / "report"]}[command]
    out = _run(*base, "--threads", "1", "--results", tmp_path / "r.jsonl", flag, value)
    _one_line(out, f"{flag} {value} must be an integer in {bound}")
    assert "decoded" not in out.stderr and not (tmp_path / "r.jsonl").exists()
    assert f"({bound})" in " ".join(_run(command, "--help").stdout.split()).replace("input height, ", "(")
