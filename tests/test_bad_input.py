"""Bad input to every command, run as a user would: one line with the command's prefix, exit 2,
no traceback, nothing written (docs/reliability.md, "Bad input")."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import run_synthgen

COMMANDS = {"synthgen": [sys.executable, "-m", "generators.cli"],
            "pretrain": [sys.executable, "-m", "pretrain"],
            "finetune": [sys.executable, "-m", "finetune"]}
PRETRAIN = ["--preset", "test-micro", "--input-size", "32x32", "--steps", "2", "--workers", "0",
            "--no-progress"]
FINETUNE = ["--n-mels", "64", "--frames", "32", "--preset", "test-micro", "--threads", "1"]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dataset") / "noise"
    run_synthgen("render", "stat-spectrum", "--n", "16", "--shard-size", "8", "--size", "32",
                 "--quiet", "--workers", "1", "--out", out, check=True)
    return out


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*"))}


def _bad_info(dataset: Path, work: Path, info) -> Path:
    folder = work / "bad-info"
    shutil.copytree(dataset, folder)
    (folder / "dataset.json").write_text(json.dumps(info))
    return folder


def _truncated(dataset: Path, work: Path) -> Path:
    folder = work / "truncated"
    shutil.copytree(dataset, folder)
    shard = folder / "stat-spectrum-000001.tar"
    shard.write_bytes(shard.read_bytes()[: shard.stat().st_size // 2])
    return folder


def _fifo_info(dataset: Path, work: Path) -> Path:
    """A copy of the dataset whose ``dataset.json`` is a FIFO (opening it would block)."""
    import os

    folder = work / "fifo-info"
    shutil.copytree(dataset, folder)
    (folder / "dataset.json").unlink()
    os.mkfifo(folder / "dataset.json")
    return folder


def _folder(work: Path, name: str) -> Path:
    (work / name).mkdir()
    return work / name


def _wavs(work: Path, one_hertz: bool = False) -> Path:
    import soundfile as sf

    root = work / "wavs"
    for label in ("a", "b"):
        (root / label).mkdir(parents=True)
        for i in range(3):
            sf.write(root / label / f"{i}.wav", np.zeros(800, np.float32), 8000)
    if one_hertz:
        sf.write(root / "a" / "9.wav", np.zeros(20, np.float32), 1)
    return root


def _csv_outside(work: Path) -> Path:
    """A CSV task whose last row names a file outside the CSV's folder."""
    wavs = _wavs(work)
    (work / "task").mkdir()
    rows = [f"../wavs/{label}/{i}.wav,{label},{i + 1}" for label in ("a", "b") for i in range(3)]
    (work / "task" / "task.csv").write_text("filename,label,fold\n" + "\n".join(rows) + "\n")
    return work / "task" / "task.csv"


def _info(dataset: Path, **change) -> dict:
    info = json.loads((dataset / "dataset.json").read_text())
    info.update(change)
    return info


RENDER = ["render", "stat-spectrum", "--n", "16", "--shard-size", "8", "--size", "32", "--quiet"]

