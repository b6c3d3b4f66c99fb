"""Clip features for the probe: log-mels of a task, frozen-encoder embeddings (cached on disk)
and the ``logmel-stats`` hand-crafted baseline.

Every clip's log-mel is first cut or padded to the task's published clip length when it has one
(``Task.clip_seconds``); ``finetune.chunks`` then decides what the encoder sees (the whole clip
in chunks, or a centre crop).

Encoder input normalisation (``norm``):

* ``split`` (default, strict): for every split, the global mean/std of the log-mels of that
  split's training clips (as the encoder sees them) standardise all clips of the split, then the
  encoder embeds them. A k-fold task is therefore embedded k times (once per split).
* ``all``: one mean/std over every clip of the task (two label-free numbers, transductive) and
  a single embedding pass, k times cheaper. On FSDD the per-split statistics differ by well
  under 1 % (see ``docs/finetune.md`` for the measured effect on accuracy).

Each pass's embeddings are cached as ``CACHE/<key>.npz`` (verified on load, see
``finetune.cache``) where the key hashes the
checkpoint files, the task (paths, labels, folds, clip length), the content of its decoded
log-mels (``LogMels.digest``: audio replaced under the same names gets new entries), the
front-end settings, the frame count, the clip mode and the split. A pass embeds every block at once (the forward pass
costs the same) and caches the statistics of every pooling (``finetune.chunks.embed_clips``), so
any ``layers`` and ``pooling`` choice is served from one cache entry.
"""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from finetune.cache import load_entry, save_entry
from finetune.chunks import CLIP_MODES, apply_clip_length, embed_clips, fit_standardizer, pooled, seconds_to_frames
from finetune.encoder import Encoder
from finetune.loaders import missing_files
from finetune.progress import progress, report_stderr
from finetune.task import Task, UserError
from pretrain.frontend import AudioError, FrontendConfig, fix_length, load_audio, log_mel


NORMS = ("split", "all")


@dataclass(frozen=True)
class FeatureConfig:
    """frontend: log-mel settings; frames: encoder input width (128 = 1.28 s, the CPU preset);
    level: loudness normalisation (``peak``, ``rms`` or ``none``); clip: ``chunks`` (whole clip)
    or ``crop`` (centre ``frames``)."""

    frontend: FrontendConfig = field(default_factory=FrontendConfig)
    frames: int = 128
    level: str = "peak"
    clip: str = "chunks"

    def __post_init__(self) -> None:
        if self.clip not in CLIP_MODES:
            raise ValueError(f"--clip {self.clip!r} must be one of {', '.join(CLIP_MODES)}")

    def to_dict(self) -> dict:
        return {"frontend": self.frontend.to_dict(), "frames": self.frames, "level": self.level, "clip": self.clip}


@dataclass
class LogMels:
    """The task (bad clips removed when skipped), log-mels at the task's clip length (each clip's
    own length when it has none) and the skipped files."""

    task: Task
    specs: list[torch.Tensor]
    skipped: list[str]
    _digest: str | None = field(default=None, repr=False, compare=False)

    def digest(self) -> str:
        """sha256 of every log-mel (shape and values), computed once: what embeddings and
        fine-tuning are made from. Cache entries and finished splits are keyed by it, so audio
        replaced under the same file names is never served from results of the old audio."""
        if self._digest is None:
            h = hashlib.sha256()
            for spec in self.specs:
                h.update(f"{tuple(spec.shape)}".encode())
                h.update(spec.detach().contiguous().numpy().tobytes())
            self._digest = h.hexdigest()[:24]
        return self._digest

    def fixed(self, frames: int) -> torch.Tensor:
        """``(N, n_mels, frames)``: centre crop / pad of every clip."""
        return torch.stack([fix_length(s, frames) for s in self.specs])


def compute_logmels(task: Task, cfg: FeatureConfig, *, skip_bad: bool = False,
                    report: Callable[[str], None] = report_stderr) -> LogMels:
    """Decode every clip and compute its log-mel, cropped / padded to ``task.clip_seconds``.

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
    length = None if task.clip_seconds is None else seconds_to_frames(task.clip_seconds, cfg.frontend)
    specs = []
    t0 = time.perf_counter()
    for i, clip in progress(enumerate(task.clips), len(task.clips), f"decode {task.name}", report=report):
        if i in bad:
            continue
        try:
            spec = log_mel(load_audio(clip.path, cfg.frontend.sample_rate, cfg.level), cfg.frontend)
            specs.append(apply_clip_length(spec, length))
        except AudioError as exc:
            if not skip_bad:
                raise
            bad[i] = str(exc)
    report(f"decoded {task.name}: {len(specs)} clips in {time.perf_counter() - t0:.1f} s")
    for i in sorted(bad):
        report(f"skipped: {bad[i]}")
    return LogMels(task.without(set(bad)) if bad else task, specs, [str(task.clips[i].path) for i in sorted(bad)])


def logmel_stats(specs: list[torch.Tensor]) -> np.ndarray:
    """Per-mel-bin mean and std over time of each whole log-mel: ``(N, 2 * n_mels)``."""
    return np.stack([torch.cat([s.mean(dim=1), s.std(dim=1, unbiased=False)]).numpy() for s in specs])


def cache_key(encoder: Encoder, mels: LogMels, cfg: FeatureConfig, split: str) -> str:
    blob = json.dumps({"enc": encoder.fingerprint, "task": mels.task.fingerprint(), "mels": mels.digest(),
                       "cfg": cfg.to_dict(), "split": split, "v": 5}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def check_finite(x: np.ndarray, encoder: Encoder, mels: LogMels) -> np.ndarray:
    """``x`` (embeddings of ``mels``' clips) if finite, else ``UserError`` naming a clip."""
    finite = np.isfinite(x).reshape(len(x), -1).all(axis=1)
    if not finite.all():
        bad = int(np.flatnonzero(~finite)[0])
        raise UserError(f"encoder {encoder.name} gives non-finite embeddings (NaN or inf) for "
                        f"{mels.task.clips[bad].path} and {int((~finite).sum()) - 1} other clip(s); "
                        f"are its weights finite?")
    return x


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
    done, embedded, chunks, seconds = {}, 0, 0, 0.0
    for name, train in passes:
        key = cache_key(encoder, mels, cfg, name)
        path = cache_dir / f"{key}.npz" if cache_dir else None
        cached = load_entry(path, key, report) if path is not None else None
        if cached is not None:
            done[name] = check_finite(cached, encoder, mels)
            continue
        standardizer = fit_standardizer(mels.specs, train, cfg.clip, cfg.frames)
        done[name], info = embed_clips(encoder, mels.specs, standardizer, cfg.clip, batch_size,
                                       desc=f"embed {mels.task.name} ({name})", report=report)
        seconds += info["seconds"]
        embedded += len(mels.specs)
        chunks += info["chunks"]
        report(f"embedded {mels.task.name} ({name}): {len(mels.specs)} clips ({info['chunks']} chunks) in "
               f"{info['seconds']:.1f} s, {len(mels.specs) / max(info['seconds'], 1e-9):.1f} clips/s")
        check_finite(done[name], encoder, mels)
        if path is not None:
            save_entry(path, key, done[name])
    grid_f = encoder.grid[0]
    done = {name: pooled(x, grid_f, encoder.dim, layers, pooling) for name, x in done.items()}
    feats = {s.name: done[s.name if norm == "split" else "all"] for s in mels.task.splits}
    return feats, {"embedded_clips": embedded, "embedded_chunks": chunks, "embed_seconds": round(seconds, 2),
                   "clips_per_s": round(embedded / seconds, 1) if seconds else None}
