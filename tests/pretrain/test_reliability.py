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


# --- issue: sampling weights are bounded ---------------------------------------------------------

@pytest.mark.parametrize("how, value", [("flag", "inf"), ("flag", "1e308"), ("flag", "nan"),
                                        ("suffix", "1e308"), ("suffix", "inf")])
def test_data_weights_are_finite_and_bounded(intact, tmp_path, capsys, how, value):
    out = tmp_path / "x"
    data = ["--data", str(intact), "--data", f"pattern:deadleaves-squares,size=32"]
    if how == "flag":
        argv = [*data, "--data-weights", f"{value},1"]
        message = f"data weights '{value},1' must be numbers > 0 and <= 1e+06"
    else:
        argv = ["--data", f"{intact}:{value}", "--data", "pattern:deadleaves-squares,size=32"]
        message = f"weight '{value}' in '{intact}:{value}' must be a number > 0 and <= 1e+06"
    try:
        code = main([*argv, "--out", str(out), *BASE, "--steps", "1"])
    except SystemExit as stop:
        code = stop.code
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("pretrain: error: "), lines
    assert message in lines[0], lines[0]
    assert not out.exists()


# --- issue: resume checks the content of its data, not the path ----------------------------------

@pytest.mark.parametrize("replacement", [{"kind": "bars"}, {"seed": 1}, {"n": 56}])
def test_resume_refuses_other_shards_under_the_same_path(intact, tmp_path, capsys, replacement):
    data, out = tmp_path / "data", tmp_path / "run"
    shutil.copytree(intact, data)
    assert train(data, out, "--steps", "6", "--stop-after-steps", "2") == 0
    step = load_state(out)["step"]
    shutil.rmtree(data)
    write_shards(data, **replacement)  # other shards, same --data path
    capsys.readouterr()
    assert train(data, out, "--steps", "6", "--resume") == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("pretrain: error: cannot resume: --data "), lines
    assert f"--data {data} holds other data than the checkpoint was trained on" in lines[0]
    assert load_state(out)["step"] == step
    shutil.rmtree(data)
    shutil.copytree(intact, data)  # the original shards back: resumes
    assert train(data, out, "--steps", "6", "--resume") == 0 and load_state(out)["step"] == 6


def test_resume_accepts_a_rerender_of_the_same_data(intact, tmp_path):
    data, out = tmp_path / "data", tmp_path / "run"
    shutil.copytree(intact, data)
    assert train(data, out, "--steps", "4", "--stop-after-steps", "2") == 0
    info = json.loads((data / "dataset.json").read_text())
    info["versions"] = {"numpy": "0.0"}  # rendered again elsewhere: same bytes, other versions
    (data / "dataset.json").write_text(json.dumps(info))
    assert train(data, out, "--steps", "4", "--resume") == 0 and load_state(out)["step"] == 4


def test_checkpoint_without_a_data_fingerprint_resumes_with_a_warning(intact, tmp_path, capsys):
    out = tmp_path / "run"
    assert train(intact, out, "--steps", "4", "--stop-after-steps", "2") == 0
    config = json.loads((out / "config.json").read_text())
    del config["train"]["data_identity"]  # written before the fingerprint existed
    (out / "config.json").write_text(json.dumps(config))
    capsys.readouterr()
    assert train(intact, out, "--steps", "4", "--resume") == 0 and load_state(out)["step"] == 4
    assert "pretrain: warning: the checkpoint records no data fingerprint" in capsys.readouterr().err


# --- issue: a checkpoint's config.json must agree with its weights -------------------------------

@pytest.mark.parametrize("change", [{"num_heads": 1}, {"img_size": [16, 64]}, {"no_embed_class": True}])
def test_config_that_disagrees_with_its_weights_is_refused(intact, tmp_path, change):
    from finetune.encoder import load_checkpoint
    from finetune.task import UserError

    out = tmp_path / "run"
    assert train(intact, out, "--steps", "1") == 0
    config = json.loads((out / "config.json").read_text())
    assert config["timm_kwargs"].get("num_heads") != 1
    config["timm_kwargs"].update(change)
    (out / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="was saved with another architecture"):
        load_encoder(out)
    with pytest.raises(UserError, match="was saved with another architecture"):
        load_checkpoint(out, 32, 32)


