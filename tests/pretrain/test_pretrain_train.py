"""End to end on tiny shards: loss goes down, exact resume, checkpoint layout, errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import timm
import torch
from safetensors.torch import load_file

from pretrain.checkpoint import CheckpointError, load_encoder, load_state
from pretrain.cli import main
from pretrain.model import build_encoder
from tests.pretrain.shardkit import assert_pretrain_refuses, write_shards

BASE = ["--preset", "test-micro", "--input-size", "32x64", "--batch-size", "8", "--workers", "0",
        "--no-progress", "--threads", "1", "--recon-every", "0", "--log-every", "2", "--seed", "7"]


@pytest.fixture(scope="module")
def shards(tmp_path_factory) -> Path:
    return write_shards(tmp_path_factory.mktemp("shards") / "stripes", n=64, shard_size=8, size=32)


def train(shards: Path, out: Path, *extra: str) -> int:
    return main(["--data", str(shards), "--out", str(out), *BASE, *extra])


def losses(out: Path) -> list[float]:
    return [json.loads(line)["loss"] for line in (out / "log.jsonl").read_text().splitlines()]


def test_loss_decreases_and_checkpoint_layout(shards, tmp_path):
    out = tmp_path / "run"
    assert train(shards, out, "--steps", "40", "--lr", "2e-3", "--warmup-steps", "4",
                 "--input-size", "64x64", "--batch-size", "16", "--recon-every", "20") == 0
    curve = losses(out)
    assert len(curve) == 20
    assert sum(curve[-3:]) / 3 < 0.92 * sum(curve[:2]) / 2, curve
    config = json.loads((out / "config.json").read_text())
    assert config["step"] == 40 and config["images_seen"] == 640
    assert config["timm_kwargs"]["img_size"] == [64, 64] and config["timm_kwargs"]["in_chans"] == 1
    assert config["input"]["std"] > 0 and config["data"][0]["units"] == 8
    assert sorted(p.name for p in (out / "recon").glob("*.png")) == ["step0000000.png", "step0000020.png"]
    assert (out / "step0" / "encoder.safetensors").exists()
    assert json.loads((out / "step0" / "config.json").read_text())["step"] == 0


def test_saved_encoder_loads_in_timm_and_embeds(shards, tmp_path):
    out = tmp_path / "run"
    assert train(shards, out, "--steps", "3") == 0
    config = json.loads((out / "config.json").read_text())
    model = timm.create_model(config["timm_name"], pretrained=False, **config["timm_kwargs"])
    model.load_state_dict(load_file(str(out / "encoder.safetensors")), strict=True)
    model.eval()
    with torch.no_grad():
        embeddings = model(torch.randn(2, 1, 32, 64))
    assert embeddings.shape == (2, 32) and torch.isfinite(embeddings).all()
    trained = load_file(str(out / "encoder.safetensors"))
    step0 = load_file(str(out / "step0" / "encoder.safetensors"))
    untrained = build_encoder("test-micro", (32, 64), seed=7).state_dict()
    assert all(torch.equal(step0[k], untrained[k]) for k in untrained), "step0 = the seeded init"
    assert not torch.equal(trained["blocks.0.attn.qkv.weight"], step0["blocks.0.attn.qkv.weight"])
    state = load_state(out)  # weights_only=True
    assert state["step"] == 3 and isinstance(state["rng"]["torch"], torch.Tensor)


def test_resume_equals_uninterrupted_run(shards, tmp_path):
    args = ("--steps", "8", "--lr", "1e-3", "--warmup-steps", "2", "--save-every", "4", "--log-every", "1")
    assert train(shards, tmp_path / "full", *args) == 0
    assert train(shards, tmp_path / "split", *args, "--stop-after-steps", "3") == 0
    assert load_state(tmp_path / "split")["step"] == 3
    assert train(shards, tmp_path / "split", *args, "--resume") == 0
    full = load_file(str(tmp_path / "full" / "encoder.safetensors"))
    split = load_file(str(tmp_path / "split" / "encoder.safetensors"))
    assert all(torch.equal(full[k], split[k]) for k in full), "bitwise equal after resume"
    assert losses(tmp_path / "full") == losses(tmp_path / "split")


def test_resume_with_other_settings_is_refused(shards, tmp_path, capsys):
    assert train(shards, tmp_path / "run", "--steps", "2") == 0
    capsys.readouterr()
    assert train(shards, tmp_path / "run", "--steps", "2") == 2
    assert "already holds a run; pass --resume" in capsys.readouterr().err
    assert train(shards, tmp_path / "run", "--steps", "2", "--resume", "--mask-ratio", "0.5") == 2
    assert "cannot resume: mask_ratio=0.5 differs from the checkpoint's 0.75" in capsys.readouterr().err


def test_corrupt_checkpoint_gives_a_clear_error(shards, tmp_path, capsys):
    out = tmp_path / "run"
    assert train(shards, out, "--steps", "2") == 0
    capsys.readouterr()
    data = (out / "train_state.pt").read_bytes()
    (out / "train_state.pt").write_bytes(data[: len(data) // 2])
    assert train(shards, out, "--steps", "4", "--resume") == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("pretrain: error: ") and "train_state.pt is corrupt" in err and "\n" not in err
    (out / "encoder.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(CheckpointError, match="encoder.safetensors is corrupt"):
        load_encoder(out)
    encoder, config = load_encoder(out / "step0")
    assert config["step"] == 0 and encoder.num_features == 32


@pytest.mark.parametrize("extra, message", [
    (["--data", "/nonexistent/shards"], "--data /nonexistent/shards: "),
    (["--input-size", "32x40"], "input size 32x40 must be positive multiples of the patch size 16"),
    (["--preset", "vit-giant"], "unknown preset 'vit-giant'"),
    (["--input-size", "banana"], "input size 'banana' must look like HxW"),
    (["--mask-ratio", "1.5"], "--mask-ratio 1.5 must be in (0, 1)"),
    (["--steps", "0"], "--steps 0 must be > 0"),
])
def test_bad_arguments_exit_2_with_one_line(shards, tmp_path, capsys, extra, message):
    args = ["--data", str(shards), "--out", str(tmp_path / "x"), "--steps", "1", "--preset", "test-micro"]
    args = (extra + args[2:]) if extra[0] == "--data" else args + extra
    assert_pretrain_refuses(args, tmp_path / "x", capsys, message)


def test_bad_argument_from_the_command_line(tmp_path):
    result = subprocess.run([sys.executable, "-m", "pretrain", "--data", str(tmp_path / "none"),
                             "--out", str(tmp_path / "x"), "--steps", "1"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"pretrain: error: --data {tmp_path / 'none'}: {tmp_path / 'none' / 'dataset.json'} not found: "
        f"not a synthgen shard directory"]


def test_help_documents_every_option():
    result = subprocess.run([sys.executable, "-m", "pretrain", "--help"], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0
    for option in ("--data", "--audio", "--preset", "--input-size", "--epochs", "--steps",
                   "--minutes", "--resume", "--mask-ratio", "--accum", "--out"):
        assert option in result.stdout


@pytest.mark.slow
@pytest.mark.parametrize("on_the_fly", [False, True], ids=["shards", "pattern"])
def test_kill_9_and_resume_equals_uninterrupted_run(shards, tmp_path, on_the_fly):
    """A real SIGKILL mid-run (DataLoader worker on), then --resume from the last checkpoint;
    from shards, and from a kind rendered on the fly mixed with the shards."""
    import os
    import signal
    import time

    args = ["--steps", "30", "--lr", "1e-3", "--save-every", "5", "--log-every", "1", "--workers", "1"]
    data = ["--data", str(shards)]
    if on_the_fly:
        data = ["--data", "pattern:deadleaves-squares,size=32", *data, "--data-weights", "0.7,0.3"]
    command = [sys.executable, "-m", "pretrain", *data, *BASE, *args]
    subprocess.run(command + ["--out", str(tmp_path / "full")], check=True, capture_output=True, timeout=600)
    victim = subprocess.Popen(command + ["--out", str(tmp_path / "killed")], stderr=subprocess.DEVNULL,
                              start_new_session=True)
    state = tmp_path / "killed" / "train_state.pt"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and victim.poll() is None:
        if state.exists() and load_state(tmp_path / "killed")["step"] >= 10:
            break
        time.sleep(0.2)
    os.killpg(victim.pid, signal.SIGKILL)
    victim.wait()
    killed_at = load_state(tmp_path / "killed")["step"]
    assert 10 <= killed_at < 30, "the kill must land mid-run"
    subprocess.run(command + ["--out", str(tmp_path / "killed"), "--resume"], check=True,
                   capture_output=True, timeout=600)
    full = load_file(str(tmp_path / "full" / "encoder.safetensors"))
    resumed = load_file(str(tmp_path / "killed" / "encoder.safetensors"))
    assert all(torch.equal(full[k], resumed[k]) for k in full)
    assert losses(tmp_path / "full") == losses(tmp_path / "killed")
