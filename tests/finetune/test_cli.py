"""End to end through ``python -m finetune`` on a tiny generated tone task."""
import json

from click.testing import CliRunner

from finetune.cli import main
from tests.finetune.fixtures import save_checkpoint, write_wav

SMALL = ["--n-mels", "64", "--frames", "32", "--preset", "test-micro", "--threads", "1"]


def _run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_linear_random_and_logmel_stats_then_table(tmp_path, tone_folder):
    res, cache = tmp_path / "results.jsonl", tmp_path / "cache"
    out = _run("linear", "--ckpt", "random", "--task", "folder", "--root", tone_folder, *SMALL,
               "--cache", cache, "--results", res, "--layers", "1,2", "--pooling", "meanmax")
    assert out.exit_code == 0, out.output
    assert "embedded" in out.stderr
    first = json.loads(out.stdout.splitlines()[-1])
    assert first["acc_mean"] > 0.8 and len(first["split_acc"]) == 5
    again = _run("linear", "--ckpt", "random", "--task", "folder", "--root", tone_folder, *SMALL,
                 "--cache", cache, "--results", res, "--layers", "1,2", "--pooling", "meanmax")
    assert again.exit_code == 0 and "embedded" not in again.stderr  # served from the cache
    assert json.loads(again.stdout.splitlines()[-1])["split_acc"] == first["split_acc"]
    other = _run("linear", "--ckpt", "random:0", "--task", "folder", "--root", tone_folder, *SMALL,
                 "--cache", cache, "--layers", "2", "--pooling", "meanmax")
    assert other.exit_code == 0 and "embedded" not in other.stderr  # every block is cached
    two = _run("linear", "--ckpt", "random:0", "--ckpt", "random:1", "--task", "folder", "--root", tone_folder,
               *SMALL, "--cache", cache, "--layers", "1", "--layers", "2", "--pooling", "meanmax",
               "--group", "a", "--group", "b", "--results", tmp_path / "two.jsonl")
    assert two.exit_code == 0, two.output
    assert two.stderr.count("embedded") == 5 and len(two.stdout.splitlines()) == 4  # seed 1 is new
    assert two.stderr.count("random-test-micro-s1 on folder:tones") == 2
    assert [json.loads(x)["group"] for x in (tmp_path / "two.jsonl").read_text().splitlines()] == ["a", "a", "b", "b"]
    stats = _run("linear", "--ckpt", "logmel-stats", "--task", "folder", "--root", tone_folder, *SMALL,
                 "--results", res, "--group", "base")
    assert stats.exit_code == 0 and json.loads(stats.stdout.splitlines()[-1])["acc_mean"] > 0.9
    table = _run("table", res, "--out", tmp_path / "report")
    assert table.exit_code == 0, table.output
    md = (tmp_path / "report" / "results.md").read_text()
    assert "random-test-micro-s0 [linear, layers 1,2]" in md and "logmel-stats" in md and "base (n=1)" in md
    assert (tmp_path / "report" / "results.png").read_bytes()[:4] == b"\x89PNG"
    records = [json.loads(line) for line in res.read_text().splitlines()]
    assert len(records) == 3 and records[1]["layers"] == "1,2" and records[0]["features"]["frontend"]["n_mels"] == 64


