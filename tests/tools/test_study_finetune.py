"""Fine-tuning studies (cpu-finetune): the preset and its plan, units evaluated by
``python -m finetune full`` (resumable, reusing the probe study's checkpoints), their rows, and
the report's fine-tuning, convergence and missing-kinds sections."""

from __future__ import annotations

import json
import os
from dataclasses import replace

import pytest

from tools.study.plan import RESULTS, plan_units, read_rows
from tools.study.presets import SMALL_KINDS, STUDY_PRESETS, get_study_preset
from tools.study.run import UnitRunner, finetune_fields, preset_from_json, preset_to_json


def test_cpu_finetune_reuses_the_cpu_study_encoders_and_plans_the_headline_units_first():
    ft, study = STUDY_PRESETS["cpu-finetune"], STUDY_PRESETS["cpu-study"]
    # the same pre-training, so the same checkpoints (WORK/ckpt/UNIT) and unit names
    for field in ("size", "model", "batch_size", "lr", "steps", "input_sizes", "n_images", "audio"):
        assert getattr(ft, field) == getattr(study, field), field
    assert all(ft.images(k) == study.images(k) for k in ft.kinds)
    assert all(ft.kind_params.get(k) == study.kind_params.get(k) for k in ft.kinds)
    assert [(t.name, t.loader, t.protocol, t.probe_task) for t in ft.tasks] == [
        ("fsdd-ft", "fsdd", "finetune", "fsdd"), ("instruments-ft", "instruments", "finetune", "instruments")]
    assert (ft.ft_steps, ft.ft_lrs, ft.probe_results) == (600, (5e-4,), "../report-cpu-study/results.jsonl")
    assert not ft.logmel and ft.leaky_tasks == ("fsdd-ft",)
    names = [u.name for u in plan_units(ft, [])]
    assert names[:10] == ["step0-s0", "fractaldb-s0", "visualatom-s0", "stat-wmm-s0", "deadleaves-squares-s0",
                          "audio-fsdd-s0", "step0-s1", "step0-s2", "fractaldb-s1", "fractaldb-s2"]
    rest = [f"{k}-s0" for k in SMALL_KINDS if k not in ("stat-wmm", "deadleaves-squares")]
    # the fast kinds of a-n, then the six neural ones (hours of rendering each)
    assert names[10:] == [n for n in rest if not n.startswith(("stylegan", "featvis"))] + \
        [n for n in rest if n.startswith(("stylegan", "featvis"))]
    assert len(names) == len(set(names)) == 22
    study_names = {u.name for u in plan_units(study, [])} | {"fractaldb-s1", "fractaldb-s2"}
    assert set(names) <= study_names
    # the plan does not depend on the rows (no extremes rule), and survives the unit's preset file
    assert [u.name for u in plan_units(ft, [{"unit": "step0-s0", "task": "fsdd-ft"}])] == names
    assert preset_from_json(json.loads(json.dumps(preset_to_json(ft)))) == ft


def test_seed_kinds_must_name_kinds_of_the_preset():
    with pytest.raises(ValueError, match="seed_kinds names shaders-random, not among its kinds"):
        get_study_preset("cpu-finetune", seed_kinds={"shaders-random": (1,)})
    with pytest.raises(ValueError, match="protocol must be one of probe, finetune, not 'linear'"):
        replace(STUDY_PRESETS["cpu-finetune"].tasks[0], protocol="linear")


