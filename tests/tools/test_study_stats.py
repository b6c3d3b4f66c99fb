"""The statistics of a study report (tools/study/stats.py) on their own: pure functions of rows,
checked against hand-computed numbers and scipy, with no report, file or plot involved."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tools.study.presets import STUDY_PRESETS
from tools.study.stats import (ALPHA, beyond_noise, family, kind_accuracy, machine_hours, paired_t_p, probe_means,
                               split_by_noise, summarise, versus_control)


def row(role, label, seed, folds, task="t", unit=None, shape="128x128", steps=100, **extra):
    return {"unit": unit or f"{label}-s{seed}", "role": role, "label": label, "kind": label if role == "pattern" else None,
            "seed": seed, "input_size": shape, "steps": steps if role in ("pattern", "audio") else None,
            "task": task, "split_acc": folds, "acc_mean": float(np.mean(folds)), "acc_std": float(np.std(folds)),
            **extra}


def test_machine_time_counts_units_run_side_by_side_once():
    def row(unit, finished, wall):
        return {"unit": unit, "task": "fsdd", "finished": finished, "pretrain_wall_s": wall - 100,
                "eval_wall_s": 100.0}
    rows = [row("a", "2026-01-01T01:00:00Z", 3600),   # 00:00-01:00
            row("b", "2026-01-01T01:30:00Z", 3600),   # 00:30-01:30, overlaps a
            row("c", "2026-01-01T03:00:00Z", 1800),   # 02:30-03:00, after an idle half hour
            row("a", "2026-01-01T01:00:00Z", 3600)]   # a second task row of unit a counts once
    assert machine_hours(rows) == pytest.approx(2.0)
    assert machine_hours([]) == 0.0


def test_paired_t_p_matches_scipy():
    from scipy.stats import ttest_1samp

    diffs = [0.02, 0.05, 0.01, 0.04, 0.03]
    assert paired_t_p(diffs) == pytest.approx(ttest_1samp(diffs, 0).pvalue)


def test_versus_control_compares_on_the_seeds_both_have_and_reports_the_kind_accuracy_there():
    def row(role, label, seed, folds):
        return {"unit": f"{label}-s{seed}", "role": role, "label": label, "seed": seed, "task": "t",
                "split_acc": folds, "acc_mean": float(np.mean(folds))}
    rows = [row("audio", "audio", 0, [0.70, 0.72, 0.74]),
            row("pattern", "k", 0, [0.75, 0.78, 0.78]),
            row("pattern", "k", 1, [0.50, 0.50, 0.50]),   # no real-audio run of seed 1: left out
            row("pattern", "only-s1", 1, [0.90, 0.90, 0.90])]
    out = versus_control(rows, "audio", ["t"])
    diff, p, acc = out["t"]["k"]
    assert diff == pytest.approx(0.05) and acc == pytest.approx(0.77)
    assert p == pytest.approx(paired_t_p([0.05, 0.06, 0.04]))
    assert "only-s1" not in out["t"]


def test_paired_t_p_edge_cases():
    assert math.isnan(paired_t_p([0.1]))           # one fold: no test
    assert paired_t_p([0.02, 0.02, 0.02]) == 0.0   # identical non-zero differences
    assert paired_t_p([0.0, 0.0, 0.0]) == 1.0      # no difference at all


def test_summarise_pairs_each_seed_with_its_own_step0_fold_by_fold():
    rows = [row("step0", "step0", 0, [0.50, 0.60, 0.70]), row("step0", "step0", 1, [0.52, 0.62, 0.72]),
            row("pattern", "k", 0, [0.55, 0.66, 0.74]), row("pattern", "k", 1, [0.60, 0.69, 0.80])]
    groups = summarise(rows, ["t"])
    e = groups[("k", "128x128", 100)]["t"]
    gains = [np.mean([0.05, 0.06, 0.04]), np.mean([0.08, 0.07, 0.08])]
    assert e["gain"] == pytest.approx(np.mean(gains))
    assert e["gain_seed_std"] == pytest.approx(np.std(gains, ddof=1))
    mean_diffs = np.mean([[0.05, 0.06, 0.04], [0.08, 0.07, 0.08]], axis=0)
    assert e["gain_fold_std"] == pytest.approx(mean_diffs.std(ddof=1))
    assert e["p"] == pytest.approx(paired_t_p(mean_diffs))
    assert e["paired"] is True
    assert e["seed_accs"] == {0: pytest.approx(0.65), 1: pytest.approx(0.69666666)}
    s0 = groups[("step0", "128x128", None)]["t"]
    assert s0["gain"] == pytest.approx(0.0) and math.isnan(s0["p"])
    assert s0["acc_seed_std"] == pytest.approx(np.std([0.6, 0.62], ddof=1))


def test_summarise_falls_back_to_the_mean_step0_when_a_seed_has_none_and_a_repeated_unit_wins():
    rows = [row("step0", "step0", 0, [0.50, 0.60]), row("step0", "step0", 1, [0.60, 0.70]),
            row("pattern", "k", 5, [0.10, 0.10]),             # replaced by the later row of the unit
            row("pattern", "k", 5, [0.70, 0.80])]
    e = summarise(rows, ["t"])[("k", "128x128", 100)]["t"]
    assert e["paired"] is False
    assert e["acc"] == pytest.approx(0.75)
    assert e["gain"] == pytest.approx(0.75 - 0.60)
    # the fold differences are taken against the mean step0 folds [0.55, 0.65]
    assert e["p"] == pytest.approx(paired_t_p([0.15, 0.15]))


def test_summarise_keeps_input_sizes_apart_and_marks_leaky_tasks():
    rows = [row("step0", "step0", 0, [0.5, 0.5], shape="128x128"), row("step0", "step0", 0, [0.9, 0.9], shape="128x256"),
            row("audio", "audio-x", 0, [0.6, 0.7], shape="128x256", leaky=True)]
    g = summarise(rows, ["t"])[("audio-x", "128x256", 100)]
    assert g["t"]["gain"] == pytest.approx(0.65 - 0.9)    # against step0 of its own input size
    assert g["leaky"] == {"t"}


@pytest.mark.parametrize("entry, step0_std, expected", [
    ({"gain": 0.05, "p": 0.01, "gain_seed_std": 0.01}, 0.02, True),    # p < ALPHA and 5 > 2 x 2
    ({"gain": 0.05, "p": 0.01, "gain_seed_std": 0.03}, 0.01, False),   # the kind's own spread: 5 < 2 x 3
    ({"gain": 0.05, "p": ALPHA, "gain_seed_std": float("nan")}, 0.0, False),   # p not below ALPHA
    ({"gain": -0.05, "p": 0.001, "gain_seed_std": float("nan")}, float("nan"), True),   # below, no spread known
    ({"gain": float("nan"), "p": 0.001, "gain_seed_std": 0.0}, 0.0, False),
])
def test_beyond_noise_needs_a_small_p_and_a_gain_above_twice_the_seed_spread(entry, step0_std, expected):
    assert beyond_noise(entry, step0_std) is expected


def test_split_by_noise_separates_above_below_and_within():
    def g(gain, p):
        return {"t": {"gain": gain, "p": p, "gain_seed_std": float("nan")}}
    kinds = {"up": g(0.1, 0.001), "down": g(-0.1, 0.001), "flat": g(0.1, 0.5), "none": g(float("nan"), 0.0),
             "other-task": {}}
    measured, up, down = split_by_noise(kinds, "t", 0.01)
    assert sorted(measured) == ["down", "flat", "up"] and up == ["up"] and down == ["down"]


def test_family_by_name_prefix():
    assert [family(k) for k in ("deadleaves-mixed", "stat-wmm", "stylegan-sparse", "featvis-random", "fractaldb")] \
        == ["dead leaves", "statistical", "StyleGAN", "feature visualisation", "formula"]


def test_kind_accuracy_means_only_over_kinds_with_every_task_of_a_probe():
    preset = STUDY_PRESETS["cpu-study"]
    tasks = [t.name for t in preset.tasks]
    assert probe_means(preset, tasks) == {"mean freq": ["fsdd", "instruments"],
                                          "mean mean": ["fsdd-mean", "instruments-mean"]}
    shape, steps = preset.input_sizes[0], preset.steps[0]
    a, b = preset.kinds[:2]
    groups = {(a, shape, steps): {t: {"acc": 0.1 * (i + 1)} for i, t in enumerate(tasks)},
              (b, shape, steps): {"fsdd": {"acc": 0.9}}}
    acc = kind_accuracy(preset, groups, tasks)
    assert acc["mean"] == {a: pytest.approx(0.25)}
    assert acc["mean freq"] == {a: pytest.approx(0.15)}
    assert acc["mean mean"] == {a: pytest.approx(0.35)}
    assert acc["fsdd"] == {a: pytest.approx(0.1), b: pytest.approx(0.9)}
