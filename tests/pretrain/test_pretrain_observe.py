"""Watching a pre-training run: gradient norm, --clip-grad, validation losses on a held-back
batch and on real audio, ``python -m pretrain plot``; resume stays bitwise with all of them on."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from pretrain.checkpoint import load_state
from pretrain.cli import main
from pretrain.engine import grad_norm
from tests.finetune.fixtures import write_wav
from tests.pretrain.shardkit import write_shards

BASE = ["--preset", "test-micro", "--input-size", "32x64", "--batch-size", "8", "--workers", "0",
        "--no-progress", "--threads", "1", "--recon-every", "0", "--log-every", "2", "--seed", "7",
        "--lr", "1e-3", "--warmup-steps", "2"]
PATTERN = ["--data", "pattern:deadleaves-squares,size=32"]


@pytest.fixture(scope="module")
def shards(tmp_path_factory) -> Path:
    return write_shards(tmp_path_factory.mktemp("shards") / "stripes", n=64, shard_size=8, size=32)


@pytest.fixture(scope="module")
def tones(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("tones")
    for k, freq in enumerate((220.0, 440.0, 880.0, 1760.0)):
        write_wav(folder / f"tone{k}.wav", freq=freq, sr=16000, seconds=0.5)
    return folder


def records(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]


def weights(out: Path) -> dict:
    return load_file(str(out / "encoder.safetensors"))


def test_grad_norm_is_the_global_l2_norm_and_clipping_scales_to_it():
    torch.manual_seed(0)
    layer = torch.nn.Linear(4, 3)
    layer(torch.randn(5, 4)).pow(2).sum().backward()
    expected = float(torch.sqrt(sum((p.grad ** 2).sum() for p in layer.parameters())))
    assert grad_norm(layer.parameters(), None) == pytest.approx(expected, rel=1e-6)
    before = [p.grad.clone() for p in layer.parameters()]
    assert grad_norm(layer.parameters(), expected / 4) == pytest.approx(expected, rel=1e-6)  # the norm before
    assert grad_norm(layer.parameters(), None) == pytest.approx(expected / 4, rel=1e-4)
    for old, p in zip(before, layer.parameters()):
        assert torch.allclose(p.grad, old / 4, rtol=1e-4)
    assert grad_norm(layer.parameters(), 1e6) == pytest.approx(expected / 4, rel=1e-4)  # large MAX: unchanged


def test_log_records_the_grad_norm_and_clipping_changes_the_step(shards, tmp_path):
    assert main(["--data", str(shards), "--out", str(tmp_path / "free"), *BASE, "--steps", "4"]) == 0
    assert main(["--data", str(shards), "--out", str(tmp_path / "clip"), *BASE, "--steps", "4",
                 "--clip-grad", "1e-3"]) == 0
    free, clip = records(tmp_path / "free"), records(tmp_path / "clip")
    assert [r["step"] for r in free] == [2, 4]
    for r in free:
        assert np.isfinite(r["grad_norm"]) and 0 < r["grad_norm"] <= r["grad_norm_max"]
    # the record of steps 1-2 holds their mean and max; step 1 has the same weights in both runs, so
    # its norm, logged before clipping, is one of the two values in both records
    n1_candidates = [free[0]["grad_norm_max"], 2 * free[0]["grad_norm"] - free[0]["grad_norm_max"]]
    n1_clip = [clip[0]["grad_norm_max"], 2 * clip[0]["grad_norm"] - clip[0]["grad_norm_max"]]
    assert any(x == pytest.approx(y, rel=1e-6) for x in n1_candidates for y in n1_clip)
    assert min(n1_clip) > 1e-3   # far above MAX: every step was clipped
    assert not torch.equal(weights(tmp_path / "free")["blocks.0.attn.qkv.weight"],
                           weights(tmp_path / "clip")["blocks.0.attn.qkv.weight"])   # ...but clipped updates
    assert json.loads((tmp_path / "clip" / "config.json").read_text())["train"]["clip_grad"] == 1e-3


def test_validation_leaves_training_alone_and_scores_a_fixed_batch(tones, tmp_path):
    plain, watched = tmp_path / "plain", tmp_path / "watched"
    assert main([*PATTERN, "--out", str(plain), *BASE, "--steps", "4"]) == 0
    assert main([*PATTERN, "--out", str(watched), *BASE, "--steps", "4", "--val-every", "2", "--val-size", "6",
                 "--val-audio", str(tones)]) == 0
    a, b = weights(plain), weights(watched)
    assert all(torch.equal(a[k], b[k]) for k in a), "scoring must not change training"
    assert [r["loss"] for r in records(plain)] == [r["loss"] for r in records(watched)]
    vals = [(r["step"], r["val_loss"], r["val_audio_loss"]) for r in records(watched)]
    assert [s for s, _, _ in vals] == [2, 4]
    assert all(np.isfinite(v) and np.isfinite(w) for _, v, w in vals)
    assert vals[0][1] != vals[1][1]   # the same batch scored by weights that moved


def test_validation_between_log_steps_gets_its_own_record(tmp_path):
    out = tmp_path / "run"
    assert main([*PATTERN, "--out", str(out), *BASE, "--steps", "4", "--log-every", "4", "--val-every", "1",
                 "--val-size", "4"]) == 0
    got = [(r["step"], "loss" in r, "val_loss" in r) for r in records(out)]
    assert got == [(1, False, True), (2, False, True), (3, False, True), (4, True, True)]


def test_shard_sources_hold_back_their_last_shard(shards, tmp_path):
    out = tmp_path / "run"
    assert main(["--data", str(shards), "--out", str(out), *BASE, "--steps", "2", "--val-every", "2",
                 "--val-size", "8"]) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["data"][0]["units"] == 7 and config["train"]["val_size"] == 8   # 8 shards of 8, one held back
    assert "val_loss" in records(out)[-1]


def test_resume_stays_bitwise_with_clipping_and_validation_on(shards, tones, tmp_path):
    args = ("--steps", "8", "--save-every", "4", "--log-every", "1", "--clip-grad", "0.5", "--val-every", "2",
            "--val-size", "8", "--val-audio", str(tones))
    assert main(["--data", str(shards), "--out", str(tmp_path / "full"), *BASE, *args]) == 0
    split = tmp_path / "split"
    assert main(["--data", str(shards), "--out", str(split), *BASE, *args, "--stop-after-steps", "3"]) == 0
    assert load_state(split)["step"] == 3
    assert main(["--data", str(shards), "--out", str(split), *BASE, *args, "--resume"]) == 0
    full = weights(tmp_path / "full")
    assert all(torch.equal(full[k], weights(split)[k]) for k in full), "bitwise equal after resume"
    keys = ("step", "loss", "lr", "grad_norm", "grad_norm_max", "images_seen", "val_loss", "val_audio_loss")
    full_log = [{k: r.get(k) for k in keys} for r in records(tmp_path / "full")]
    assert len(full_log) == 8 and full_log[1]["val_audio_loss"] is not None
    assert full_log == [{k: r.get(k) for k in keys} for r in records(split)]   # timings aside, the same log


def test_resume_with_another_held_back_size_is_refused(shards, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["--data", str(shards), "--out", str(out), *BASE, "--steps", "2", "--val-every", "2",
                 "--val-size", "8"]) == 0
    capsys.readouterr()
    assert main(["--data", str(shards), "--out", str(out), *BASE, "--steps", "2", "--val-every", "2",
                 "--val-size", "16", "--resume"]) == 2
    assert "cannot resume: val_size=16 differs from the checkpoint's 8" in capsys.readouterr().err


@pytest.mark.parametrize("extra, message", [
    (["--clip-grad", "0"], "--clip-grad 0.0 must be > 0"),
    (["--clip-grad", "nan"], "--clip-grad nan must be a finite number"),
    (["--val-every", "-1"], "--val-every -1 must be >= 0"),
    (["--val-every", "2", "--val-size", "0"], "--val-size 0 must be >= 1"),
    (["--val-audio", "."], "--val-audio needs --val-every N"),
    (["--val-every", "2", "--val-audio", "/nonexistent"], "--val-audio /nonexistent is not a folder"),
    (["--val-every", "2", "--val-size", "64"], "--val-size 64: shards source"),
])
def test_bad_observability_options_are_one_line_errors(shards, tmp_path, capsys, extra, message):
    assert main(["--data", str(shards), "--out", str(tmp_path / "run"), *BASE, "--steps", "2", *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1, err


def test_plot_draws_the_curves_of_a_run(tmp_path, capsys):
    out = tmp_path / "run"
    assert main([*PATTERN, "--out", str(out), *BASE, "--steps", "4", "--log-every", "1", "--val-every", "2",
                 "--val-size", "4"]) == 0
    assert main(["plot", str(out)]) == 0
    png = out / "curves.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    assert f"curves: {png}" in capsys.readouterr().out
    assert main(["plot", str(out), str(out), "--out", str(tmp_path / "two.png")]) == 0
    assert (tmp_path / "two.png").exists()


@pytest.mark.parametrize("args, message", [
    (lambda t: [str(t)], "no log.jsonl"),
    (lambda t: [str(t), str(t)], "2 runs: give --out PNG"),
    (lambda t: [str(t), "--out", str(t / "x.jpg")], "must end in .png"),
])
def test_plot_errors_are_one_line(tmp_path, capsys, args, message):
    assert main(["plot", *args(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("pretrain plot: error:") and message in err and len(err.splitlines()) == 1


def test_plot_without_a_run_is_one_line(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["plot"])
    err = capsys.readouterr().err.strip()
    assert exit_info.value.code == 2 and err.startswith("pretrain plot: error: the following arguments are "
                                                        "required: RUN") and len(err.splitlines()) == 1


def test_val_audio_folder_without_audio_is_one_line(shards, tmp_path, capsys):
    (tmp_path / "silent").mkdir()
    assert main(["--data", str(shards), "--out", str(tmp_path / "run"), *BASE, "--steps", "2", "--val-every", "2",
                 "--val-size", "8", "--val-audio", str(tmp_path / "silent")]) == 2
    err = capsys.readouterr().err.strip()
    assert "no .wav/.flac/.ogg files found" in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "run").exists()   # refused before anything was written
