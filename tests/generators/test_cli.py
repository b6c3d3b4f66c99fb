"""The CLI contract: listing, one-line errors with exit code 2, nothing written on bad input."""

from __future__ import annotations

import json

import pytest

from tests.helpers import run_synthgen


def test_list_shows_every_kind_with_parameters_and_ranges():
    from generators.registry import list_kinds

    result = run_synthgen("list", check=True)
    for kind in list_kinds():
        assert f"{kind.name}:" in result.stdout
    assert "num_classes = 1000  [1 .. 1000000]" in result.stdout
    assert "fill_threshold = 0.2  [0.0 .. 1.0]" in result.stdout


@pytest.mark.parametrize("args, message", [
    (["render", "no-such-kind", "--n", "5"], "unknown pattern kind 'no-such-kind'"),
    (["render", "fractaldb", "--n", "0"], "'--n': 0 is not in the range"),
    (["render", "fractaldb", "--n", "5", "--size", "-3"], "'--size': -3 is not in the range"),
    (["render", "fractaldb", "--n", "5", "--param", "bogus=1"], "unknown parameter 'bogus'"),
    (["render", "fractaldb", "--n", "5", "--param", "num_classes=many"],
     "num_classes='many' must be an integer"),
    (["render", "fractaldb", "--n", "5", "--param", "fill_threshold=1.5"],
     "fill_threshold=1.5 is out of range 0.0 .. 1.0"),
    (["render", "fractaldb", "--n", "5", "--param", "min_maps=6", "--param", "max_maps=3"],
     "min_maps=6 must be <= max_maps=3"),
    (["render", "fractaldb", "--n", "5", "--param", "novalue"], "must look like key=value"),
    (["render", "fractaldb", "--n", "5", "--num-nodes", "2", "--node-rank", "2"],
     "--node-rank 2 must be smaller than --num-nodes 2"),
    (["render", "fractaldb", "--n", "5", "--mode", "CMYK"], "'--mode'"),
])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, args, message):
    out = tmp_path / "out"
    result = run_synthgen(*args, "--out", out)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("synthgen: error:"), result.stderr
    assert message in lines[0]
    assert "Traceback" not in result.stderr
    assert not out.exists()


def test_unwritable_out_is_one_line_error(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    result = run_synthgen("render", "fractaldb", "--n", "5", "--out", blocker / "sub")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "cannot write to --out" in result.stderr


def test_out_holding_another_dataset_is_refused(tmp_path):
    args = ["render", "fractaldb", "--n", "4", "--size", "32", "--workers", "1", "--quiet",
            "--param", "num_classes=2", "--out", tmp_path]
    run_synthgen(*args, check=True)
    result = run_synthgen(*args[:-1], tmp_path, "--seed", "9")
    assert result.returncode == 2 and "already holds a different dataset (seed differ)" in result.stderr


def test_node_defaults_from_slurm_and_kubernetes():
    from generators.nodes import node_defaults

    assert node_defaults({}) == (None, None)
    assert node_defaults({"SLURM_ARRAY_TASK_ID": "5", "SLURM_ARRAY_TASK_MIN": "4",
                          "SLURM_ARRAY_TASK_COUNT": "3"}) == (3, 1)
    assert node_defaults({"JOB_COMPLETION_INDEX": "2"}) == (None, 2)


def test_render_picks_node_rank_from_slurm(tmp_path):
    import os

    env = dict(os.environ, SLURM_ARRAY_TASK_ID="1", SLURM_ARRAY_TASK_COUNT="2")
    run_synthgen("render", "fractaldb", "--n", "4", "--shard-size", "1", "--size", "32",
                 "--workers", "1", "--quiet", "--param", "num_classes=2", "--out", tmp_path,
                 check=True, env=env)
    assert sorted(p.name for p in tmp_path.glob("*.tar")) == ["fractaldb-000001.tar",
                                                              "fractaldb-000003.tar"]
    assert json.loads((tmp_path / "dataset.json").read_text())["num_shards"] == 4


def test_preview_of_kind_and_of_directory(tmp_path):
    from PIL import Image

    sheet = tmp_path / "sheet.png"
    run_synthgen("preview", "fractaldb", "--count", "4", "--size", "32", "--param",
                 "num_classes=4", "--out", sheet, check=True)
    assert Image.open(sheet).size == (2 * 34 + 2, 2 * 34 + 2)
    data = tmp_path / "data"
    run_synthgen("render", "fractaldb", "--n", "3", "--size", "32", "--workers", "1", "--quiet",
                 "--param", "num_classes=3", "--out", data, check=True)
    run_synthgen("preview", data, "--out", sheet, check=True)
    assert Image.open(sheet).size == (2 * 34 + 2, 2 * 34 + 2)
    result = run_synthgen("preview", "no-such-kind", "--out", sheet)
    assert result.returncode == 2 and "unknown pattern kind" in result.stderr


@pytest.mark.parametrize("workers", ["1", "2"])
def test_render_failure_is_one_line_exit_1(tmp_path, workers):
    result = run_synthgen("render", "fractaldb", "--n", "4", "--size", "32", "--quiet",
                          "--workers", workers, "--param", "num_classes=2",
                          "--param", "fill_threshold=1.0", "--param", "max_candidates=3",
                          "--out", tmp_path)
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "no IFS category reached fill_threshold=1.0" in lines[0]
    assert not list(tmp_path.glob("*.tar"))