# --- issue: a failed checkpoint save keeps the previous checkpoint and says so -------------------

def _lines(err: str) -> list[str]:
    """stderr lines less the loader's timing warning (it depends on the machine's load)."""
    return [line for line in err.strip().splitlines()
            if not line.startswith("pretrain: warning: training waited for data")]


def _full_disk(monkeypatch, fail_from: int) -> list:
    """``torch.save`` in the checkpoint writer: the ``fail_from``-th and later calls write part
    of the state, then fail as a full disk does."""
    import errno

    import pretrain.checkpoint as checkpoint

    calls = []
    real = torch.save

    def save(obj, handle, *args, **kwargs):
        calls.append(1)
        if len(calls) >= fail_from:
            handle.write(b"PK\x03\x04partial")
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(obj, handle, *args, **kwargs)

    monkeypatch.setattr(checkpoint.torch, "save", save)
    return calls


def test_failed_checkpoint_save_keeps_the_previous_one(intact, tmp_path, capsys, monkeypatch):
    assert train(intact, tmp_path / "full", "--steps", "6", "--save-every", "2") == 0
    out = tmp_path / "run"
    with monkeypatch.context() as patch:
        _full_disk(patch, fail_from=2)
        capsys.readouterr()
        assert train(intact, out, "--steps", "6", "--save-every", "2") == 1
    lines = _lines(capsys.readouterr().err)
    assert len(lines) == 1 and lines[0].startswith("pretrain: error: cannot save the checkpoint of step 4 "), lines
    assert "No space left on device" in lines[0] and "the checkpoint of step 2 is unchanged" in lines[0]
    assert load_state(out)["step"] == 2
    config = json.loads((out / "config.json").read_text())
    assert config["step"] == 2, "config.json, encoder and train state are of one step"
    state_encoder = {k[len("encoder."):]: v for k, v in load_state(out)["model"].items() if k.startswith("encoder.")}
    assert all(torch.equal(state_encoder[k], v) for k, v in weights(out).items())
    assert not [p.name for p in out.iterdir() if ".tmp" in p.name], "no temporaries left"
    assert train(intact, out, "--steps", "6", "--save-every", "2", "--resume") == 0  # space freed
    steps = [json.loads(line)["step"] for line in (out / "log.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4, 5, 6]
    full = weights(tmp_path / "full")
    assert all(torch.equal(full[k], v) for k, v in weights(out).items())


def test_log_without_train_state_never_restarts_silently(intact, tmp_path, capsys, monkeypatch):
    out = tmp_path / "run"
    with monkeypatch.context() as patch:
        _full_disk(patch, fail_from=1)  # the very first checkpoint fails
        assert train(intact, out, "--steps", "4", "--save-every", "2") == 1
    err = capsys.readouterr().err
    assert "cannot save the checkpoint of step 2" in err and "no checkpoint was saved before" in err
    assert (out / "log.jsonl").exists() and not (out / "train_state.pt").exists()
    assert train(intact, out, "--steps", "4", "--save-every", "2") == 2
    lines = _lines(capsys.readouterr().err)
    assert len(lines) == 1 and "holds log.jsonl but no train_state.pt" in lines[0], lines
    assert "--resume" in lines[0]
    assert train(intact, out, "--steps", "4", "--save-every", "2", "--resume") == 0
    err = capsys.readouterr().err
    assert "pretrain: warning: " in err and "starting again at step 0" in err
    steps = [json.loads(line)["step"] for line in (out / "log.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4], "no duplicate log rows"


# --- issue: Ctrl-C and SIGTERM checkpoint the current step ---------------------------------------

@pytest.mark.parametrize("signum, code, workers, group", [(2, 130, "1", True), (15, 143, "0", False)])
def test_signal_checkpoints_the_current_step_and_resume_continues(intact, tmp_path, signum, code, workers,
                                                                  group):
    import signal
    import time

    out = tmp_path / "run"
    argv = ["--data", str(intact), "--out", str(out), *BASE, "--steps", "100000", "--save-every", "0"]
    process = subprocess.Popen([sys.executable, "-m", "pretrain", *argv, "--workers", workers],
                               stderr=subprocess.PIPE, text=True, start_new_session=True)
    log = out / "log.jsonl"
    deadline = time.monotonic() + 120
    while not (log.exists() and len(log.read_text().splitlines()) >= 2):
        assert process.poll() is None and time.monotonic() < deadline, process.stderr.read()
        time.sleep(0.05)
    if group:  # Ctrl-C in a terminal reaches every process of the group, loader workers too
        os.killpg(process.pid, signum)
    else:
        os.kill(process.pid, signum)
    _, err = process.communicate(timeout=120)
    lines = _lines(err)
    assert process.returncode == code, err
    name = signal.Signals(signum).name
    step = load_state(out)["step"]
    assert lines == [f"pretrain: stopped by {name} at step {step}; checkpoint saved in {out}: rerun with "
                     f"--resume to continue"], err
    assert json.loads((out / "config.json").read_text())["stopped"] == name
    assert [json.loads(line)["step"] for line in log.read_text().splitlines()] == list(range(1, step + 1))
    assert main([*argv, "--workers", workers, "--resume", "--stop-after-steps", "2"]) == 0
    assert [json.loads(line)["step"] for line in log.read_text().splitlines()] == list(range(1, step + 3))


def test_help_says_what_a_signal_does(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "Ctrl-C or SIGTERM" in text and "--resume" in text


# --- round 3: hostile samples and the pattern size bound (docs/reliability.md) -----------------

@pytest.fixture
def hostile(intact, tmp_path, request) -> tuple[Path, str]:
    """A copy of ``intact`` whose shard 1 holds one hostile sample (``request.param``: a case of
    ``tests.hostile_shards``), its sidecar rewritten to match."""
    from tests.hostile_shards import forge_sample

    folder = tmp_path / "hostile"
    shutil.copytree(intact, folder)
    return folder, forge_sample(folder / "stripes-000001.tar", 5, request.param)


@pytest.mark.parametrize("hostile", ["bomb", "corrupt-pixels"], indirect=True)
def test_hostile_sample_is_one_line_naming_shard_and_sample(hostile, tmp_path, capsys):
    folder, key = hostile
    assert train(folder, tmp_path / "run", "--steps", "4") == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("pretrain: error: "), lines
    assert f"stripes-000001.tar: sample {key}: " in lines[0] and "--skip-bad-shards" in lines[0]
    assert "BytesIO" not in lines[0]


@pytest.mark.parametrize("hostile", ["bomb", "no-png", "symlink", "corrupt-pixels"],
                         indirect=True)
def test_skip_bad_shards_skips_hostile_samples(hostile, tmp_path, capsys):
    folder, key = hostile
    out = tmp_path / "run"
    assert train(folder, out, "--steps", "4", "--skip-bad-shards") == 0
    err = capsys.readouterr().err
    assert f"pretrain: warning: skipped {folder / 'stripes-000001.tar'}: sample {key}: " in err
    config = json.loads((out / "config.json").read_text())
    assert [Path(s["shard"]).name for s in config["skipped_shards"]] == ["stripes-000001.tar"]


def test_pattern_size_is_bounded_when_parsed():
    from pretrain.patterns import parse_pattern_spec

    with pytest.raises(ValueError, match=r"size='60000' must be an integer >= 8 and <= 8192"):
        parse_pattern_spec("pattern:stat-spectrum,size=60000")  # before: 3.6 GB per image
    assert parse_pattern_spec("pattern:stat-spectrum,size=8192").size == 8192
    from pretrain.cli import get_args_parser

    assert "size 8..8192" in " ".join(get_args_parser().format_help().split())  # in --help


def test_audio_with_a_nan_sample_is_one_line_naming_the_file(tmp_path, capsys):
    import numpy as np
    import soundfile as sf

    folder = tmp_path / "audio"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        wave = (0.1 * rng.standard_normal(8000)).astype(np.float32)
        if i == 1:
            wave[10] = np.nan
        sf.write(folder / f"{i}.wav", wave, 16000, subtype="FLOAT")
    out = tmp_path / "run"
    assert main(["--audio", str(folder), "--out", str(out), *BASE, "--steps", "1"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines == [f"pretrain: error: audio file {folder / '1.wav'} holds non-finite samples (NaN or inf)"]
    assert not (out / "train_state.pt").exists()


def test_ctrl_c_before_the_first_step_is_one_line(intact, tmp_path, capsys, monkeypatch):
    import pretrain.train as train_module

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt  # Ctrl-C while the sources are opened (statistics, classes)

    monkeypatch.setattr(train_module, "open_sources", interrupted)
    try:
        code = main(["--data", str(intact), "--out", str(tmp_path / "run"), *BASE, "--steps", "2"])
    except KeyboardInterrupt:
        code = "KeyboardInterrupt traceback"
    assert code == 130
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines == ["pretrain: interrupted before a checkpoint could be saved; the folder holds what was "
                     "saved before"]


@pytest.mark.parametrize("name, make, kind", [
    ("log.jsonl", os.mkfifo, "a FIFO"),
    ("train_state.pt", lambda p: os.symlink("/dev/zero", p), "a symbolic link"),
    ("step0", lambda p: p.write_text("x"), "a regular file"),
])
def test_out_entries_that_are_not_regular_files_are_refused_unopened(intact, tmp_path, capsys, name, make, kind):
    out = tmp_path / "run"
    out.mkdir()
    make(out / name)
    for resume in ([], ["--resume"]):
        assert train(intact, out, "--steps", "1", *resume) == 2  # no hang on the FIFO
        lines = capsys.readouterr().err.strip().splitlines()
        want = "a directory" if name == "step0" else "a regular file"
        assert lines == [f"pretrain: error: --out {out}: {name} is {kind}, not {want}; remove it"], lines
    assert sorted(p.name for p in out.iterdir()) == [name]


def test_fifo_in_place_of_a_shard_is_one_line_never_a_hang(intact, tmp_path, capsys):
    import signal

    folder = tmp_path / "data"
    shutil.copytree(intact, folder)
    (folder / "stripes-000002.tar").unlink()
    os.mkfifo(folder / "stripes-000002.tar")  # no writer: opening it would block forever

    def hung(signum, frame):
        raise TimeoutError("pretrain blocked on the FIFO")
    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(20)
    try:
        # a FIFO is no damage to skip: refused at start, also with --skip-bad-shards
        assert train(folder, tmp_path / "run", "--steps", "2", "--skip-bad-shards") == 2
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("pretrain: error: --data "), lines
        assert "stripes-000002.tar is a FIFO, not a regular file" in lines[0]
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.mark.parametrize("extra, message", [
    (["--input-size", "100000x128"], "--input-size height 100000 must be an integer in 8..4096"),
    (["--input-size", "32x8192"], "--input-size width 8192 must be an integer in 8..4096"),
    (["--batch-size", str(10**9)], "--batch-size 1000000000 must be an integer in 1..65536"),
    (["--accum", "0"], "--accum 0 must be an integer in 1..65536"),
    (["--shuffle-buffer", str(10**9)], "--shuffle-buffer 1000000000 must be an integer in 1..1000000"),
    (["--workers", "100000"], "--workers 100000 must be an integer in 1..1024"),
])
def test_sizes_that_allocate_are_bounded_before_allocating(intact, tmp_path, capsys, extra, message):
    out = tmp_path / "x"
    assert main(["--data", str(intact), "--out", str(out), *BASE, "--steps", "2", *extra]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0] == f"pretrain: error: {message}", lines
    assert not out.exists()
    capsys.readouterr()
    with pytest.raises(SystemExit):
        main(["--help"])
    assert message.rsplit(" ", 1)[1] in " ".join(capsys.readouterr().out.split())  # the bound is in --help