def test_norm_all_single_pass(tmp_path, tone_folder, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = _run("linear", "--ckpt", "random", "--task", "folder", "--root", tone_folder, *SMALL,
               "--cache", "", "--norm", "all")
    assert out.exit_code == 0, out.output
    assert out.stderr.count("embedded") == 1
    assert not list(tmp_path.glob("*.npz")), "--cache '' must not cache (not even in the cwd)"


def test_corrupt_audio_fails_or_is_reported_and_skipped(tmp_path, tone_folder):
    (tone_folder / "low" / "zz_broken.wav").write_bytes(b"not audio at all")
    out = _run("linear", "--ckpt", "logmel-stats", "--task", "folder", "--root", tone_folder, *SMALL)
    assert out.exit_code == 2
    assert out.stderr.strip().startswith("finetune: error: cannot decode audio file") and "zz_broken.wav" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    skip = _run("linear", "--ckpt", "logmel-stats", "--task", "folder", "--root", tone_folder, *SMALL, "--skip-bad",
                "--results", tmp_path / "r.jsonl")
    assert skip.exit_code == 0, skip.output
    assert "skipped: cannot decode audio file" in skip.stderr and "zz_broken.wav" in skip.stderr
    rec = json.loads((tmp_path / "r.jsonl").read_text())
    assert rec["n_clips"] == 20 and rec["skipped"][0].endswith("zz_broken.wav")


def test_bad_inputs_exit_2_with_one_line(tmp_path, tone_folder):
    csv_path = tmp_path / "list.csv"
    csv_path.write_text("file,label\na.wav,x\n")
    out = _run("linear", "--ckpt", "logmel-stats", "--task", "csv", "--root", csv_path)
    assert out.exit_code == 2 and "list.csv: missing column(s) filename" in out.stderr
    csv_path.write_text("filename,label\n" + "".join(f"m{i}.wav,{i % 2}\n" for i in range(4)))
    out = _run("linear", "--ckpt", "logmel-stats", "--task", "csv", "--root", csv_path, "--folds", "2")
    assert out.exit_code == 2 and "m0.wav" in out.stderr and "(4 missing in all)" in out.stderr
    ckpt = save_checkpoint(tmp_path / "ckpt", img_size=(64, 32))
    cfg = json.loads((ckpt / "config.json").read_text())
    cfg["timm_kwargs"]["depth"] = 3  # the weights have 2 blocks
    (ckpt / "config.json").write_text(json.dumps(cfg))
    out = _run("linear", "--ckpt", ckpt, "--task", "folder", "--root", tone_folder, *SMALL, "--cache", "")
    assert out.exit_code == 2 and "encoder.safetensors does not fit" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    out = _run("table", tmp_path / "none.jsonl", "--out", tmp_path)
    assert out.exit_code == 2 and "none.jsonl does not exist" in out.stderr


def test_full_finetune_toy_task_chooses_on_validation_and_resumes(tmp_path, tone_folder):
    args = ["full", "--ckpt", "random", "--task", "folder", "--root", tone_folder, *SMALL, "--folds", "2",
            "--steps", "30", "--eval-every", "10", "--batch-size", "8", "--lr", "2e-3", "--lr", "5e-4",
            "--mixup", "0.2", "--max-splits", "1", "--results", tmp_path / "r.jsonl", "--state", tmp_path / "state.jsonl"]
    out = _run(*args)
    assert out.exit_code == 0, out.output
    rec = json.loads((tmp_path / "r.jsonl").read_text())
    assert rec["method"] == "full" and len(rec["split_acc"]) == 1 and rec["cpu_seconds"] > 0
    assert rec["acc_mean"] >= 0.8  # high vs low tone: easy once trained
    assert rec["full"]["steps"] == 30 and rec["full"]["freq_mask"] == 24 and rec["full"]["time_mask"] == 6  # 64 x 32
    assert "lr 0.002 step 30/30" in out.stderr and "lr 0.0005 step 30/30" in out.stderr
    assert "lr 0.002 step 10/30" in out.stderr and "step 5/30" not in out.stderr
    state = json.loads((tmp_path / "state.jsonl").read_text())
    assert state["n_valid"] == 2 and state["n_train"] == 8 and state["lr"] in (2e-3, 5e-4)
    best = state["curves"][f"{state['lr']:g}"]
    assert [p["step"] for p in best] == [10, 20, 30]
    assert max(p["valid"] for p in best) == state["valid_acc"]
    assert next(p for p in best if p["valid"] == state["valid_acc"])["step"] == state["step"]  # the earliest best
    assert 0 <= state["last_acc"] <= 1 and state["train_cpu_s"] > 0 and state["eval_cpu_s"] > 0
    again = _run(*args)  # the split is in the state file: nothing is trained
    assert again.exit_code == 0, again.output
    assert "finished earlier" in again.stderr and "/30" not in again.stderr
    assert json.loads((tmp_path / "r.jsonl").read_text().splitlines()[-1])["split_acc"] == rec["split_acc"]


def test_full_takes_the_tasks_own_budget_without_steps(tmp_path, tone_folder, monkeypatch):
    from dataclasses import replace

    from finetune.loaders import TASKS
    from finetune.recipe import DEFAULT_STEPS, FSDD_STEPS

    # the measured defaults: FSDD's longer, every other task the recipe's; --help says so
    assert TASKS["fsdd"].ft_steps == FSDD_STEPS == 2400 and TASKS["instruments"].ft_steps == DEFAULT_STEPS == 1200
    assert {s.ft_steps for n, s in TASKS.items() if n != "fsdd"} == {DEFAULT_STEPS}
    assert "--task fsdd: 2400" in " ".join(_run("full", "--help").output.split())
    monkeypatch.setitem(TASKS, "folder", replace(TASKS["folder"], ft_steps=6))
    out = _run("full", "--ckpt", "random", "--task", "folder", "--root", tone_folder, *SMALL, "--folds", "2",
               "--batch-size", "8", "--max-splits", "1", "--results", tmp_path / "r.jsonl")
    assert out.exit_code == 0, out.output
    assert json.loads((tmp_path / "r.jsonl").read_text())["full"]["steps"] == 6
