"""tools/bench/gpu_check.py: runs end to end (a CPU-against-CPU dry run) and refuses without a GPU."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")

TINY = ["--param", "stylegan-sparse:channel_base=256", "--param", "stylegan-sparse:channel_max=16",
        "--param", "featvis-random:steps=2", "--param", "featvis-random:net_size=32",
        "--param", "featvis-random:batch_size=3"]


def test_dry_run_on_cpu_passes_with_identical_images(tmp_path):
    from tools.bench.gpu_check import main

    out = tmp_path / "check.json"
    code = main(["--kinds", "stylegan-sparse,featvis-random", "--n", "4", "--size", "32",
                 "--device", "cpu", "--json", str(out), *TINY])
    rows = json.loads(out.read_text())
    assert code == 0
    assert [r["kind"] for r in rows] == ["stylegan-sparse", "featvis-random"]
    for row in rows:
        assert row["ok"] and row["identical"] == 4
        assert row["d_mean"] == row["d_std"] == row["d_slope"] == 0.0
        assert -6 < row["cpu"]["slope"] < 0 and row["gpu_img_s"] > 0
    assert rows[1]["batch_size"] == 3


def test_without_a_gpu_it_says_so_in_one_line():
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    result = subprocess.run([sys.executable, "-m", "tools.bench.gpu_check", "--n", "2"],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.strip().startswith("gpu_check: error:") and "no CUDA GPU" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
