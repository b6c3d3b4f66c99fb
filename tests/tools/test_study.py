"""Unit-based studies (cpu-study, cpu-recipe): the presets, planning, skipping units already in
the committed results file, resuming after a kill, the (partial) report and its correlations."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace

import numpy as np
import pytest

from tools.reproduce.cli import main
from tools.study.run import UnitRunner, run_study
from tools.study.plan import RESULTS, append_rows, extreme_kinds, plan_units, read_rows, select
from tools.study.presets import LETTERS, SMALL_KINDS, STUDY_PRESETS, get_study_preset
from tools.study.report import write_study_report
from tools.study.sections import correlation_verdict, override_flags
from tools.study.stats import summarise


def fake_rows(preset, unit, acc, folds=5, **extra):
    """The rows a unit appends: one per task, with ``folds`` per-fold accuracies around ``acc`` (a
    number, or a function of the task)."""
    rows = []
    for k, task in enumerate(preset.tasks):
        centre = acc(task) if callable(acc) else acc
        split = [centre + 0.01 * ((i + k) % 3 - 1) for i in range(folds)]
        rows.append({"unit": unit.name, "role": unit.role, "label": unit.label, "kind": unit.kind,
                     "letter": preset.letter(unit.kind) if unit.kind else None, "seed": unit.seed,
                     "input_size": unit.input_size, "steps": unit.steps, "task": task.name,
                     "acc_mean": float(np.mean(split)), "acc_std": float(np.std(split)), "split_acc": split,
                     "leaky": unit.role == "audio" and task.name in preset.leaky_tasks,
                     "pretrain_cpu_s": 60.0 * (unit.steps or 0) / 100 if unit.trained else None,
                     "eval_cpu_s": 10.0, "machine": "test", **extra})
    return rows


class FakeLauncher:
    """Runs a unit instantly by appending fake rows; ``kill_at`` simulates the study being killed
    when that unit starts, ``fail`` units exit 1."""

    def __init__(self, preset, report, accuracy=lambda u: 0.5, kill_at=None, fail=()):
        self.preset, self.report, self.accuracy = preset, report, accuracy
        self.kill_at, self.fail, self.started = kill_at, set(fail), []

    def start(self, unit):
        if unit.name == self.kill_at:
            raise KeyboardInterrupt(unit.name)
        self.started.append(unit.name)
        if unit.name not in self.fail:
            append_rows(self.report / RESULTS, fake_rows(self.preset, unit, self.accuracy(unit)))
        return type("Done", (), {"poll": lambda _self, code=1 if unit.name in self.fail else 0: code})()


def test_cpu_study_preset_lists_the_17_datasets_a_to_q_at_one_step_budget():
    from generators.registry import list_kinds

    preset = STUDY_PRESETS["cpu-study"]
    assert len(preset.kinds) == 17 and [preset.letter(k) for k in preset.kinds] == list("abcdefghijklmnopq")
    assert set(preset.kinds) <= {k.name for k in list_kinds()}
    assert len(SMALL_KINDS) == 14 and set(SMALL_KINDS) == {k for k, v in LETTERS.items() if v <= "n"}
    assert (preset.steps, preset.batch_size, preset.lr, preset.model, preset.input_sizes) == \
        ((1300,), 64, 5e-4, "cpu-tiny", ("128x128",))
    assert (preset.threads, preset.workers, preset.size) == (1, 1, 128)
    assert preset.images("fractaldb") == 100_000 and preset.images("featvis-random") < 100_000
    assert preset.epochs("fractaldb", 1300) == pytest.approx(0.832)
    assert [(t.name, t.loader, t.root, t.pooling) for t in preset.tasks] == [
        ("fsdd", "fsdd", "fsdd", None), ("instruments", "instruments", "instruments", None),
        ("fsdd-mean", "fsdd", "fsdd", "mean"), ("instruments-mean", "instruments", "instruments", "mean")]
    assert preset.leaky_tasks == ("fsdd", "fsdd-mean") and preset.audio == ("fsdd/recordings",)
    recipe = STUDY_PRESETS["cpu-recipe"]
    assert recipe.kinds == ("fractaldb", "stat-spectrum") and recipe.seeds == (0, 1, 2)
    assert recipe.input_sizes == ("128x128", "128x512") and recipe.steps == (1000, 3000, 10000)


def test_plan_adds_three_seeds_for_the_extreme_kinds_once_every_first_seed_is_in():
    preset = STUDY_PRESETS["cpu-study"]
    first = plan_units(preset, [])
    names = [u.name for u in first]
    # the seven audio-native kinds come after every unit of the 17 image kinds
    audio = [f"{k}-s0" for k in preset.audio_kinds]
    assert len(audio) == 7 and names[-7:] == audio and "audio-fm-s0" in audio
    names = names[:-7]
    assert names[:4] == ["step0-s0", "step0-s1", "step0-s2", "logmel-stats"]
    assert len(names) == 3 + 1 + 17 + 1 and "audio-fsdd-s0" in names and "fractaldb-s0" in names
    # the six neural kinds (hours of rendering) last, after the real-audio control
    assert names[4:] == [f"{k}-s0" for k in preset.kinds if k not in preset.kind_n] + ["audio-fsdd-s0"] + \
        [f"{k}-s0" for k in preset.kinds if k in preset.kind_n]
    assert names[-6:] == ["stylegan-random-s0", "stylegan-highfreq-s0", "stylegan-sparse-s0",
                          "stylegan-oriented-s0", "featvis-random-s0", "featvis-deadleaves-s0"]
    rows = []
    for u in first[:-9]:  # all but the last two image kinds (and the audio kinds)
        rows += fake_rows(preset, u, 0.9)
    assert extreme_kinds(preset, rows) is None and len(plan_units(preset, rows)) == 22 + 7
    score = {k: 0.5 + 0.01 * i for i, k in enumerate(preset.kinds)}  # q best, a worst
    score.update({k: 0.99 - 0.9 * (k == "audio-mix") for k in preset.audio_kinds})  # never extremes
    rows = [r for u in first for r in fake_rows(preset, u, score.get(u.kind, 0.9))]
    best, worst = extreme_kinds(preset, rows)
    assert best == ["shaders-random", "visualatom"] and worst == ["deadleaves-oriented", "deadleaves-squares"]
    planned = [u.name for u in plan_units(preset, rows)]
    assert sorted(planned[22:30]) == sorted(f"{k}-s{s}" for k in best + worst for s in (1, 2))
    assert planned[30:] == audio and len(planned) == 37
    assert [u.name for u in select(first, ("fractaldb", "step0"))] == ["step0-s0", "step0-s1", "step0-s2",
                                                                       "fractaldb-s0"]
    assert [u.name for u in select(first, ("audio-modal",))] == ["audio-modal-s0"]


def test_recipe_units_pair_every_shape_and_step_count_with_step0_of_the_same_shape():
    preset = STUDY_PRESETS["cpu-recipe"]
    names = [u.name for u in plan_units(preset, [])]
    assert len(names) == 2 * 3 + 1 + 3 * 2 * 2 * 3
    assert "step0-128x512-s2" in names and "fractaldb-128x512-10000-s1" in names and "logmel-stats" in names
    assert len(set(names)) == len(names)
    grid = list(dict.fromkeys(n.rsplit("-", 1)[0].split("-", 1)[1] for n in names if n.startswith("fractaldb")))
    assert grid == ["128x128-1000", "128x128-3000", "128x512-1000", "128x128-10000", "128x512-3000",
                    "128x512-10000"]  # cheapest first
    first = [n for n in names if n.endswith("128x128-1000-s0") or n.endswith("128x128-1000-s1")]
    assert first == ["fractaldb-128x128-1000-s0", "stat-spectrum-128x128-1000-s0",
                     "fractaldb-128x128-1000-s1", "stat-spectrum-128x128-1000-s1"]  # two renders side by side


def test_units_already_in_the_committed_results_file_are_skipped(tmp_path):
    preset = STUDY_PRESETS["study-smoke"]
    report = tmp_path / "report"
    done = [u for u in plan_units(preset, []) if u.name in ("step0-s0", "fractaldb-s0")]
    append_rows(report / RESULTS, [r for u in done for r in fake_rows(preset, u, 0.6)])
    launcher = FakeLauncher(preset, report)
    result = run_study(preset, tmp_path / "work", report, tmp_path, launcher=launcher, log=lambda m: None,
                       poll_seconds=0)
    assert "step0-s0" not in launcher.started and "fractaldb-s0" not in launcher.started
    assert launcher.started[:4] == ["step0-s1", "logmel-stats", "stat-spectrum-s0", "audio-fsdd-mini-s0"]
    assert not result["failed"]
    # every first seed in: the extreme kinds' extra seed ran too, and each unit is in the file once
    assert {"stat-spectrum-s1", "fractaldb-s1"} <= set(launcher.started)
    rows = read_rows(report / RESULTS)
    assert len(rows) == len({r["unit"] for r in rows}) == len(plan_units(preset, rows))
    again = FakeLauncher(preset, report)
    run_study(preset, tmp_path / "work", report, tmp_path, launcher=again, log=lambda m: None, poll_seconds=0)
    assert again.started == []


def test_a_killed_study_resumes_with_the_missing_units_and_max_units_stops_cleanly(tmp_path):
    preset = STUDY_PRESETS["study-smoke"]
    report, log = tmp_path / "report", []
    with pytest.raises(KeyboardInterrupt):
        run_study(preset, tmp_path / "work", report, tmp_path, launcher=FakeLauncher(preset, report, kill_at="logmel-stats"),
                  log=log.append, poll_seconds=0)
    assert {r["unit"] for r in read_rows(report / RESULTS)} == {"step0-s0", "step0-s1"}
    limited = FakeLauncher(preset, report)
    run_study(preset, tmp_path / "work", report, tmp_path, launcher=limited, max_units=2, log=log.append,
              poll_seconds=0)
    assert limited.started == ["logmel-stats", "stat-spectrum-s0"]
    assert any("left for a later run (--max-units reached)" in m for m in log)
    rest = FakeLauncher(preset, report, fail=("audio-fsdd-mini-s0",))
    result = run_study(preset, tmp_path / "work", report, tmp_path, launcher=rest, log=log.append, poll_seconds=0)
    assert rest.started[0] == "fractaldb-s0" and set(result["failed"]) == {"audio-fsdd-mini-s0"}
    text = write_study_report(preset, report, failed=result["failed"]).read_text()
    assert "PARTIAL STUDY: 7 of 8 planned units" in text and "- `audio-fsdd-mini-s0` failed: exit 1" in text
    assert "- Cost so far: " in text and "- Cost: " not in text


def _tone_fsdd(root):
    """``root/fsdd/recordings/{digit}_x_{i}.wav``: a tone per digit, 6 takes each."""
    from tests.finetune.fixtures import write_wav

    for digit in range(10):
        for i in range(6):
            write_wav(root / "fsdd" / "recordings" / f"{digit}_x_{i}.wav", 200.0 * (digit + 1) * (1 + 0.01 * i),
                      seconds=0.3, noise=0.05, seed=i)
    return root


def test_a_unit_killed_during_evaluation_resumes_without_rendering_or_training_again(tmp_path, monkeypatch):
    import tools.study.run

    preset = replace(STUDY_PRESETS["study-smoke"], n_images=16, stats_n=8)
    data = _tone_fsdd(tmp_path / "data")
    calls, kill = [], {"eval": True}

    def fake_command(command, log_path, env=None):
        kind = command[2]
        calls.append(kind)
        if kind == "pretrain":
            out = command[command.index("--out") + 1]
            steps, piece = int(command[command.index("--steps") + 1]), int(command[command.index("--stop-after-steps") + 1])
            config = os.path.join(out, "config.json")
            step = json.load(open(config))["step"] if os.path.exists(config) else 0
            os.makedirs(out, exist_ok=True)
            json.dump({"step": min(steps, step + piece), "images_seen": 8 * min(steps, step + piece)}, open(config, "w"))
        else:
            if kill["eval"]:
                kill["eval"] = False
                raise tools.study.run.StepError("killed")
            results = command[command.index("--results") + 1]
            os.makedirs(os.path.dirname(results), exist_ok=True)
            with open(results, "a") as f:
                f.write(json.dumps({"task": "fsdd-mini", "name": "x", "acc_mean": 0.5, "acc_std": 0.1, "split_acc": [0.4, 0.6]}) + "\n")

    monkeypatch.setattr(tools.study.run, "run_command", fake_command)
    work, report, log = tmp_path / "work", tmp_path / "report", []
    unit = next(u for u in plan_units(preset, []) if u.name == "stat-spectrum-s0")
    runner = UnitRunner(preset, work, report, data, log=log.append)
    with pytest.raises(tools.study.run.StepError, match="killed"):
        runner.run(unit)
    assert calls == ["pretrain", "pretrain", "finetune"]  # 4 steps in pieces of 2
    assert not (report / RESULTS).exists() and (report / "stats" / "stat-spectrum.json").exists()
    rows = runner.run(unit)
    assert calls[3:] == ["finetune"]
    assert any(m.startswith("[skip] render-stat-spectrum") for m in log)
    assert any(m.startswith("[skip] pretrain-stat-spectrum-s0") for m in log)
    assert [r["unit"] for r in read_rows(report / RESULTS)] == ["stat-spectrum-s0"]
    assert rows[0]["epochs"] == 2.0 and rows[0]["step_reached"] == 4 and rows[0]["letter"] == "e"
    assert runner.run(unit) == [] and "rows already in" in log[-1]


def test_partial_report_of_the_cpu_study_says_what_is_missing(tmp_path):
    preset = STUDY_PRESETS["cpu-study"]
    report = tmp_path / "report"
    units = plan_units(preset, [])
    have = [u for u in units if u.role == "step0" or u.kind in ("fractaldb", "stat-spectrum")]
    append_rows(report / RESULTS, [r for u in have for r in fake_rows(preset, u, 0.9 if u.kind else 0.88)])
    text = write_study_report(preset, report, plots=False).read_text()
    assert f"PARTIAL STUDY: 5 of {len(units)} planned units" in text
    assert "extra seeds [1, 2] of the 2 best and 2 worst kinds are planned once every kind has its first seed" in text
    missing = text.split("## Missing units")[1]
    assert "- `visualatom-s0`" in missing and "- `logmel-stats`" in missing and "- `fractaldb-s0`" not in missing
    row = next(line for line in text.splitlines() if line.startswith("| (o) fractaldb |"))
    assert "+2.0 ± 0.0" in row  # 90 vs 88 on every fold
    assert "| (p) visualatom | – | 0.8 | – |" in text
    # the summary counts both measured kinds as above step0 beyond noise (+2 on every fold)
    assert "| fsdd | 2 | 2 | 0 | 0 | (e) stat-spectrum (+2.0) | – | – |" in text
    families = text.split("Mean gain over `step0` per family")[1]
    assert "| statistical | 1 | +2.0 |" in families and "| formula | 1 | +2.0 |" in families
    assert "| dead leaves |" not in families


def test_summary_counts_kinds_below_step0_and_within_noise_separately(tmp_path):
    preset = STUDY_PRESETS["cpu-study"]
    report = tmp_path / "report"
    units = [u for u in plan_units(preset, []) if u.role == "step0" or u.kind in
             ("deadleaves-squares", "deadleaves-oriented", "stylegan-random")]
    acc = {"deadleaves-squares": 0.85, "deadleaves-oriented": 0.88, "stylegan-random": 0.95}
    rows = [r for u in units for r in fake_rows(preset, u, acc.get(u.kind, 0.88))]
    for r in rows:  # the oriented kind: noisy per-fold differences around zero
        if r["label"] == "deadleaves-oriented":
            r["split_acc"] = [a + d for a, d in zip(r["split_acc"], (0.03, -0.03, 0.02, -0.02, 0.0))]
            r["acc_mean"] = float(np.mean(r["split_acc"]))
    append_rows(report / RESULTS, rows)
    text = write_study_report(preset, report, plots=False).read_text()
    assert "| fsdd | 3 | 1 | 1 | 1 | (i) stylegan-random (+7.0) |" in text
    families = text.split("Mean gain over `step0` per family")[1]
    assert "| dead leaves | 2 | -1.5 |" in families and "| StyleGAN | 1 | +7.0 |" in families


def test_audio_native_kinds_are_rows_beside_the_image_kinds_and_compared_with_the_best_and_real_audio(tmp_path):
    preset = STUDY_PRESETS["cpu-study"]
    report = tmp_path / "report"
    acc = {"visualatom": 0.95, "fractaldb": 0.90, "audio-mix": 0.93, "audio-fm": 0.85, "audio-noise": 0.885}
    units = [u for u in plan_units(preset, []) if u.role in ("step0", "audio") or u.kind in acc]
    rows = [r for u in units for r in fake_rows(preset, u, 0.97 if u.role == "audio" else acc.get(u.kind, 0.88))]
    for r in rows:  # audio-noise: noisy per-fold differences around +0.5
        if r["label"] == "audio-noise":
            r["split_acc"] = [a + d for a, d in zip(r["split_acc"], (0.03, -0.03, 0.02, -0.02, 0.0))]
    # visualatom has a second seed, 2 points lower: 94 over its seeds, 95 on the seed audio-mix has
    rows += [dict(r, unit="visualatom-s1", seed=1, split_acc=[a - 0.02 for a in r["split_acc"]],
                  acc_mean=r["acc_mean"] - 0.02) for r in rows if r["label"] == "visualatom"]
    append_rows(report / RESULTS, rows)
    text = write_study_report(preset, report, plots=False).read_text()
    section = text.split("## Audio-native kinds (r–x)")[1].split("\n## ")[0]
    # 93 vs 95 (seed 0) and vs 97 on every fold (the fake rows shift each task by -0.2..+0.2)
    assert ("| fsdd | 3 | 1 | 1 | 1 | (x) audio-mix (92.8, +5.0) | (p) visualatom (93.8, +6.0) | -2.0 (p = 0.000) "
            "| 96.8 leaky | -4.0 (p = 0.000) |") in section
    assert ("- On instruments, of 3 audio-native kinds 1 are above `step0` beyond noise and 1 below; the best, "
            "(x) audio-mix at 93.2 %, is 2.0 points below the best image kind, (p) visualatom, at 95.2 % on seed 0 "
            "(beyond noise, p = 0.000), and 4.0 points below the real-audio MAE at 97.2 % on seed 0 (beyond noise, "
            "p = 0.000).") in section
    assert "the real-audio MAE at 96.8 % on seed 0 (its pre-training audio contains this task's clips; beyond" in section
    # (+5 - 3 + 0.5) / 3 against (+6 + 2) / 2
    assert "audio-native kinds fsdd +0.8, instruments +0.8" in section and "image kinds fsdd +4.0," in section
    # rows of the accuracy table and the ranking; not counted among the image kinds of the summary
    assert "| (x) audio-mix | 0 | 0.8 | 92.8 ± 0.7 | **+5.0 ± 0.0** |" in text
    assert "| (r) audio-harmonic | – | 0.8 |" in text
    assert "| fsdd | 2 | 2 | 0 | 0 | (p) visualatom (+6.0) |" in text
    ranking = text.split("## Ranking")[1].split("\n## ")[0]
    assert "| 2 | (x) audio-mix |" in ranking and "| 1 | (p) visualatom |" in ranking
    assert "audio-mix" not in text.split("## How this compares with the paper")[1].split("\n## ")[0]


def test_correlations_match_scipy_pearsonr_on_a_toy_table(tmp_path):
    from scipy.stats import pearsonr

    from tools.analysis.correlate import COLUMNS

    preset = STUDY_PRESETS["cpu-study"]
    report = tmp_path / "report"
    rng = np.random.default_rng(0)
    slope = {k: float(-1 - 2 * rng.random()) for k in preset.kinds}
    acc = {k: 0.7 - 0.05 * slope[k] + 0.02 * float(rng.standard_normal()) for k in preset.kinds}
    units = plan_units(preset, [])
    append_rows(report / RESULTS, [r for u in units for r in fake_rows(preset, u, acc.get(u.kind, 0.8))])
    (report / "stats").mkdir()
    for k in preset.kinds:
        props = {c: {"mean": slope[k] if c == "spectrum_slope" else 0.5, "std": 0.1} for c in
                 ("spectrum_slope", "edge_density", "intensity_entropy", "png_ratio", "self_similarity")}
        (report / "stats" / f"{k}.json").write_text(json.dumps({"name": k, "properties": props, "diversity": 0.2}))
    text = write_study_report(preset, report, plots=False).read_text()  # plots: see test_correlate
    tasks = [t.name for t in preset.tasks]
    rows = summarise(read_rows(report / RESULTS), tasks)
    # one table per pooling probe, each over the mean of its own tasks
    for probe, probe_tasks in (("freq", ("fsdd", "instruments")), ("mean", ("fsdd-mean", "instruments-mean"))):
        section = text.split(f"### {probe} pooling ({', '.join(probe_tasks)})")[1]
        mean_acc = {k: np.mean([rows[(k, "128x128", 1300)][t]["acc"] for t in probe_tasks]) for k in preset.kinds}
        line = next(ln for ln in section.splitlines() if ln.startswith("| spectrum_slope |")).split("|")
        for kinds, r_cell, p_cell in ((SMALL_KINDS, 2, 3), (preset.kinds, 5, 6)):
            r, p = pearsonr([slope[k] for k in kinds], [mean_acc[k] for k in kinds])
            assert float(line[r_cell]) == pytest.approx(r, abs=0.005)
            assert float(line[p_cell]) == pytest.approx(p, abs=0.0005)
        assert line[4].strip() == "14" and line[7].strip() == "17"
    assert "spectrum_slope over a–n" in text and set(COLUMNS) >= {"spectrum_slope"}
    assert f"**Beyond noise after Bonferroni correction over the {len(COLUMNS)} properties** (p < " in text
    assert "frequency-preserving pooling on fsdd, instruments; mean pooling on fsdd-mean, instruments-mean" in text
    head = next(ln for ln in text.splitlines() if ln.startswith("| rank | dataset |"))
    assert head.endswith("| mean freq (rank) | mean mean (rank) | mean |")
    assert "PARTIAL STUDY: 29 of 37 planned units" in text  # 22 image + 7 audio units in; extremes due


def test_correlation_verdict_says_which_survive_bonferroni_and_when_none_does():
    lines = correlation_verdict([("png_ratio over a–n: r = +0.58, p = 0.030", 0.030),
                                 ("self_similarity over a–n: r = +0.62, p = 0.019", 0.019)], 9)
    assert lines[0].startswith("p < 0.05 before correcting for the number of properties tested: png_ratio")
    assert lines[2] == ("**No correlation is beyond noise after Bonferroni correction over the 9 properties** "
                        "(p < 0.0056): with 9 properties tested, the chance that at least one gives p < 0.05 "
                        "by chance alone is 37% (for independent tests).")
    lines = correlation_verdict([("a over all: r = +0.90, p = 0.001", 0.001), ("b over all: r = +0.5, p = 0.04", 0.04)], 9)
    assert lines[2] == ("**Beyond noise after Bonferroni correction over the 9 properties** (p < 0.0056): "
                        "a over all: r = +0.90, p = 0.001. The others above are not.")


def test_recipe_report_plots_gain_against_cpu_time_and_names_the_cheapest_winner_per_pooling(tmp_path):
    preset = get_study_preset("cpu-recipe", steps=(1000, 3000), input_sizes=("128x128",))
    assert [(t.name, t.pooling) for t in preset.tasks] == [
        ("fsdd", None), ("instruments", None), ("fsdd-mean", "mean"), ("instruments-mean", "mean")]
    report = tmp_path / "report"
    rows = []
    for u in plan_units(preset, []):
        def acc(task, u=u):  # mean pooling gains from 1000 steps on, freq pooling only at 3000
            gains = {None: 0.0, 1000: 0.05 if task.pooling == "mean" else 0.0, 3000: 0.05}
            return 0.85 + (gains[u.steps] if u.role != "logmel" else 0.02) + 0.001 * u.seed
        rows += fake_rows(preset, u, acc)
    append_rows(report / RESULTS, rows)
    text = write_study_report(preset, report).read_text()
    assert (report / "recipe.png").exists() and "![gain vs CPU time](recipe.png)" in text
    assert "| fractaldb | 128x128 | 3000 | 0,1,2 | 30 | **+5.0 ± 0.0 (0.0)** |" in text
    assert "| fractaldb | 128x128 | 1000 | 0,1,2 | 10 | +0.0 ± 0.0 (0.0) | +0.0 ± 0.0 (0.0) | **+5.0" in text
    assert ("Cheapest recipe that beats step0 beyond seed and fold spread on every task of the freq-pooling "
            "probe (fsdd, instruments):** fractaldb, input 128x128, 3000 steps") in text
    assert ("Cheapest recipe that beats step0 beyond seed and fold spread on every task of the mean-pooling "
            "probe (fsdd-mean, instruments-mean):** fractaldb, input 128x128, 1000 steps") in text
    # the report's command reproduces the grid it covers, not the preset's full grid
    assert ("python -m tools.reproduce --preset cpu-recipe --work runs/cpu-recipe --report docs/report-cpu-recipe "
            "--grid-steps 1000,3000 --input-sizes 128x128 --parallel 2") in text


def test_report_command_names_only_the_flags_that_differ_from_the_preset():
    assert override_flags(get_study_preset("cpu-study")) == ""
    assert override_flags(get_study_preset("cpu-recipe", input_sizes=("128x512",))) == " --input-sizes 128x512"
    assert override_flags(get_study_preset("cpu-study", n_images=5000, step0_seeds=(0, 1, 2, 3, 4))) == (
        " --n-images 5000 --extreme-seeds 5")
    assert override_flags(replace(get_study_preset("cpu-study"), name="custom")) == ""


def test_task_file_of_a_study_names_the_pooling_of_each_task(tmp_path):
    import tomllib

    runner = UnitRunner(get_study_preset("cpu-recipe"), tmp_path / "w", tmp_path / "r", tmp_path / "data")
    tasks = tomllib.loads(runner.task_file().read_text())["task"]
    assert [(t["name"], t["task"], t.get("pooling")) for t in tasks] == [
        ("fsdd", "fsdd", None), ("instruments", "instruments", None), ("fsdd-mean", "fsdd", "mean"),
        ("instruments-mean", "instruments", "mean")]
    assert tasks[2]["root"] == str(tmp_path / "data" / "fsdd")
    assert tasks[1]["root"] == str(tmp_path / "data" / "instruments")


def test_every_study_task_is_a_record_of_the_task_table():
    from finetune.loaders import TASKS

    for preset in STUDY_PRESETS.values():
        assert {t.loader for t in preset.tasks} <= set(TASKS), preset.name


@pytest.mark.parametrize("args, message", [
    (["--parallel", "0"], "--parallel 0 must be >= 1"),
    (["--minutes", "3"], "--minutes: study presets have a budget in optimizer steps; use --steps"),
    (["--kinds", "nope"], "unknown kind(s) nope; see `synthgen list` (baselines: step0, logmel-stats, audio)"),
    (["--grid-steps", "10,x"], "--grid-steps '10,x' must be comma-separated integers"),
])
def test_study_cli_errors_are_one_line(args, message, tmp_path, capsys):
    assert main(["--preset", "cpu-study", "--work", str(tmp_path / "w"), "--report", str(tmp_path / "r"),
                 "--data-root", str(tmp_path), *args]) == 2
    assert capsys.readouterr().err.strip() == f"reproduce: error: {message}"


@pytest.mark.slow
def test_study_smoke_end_to_end_survives_a_kill(tmp_path):
    """Real units (render, pretrain, suite) on generated tones; the study is SIGKILLed during a
    pre-training and resumed; every unit ends in the results file exactly once."""
    data = _tone_fsdd(tmp_path / "data")
    work, report = tmp_path / "work", tmp_path / "report"
    command = [sys.executable, "-m", "tools.reproduce", "--preset", "study-smoke", "--work", str(work),
               "--report", str(report), "--data-root", str(data)]
    first = subprocess.run(command + ["--max-units", "2"], capture_output=True, text=True)
    assert first.returncode == 0, first.stdout + first.stderr
    assert {r["unit"] for r in read_rows(report / RESULTS)} == {"step0-s0", "step0-s1"}
    assert "PARTIAL STUDY: 2 of 6" in (report / "report.md").read_text()
    process = subprocess.Popen(command + ["--kinds", "stat-spectrum"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 300
    while not (work / "ckpt" / "stat-spectrum-s0" / "config.json").exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    second = subprocess.run(command, capture_output=True, text=True)
    assert second.returncode == 0, second.stdout + second.stderr
    rows = read_rows(report / RESULTS)
    assert sorted(r["unit"] for r in rows) == sorted(u.name for u in plan_units(STUDY_PRESETS["study-smoke"], rows))
    text = (report / "report.md").read_text()
    assert "Complete: all 8 planned units" in text
    assert "- Cost: " in text and "Cost so far" not in text
    assert "[skip] render-stat-spectrum" in (work / "logs" / "unit-stat-spectrum-s0.log").read_text()


def test_paper_section_compares_kinds_with_real_audio_on_the_fair_tasks_only(tmp_path):
    preset = STUDY_PRESETS["cpu-study"]
    report = tmp_path / "report"
    units = [u for u in plan_units(preset, []) if u.role in ("step0", "audio") or u.kind in
             ("deadleaves-squares", "stat-spectrum", "fractaldb")]
    acc = {"deadleaves-squares": 0.80, "stat-spectrum": 0.86, "fractaldb": 0.95}
    rows = [r for u in units for r in fake_rows(preset, u, acc.get(u.kind, 0.85 if u.role == "audio" else 0.83))]
    for r in rows:  # stat-spectrum: noisy per-fold differences around the real-audio encoder
        if r["label"] == "stat-spectrum":
            r["split_acc"] = [a + d for a, d in zip(r["split_acc"], (0.04, -0.04, 0.03, -0.03, 0.0))]
            r["acc_mean"] = float(np.mean(r["split_acc"]))
    append_rows(report / RESULTS, rows)
    text = write_study_report(preset, report, plots=False).read_text()
    section = text.split("## How this compares with the paper")[1].split("\n## ")[0]
    assert "arXiv:2410.00511" in section
    # the real-audio encoder pre-trains on FSDD: its leaky tasks get no comparison row
    # fake folds sit around 85 (real audio) and 95 (fractaldb), shifted by a task-dependent 0.2
    assert "| instruments | 85.2 | (o) fractaldb (95.2, +10.0, p = 0.000) | 1 | 1 | 1 |" in section
    assert "| instruments-mean | 84.8 | (o) fractaldb (94.8, +10.0, p = 0.000) | 1 | 1 | 1 |" in section
    assert "| fsdd |" not in section and "| fsdd-mean |" not in section
    assert "fsdd 1 above, 1 below, 1 within noise" in section
    assert "first (o) fractaldb; last (a) deadleaves-squares (3 kinds with every task)" in section


def test_paper_section_says_the_real_audio_comparison_is_pending_without_it(tmp_path):
    preset = STUDY_PRESETS["cpu-study"]
    report = tmp_path / "report"
    units = [u for u in plan_units(preset, []) if u.role == "step0" or u.kind == "fractaldb"]
    append_rows(report / RESULTS, [r for u in units for r in fake_rows(preset, u, 0.9)])
    text = write_study_report(preset, report, plots=False).read_text()
    assert "pending, the real-audio unit is not in yet" in text
