"""Fine-tuning studies (cpu-finetune): the preset and its plan, units evaluated by
``python -m finetune full`` (resumable, reusing the probe study's checkpoints), their rows, and
the report's fine-tuning, convergence and missing-kinds sections."""

from __future__ import annotations

import json
import os
from dataclasses import replace

import pytest

from finetune.recipe import RECIPE
from tools.study.plan import RESULTS, is_current, plan_units, read_rows, unit_done
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
    assert (ft.ft_steps, ft.ft_lrs, ft.probe_results) == (None, (5e-4,), "../report-cpu-study/results.jsonl")
    # each task's own default budget: FSDD's is longer (its curves still rise at 1,200 steps)
    assert [ft.task_steps(t) for t in ft.tasks] == [2400, 1200]
    assert [replace(ft, ft_steps=5).task_steps(t) for t in ft.tasks] == [5, 5]
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


def full_record(name, task, accs, lrs=(5e-4,), chosen=5e-4, steps=600, batch=32, eval_every=0):
    """A ``finetune full`` record (the fields ``finetune.cli.full`` writes) with curves for ``lrs``."""
    every = max(1, steps // 5)
    curves = [{f"{lr:g}": [{"step": s, "valid": a - 0.1 + 0.1 * s / steps - 0.05 * (lr != chosen), "loss": 1.0}
                           for s in range(every, steps + 1, every)] for lr in lrs} for a in accs]
    return {"task": task, "method": "full", "name": name, "acc_mean": sum(accs) / len(accs), "acc_std": 0.01,
            "split_acc": list(accs), "split_last_acc": [a - 0.01 for a in accs],
            "split_valid_acc": [a + 0.01 for a in accs], "split_lr": [chosen] * len(accs),
            "split_step": [steps] * len(accs), "curves": curves,
            "full": {**RECIPE, "steps": steps, "lr": list(lrs), "batch_size": batch, "eval_every": eval_every,
                     "freq_mask": 48, "time_mask": 24},
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
            lrs = tuple(float(command[i + 1]) for i, a in enumerate(command) if a == "--lr")
            f.write(json.dumps(full_record(arg["--name"], task, accs, lrs=lrs, steps=int(arg["--steps"]),
                                           batch=int(arg["--batch-size"]),
                                           eval_every=int(arg["--eval-every"]))) + "\n")

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
    # the probe study evaluated the same unit here: its marker must not stand for the fine-tune
    (work / "steps" / "eval-fractaldb-s1.done").write_text(json.dumps({"eval_cpu_s": 300.0}))
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
    # the rows count as today's recipe (whatever the preset's lr grid): the unit is done
    assert all(is_current(r, preset) for r in rows) and unit_done(read_rows(report / RESULTS), unit, preset)
    assert runner.run(unit) == [] and len(calls) == 3 and len(read_rows(report / RESULTS)) == 2
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
    progress = json.loads((work / "steps" / "finetune-fractaldb-s1.progress").read_text())
    want = {**RECIPE, "steps": 4, "lr": [1e-3, 5e-4], "batch_size": 32, "eval_every": 2, "freq_mask": 48,
            "time_mask": 24}
    assert progress["settings"] == {t.name: runner.finetune_settings(unit, t) for t in preset.tasks} == \
        {"fsdd-ft": want, "instruments-ft": want}
    assert row["eval_cpu_s"] == round(progress["cpu_s"], 1)  # both sittings' finished commands
    # a record of other fine-tuning settings in the work folder is not taken for this preset's
    other = UnitRunner(replace(preset, ft_steps=8), work, tmp_path / "report2", tmp_path / "data", log=lambda m: None)
    assert other.finetune_record(unit, preset.tasks[0]) is None
    assert runner.finetune_record(unit, preset.tasks[0])["split_acc"] == [0.8, 0.9]
    # nor one of another recipe (a record made with --layer-decay 1.0 appended last)
    results = work / "finetune" / "fractaldb-s1" / "fsdd-ft.jsonl"
    changed = full_record("fractaldb-s1", "fsdd-ft", [0.1, 0.1], lrs=(1e-3, 5e-4), steps=4, eval_every=2)
    changed["full"]["layer_decay"] = 1.0
    with open(results, "a") as f:
        f.write(json.dumps(changed) + "\n")
    assert runner.finetune_record(unit, preset.tasks[0])["split_acc"] == [0.8, 0.9]
    # a record written before the head options existed was made with the mean head, no norm: not today's
    earlier = full_record("fractaldb-s1", "fsdd-ft", [0.3, 0.3], lrs=(1e-3, 5e-4), steps=4, eval_every=2)
    for key in ("head_pooling", "head_norm"):
        del earlier["full"][key]
    with open(results, "a") as f:
        f.write(json.dumps(earlier) + "\n")
    assert RECIPE["head_pooling"] != "mean"
    assert runner.finetune_record(unit, preset.tasks[0])["split_acc"] == [0.8, 0.9]
    earlier["full"].update(head_pooling=RECIPE["head_pooling"], head_norm=RECIPE["head_norm"])
    with open(results, "a") as f:
        f.write(json.dumps(earlier) + "\n")
    assert runner.finetune_record(unit, preset.tasks[0])["split_acc"] == [0.3, 0.3]


def test_a_progress_file_keeps_its_cpu_seconds_while_every_task_keeps_its_settings(tmp_path, monkeypatch):
    import tools.study.run

    preset = replace(STUDY_PRESETS["cpu-finetune"], ft_steps=4, ft_eval_every=2)
    work = tmp_path / "work"
    unit = next(u for u in plan_units(preset, []) if u.name == "step0-s1")
    (work / "steps").mkdir(parents=True)
    runner = UnitRunner(preset, work, tmp_path / "report", tmp_path / "data", log=lambda m: None)
    path = work / "steps" / "finetune-step0-s1.progress"
    today = {"settings": {t.name: runner.finetune_settings(unit, t) for t in preset.tasks}, "cpu_s": 100.0,
             "wall_s": 120.0}
    calls = []
    monkeypatch.setattr(tools.study.run, "run_command", _stub_finetune(calls))

    def sitting(progress):
        path.write_text(json.dumps(progress))
        for f in (tmp_path / "report" / RESULTS, *(work / "finetune" / "step0-s1").glob("*")):
            f.unlink(missing_ok=True)
        runner.run(unit)
        return json.loads(path.read_text())

    assert sitting(today)["cpu_s"] >= 100.0 and len(calls) == 2
    # one task's budget changed, or the earlier form (one settings object for every task): counted again
    other = {**today, "settings": {**today["settings"], "fsdd-ft": {**today["settings"]["fsdd-ft"], "steps": 8}}}
    assert sitting(other)["cpu_s"] < 100.0
    legacy = {**today, "settings": today["settings"]["fsdd-ft"]}
    progress = sitting(legacy)
    assert progress["cpu_s"] < 100.0 and progress["settings"] == today["settings"]


# --- the report -----------------------------------------------------------------------------------

def ft_rows(preset, unit, accs, curve=None, cpu=3600.0):
    """Rows of a fine-tuned unit: per task the fold accuracies ``accs`` (a list, or a function of
    the task name) and per fold the validation curve ``curve(fold accuracy)``: ``[[step, acc], ...]``;
    each at its task's budget in ``preset``."""
    rows = []
    for t in preset.tasks:
        split = accs(t.name) if callable(accs) else list(accs)
        curves = [curve(a) for a in split] if curve else []
        rows.append({"unit": unit.name, "role": unit.role, "label": unit.label, "kind": unit.kind,
                     "seed": unit.seed, "input_size": unit.input_size, "steps": unit.steps, "task": t.name,
                     "acc_mean": sum(split) / len(split), "acc_std": 0.01, "split_acc": split,
                     "leaky": unit.role == "audio" and t.name in preset.leaky_tasks, "protocol": "finetune",
                     "curves": curves, "ft_cpu_s": cpu, "ft_steps": preset.task_steps(t), "ft_lrs": [5e-4],
                     "ft_batch": 32,
                     "ft_recipe": {**RECIPE, "lr": [5e-4]},  # as finetune_fields writes it: the lr grid
                     "pretrain_cpu_s": 1800.0 if unit.trained else None,
                     "eval_cpu_s": 2 * cpu, "machine": "test"})
    return rows


def probe_rows(units, accs):
    """The probe study's rows (tasks fsdd and instruments) of ``units`` (name, label, role, seed)."""
    rows = []
    for name, label, role, seed in units:
        for task in ("fsdd", "instruments", "fsdd-mean"):
            split = accs[label]
            rows.append({"unit": name, "label": label, "role": role, "seed": seed, "task": task, "kind": None,
                         "input_size": "128x128", "steps": 1300, "acc_mean": sum(split) / 5, "acc_std": 0.01,
                         "split_acc": split, "pretrain_cpu_s": 1500.0 if role == "pattern" else None})
    return rows


def _report(tmp_path, rows, probes, plots=False, ft_steps=None):
    from tools.study.plan import append_rows
    from tools.study.report import write_study_report

    preset = replace(STUDY_PRESETS["cpu-finetune"], probe_results="../probe/results.jsonl", ft_steps=ft_steps)
    append_rows(tmp_path / "probe" / "results.jsonl", probes)
    append_rows(tmp_path / "ft" / RESULTS, rows)
    return write_study_report(preset, tmp_path / "ft", plots=plots).read_text()


FOLD_NOISE = (0.0, 0.01, -0.01, 0.005, -0.005)


def _units(names, ft_steps=None):
    preset = replace(STUDY_PRESETS["cpu-finetune"], ft_steps=ft_steps)
    return preset, [u for u in plan_units(preset, []) if u.name in names]


def test_finetune_section_says_which_kinds_beat_step0_and_compares_the_best_with_its_probe(tmp_path):
    preset, units = _units({"step0-s0", "fractaldb-s0", "stat-wmm-s0"})
    level = {"step0": 0.60, "fractaldb": 0.75, "stat-wmm": 0.60}
    rows = []
    for u in units:  # stat-wmm: per-fold differences around zero (within noise)
        noise = (0.02, -0.02, 0.01, -0.01, 0.0) if u.label == "stat-wmm" else FOLD_NOISE
        rows += ft_rows(preset, u, [level[u.label] + d for d in noise])
    probes = probe_rows([("step0-s0", "step0", "step0", 0), ("fractaldb-s0", "fractaldb", "pattern", 0),
                         ("logmel-stats", "logmel-stats", "logmel", 0)],
                        {"step0": [0.9] * 5, "fractaldb": [0.70 + d for d in (0.01, -0.01, 0.0, 0.02, -0.02)],
                         "logmel-stats": [0.8 + d for d in (0.0, 0.01, 0.0, -0.01, 0.0)]})
    text = _report(tmp_path, rows, probes)
    section = text.split("## Fine-tuning against step0")[1].split("\n## ")[0]
    assert "| (o) fractaldb | 0 | 75.0 ± 1.0 | **+15.0 ± 0.0** | 70.0 | +5.0 (p = 0.0" in section
    # no probe row of its own; logmel-stats (one seed) stands beside every seed
    assert "| (f) stat-wmm | 0 | 60.0 ± 1.0 | +0.0 ± 2.2 | – | – | -20.0 (p = 0.000) | 1.00 |" in section
    assert "| logmel-stats (probe) | 0 | 80.0 |" in section
    assert "Fine-tuning settings of every row: fsdd-ft 2400 steps, lr 0.0005; instruments-ft 1200 steps, " \
        "lr 0.0005." in section
    assert ("- **Synthetic pre-training beats training from scratch under fine-tuning on fsdd-ft:** 1 of 2 kinds "
            "are above `step0` beyond noise: (o) fractaldb (+15.0); 1 within noise.") in section
    assert ("- **Best fine-tuned encoder on instruments-ft:** (o) fractaldb at 75.0 %; it is 5.0 points above its "
            "own linear probe at 70.0 % (") in section
    # the other protocol: under the probe fractaldb is 20 points below step0 (70 against 90)
    assert ("- **Under the linear probe** (the probe study on fsdd, the same 1 kind): 0 above `step0` beyond "
            "noise, 1 below ((o) fractaldb -20.0), 0 within noise.") in section
    assert "and 5.0 points below `logmel-stats` at 80.0 % (beyond noise, p = 0.0" in section
    # CPU: pre-training once per pre-trained unit, every fine-tune's own CPU
    assert ("**CPU spent:** 1.0 CPU hours of pre-training for the pre-trained units (each once; the checkpoints "
            "are the probe study's), 6.0 CPU hours of fine-tuning over 3 units. One fine-tune of an encoder on a "
            "task, every fold: fsdd-ft 1.00 CPU h (range 1.00–1.00, 3 fine-tunes)") in section
    assert "`python -m finetune full` (encoder + linear head fine-tuned end to end, head pooling freq, head norm " \
        "batch, optimizer steps of 32 clips: fsdd-ft 2400 steps, instruments-ft 1200 steps, peak lr 0.0005 " \
        "chosen with the step on the validation split, evaluated every tenth of the budget;" in text


def test_finetune_section_says_so_when_no_kind_beats_step0_and_the_best_is_below_its_probe(tmp_path):
    preset, units = _units({"step0-s0", "fractaldb-s0", "visualatom-s0"})
    level = {"step0": 0.60, "fractaldb": 0.58, "visualatom": 0.605}
    rows = []
    for u in units:
        noise = (0.03, -0.03, 0.02, -0.02, 0.0) if u.label == "visualatom" else FOLD_NOISE
        rows += ft_rows(preset, u, [level[u.label] + d for d in noise])
    rows[-1]["ft_lrs"] = [1e-3]  # one row of another lr grid (the budget is its task's): the report says so
    probes = probe_rows([("visualatom-s0", "visualatom", "pattern", 0)],
                        {"visualatom": [0.9 + d for d in FOLD_NOISE]})
    section = _report(tmp_path, rows, probes).split("## Fine-tuning against step0")[1].split("\n## ")[0]
    assert ("**Rows of one task were fine-tuned with different settings** (compare within one only): "
            "instruments-ft: 1200 steps, lr 0.0005 (2 units), 1200 steps, lr 0.001 (1 unit).") in section
    assert ("- **Synthetic pre-training does not beat training from scratch under fine-tuning on fsdd-ft:** none "
            "of the 2 kinds is above `step0` beyond noise (1 below); the largest gain is (p) visualatom's +0.5 "
            "points.") in section
    assert ("- **Best fine-tuned encoder on fsdd-ft:** (p) visualatom at 60.5 %; it is 29.5 points below its own "
            "linear probe at 90.0 % (beyond noise, p = 0.000), and not compared with `logmel-stats` (no probe "
            "row).") in section


def test_rows_of_an_earlier_recipe_are_counted_left_out_and_their_units_fine_tuned_again(tmp_path):
    from tools.study.plan import is_current, row_recipe, unit_done

    preset, units = _units({"step0-s0", "fractaldb-s0"})
    step0, frac = sorted(units, key=lambda u: u.role != "step0")
    other = "mean"  # today's head pools per frequency row
    old = [{**r, "ft_recipe": {**RECIPE, "head_pooling": other}} for r in ft_rows(preset, frac, [0.95] * 5)]
    rows = ft_rows(preset, step0, [0.6 + d for d in FOLD_NOISE]) + old
    assert not is_current(old[0], preset) and all(is_current(r, preset) for r in rows[:2])
    assert unit_done(rows, step0, preset) and not unit_done(rows, frac, preset)
    # a row written before rows kept their recipe: today's recipe less the options added since
    legacy = {k: v for k, v in rows[0].items() if k != "ft_recipe"}
    assert row_recipe(legacy) == {**RECIPE, "head_pooling": "mean", "head_norm": "none"}
    assert is_current({"protocol": "probe", "ft_recipe": {"head_pooling": other}}, preset)
    text = _report(tmp_path, rows, [])
    assert f"2 fine-tuned row(s) in `results.jsonl` were made with earlier fine-tuning settings and are left " \
        f"out of this report (the same command fine-tunes their units again on those tasks with today's): " \
        f"head_pooling {other} (`fractaldb-s0` on fsdd-ft and instruments-ft)." in text
    assert "95.0" not in text and "- `fractaldb-s0`" in text.split("## Missing units")[1]


def test_convergence_rule_over_the_last_fifth_of_the_curve():
    from tools.study.stats import convergence

    steps = list(range(60, 601, 60))
    flat = [0.5, 0.6, 0.7, 0.75, 0.78, 0.8, 0.8, 0.81, 0.80, 0.805]
    rule = convergence(steps, flat, [0.02] * 10)
    assert (rule["from_step"], rule["points"]) == (480, 3)
    assert rule["moves"] == pytest.approx(0.01) and rule["spread"] == pytest.approx(0.02) and rule["converged"]
    rising = flat[:7] + [0.83, 0.86, 0.9]
    assert convergence(steps, rising, [0.02] * 10) == pytest.approx(
        {"from_step": 480, "points": 3, "moves": 0.07, "spread": 0.02, "converged": False})
    assert convergence([100, 200], [0.5, 0.6], [0.1, 0.1]) is None  # one point in the last fifth


def test_convergence_section_states_the_rule_per_encoder_and_task_and_plots_the_curves(tmp_path):
    preset, units = _units({"step0-s0", "fractaldb-s0"}, ft_steps=600)

    def still_rising(a):
        return [[s, a * s / 600] for s in range(60, 601, 60)]

    def levelled(a):
        return [[s, a * min(1.0, s / 300)] for s in range(60, 601, 60)]

    rows = []
    for u in units:
        rows += ft_rows(preset, u, [0.6 + d for d in FOLD_NOISE], still_rising if u.label == "step0" else levelled)
    text = _report(tmp_path, rows, [], plots=True, ft_steps=600)
    section = text.split("## Convergence of the fine-tunes")[1].split("\n## ")[0]
    # step0's mean curve climbs 0.6 x 120 / 600 = 12 points over its last fifth, against a fold spread of
    # 0.79 (the std of the fold accuracies) x 0.9 (the mean scale of those points)
    assert "| step0 | fsdd-ft | 5 | 3 | 12.0 | 0.7 | no |" in section
    assert "| (o) fractaldb | instruments-ft | 5 | 3 | 0.0 | 0.8 | **yes** |" in section
    assert "Converged by this rule: 2 of 4 (encoder, task) pairs. Still moving: step0 on fsdd-ft, step0 on " \
        "instruments-ft." in section
    assert (tmp_path / "ft" / "finetune-curves.png").stat().st_size > 1000
    assert "![validation accuracy vs fine-tuning step](finetune-curves.png)" in section


def test_budget_check_pairs_longer_fine_tunes_with_the_study_folds_and_judges_them_on_validation(tmp_path):
    from tools.study.plan import BUDGET_CHECK

    preset, units = _units({"step0-s0", "fractaldb-s0"}, ft_steps=600)
    rows = []
    for u in units:
        for r in ft_rows(preset, u, [0.30, 0.32, 0.28, 0.31, 0.29] if u.label == "step0" else [0.7] * 5):
            rows.append({**r, "acc_std": 0.04, "split_valid_acc": [a - 0.02 for a in r["split_acc"]]})
    # step0 (--ckpt random, seed 0: named by finetune's default) gains 35 points on fsdd's first fold;
    # fractaldb (--name fractaldb-s0) 2 points on instruments' first two; a record of another seed's
    # step0 and one of a unit not in the study are left out
    step0 = {**full_record("random-cpu-tiny-s0", "fsdd", [0.67], steps=1200), "ckpt": "random",
             "split_valid_acc": [0.63]}
    step0["full"]["seed"] = 0
    # written before the head options existed: the mean head, another recipe (appended after step0)
    earlier = {**full_record("random-cpu-tiny-s0", "fsdd", [0.99], steps=1200), "ckpt": "random",
               "split_valid_acc": [0.99]}
    earlier["full"]["seed"] = 0
    for key in ("head_pooling", "head_norm"):
        del earlier["full"][key]
    frac = {**full_record("fractaldb-s0", "instruments", [0.75, 0.69], steps=1200),
            "split_valid_acc": [0.70, 0.70]}
    other = {**full_record("random-cpu-tiny-s7", "fsdd", [0.9], steps=1200), "ckpt": "random"}
    other["full"]["seed"] = 7
    stray = full_record("visualatom-s0", "fsdd", [0.9], steps=1200)
    # not the study's fine-tune with more steps: another layer decay, the same steps, another batch
    recipe = full_record("fractaldb-s0", "fsdd", [0.9], steps=1200)
    recipe["full"]["layer_decay"] = 1.0
    head = full_record("fractaldb-s0", "fsdd", [0.9], steps=1200)
    head["full"]["head_pooling"] = "mean"
    same = full_record("fractaldb-s0", "fsdd", [0.9], steps=600)
    batch = full_record("fractaldb-s0", "fsdd", [0.9], steps=1200, batch=64)
    (tmp_path / "ft").mkdir()
    (tmp_path / "ft" / BUDGET_CHECK).write_text("".join(json.dumps(r) + "\n" for r in (step0, earlier, frac, other, stray, recipe, head, same, batch)))
    text = _report(tmp_path, rows, [], ft_steps=600)
    section = text.split("### A longer budget on the first fold")[1].split("\n## ")[0]
    # step0 fsdd fold 1: valid 28 -> 63, test 30 -> 67; fold spread 4.0
    assert "| step0 (step0-s0) | fsdd-ft | 1 | 600 | 28.0 | 30.0 | 1200 | 63.0 | 67.0 | +35.0 | +37.0 | 4.0 | " \
        "0.34 | no |" in section
    assert "| (o) fractaldb (fractaldb-s0) | instruments-ft | 2 | 600 | 68.0 | 70.0 | 1200 | 70.0 | 72.0 | +2.0 | " \
        "+2.0 | 4.0 | 0.34 | **yes** |" in section
    assert section.count("| 1200 |") == 2
    assert "- `python -m finetune full --ckpt random --seed 0 --task fsdd --root DATA/fsdd --steps 1200 " \
        "--eval-every 0 --max-splits 1 --threads 1 --name step0-s0 --results REPORT/budget-check.jsonl`" in section
    assert "- `python -m finetune full --ckpt WORK/ckpt/fractaldb-s0 --seed 0 --task instruments --root " \
        "DATA/instruments --steps 1200 --eval-every 0 --max-splits 2" in section
    assert "Enough by this rule, at today's budgets (fsdd-ft 600 steps, instruments-ft 600 steps): 1 of 2 " \
        "checked (encoder, task) pairs. **Not enough for step0-s0 on fsdd-ft**" in section
    assert "(earlier)" not in section
    assert "gain over `step0` at both budgets" not in section  # no pair of step0 and a kind on one task
    # fractaldb on fsdd's first fold too: 70 -> 60 test; fractaldb is 40 points above step0 at 600 steps
    # and 7 below at 1200
    frac_fsdd = {**full_record("fractaldb-s0", "fsdd", [0.60], steps=1200), "split_valid_acc": [0.58]}
    with open(tmp_path / "ft" / BUDGET_CHECK, "a") as f:
        f.write(json.dumps(frac_fsdd) + "\n")
    text = _report(tmp_path, [], [], ft_steps=600)
    ft = text.split("## Fine-tuning against step0")[1].split("\n## ")[0]
    assert ("- **Budget: these fine-tunes are not converged.** On the first fold(s), 1200 steps instead of 600 gain "
            "more than the fold spread on fsdd-ft for step0 (section") in ft
    assert "- **Budget:** the longer-budget check (below) finds 600 steps enough on instruments-ft for (o) " \
        "fractaldb." in ft
    assert "- **(o) fractaldb over `step0` on fsdd-ft** (the same 1 fold): +40.0 points on validation (+40.0 test) " \
        "at 600 steps, -5.0 (-7.0 test) at 1200 steps." in text


def test_budget_check_section_is_empty_until_a_longer_fine_tune_is_in(tmp_path):
    preset, units = _units({"step0-s0"})
    text = _report(tmp_path, ft_rows(preset, units[0], [0.5] * 5), [])
    assert "### A longer budget on the first fold" in text and "No longer fine-tune is in yet." in text


def test_fig3_section_names_the_missing_kinds_of_a_to_n_and_the_cpu_they_need(tmp_path):
    preset, units = _units({"step0-s0", "deadleaves-squares-s0", "stat-wmm-s0"})
    rows = [r for u in units for r in ft_rows(preset, u, [0.6] * 5, cpu=1800.0)]
    probes = probe_rows([(f"{k}-s0", k, "pattern", 0) for k in SMALL_KINDS], {k: [0.8] * 5 for k in SMALL_KINDS})
    section = _report(tmp_path, rows, probes).split("## Fig. 3 under fine-tuning")[1].split("\n## ")[0]
    assert "12 of the 14 kinds of a–n are not fine-tuned yet: (b) deadleaves-oriented, (c) deadleaves-mixed," in section
    assert "(a) deadleaves-squares" not in section and "(f) stat-wmm" not in section
    # 2 tasks x 0.5 CPU h per unit; 12 x 1500 s of pre-training as the probe study measured it
    assert ("At the measured 1.00 CPU hours of fine-tuning per unit (every task and fold, mean over the units in), "
            "they need about 12.0 CPU hours of fine-tuning, plus 5.0 CPU hours of pre-training") in section


def test_the_cpu_study_report_is_unchanged_by_the_fine_tuning_sections(tmp_path):
    import shutil
    from pathlib import Path

    from tools.study.report import write_study_report

    committed = Path(__file__).resolve().parents[2] / "docs" / "report-cpu-study"
    if not (committed / "report.md").exists():
        pytest.skip("docs/report-cpu-study is not in this checkout")
    shutil.copytree(committed, tmp_path / "report")
    text = write_study_report(STUDY_PRESETS["cpu-study"], tmp_path / "report", plots=False).read_text()
    assert text == (committed / "report.md").read_text()


@pytest.mark.slow
def test_finetune_smoke_end_to_end_and_a_rerun_skips_every_unit(tmp_path):
    """Real units (render, pretrain, finetune full) of the finetune-smoke preset on generated tones."""
    import subprocess
    import sys

    from tests.tools.test_study import _tone_fsdd

    data = _tone_fsdd(tmp_path / "data")
    work, report = tmp_path / "work", tmp_path / "report"
    command = [sys.executable, "-m", "tools.reproduce", "--preset", "finetune-smoke", "--work", str(work),
               "--report", str(report), "--data-root", str(data)]
    first = subprocess.run(command, capture_output=True, text=True)
    assert first.returncode == 0, first.stdout + first.stderr
    rows = read_rows(report / RESULTS)
    assert [r["unit"] for r in rows] == ["stat-spectrum-s1", "step0-s0", "stat-spectrum-s0"]
    for r in rows:
        assert r["protocol"] == "finetune" and len(r["split_acc"]) == 2 and r["ft_steps"] == 5
        assert [[p[0] for p in c] for c in r["curves"]] == [[1, 2, 3, 4, 5]] * 2
        assert all(1 <= s <= 5 for s in r["split_step"]) and r["ft_cpu_s"] > 0
    state = work / "finetune" / "step0-s0" / "fsdd-mini-ft.state.jsonl"
    assert len(state.read_text().splitlines()) == 2  # one line per fold
    text = (report / "report.md").read_text()
    assert "Complete: all 3 planned units" in text and (report / "finetune-curves.png").exists()
    assert "| step0 | fsdd-mini-ft | 2 | 2 |" in text  # the rule evaluated over steps 4 and 5
    again = subprocess.run(command, capture_output=True, text=True)
    assert again.returncode == 0 and "[unit]" not in again.stdout


def test_the_best_fine_tune_is_compared_with_its_probe_on_the_seeds_the_probe_study_has(tmp_path):
    preset, units = _units({"step0-s0", "step0-s1", "fractaldb-s0", "fractaldb-s1"})
    acc = {"step0-s0": 0.6, "step0-s1": 0.6, "fractaldb-s0": 0.74, "fractaldb-s1": 0.78}
    rows = [r for u in units for r in ft_rows(preset, u, [acc[u.name] + d for d in FOLD_NOISE])]
    probes = probe_rows([("fractaldb-s0", "fractaldb", "pattern", 0)], {"fractaldb": [0.7] * 5})
    section = _report(tmp_path, rows, probes).split("## Fine-tuning against step0")[1].split("\n## ")[0]
    # fine-tuned 76 % over seeds 0 and 1; the probe study has seed 0 only, where the fine-tune has 74 %
    assert ("- **Best fine-tuned encoder on fsdd-ft:** (o) fractaldb at 76.0 %; it is 4.0 points above its own "
            "linear probe at 70.0 % on seed 0 (fine-tuned 74.0 % there) (beyond noise, p = 0.0") in section
    assert "| (o) fractaldb | 0,1 | 76.0 ± 1.0 | **+16.0 ± 0.0** | 70.0 | +4.0 (p = 0.0" in section
    # logmel-stats has no seeds: it stands beside both (76 - 80 over seeds 0 and 1)
    probes += probe_rows([("logmel-stats", "logmel-stats", "logmel", 0)], {"logmel-stats": [0.8] * 5})
    section = _report(tmp_path / "2", rows, probes).split("## Fine-tuning against step0")[1].split("\n## ")[0]
    assert "and 4.0 points below `logmel-stats` at 80.0 % (beyond noise, p = 0.0" in section


def test_the_image_properties_of_a_fine_tuning_report_come_from_the_probe_study(tmp_path):
    preset, units = _units({"step0-s0", "deadleaves-squares-s0", "stat-wmm-s0", "visualatom-s0"})
    acc = {"step0": 0.6, "deadleaves-squares": 0.62, "stat-wmm": 0.64, "visualatom": 0.66}
    rows = [r for u in units for r in ft_rows(preset, u, [acc[u.label] + d for d in FOLD_NOISE])]
    stats = tmp_path / "probe" / "stats"
    stats.mkdir(parents=True)
    for k, slope in (("deadleaves-squares", -3.0), ("stat-wmm", -2.0), ("visualatom", -1.0), ("fractaldb", -2.5)):
        props = {c: {"mean": slope if c == "spectrum_slope" else 0.5, "std": 0.1} for c in
                 ("spectrum_slope", "edge_density", "intensity_entropy", "png_ratio", "self_similarity")}
        (stats / f"{k}.json").write_text(json.dumps({"name": k, "properties": props, "diversity": 0.2}))
    text = _report(tmp_path, rows, [])
    assert not (tmp_path / "ft" / "stats").exists()
    properties = text.split("## Image properties")[1].split("\n## ")[0]
    assert "| (a) deadleaves-squares | -3.000 ± 0.10 |" in properties and "(o) fractaldb" in properties
    line = next(ln for ln in text.split("## Properties vs accuracy")[1].splitlines()
                if ln.startswith("| spectrum_slope |")).split("|")
    # accuracy rises 2 points per unit of slope over the three fine-tuned kinds: r = +1 over all
    assert line[5].strip() == "+1.00" and line[7].strip() == "3"


def test_each_task_is_fine_tuned_at_its_own_budget_and_rows_of_an_earlier_budget_are_set_aside(tmp_path):
    from tools.study.plan import BUDGET_CHECK, is_current, setting_changes, unit_done

    preset, units = _units({"step0-s0", "fractaldb-s0"})
    runner = UnitRunner(preset, tmp_path / "work", tmp_path / "report", tmp_path / "data", log=lambda m: None)
    step0, frac = sorted(units, key=lambda u: u.role != "step0")
    commands = [runner.finetune_command(step0, t, "random:0") for t in preset.tasks]
    assert [c[c.index("--steps") + 1] for c in commands] == ["2400", "1200"]
    assert [runner.finetune_settings(step0, t)["steps"] for t in preset.tasks] == [2400, 1200]
    # fractaldb's FSDD row of 1,200 steps (the budget before FSDD's was doubled) is set aside;
    # its instruments row (still that task's budget) counts
    old = ft_rows(replace(preset, ft_steps=1200), frac, [0.9] * 5)
    rows = ft_rows(preset, step0, [0.6 + d for d in FOLD_NOISE]) + old
    assert setting_changes(old[0], preset) == {"steps": 1200} and setting_changes(old[1], preset) == {}
    assert [is_current(r, preset) for r in old] == [False, True]
    assert unit_done(rows, step0, preset) and not unit_done(rows, frac, preset)
    # fold 1 of fractaldb on FSDD again at 2,400 steps: checked against the set-aside row, marked earlier
    for r in rows:
        r["split_valid_acc"] = [a - 0.02 for a in r["split_acc"]]
    longer = {**full_record("fractaldb-s0", "fsdd", [0.95], steps=2400), "split_valid_acc": [0.93]}
    (tmp_path / "ft").mkdir()
    (tmp_path / "ft" / BUDGET_CHECK).write_text(json.dumps(longer) + "\n")
    text = _report(tmp_path, rows, [])
    assert ("1 fine-tuned row(s) in `results.jsonl` were made with earlier fine-tuning settings and are left out "
            "of this report (the same command fine-tunes their units again on those tasks with today's): steps "
            "1200 (`fractaldb-s0` on fsdd-ft). Today's recipe:") in text
    assert "budgets: fsdd-ft 2400 steps, instruments-ft 1200 steps." in text
    assert "- `fractaldb-s0`" in text.split("## Missing units")[1]
    section = text.split("### A longer budget on the first fold")[1].split("\n## ")[0]
    assert "| (o) fractaldb (fractaldb-s0) | fsdd-ft | 1 | 1200 (earlier) | 88.0 | 90.0 | 2400 | 93.0 | 95.0 | " \
        "+5.0 | +5.0 |" in section
    assert "Enough by this rule, at today's budgets (fsdd-ft 2400 steps, instruments-ft 1200 steps): 0 of 0 " \
        "checked (encoder, task) pairs. Rows marked *earlier* are checks of a task's earlier budget (fsdd-ft 1200 " \
        "steps), whose rows are set aside: they are why the budget changed." in section
    # the fine-tuning section has no budget verdict from a check of an earlier budget
    assert "- **Budget" not in text.split("## Fine-tuning against step0")[1].split("\n## ")[0]


def test_a_task_whose_budget_changed_is_fine_tuned_again_alone_and_adds_only_its_row(tmp_path, monkeypatch):
    import tools.study.run

    work, report = tmp_path / "work", tmp_path / "report"
    before = replace(STUDY_PRESETS["cpu-finetune"], ft_steps=1200)  # both tasks at 1,200 steps
    unit = next(u for u in plan_units(before, []) if u.name == "step0-s1")
    calls = []
    monkeypatch.setattr(tools.study.run, "run_command", _stub_finetune(calls))
    assert len(UnitRunner(before, work, report, tmp_path / "data", log=lambda m: None).run(unit)) == 2
    today = STUDY_PRESETS["cpu-finetune"]  # FSDD's own budget, 2,400 steps
    assert not unit_done(read_rows(report / RESULTS), unit, today)
    rows = UnitRunner(today, work, report, tmp_path / "data", log=lambda m: None).run(unit)
    # instruments' record (same settings) is reused; FSDD is fine-tuned again at 2,400 steps
    assert len(calls) == 3 and calls[2][calls[2].index("--task") + 1] == "fsdd"
    assert calls[2][calls[2].index("--steps") + 1] == "2400"
    assert [(r["task"], r["ft_steps"]) for r in rows] == [("fsdd-ft", 2400)]
    every = read_rows(report / RESULTS)
    assert [(r["task"], r["ft_steps"]) for r in every] == [("fsdd-ft", 1200), ("instruments-ft", 1200),
                                                           ("fsdd-ft", 2400)]
    assert [is_current(r, today) for r in every] == [False, True, True] and unit_done(every, unit, today)
