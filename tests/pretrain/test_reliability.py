"""Fault injection on pre-training: damaged shards, torn logs, hostile checkpoint configs, bad
flags (docs/reliability.md)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from pretrain.checkpoint import CheckpointError, load_encoder, load_state
from pretrain.cli import main
from tests.pretrain.shardkit import write_shards

BASE = ["--preset", "test-micro", "--input-size", "32x32", "--batch-size", "4", "--workers", "0",
        "--no-progress", "--threads", "1", "--recon-every", "0", "--log-every", "1",
        "--shuffle-buffer", "2", "--seed", "3", "--lr", "1e-3", "--warmup-steps", "2"]


DAMAGED = (5, 6, 7)


@pytest.fixture(scope="module")
def intact(tmp_path_factory) -> Path:
    return write_shards(tmp_path_factory.mktemp("shards") / "stripes", n=64, shard_size=8, size=32)


@pytest.fixture
def damaged(intact, tmp_path) -> Path:
    """A copy of ``intact`` with a flipped byte in a member header of shards 5, 6 and 7 (same
    size; the tar reader alone would stop there silently)."""
    folder = tmp_path / "damaged"
    shutil.copytree(intact, folder)
    damage(folder)
    return folder


def train(data: Path, out: Path, *extra: str) -> int:
    return main(["--data", str(data), "--out", str(out), *BASE, *extra])


def weights(out: Path) -> dict:
    return load_file(str(out / "encoder.safetensors"))


# --- row 1: a damaged shard is never read short -----------------------------------------------

def damage(folder: Path) -> None:
    """Flip a byte in a member header of shards ``DAMAGED`` (same size; the tar reader alone
    would stop there silently)."""
    for k in DAMAGED:
        path = folder / f"stripes-{k:06d}.tar"
        with tarfile.open(path) as tar:
            offset = tar.getmembers()[18].offset  # sample 6 of 8 (png, cls, json per sample)
        data = bytearray(path.read_bytes())
        data[offset + 2] ^= 0x20
        path.write_bytes(bytes(data))


def test_damaged_shard_mid_run_saves_a_checkpoint_and_resume_loses_nothing(intact, tmp_path,
                                                                          capsys):
    assert train(intact, tmp_path / "full", "--steps", "24") == 0
    data, out = tmp_path / "data", tmp_path / "run"
    shutil.copytree(intact, data)
    assert train(data, out, "--steps", "24", "--stop-after-steps", "2") == 0
    damage(data)  # bit rot during a long run: met after the resume, not at start-up
    capsys.readouterr()
    assert train(data, out, "--steps", "24", "--resume") == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("pretrain: error: "), lines
    assert "damaged shard" in lines[0] and "stripes-0000" in lines[0] and "byte offset" in lines[0]
    stopped = load_state(out)["step"]
    assert f"checkpoint saved at step {stopped}" in lines[0]
    assert 2 < stopped < 24, "the damage is met mid-run"
    assert json.loads((out / "config.json").read_text())["stopped"] == "damaged shard"
    for k in DAMAGED:  # re-render (here: restore) the damaged shards, then resume
        name = f"stripes-{k:06d}.tar"
        shutil.copy(intact / name, data / name)
    assert train(data, out, "--steps", "24", "--resume") == 0
    full, resumed = weights(tmp_path / "full"), weights(out)
    assert all(torch.equal(full[k], resumed[k]) for k in full), "bitwise equal to an intact run"


def test_damaged_shard_at_start_up_is_one_line(damaged, tmp_path, capsys):
    assert train(damaged, tmp_path / "run", "--steps", "24") == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("pretrain: error: "), lines
    assert "damaged shard" in lines[0] and "--skip-bad-shards" in lines[0]


def test_skip_bad_shards_reports_every_skipped_shard(damaged, tmp_path, capsys):
    out = tmp_path / "run"
    assert train(damaged, out, "--steps", "12", "--skip-bad-shards") == 0
    err = capsys.readouterr().err
    config = json.loads((out / "config.json").read_text())
    skipped = sorted(Path(s["shard"]).name for s in config["skipped_shards"])
    assert skipped and set(skipped) <= {f"stripes-{k:06d}.tar" for k in DAMAGED}
    for name in skipped:
        assert f"pretrain: warning: skipped {damaged / name}: damaged shard" in err
    assert f"{len(skipped)} damaged shard(s) skipped" in err


def test_damaged_shard_through_a_dataloader_worker_is_one_line(damaged, tmp_path):
    result = subprocess.run([sys.executable, "-m", "pretrain", "--data", str(damaged),
                             "--out", str(tmp_path / "run"), *BASE, "--workers", "1",
                             "--steps", "24"], capture_output=True, text=True, timeout=600)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("pretrain: error: "), result.stderr
    assert "damaged shard" in lines[0] and "Traceback" not in result.stderr


# --- row 4: --out "" and a folder of someone else's files -------------------------------------

def test_empty_out_is_refused(intact, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["--data", str(intact), "--out", "", *BASE, "--steps", "1"]) == 2
    assert "--out is empty" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_out_with_other_files_needs_force(intact, tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("precious")
    assert train(intact, out, "--steps", "1") == 2
    err = capsys.readouterr().err
    assert "notes.txt" in err and "--force" in err
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]
    assert train(intact, out, "--steps", "1", "--force") == 0
    assert (out / "notes.txt").read_text() == "precious" and (out / "train_state.pt").exists()


# --- row 6: a torn last line of log.jsonl -----------------------------------------------------

def test_resume_after_a_torn_log_line(intact, tmp_path, capsys):
    out = tmp_path / "run"
    assert train(intact, out, "--steps", "6", "--save-every", "3", "--stop-after-steps", "4") == 0
    with open(out / "log.jsonl", "a") as handle:
        handle.write('{"step": 5, "loss": 0.')  # killed mid-write
    capsys.readouterr()
    assert train(intact, out, "--steps", "6", "--save-every", "3", "--resume") == 0
    assert f"pretrain: warning: {out / 'log.jsonl'} line 5: torn last line dropped" in \
        capsys.readouterr().err
    steps = [json.loads(line)["step"] for line in (out / "log.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4, 5, 6]
    lines = (out / "log.jsonl").read_text().splitlines()
    (out / "log.jsonl").write_text("\n".join(lines[:2] + ["garbage"] + lines[2:]) + "\n")
    assert train(intact, out, "--steps", "6", "--save-every", "3", "--resume") == 2
    err = capsys.readouterr().err.strip()
    assert err == f"pretrain: error: {out / 'log.jsonl'} line 3 is not a log record; fix or remove it"


# --- row 10: config.json beside a checkpoint is untrusted -------------------------------------

@pytest.mark.parametrize("change, message", [
    ({"timm_kwargs": {"checkpoint_path": "/etc/passwd"}}, "timm_kwargs ['checkpoint_path'] not allowed"),
    ({"timm_kwargs": {"pretrained_cfg_overlay": {"file": "/x"}}}, "not allowed"),
    ({"timm_name": "hf-hub:someone/model"}, "timm_name 'hf-hub:someone/model' is not a timm"),
    ({"timm_name": "local-dir:/tmp/model"}, "is not a timm architecture registered locally"),
    ({"timm_name": "no_such_model"}, "timm_name 'no_such_model'"),
])
def test_hostile_checkpoint_config_is_refused(intact, tmp_path, change, message):
    out = tmp_path / "run"
    assert train(intact, out, "--steps", "1") == 0
    config = json.loads((out / "config.json").read_text())
    for key, value in change.items():
        if key == "timm_kwargs":
            config[key] = {**config[key], **value}
        else:
            config[key] = value
    (out / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_encoder(out)
    from finetune.encoder import load_checkpoint
    from finetune.task import UserError

    with pytest.raises(UserError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_checkpoint(out, 32, 32)


# --- row 13: checkpoint files get the umask's mode ----------------------------------------------

def test_checkpoint_files_respect_the_umask(intact, tmp_path):
    out = tmp_path / "run"
    old = os.umask(0o022)
    try:
        assert train(intact, out, "--steps", "1") == 0
    finally:
        os.umask(old)
    modes = {p.name: p.stat().st_mode & 0o777 for p in out.iterdir() if p.is_file()}
    assert set(modes) >= {"encoder.safetensors", "config.json", "train_state.pt", "log.jsonl"}
    assert set(modes.values()) == {0o644}, modes
    assert (out / "step0" / "encoder.safetensors").stat().st_mode & 0o777 == 0o644


# --- bad input: one line naming the flag, exit 2, nothing written -----------------------------

@pytest.mark.parametrize("extra, message", [
    (["--threads", "-1"], "--threads -1 must be >= 1"),
    (["--seed", "-1"], "--seed -1 must be >= 0"),
    (["--blr", "-1"], "--blr -1.0 must be > 0"),
    (["--mask-ratio", "0.001"], "--mask-ratio 0.001 hides no patch"),
    (["--weight-decay", "nan"], "--weight-decay nan must be a finite number"),
    (["--warmup-steps", "-5"], "--warmup-steps -5 must be >= 0"),
    (["--min-lr", "-1"], "--min-lr -1.0 must be >= 0"),
])
def test_bad_flags_name_the_flag(intact, tmp_path, capsys, extra, message):
    out = tmp_path / "x"
    assert main(["--data", str(intact), "--out", str(out), *BASE, "--steps", "2", *extra]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("pretrain: error: ") and message in lines[0], lines
    assert not out.exists()


def test_data_or_out_naming_a_file(intact, tmp_path, capsys):
    afile = tmp_path / "afile"
    afile.write_text("x")
    assert main(["--data", str(afile), "--out", str(tmp_path / "x"), *BASE, "--steps", "1"]) == 2
    assert f"--data {afile}: {afile} is a file" in capsys.readouterr().err
    assert main(["--data", str(intact), "--out", str(afile), *BASE, "--steps", "1"]) == 2
    assert f"--out {afile} is a file" in capsys.readouterr().err
    assert afile.read_text() == "x" and not (tmp_path / "x").exists()


@pytest.mark.parametrize("damage, message", [
    ("no_rng", "missing ['rng']"),
    ("other_model", "does not fit this model"),
])
def test_foreign_train_state_is_one_line(intact, tmp_path, capsys, damage, message):
    out = tmp_path / "run"
    assert train(intact, out, "--steps", "2") == 0
    state = torch.load(out / "train_state.pt", weights_only=True)
    if damage == "no_rng":
        del state["rng"]
    else:
        state["model"] = {k: v[..., :1] if v.ndim else v for k, v in state["model"].items()}
    torch.save(state, out / "train_state.pt")
    capsys.readouterr()
    assert train(intact, out, "--steps", "2", "--resume") == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("pretrain: error: ") and message in lines[0], lines
