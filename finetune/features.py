"""Clip features for the probe: log-mels of a task, frozen-encoder embeddings (cached on disk)
and the ``logmel-stats`` hand-crafted baseline.

Encoder input normalisation (``norm``):

* ``split`` (default, strict): for every split, the global mean/std of the fixed-length log-mels
  of that split's training clips standardise all clips of the split, then the encoder embeds
  them. A k-fold task is therefore embedded k times (once per split).
* ``all``: one mean/std over every clip of the task (two label-free numbers, transductive) and
  a single embedding pass, k times cheaper. On FSDD the per-split statistics differ by well
  under 1 % (see ``docs/finetune.md`` for the measured effect on accuracy).

Each pass's embeddings are cached as ``CACHE/<key>.npz`` where the key hashes the
checkpoint files, the task (paths, labels, folds), the front-end settings, the frame count,
the pooling and the split. A pass embeds every block at once (the forward pass costs the same)
and caches ``(N, depth, F)``, so any ``layers`` choice is served from one cache entry.
"""
from __future__ import annotations

import hashlib
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from finetune.encoder import Encoder, embed_batch
from pretrain.frontend import AudioError, FrontendConfig, Standardizer, fix_length, load_audio, log_mel
from finetune.loaders import missing_files
from finetune.task import Task, UserError


NORMS = ("split", "all")


@dataclass(frozen=True)
class FeatureConfig:
    """frontend: log-mel settings; frames: fixed input width (128 = 1.28 s, the CPU preset);
    level: loudness normalisation (``peak``, ``rms`` or ``none``)."""

    frontend: FrontendConfig = field(default_factory=FrontendConfig)
    frames: int = 128
    level: str = "peak"

    def to_dict(self) -> dict:
        return {"frontend": self.frontend.to_dict(), "frames": self.frames, "level": self.level}


@dataclass
class LogMels:
    """The task (bad clips removed when skipped), full-length log-mels and the skipped files."""

    task: Task
    specs: list[torch.Tensor]
    skipped: list[str]

    def fixed(self, frames: int) -> torch.Tensor:
        """``(N, n_mels, frames)``: centre crop / pad of every clip."""
        return torch.stack([fix_length(s, frames) for s in self.specs])


def report_stderr(msg: str) -> None:
    print(msg, file=sys.stderr)


def compute_logmels(task: Task, cfg: FeatureConfig, *, skip_bad: bool = False,
                    report: Callable[[str], None] = report_stderr) -> LogMels:
    """Decode every clip and compute its log-mel.

    A missing or undecodable file raises ``UserError``/``AudioError`` naming it, unless
    ``skip_bad``: then each one is reported through ``report`` and left out (never silently).
    """
    bad: dict[int, str] = {}
    missing = missing_files(task)
    if missing and not skip_bad:
        raise UserError(f"audio file {task.clips[missing[0]].path} listed by task {task.name} does not exist "
                        f"({len(missing)} missing in all)")
    for i in missing:
        bad[i] = f"audio file {task.clips[i].path} does not exist"
    specs = []
    for i, clip in enumerate(task.clips):
        if i in bad:
            continue
        try:
            specs.append(log_mel(load_audio(clip.path, cfg.frontend.sample_rate, cfg.level), cfg.frontend))
        except AudioError as exc:
            if not skip_bad:
                raise
            bad[i] = str(exc)
    for i in sorted(bad):
        report(f"skipped: {bad[i]}")
    return LogMels(task.without(set(bad)) if bad else task, specs, [str(task.clips[i].path) for i in sorted(bad)])


def logmel_stats(specs: list[torch.Tensor]) -> np.ndarray:
    """Per-mel-bin mean and std over time of each full-length log-mel: ``(N, 2 * n_mels)``."""
    return np.stack([torch.cat([s.mean(dim=1), s.std(dim=1, unbiased=False)]).numpy() for s in specs])


def cache_key(encoder: Encoder, task: Task, cfg: FeatureConfig, pooling: str, split: str) -> str:
    blob = json.dumps({"enc": encoder.fingerprint, "task": task.fingerprint(), "cfg": cfg.to_dict(),
                       "pooling": pooling, "split": split, "v": 2}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def embed_split(encoder: Encoder, fixed: torch.Tensor, train_index: tuple[int, ...], layers: tuple[int, ...],
                pooling: str, batch_size: int = 64) -> np.ndarray:
    """Standardise all ``fixed`` log-mels with the statistics of ``train_index``, embed them:
    ``(N, len(layers) * F)``."""
    norm = Standardizer.fit(fixed[list(train_index)])
    out = []
    for start in range(0, len(fixed), batch_size):
        x = norm(fixed[start:start + batch_size]).unsqueeze(1)  # (B, 1, n_mels, frames)
        out.append(embed_batch(encoder, x, layers, pooling))
    return np.concatenate(out)


def encoder_features(encoder: Encoder, mels: LogMels, cfg: FeatureConfig, layers: tuple[int, ...],
                     pooling: str, cache_dir: Path | None, batch_size: int = 64, norm: str = "split",
                     report: Callable[[str], None] = report_stderr) -> tuple[dict[str, np.ndarray], dict]:
    """Embeddings per split name (``(N, F)`` over all clips of the task) and timing info."""
    if cfg.frontend.n_mels != encoder.height or cfg.frames != encoder.width:
        raise UserError(f"encoder input {encoder.height}x{encoder.width} does not match the front end "
                        f"{cfg.frontend.n_mels} mel bins x {cfg.frames} frames")
    if norm not in NORMS:
        raise UserError(f"--norm {norm!r} must be one of {', '.join(NORMS)}")
    passes = ([(s.name, s.train) for s in mels.task.splits] if norm == "split"
              else [("all", tuple(range(len(mels.task.clips))))])
    fixed = None
    done, embedded, seconds = {}, 0, 0.0
    for name, train in passes:
        path = cache_dir / f"{cache_key(encoder, mels.task, cfg, pooling, name)}.npz" if cache_dir else None
        if path is not None and path.is_file():
            done[name] = np.load(path)["x"]
            continue
        if fixed is None:
            fixed = mels.fixed(cfg.frames)
        t0 = time.perf_counter()
        every = tuple(range(1, encoder.depth + 1))
        done[name] = embed_split(encoder, fixed, train, every, pooling, batch_size).reshape(len(fixed), encoder.depth, -1)
        seconds += time.perf_counter() - t0
        embedded += len(fixed)
        report(f"embedded {mels.task.name} ({name}): {len(fixed)} clips in {time.perf_counter() - t0:.1f} s")
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp.npz")
            np.savez(tmp, x=done[name])
            tmp.replace(path)
    pick = [k - 1 for k in layers]
    done = {name: x[:, pick].reshape(len(x), -1) for name, x in done.items()}
    feats = {s.name: done[s.name if norm == "split" else "all"] for s in mels.task.splits}
    return feats, {"embedded_clips": embedded, "embed_seconds": round(seconds, 2),
                   "clips_per_s": round(embedded / seconds, 1) if seconds else None}