def full_record(name, task, accs, lrs=(5e-4,), chosen=5e-4, steps=600):
    """A ``finetune full`` record (the fields ``finetune.cli.full`` writes) with curves for ``lrs``."""
    every = max(1, steps // 5)
    curves = [{f"{lr:g}": [{"step": s, "valid": a - 0.1 + 0.1 * s / steps - 0.05 * (lr != chosen), "loss": 1.0}
                           for s in range(every, steps + 1, every)] for lr in lrs} for a in accs]
    return {"task": task, "method": "full", "name": name, "acc_mean": sum(accs) / len(accs), "acc_std": 0.01,
            "split_acc": list(accs), "split_last_acc": [a - 0.01 for a in accs],
            "split_valid_acc": [a + 0.01 for a in accs], "split_lr": [chosen] * len(accs),
            "split_step": [steps] * len(accs), "curves": curves, "full": {"steps": steps, "lr": list(lrs),
                                                                              "batch_size": 32},
            "cpu_seconds": 1234.5, "train_cpu_s": 1100.0, "eval_cpu_s": 120.0}


def test_finetune_fields_keep_the_chosen_lrs_curve_as_step_accuracy_points():
    record = full_record("fractaldb-s0", "fsdd", [0.9, 0.8], lrs=(1e-3, 5e-4), chosen=5e-4, steps=10)
    fields = finetune_fields(record)
    assert fields["curves"] == [[[2, 0.82], [4, 0.84], [6, 0.86], [8, 0.88], [10, 0.9]],
                                [[2, 0.72], [4, 0.74], [6, 0.76], [8, 0.78], [10, 0.8]]]
    assert (fields["split_last_acc"], fields["split_valid_acc"]) == ([0.89, 0.79], [0.91, 0.81])
    assert (fields["split_lr"], fields["split_step"], fields["ft_lrs"], fields["ft_steps"]) == \
        ([5e-4, 5e-4], [10, 10], [1e-3, 5e-4], 10)
    assert (fields["ft_cpu_s"], fields["ft_train_cpu_s"], fields["ft_eval_cpu_s"]) == (1234.5, 1100.0, 120.0)
    assert fields["protocol"] == "finetune"


def _stub_finetune(calls, kill=None):
    """A ``run_command`` that records its commands and writes a ``finetune full`` record (and a
    state line per fold) like the real one; ``kill``: the task whose first call fails."""
    from tools.steps import StepError

    def run(command, log_path, env=None):
        calls.append(command)
        assert command[2:4] == ["finetune", "full"]
        arg = {command[i]: command[i + 1] for i in range(4, len(command) - 1) if command[i].startswith("--")}
        task = os.path.basename(arg["--results"]).removesuffix(".jsonl")
        with open(_mkdir(arg["--state"]), "a") as state:
            state.write(json.dumps({"key": "k", "split": "fold1", "acc": 0.5, "lr": 5e-4, "step": 4,
                                    "cpu_seconds": 1.0}) + "\n")
        if kill is not None and task == kill[0] and not kill[1]:
            kill[1] = True
            raise StepError("killed")
        accs = [0.6, 0.7] if "random" in arg["--ckpt"] else [0.8, 0.9]
        with open(arg["--results"], "a") as f:
            f.write(json.dumps(full_record(arg["--name"], task, accs, lrs=(1e-3, 5e-4), steps=4)) + "\n")

    return run


def _mkdir(path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    return path


def test_a_finetuned_unit_reuses_the_checkpoint_and_resumes_per_task(tmp_path, monkeypatch):
    import tools.study.run

    preset = replace(STUDY_PRESETS["cpu-finetune"], ft_steps=4, ft_lrs=(1e-3, 5e-4), ft_eval_every=2)
    work, report = tmp_path / "work", tmp_path / "report"
    unit = next(u for u in plan_units(preset, []) if u.name == "fractaldb-s1")
    # the probe study's pre-training step already ran in this work folder (no shards left)
    (work / "steps").mkdir(parents=True)
    (work / "steps" / "pretrain-fractaldb-s1.done").write_text(json.dumps(
        {"step": 1300, "images_seen": 83200, "pretrain_cpu_s": 4000.0, "pretrain_wall_s": 4100.0}))
    (work / "steps" / "render-fractaldb.done").write_text(json.dumps({"seconds": 900.0, "images_per_s": 111.0}))
    calls, kill = [], ["instruments-ft", False]
    monkeypatch.setattr(tools.study.run, "run_command", _stub_finetune(calls, kill))
    runner = UnitRunner(preset, work, report, tmp_path / "data", log=lambda m: None)
    with pytest.raises(tools.study.run.StepError, match="killed"):
        runner.run(unit)
    assert [c[c.index("--results") + 1].rsplit("/", 1)[1] for c in calls] == ["fsdd-ft.jsonl", "instruments-ft.jsonl"]
    first = calls[0]
    assert first[first.index("--ckpt") + 1] == str(work / "ckpt" / "fractaldb-s1")
    assert first[first.index("--root") + 1] == str(tmp_path / "data" / "fsdd")
    for flag, value in (("--seed", "1"), ("--steps", "4"), ("--eval-every", "2"), ("--threads", "1"),
                        ("--task", "fsdd"), ("--n-mels", "128"), ("--frames", "128"), ("--batch-size", "32"),
                        ("--state", str(work / "finetune" / "fractaldb-s1" / "fsdd-ft.state.jsonl"))):
        assert first[first.index(flag) + 1] == value, flag
    assert [first[i + 1] for i, a in enumerate(first) if a == "--lr"] == ["0.001", "0.0005"]
    assert not (report / RESULTS).exists()
    rows = runner.run(unit)
    # the finished task is not run again; the killed one is, with the same progress file
    assert len(calls) == 3 and calls[2] == calls[1]
    assert not (work / "shards").exists() and not (report / "stats").exists()
    assert [r["task"] for r in rows] == ["fsdd-ft", "instruments-ft"] == \
        [r["task"] for r in read_rows(report / RESULTS)]
    row = rows[0]
    assert (row["unit"], row["seed"], row["role"], row["protocol"]) == ("fractaldb-s1", 1, "pattern", "finetune")
    assert row["split_acc"] == [0.8, 0.9] and row["acc_mean"] == pytest.approx(0.85)
    assert row["split_last_acc"] == [0.79, 0.89] and row["split_step"] == [4, 4]
    # the curve of the chosen lr (5e-4), not of the other lr of the grid
    assert row["curves"] == [[[1, 0.725], [2, 0.75], [3, 0.775], [4, 0.8]], [[1, 0.825], [2, 0.85], [3, 0.875], [4, 0.9]]]
    assert (row["pretrain_cpu_s"], row["render_s"], row["ft_cpu_s"]) == (4000.0, 900.0, 1234.5)
    assert row["leaky"] is False and rows[1]["eval_cpu_s"] is not None