# id: (command, argv builder (dataset, work folder) -> args, expected text in the line)
CASES = {
    "render-out-empty": ("synthgen", lambda d, w: [*RENDER, "--out", ""], "'--out': is empty"),
    "render-info-list": ("synthgen", lambda d, w: [*RENDER, "--out", _bad_info(d, w, [1])],
                         "holds a JSON list, expected an object"),
    "render-info-empty": ("synthgen", lambda d, w: [*RENDER, "--out", _bad_info(d, w, {})],
                          "kind None is not a pattern kind name"),
    "render-info-types": ("synthgen", lambda d, w: [*RENDER, "--out", _bad_info(d, w, _info(d, n="16"))],
                          "n '16' must be a positive integer"),
    "render-param-nan": ("synthgen", lambda d, w: [*RENDER, "--param", "slope_max=nan", "--out", w / "o"],
                         "slope_max='nan' must be a finite number"),
    "verify-file": ("synthgen", lambda d, w: ["verify", d / "dataset.json"], "is a file, not a synthgen"),
    "verify-info-list": ("synthgen", lambda d, w: ["verify", _bad_info(d, w, [])], "holds a JSON list"),
    "verify-info-types": ("synthgen", lambda d, w: ["verify", _bad_info(d, w, _info(d, num_shards=5))],
                          "num_shards 5 does not match n 16 and shard_size 8"),
    "preview-info-empty": ("synthgen", lambda d, w: ["preview", _bad_info(d, w, {}), "--out", w / "s.png"],
                           "kind None is not a pattern kind name"),
    "preview-info-list": ("synthgen", lambda d, w: ["preview", _bad_info(d, w, [1]), "--out", w / "s.png"],
                          "holds a JSON list, expected an object"),
    "verify-info-empty": ("synthgen", lambda d, w: ["verify", _bad_info(d, w, {})],
                          "kind None is not a pattern kind name"),
    "stats-info-list": ("synthgen", lambda d, w: ["stats", _bad_info(d, w, [1])],
                        "holds a JSON list, expected an object"),
    "stats-info-empty": ("synthgen", lambda d, w: ["stats", _bad_info(d, w, {})],
                         "kind None is not a pattern kind name"),
    "preview-truncated": ("synthgen", lambda d, w: ["preview", _truncated(d, w), "--out", w / "s.png"],
                          "stat-spectrum-000001.tar: "),
    "preview-extension": ("synthgen", lambda d, w: ["preview", d, "--out", w / "sheet.xyz"],
                          "unknown image extension '.xyz'"),
    "preview-param-nan": ("synthgen", lambda d, w: ["preview", "stat-spectrum", "--param", "slope_min=nan",
                                                    "--out", w / "s.png"], "must be a finite number"),
    "stats-file": ("synthgen", lambda d, w: ["stats", d / "dataset.json"],
                   f"dataset folder {'{d}'} is a file"),
    "stats-info-types": ("synthgen", lambda d, w: ["stats", _bad_info(d, w, _info(d, kind=7))],
                         "kind 7 is not a pattern kind name"),
    "stats-truncated": ("synthgen", lambda d, w: ["stats", _truncated(d, w), "--n", "16"],
                        "stat-spectrum-000001.tar: "),
    "stats-n-nan": ("synthgen", lambda d, w: ["stats", d, "--n", "nan"], "argument --n: invalid int value"),
    "stats-n-huge": ("synthgen", lambda d, w: ["stats", d, "--n", "100000"],
                     "--n 100000 must be an integer in 2..4096"),
    "stats-json-folder": ("synthgen", lambda d, w: ["stats", d, "--n", "4", "--json", _folder(w, "j")],
                          "is a folder; give a file"),
    "render-workers-huge": ("synthgen", lambda d, w: [*RENDER, "--workers", "100000", "--out", w / "o"],
                            "1<=x<=1024"),
    "render-info-fifo": ("synthgen", lambda d, w: [*RENDER, "--out", _fifo_info(d, w)],
                         "dataset.json is a FIFO, not a regular file"),
    "verify-info-huge": ("synthgen", lambda d, w: ["verify", _bad_info(d, w, _info(d, n=10**12, shard_size=10**6,
                                                                                num_shards=10**6))],
                         "n 1000000000000 must be an integer in 1..1000000000"),
    "verify-info-fifo": ("synthgen", lambda d, w: ["verify", _fifo_info(d, w)],
                         "dataset.json is a FIFO, not a regular file"),
    "preview-info-fifo": ("synthgen", lambda d, w: ["preview", _fifo_info(d, w), "--out", w / "s.png"],
                          "dataset.json is a FIFO, not a regular file"),
    "pretrain-data-file": ("pretrain", lambda d, w: ["--data", d / "dataset.json", "--out", w / "o", *PRETRAIN],
                           "dataset.json is a file"),
    "pretrain-out-file": ("pretrain", lambda d, w: ["--data", d, "--out", d / "dataset.json", *PRETRAIN],
                          "dataset.json is a file; give a checkpoint folder"),
    "pretrain-out-empty": ("pretrain", lambda d, w: ["--data", d, "--out", "", *PRETRAIN], "--out is empty"),
    "pretrain-threads": ("pretrain", lambda d, w: ["--data", d, "--out", w / "o", *PRETRAIN, "--threads", "-1"],
                         "--threads -1 must be >= 1"),
    "pretrain-seed": ("pretrain", lambda d, w: ["--data", d, "--out", w / "o", *PRETRAIN, "--seed", "-1"],
                      "--seed -1 must be >= 0"),
    "pretrain-blr": ("pretrain", lambda d, w: ["--data", d, "--out", w / "o", *PRETRAIN, "--blr", "-1"],
                     "--blr -1.0 must be > 0"),
    "pretrain-mask-ratio": ("pretrain", lambda d, w: ["--data", d, "--out", w / "o", *PRETRAIN,
                                                      "--mask-ratio", "0.001"], "--mask-ratio 0.001 hides no patch"),
    "pretrain-weight-decay": ("pretrain", lambda d, w: ["--data", d, "--out", w / "o", *PRETRAIN,
                                                        "--weight-decay", "nan"], "--weight-decay nan must be a finite"),
    "pretrain-warmup": ("pretrain", lambda d, w: ["--data", d, "--out", w / "o", *PRETRAIN,
                                                  "--warmup-steps", "-5"], "--warmup-steps -5 must be >= 0"),
    "finetune-threads": ("finetune", lambda d, w: ["linear", "--ckpt", "logmel-stats", "--task", "folder",
                                                   "--root", _wavs(w), *FINETUNE[:-1], "0"],
                         "--threads 0 must be >= 1"),
    "finetune-table-out-file": ("finetune", lambda d, w: ["table", d / "dataset.json", "--out", d / "dataset.json"],
                                "is a file; give a folder"),
    "finetune-max-splits": ("finetune", lambda d, w: ["full", "--ckpt", "random", "--task", "folder",
                                                      "--root", _wavs(w), *FINETUNE, "--max-splits", "0"],
                            "--max-splits 0 must be >= 1"),
    "finetune-one-hertz": ("finetune", lambda d, w: ["linear", "--ckpt", "logmel-stats", "--task", "folder",
                                                     "--root", _wavs(w, one_hertz=True), *FINETUNE],
                           "declares a sample rate of 1 Hz"),
    "finetune-clip-seconds-nan": ("finetune", lambda d, w: ["linear", "--ckpt", "logmel-stats", "--task", "folder",
                                                            "--root", _wavs(w), *FINETUNE, "--clip-seconds", "nan"],
                                  "clip length nan s must be > 0 and <= 600"),
    "finetune-results-folder": ("finetune", lambda d, w: ["linear", "--ckpt", "logmel-stats", "--task", "folder",
                                                          "--root", _wavs(w), *FINETUNE, "--results", w],
                                "is a folder; give a file"),
    "finetune-csv-outside": ("finetune", lambda d, w: ["linear", "--ckpt", "logmel-stats", "--task", "csv",
                                                       "--root", _csv_outside(w), *FINETUNE],
                             "filename '../wavs/a/0.wav' is outside the CSV's folder"),
    "pretrain-data-weights-inf": ("pretrain", lambda d, w: ["--data", d, "--data-weights", "inf", "--out", w / "o",
                                                            *PRETRAIN], "data weights 'inf' must be numbers > 0 and <= 1e+06"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_is_one_line_exit_2_and_writes_nothing(dataset, tmp_path, case):
    command, build, expected = CASES[case]
    work = tmp_path / "work"
    work.mkdir()
    args = [str(a) for a in build(dataset, work)]
    before_data, before_work = snapshot(dataset), snapshot(work)
    result = subprocess.run(COMMANDS[command] + args, capture_output=True, text=True, cwd=work,
                            timeout=300)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1 and lines[0].startswith(f"{command}: error: "), result.stderr
    assert expected.replace("{d}", str(dataset / "dataset.json")) in lines[0], lines[0]
    assert snapshot(dataset) == before_data and snapshot(work) == before_work, "wrote something"
