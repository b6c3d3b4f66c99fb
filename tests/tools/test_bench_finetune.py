"""tools/bench/finetune.py: the fine-tuning step against a bare step, and the evaluation's share
computed for the FSDD and instruments task shapes (tiny settings: this checks that the benchmark
runs the real step and that its arithmetic is right, not any speed)."""

from __future__ import annotations

import json
import math
import statistics

import pytest

torch = pytest.importorskip("torch")

from click.testing import CliRunner  # noqa: E402

TINY = ["--preset", "test-micro", "--n-mels", "64", "--frames", "128", "--batch-size", "16", "--steps", "2",
        "--shape-steps", "3", "--warmup", "1", "--threads", "1"]


def _run(*args):
    from tools.bench.finetune import main

    return CliRunner().invoke(main, [str(a) for a in args])


def test_prints_step_against_bare_and_the_evaluation_share_per_task_shape():
    out = _run(*TINY, "--repeats", "2", "--budget", "500", "--eval-every", "200", "--folds", "3")
    assert out.exit_code == 0, out.output
    lines = out.stdout.splitlines()
    assert len(lines) == 1
    r = json.loads(lines[0])
    assert r["preset"] == "test-micro" and r["input"] == [64, 128] and r["batch_size"] == 16 and r["repeats"] == 2
    for key in ("bare_images_per_s", "step_images_per_s", "step_over_bare", "step_over_bare_cpu"):
        assert len(r[key]) == 2 and all(math.isfinite(v) and v > 0 for v in r[key]), key
    for bare, step, ratio in zip(r["bare_images_per_s"], r["step_images_per_s"], r["step_over_bare"]):
        assert ratio == pytest.approx(step / bare, rel=1e-2)
    assert r["step_over_bare_median"] == pytest.approx(statistics.median(r["step_over_bare"]), abs=1e-3)
    assert r["step_over_bare_cpu_median"] == pytest.approx(statistics.median(r["step_over_bare_cpu"]), abs=1e-3)
    assert r["data_path_cpu_ms_per_step"] > 0 and 0 < r["data_path_share_of_step"] < 1
    assert r["eval_share_method"].startswith("computed")
    assert set(r["shapes"]) == {"fsdd", "instruments"}
    for name, (n_train, n_valid, n_test) in (("fsdd", (1800, 600, 600)), ("instruments", (180, 60, 60))):
        s = r["shapes"][name]
        assert s["clips"] == [n_train, n_valid, n_test] and (s["budget_steps"], s["eval_every"]) == (500, 200)
        assert s["valid_points"] == 3  # steps 200, 400 and the last, 500
        assert s["eval_clips"] == 3 * n_valid + 2 * n_test
        assert s["train_cpu_s"] == pytest.approx(500 * s["train_cpu_s_per_step"], rel=2e-3, abs=2e-3)
        assert s["eval_cpu_s"] == pytest.approx(s["eval_clips"] * s["eval_cpu_s_per_clip"], rel=2e-3, abs=2e-3)
        total = s["train_cpu_s"] + s["eval_cpu_s"]
        assert s["eval_share"] == pytest.approx(s["eval_cpu_s"] / total, abs=2e-3)
        assert s["folds_cpu_h"] == pytest.approx(3 * total / 3600, abs=1e-3)
    fsdd, inst = r["shapes"]["fsdd"], r["shapes"]["instruments"]
    # spoken digits (< 1 s) train narrower than the 128-frame input and fit one chunk; the
    # instruments clips (median 4.1 s) are full width and several chunks long
    assert fsdd["mean_train_width"] < 128 and fsdd["eval_chunks_per_clip"] == 1.0
    assert inst["mean_train_width"] == 128 and 3.5 < inst["eval_chunks_per_clip"] < 5.5
    assert "of bare" in out.stderr and "evaluation" in out.stderr and "load average" in out.stderr


def test_task_shapes_follow_their_length_distribution():
    from tools.bench.finetune import SHAPES

    fsdd = SHAPES["fsdd"].lengths(600, 0)
    assert len(fsdd) == 600 and fsdd == SHAPES["fsdd"].lengths(600, 0)
    assert statistics.median(fsdd) == pytest.approx(0.42, abs=0.01) and 0.14 <= min(fsdd) and max(fsdd) <= 2.3
    assert fsdd[:20] != sorted(fsdd)[:20]  # shuffled: batches mix lengths
    inst = SHAPES["instruments"].lengths(180, 0)
    assert statistics.median(inst) == pytest.approx(4.1, abs=0.1) and 1.0 <= min(inst) and max(inst) <= 26.3


@pytest.mark.parametrize("args, message", [
    (["--preset", "nope"], "unknown preset 'nope'"),
    (["--preset", "test-micro", "--frames", "40"], "64x40"),
    (["--batch-size", "65536", "--n-mels", "4096", "--frames", "4096"], "lower --batch-size"),
])
def test_bad_input_is_one_line_exit_2(args, message):
    base = {"--preset": "test-micro", "--n-mels": "64", "--frames": "128"}
    given = dict(zip(args[::2], args[1::2]))
    out = _run(*[x for k, v in {**base, **given}.items() for x in (k, v)], "--steps", "1", "--repeats", "1")
    assert out.exit_code == 2
    assert out.stderr.startswith("finetune bench: error: ") and message in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and not out.stdout


def test_out_of_range_options_are_refused_by_their_bounds():
    for args in (["--threads", "0"], ["--steps", "0"], ["--frames", "4097"], ["--shape", "esc50"]):
        out = _run(*args)
        assert out.exit_code == 2 and "Invalid value" in out.stderr, args


def test_each_task_shape_is_costed_at_its_tasks_default_budget():
    out = _run(*TINY, "--repeats", "1", "--folds", "5")
    assert out.exit_code == 0, out.output
    shapes = json.loads(out.stdout)["shapes"]
    # finetune full's defaults (finetune.loaders.TASKS), validated every tenth of the budget
    assert {n: (s["budget_steps"], s["eval_every"], s["valid_points"]) for n, s in shapes.items()} == \
        {"fsdd": (2400, 240, 10), "instruments": (1200, 120, 10)}
    assert "fsdd: " in out.stderr and "2400 steps: train" in out.stderr and "1200 steps: train" in out.stderr
