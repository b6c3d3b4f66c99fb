"""Correlation of dataset properties with accuracy on toy tables with known r."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tools.analysis.correlate import correlate, join, main, pearson


def test_pearson_of_a_line_is_one_and_of_a_reversed_line_minus_one():
    x = [1.0, 2.0, 3.0, 4.0]
    assert pearson(x, [3.0, 5.0, 7.0, 9.0])[0] == pytest.approx(1.0)
    assert pearson(x, [9.0, 7.0, 5.0, 3.0])[0] == pytest.approx(-1.0)


def test_pearson_on_a_hand_computed_table():
    # x = 1..5, y = 2,4,5,4,5: cov sum 6, sx sum 10, sy sum 6 -> r = 6 / sqrt(60) = 0.7746
    r, p = pearson([1, 2, 3, 4, 5], [2, 4, 5, 4, 5])
    assert r == pytest.approx(6 / np.sqrt(60))
    # t = r sqrt(3 / (1 - r^2)) = 2.121 with 3 degrees of freedom -> p = 0.1240
    assert p == pytest.approx(0.1240, abs=5e-4)


def test_pearson_ignores_missing_values_and_needs_three_pairs():
    r, _ = pearson([1, 2, np.nan, 4], [2, 4, 100, 8])
    assert r == pytest.approx(1.0)
    assert np.isnan(pearson([1, 2], [1, 2])[0])
    assert np.isnan(pearson([1, 1, 1], [1, 2, 3])[0])


def stats_entry(name: str, slope: float, edges: float) -> dict:
    props = {p: {"mean": 0.5, "std": 0.1, "n": 10} for p in
             ("spectrum_slope", "edge_density", "intensity_entropy", "png_ratio", "self_similarity")}
    props["spectrum_slope"]["mean"] = slope
    props["edge_density"] = {"mean": edges, "std": 0.1, "n": 10}
    return {"name": name, "properties": props, "diversity": 0.2, "intra_class": None,
            "inter_class": None, "logmel_distance": 1.0}


TOY_STATS = [stats_entry("a", -1.0, 0.1), stats_entry("b", -2.0, 0.3), stats_entry("c", -3.0, 0.2),
             stats_entry("unevaluated", -4.0, 0.9)]
TOY_RESULTS = [
    {"task": "fsdd", "name": "a-s0", "group": "a", "acc_mean": 0.5, "acc_std": 0.0},
    {"task": "fsdd", "name": "a-s1", "group": "a", "acc_mean": 0.7, "acc_std": 0.0},   # mean 0.6
    {"task": "fsdd", "name": "b-s0", "group": "b", "acc_mean": 0.7, "acc_std": 0.0},
    {"task": "fsdd", "name": "c", "acc_mean": 0.8, "acc_std": 0.0},                    # by name
    {"task": "other", "name": "c", "acc_mean": 0.1, "acc_std": 0.0},
]


def test_join_averages_seeds_matches_group_or_name_and_skips_unevaluated():
    rows = {r["name"]: r for r in join(TOY_STATS, TOY_RESULTS, "fsdd")}
    assert set(rows) == {"a", "b", "c"}
    assert rows["a"]["accuracy"] == pytest.approx(0.6) and rows["a"]["n_runs"] == 2
    assert rows["c"]["accuracy"] == pytest.approx(0.8)
    assert rows["b"]["spectrum_slope"] == -2.0


def test_correlate_writes_table_and_plots_with_the_known_r(tmp_path):
    result = correlate(TOY_STATS, TOY_RESULTS, "fsdd", tmp_path)
    # slope -1,-2,-3 vs accuracy 0.6,0.7,0.8: a perfect negative line
    assert result["r"]["spectrum_slope"]["r"] == pytest.approx(-1.0)
    # edges 0.1,0.3,0.2 vs 0.6,0.7,0.8: r = 0.5
    assert result["r"]["edge_density"]["r"] == pytest.approx(0.5)
    assert np.isnan(result["r"]["diversity"]["r"])  # constant property
    assert "| spectrum_slope | -1.00 |" in (tmp_path / "correlation.md").read_text()
    for name in ("correlation.png", "correlation-spectrum_slope.png", "correlation.json"):
        assert (tmp_path / name).stat().st_size > 0
    assert json.loads((tmp_path / "correlation.json").read_text())["task"] == "fsdd"


def test_cli_reports_a_missing_match_in_one_line(tmp_path, capsys):
    (tmp_path / "s.json").write_text(json.dumps(TOY_STATS))
    (tmp_path / "r.jsonl").write_text("\n".join(json.dumps(r) for r in TOY_RESULTS))
    code = main(["--stats", str(tmp_path / "s.json"), "--results", str(tmp_path / "r.jsonl"),
                 "--task", "esc50", "--out", str(tmp_path / "out")])
    assert code == 2
    assert capsys.readouterr().err.strip() == \
        "correlate: error: no stats entry matches a result of task esc50 by group or name"
