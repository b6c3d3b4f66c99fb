"""Two CPU processes under torchrun (gloo): training runs, ranks read disjoint shards."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.pretrain.shardkit import write_shards

TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]


@pytest.fixture(scope="module")
def shards(tmp_path_factory) -> Path:
    return write_shards(tmp_path_factory.mktemp("shards") / "stripes", n=64, shard_size=8, size=32)


def run(args: list[str]) -> subprocess.CompletedProcess:
    # this checkout first on the path (an installed copy of the package would otherwise win)
    env = {"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin", "PYTHONPATH": str(Path(__file__).parents[2])}
    return subprocess.run(TORCHRUN + args, capture_output=True, text=True, timeout=300, env=env)


def test_ranks_read_disjoint_shards(shards, tmp_path):
    result = run([str(Path(__file__).with_name("ddp_probe.py")), str(shards), str(tmp_path / "keys.json"), "32"])
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads((tmp_path / "keys.json").read_text())
    assert report["world"] == 2 and report["backend"] == "gloo"
    rank0, rank1 = ({int(k) // 8 for k in keys} for keys in report["keys"])
    assert len(rank0) == len(rank1) == 4 and rank0.isdisjoint(rank1)
    assert sorted(report["keys"][0] + report["keys"][1]) == [f"{i:09d}" for i in range(64)]


def test_ranks_render_disjoint_samples_with_the_classes_of_rank_0(tmp_path):
    spec = "pattern:fractaldb,num_classes=3,size=32"
    result = run([str(Path(__file__).with_name("ddp_probe.py")), spec, str(tmp_path / "keys.json"), "10"])
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads((tmp_path / "keys.json").read_text())
    assert report["keys"] == [list(range(0, 20, 2)), list(range(1, 20, 2))]
    (digest0, computed0), (digest1, computed1) = report["classes"]
    assert computed0 and computed1 and digest0 == digest1, "rank 1 received rank 0's classes"


def test_torchrun_ddp_training_runs(shards, tmp_path):
    out = tmp_path / "ddp"
    result = run(["-m", "pretrain", "--data", str(shards), "--out", str(out), "--preset", "test-micro",
                  "--input-size", "32x64", "--batch-size", "4", "--steps", "3", "--workers", "1",
                  "--log-every", "1", "--no-progress"])
    assert result.returncode == 0, result.stderr[-2000:]
    config = json.loads((out / "config.json").read_text())
    assert config["train"]["world_size"] == 2 and config["step"] == 3
    assert config["images_seen"] == 2 * 4 * 3
    assert len((out / "log.jsonl").read_text().splitlines()) == 3
