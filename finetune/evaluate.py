"""Linear-probe evaluation of one encoder (or baseline) on one task -> a result record."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

from finetune.encoder import Encoder, load_checkpoint, parse_layers, random_encoder
from finetune.features import FeatureConfig, LogMels, compute_logmels, encoder_features, logmel_stats
from finetune.progress import report_stderr
from finetune.probe import linear_probe
from finetune.task import Task, UserError

BASELINES = ("random", "logmel-stats")


def resolve_encoder(ckpt: str, cfg: FeatureConfig, preset: str = "cpu-tiny", seed: int = 0) -> Encoder:
    """``random`` / ``random:SEED`` -> untrained ``preset`` encoder (seed ``seed`` / SEED);
    anything else -> a checkpoint folder."""
    if ckpt == "random" or ckpt.startswith("random:"):
        if ckpt != "random":
            try:
                seed = int(ckpt.split(":", 1)[1])
            except ValueError:
                raise UserError(f"--ckpt {ckpt!r} must be random or random:SEED (an integer)") from None
        return random_encoder(preset, cfg.frontend.n_mels, cfg.frames, seed)
    return load_checkpoint(Path(ckpt), cfg.frontend.n_mels, cfg.frames)


def linear_eval(task: Task, ckpt: str, cfg: FeatureConfig, *, preset: str = "cpu-tiny", seed: int = 0,
                layers: str = "last", pooling: str = "mean", cache_dir: Path | None = None,
                skip_bad: bool = False, batch_size: int = 64, norm: str = "split", mels: LogMels | None = None,
                report: Callable[[str], None] = report_stderr) -> dict:
    """Probe ``ckpt`` (a checkpoint folder, ``random`` or ``logmel-stats``) on ``task``.

    Returns the result record; its ``_mels`` entry holds the log-mels, to pass as ``mels`` for
    the next checkpoint on the same task (pop it before serialising)."""
    t0 = time.perf_counter()
    encoder = None if ckpt == "logmel-stats" else resolve_encoder(ckpt, cfg, preset, seed)
    mels = mels or compute_logmels(task, cfg, skip_bad=skip_bad, report=report)
    t_mel = time.perf_counter() - t0
    record = {"task": task.name, "metric": task.metric, "method": "linear", "ckpt": ckpt, "n_clips": len(mels.task.clips),
              "skipped": mels.skipped, "features": cfg.to_dict(), "pooling": pooling}
    if encoder is None:
        feats, info = logmel_stats(mels.specs), {}
        record.update(name="logmel-stats", layers=None, pooling="mean+std over time")
    else:
        layer_idx = parse_layers(layers, encoder.depth)
        feats, info = encoder_features(encoder, mels, cfg, layer_idx, pooling, cache_dir, batch_size, norm,
                                       report)
        record.update(name=encoder.name, layers=layers if layers in ("last", "all") else ",".join(map(str, layer_idx)),
                      encoder_fingerprint=encoder.fingerprint, norm=norm, ckpt_step=encoder.step, input=[encoder.height, encoder.width])
        if ckpt.startswith("random"):
            record.update(preset=preset, seed=int(ckpt.split(":")[1]) if ":" in ckpt else seed)
    t1 = time.perf_counter()
    result = linear_probe(mels.task, feats, report=report)
    record.update(acc_mean=result.mean, acc_std=result.std, split_acc=list(result.split_acc),
                  split_c=list(result.split_c), splits=[s.name for s in mels.task.splits],
                  seconds={"logmel": round(t_mel, 1), "probe": round(time.perf_counter() - t1, 1),
                           "total": round(time.perf_counter() - t0, 1)}, **info)
    record["_mels"] = mels  # for the caller to reuse with the next checkpoint; not serialised
    return record
