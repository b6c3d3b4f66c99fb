"""The reproduction pipeline: cached steps, presets, command line, and the smoke preset end to end."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.helpers import data_root, shared_data
from tools.reproduce.cli import main
from tools.reproduce.presets import PRESETS, get_preset
from tools.steps import StepError, marker, read_marker, run_command, run_step



def test_a_finished_step_is_skipped_and_a_failed_one_runs_again(tmp_path):
    calls = []
    assert run_step(tmp_path, "a", lambda: calls.append(1) or {"x": 1}, log=lambda m: None)["x"] == 1
    again = run_step(tmp_path, "a", lambda: calls.append(2), log=lambda m: None)
    assert calls == [1] and again["x"] == 1 and "seconds" in again

    def broken():
        raise StepError("boom")

    with pytest.raises(StepError):
        run_step(tmp_path, "b", broken, log=lambda m: None)
    assert read_marker(tmp_path, "b") is None and not marker(tmp_path, "b").exists()
    run_step(tmp_path, "b", lambda: {"ok": True}, log=lambda m: None)
    assert read_marker(tmp_path, "b")["ok"] is True


def test_run_step_holds_the_lock_file(tmp_path):
    lock = tmp_path / "cpu.lock"
    seen = run_step(tmp_path, "c", lambda: {"free_inside": _lock_is_free(lock)}, lock=lock,
                    log=lambda m: None)
    assert seen["free_inside"] is False  # a second holder blocks while the step runs
    assert _lock_is_free(lock)           # and gets the lock once it finished


def test_run_command_failure_names_the_log_and_its_tail(tmp_path):
    with pytest.raises(StepError, match=r"exited 3; see .*x\.log: .*oops$"):
        run_command([sys.executable, "-c", "print('oops'); raise SystemExit(3)"], tmp_path / "x.log")


def test_presets_have_one_budget_and_overrides_switch_it():
    for preset in PRESETS.values():
        assert (preset.minutes is None) != (preset.steps is None)
    assert set(get_preset("cpu").kinds) >= {"fractaldb", "visualatom", "deadleaves-squares",
                                            "stat-spectrum", "shaders"}
    changed = get_preset("cpu", minutes=3.5, kinds=("fractaldb",))
    assert changed.minutes == 3.5 and changed.steps is None and changed.kinds == ("fractaldb",)
    assert get_preset("smoke", steps=2).minutes is None
    with pytest.raises(ValueError, match="unknown preset 'huge'"):
        get_preset("huge")


@pytest.mark.parametrize("args, message", [
    (["--preset", "huge"], "unknown preset 'huge'; expected one of smoke, cpu-small, cpu, gpu-paper, "
                               "cpu-study, cpu-recipe, cpu-finetune, study-smoke, finetune-smoke"),
    (["--kinds", "nope"], "unknown kind(s) nope; see `synthgen list`"),
    (["--minutes", "0"], "--minutes 0.0 must be > 0"),
    (["--data-root", "/nonexistent"], "data root /nonexistent (--data-root) is not a folder"),
    ([], "no data root: pass --data-root DIR or set SYNTHGEN_DATA=DIR (the folder holding fsdd/, instruments/, "
         "...; see README, 'Data')"),
])
def test_cli_errors_are_one_line(args, message, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("SYNTHGEN_DATA", raising=False)
    assert main(["--work", str(tmp_path / "w"), "--report", str(tmp_path / "r"), *args]) == 2
    assert capsys.readouterr().err.strip() == f"reproduce: error: {message}"


def test_the_data_root_comes_from_synthgen_data_and_report_only_needs_none(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SYNTHGEN_DATA", str(tmp_path / "missing"))
    assert main(["--work", str(tmp_path / "w"), "--report", str(tmp_path / "r")]) == 2
    assert "data root " + str(tmp_path / "missing") + " (SYNTHGEN_DATA) is not a folder" in capsys.readouterr().err
    monkeypatch.delenv("SYNTHGEN_DATA")
    assert main(["--work", str(tmp_path / "w"), "--report", str(tmp_path / "r"), "--report-only"]) == 0
    assert (tmp_path / "r" / "report.md").read_text().startswith("# Reproduction report: preset `cpu`")


@pytest.mark.slow
def test_smoke_preset_end_to_end_and_rerun_skips_everything(tmp_path):
    shared_data("fsdd", "recordings")
    command = [sys.executable, "-m", "tools.reproduce", "--preset", "smoke", "--work",
               str(tmp_path / "work"), "--report", str(tmp_path / "report"),
               "--data-root", str(data_root())]
    first = subprocess.run(command, capture_output=True, text=True)
    assert first.returncode == 0, first.stdout + first.stderr
    results = [json.loads(line) for line in (tmp_path / "work" / "results.jsonl").read_text().splitlines()]
    assert {r["name"] for r in results} == {"fractaldb-s0", "stat-spectrum-s0", "audio-fsdd-mini-s0",
                                            "random-init", "logmel-stats"}
    report = (tmp_path / "report" / "report.md").read_text()
    for needle in ("## Accuracy", "![accuracy](accuracy.png)", "![loss curves](loss.png)",
                   "| fractaldb |", "sheets/stat-spectrum.png", "correlation-folder-fsdd-mini"):
        assert needle in report
    assert "## Missing or failed" not in report
    second = subprocess.run(command, capture_output=True, text=True)
    assert second.returncode == 0
    assert "[run ]" not in second.stdout and second.stdout.count("[skip]") >= 10


def test_units_cover_every_expected_step_once(tmp_path):
    from tools.reproduce.report import expected_steps
    from tools.reproduce.cli import Pipeline

    preset = get_preset("cpu", seeds=(0, 1))
    pipeline = Pipeline(preset, tmp_path / "w", tmp_path / "r", tmp_path, lock="x", lock_per="run")
    covered = [s for unit in (*preset.kinds, "audio", "baselines") for s in pipeline.unit_steps(unit)]
    assert len(covered) == len(set(covered))
    assert set(expected_steps(preset)) <= set(covered)
    assert "eval-fractaldb-s1-fsdd" in covered and "pretrain-audio-fsdd-s0" in covered
    assert pipeline.lock is None and pipeline.unit_lock == "x"


def _lock_is_free(path) -> bool:
    import fcntl

    with open(path, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        fcntl.flock(handle, fcntl.LOCK_UN)
        return True


@pytest.mark.parametrize("hold_minutes, free_between", [(0.0, True), (10.0, False)])
def test_unit_lock_is_held_per_kind_or_kept_for_lock_hold(tmp_path, hold_minutes, free_between,
                                                          monkeypatch):
    import tools.reproduce.cli
    from tools.reproduce.cli import Pipeline

    monkeypatch.setattr(tools.reproduce.cli, "YIELD_SECONDS", 0.0)
    lock = tmp_path / "cpu.lock"
    pipeline = Pipeline(get_preset("smoke"), tmp_path / "w", tmp_path / "r", tmp_path, lock=str(lock),
                        lock_per="run", lock_hold=hold_minutes, log=lambda m: None)
    seen = []
    pipeline._locked_unit(["never-done"], lambda: seen.append(_lock_is_free(lock)))
    seen.append(_lock_is_free(lock))
    pipeline._release()
    seen.append(_lock_is_free(lock))
    assert seen == [False, free_between, True]
