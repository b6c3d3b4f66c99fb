"""Whole-clip embeddings: what the encoder sees of each clip, and the batched embedding loop.

``clip`` modes:

* ``chunks`` (default): the clip's log-mel is cut into consecutive chunks of the encoder's input
  width (128 frames = 1.28 s for ``cpu-tiny``), the last chunk padded with the clip's minimum
  (its quietest value). The time columns of patches that cover only that padding are dropped;
  the token grids of all chunks are joined along time and pooled as one grid. A 5-s clip is
  therefore seen whole, as HEAR and the EVAR runtimes of the MAE family see it.
* ``crop``: the centre ``width`` frames of each clip (padded when shorter), all tokens kept --
  the earlier protocol, kept for comparison.

Before either, a task with a published clip length (``Task.clip_seconds``) crops every clip from
its start or pads it to that length (``apply_clip_length``), as EVAR does.

The loop embeds chunks of many clips per forward batch and accumulates, per clip, the
statistics every pooling needs (``finetune.encoder.token_stats``), so memory stays at one batch
of tokens however long the clips are.
"""
from __future__ import annotations

import time
from typing import Callable, Iterator

import numpy as np
import torch

from finetune.encoder import Encoder, block_tokens, token_stats
from finetune.progress import progress, report_stderr
from finetune.task import UserError
from pretrain.frontend import FrontendConfig, Standardizer, fix_length

CLIP_MODES = ("chunks", "crop")


def seconds_to_frames(seconds: float, frontend: FrontendConfig) -> int:
    """Frames of the (centred) log-mel of a clip of exactly ``seconds``."""
    return 1 + int(round(seconds * frontend.sample_rate)) // frontend.hop_length


def apply_clip_length(spec: torch.Tensor, frames: int | None) -> torch.Tensor:
    """Crop ``(n_mels, T)`` from the start, or pad it at the end with its minimum, to ``frames``
    (``None``: unchanged)."""
    if frames is None or spec.shape[-1] == frames:
        return spec
    if spec.shape[-1] > frames:
        return spec[..., :frames]
    return torch.nn.functional.pad(spec, (0, frames - spec.shape[-1]), value=float(spec.min()))


def split_chunks(spec: torch.Tensor, width: int, patch_w: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(n_mels, T)`` -> ``(C, n_mels, width)`` consecutive chunks (the last padded with the
    clip's minimum) and ``(C,)`` valid time columns per chunk: the patch columns that hold at
    least one real frame."""
    if width % patch_w:
        raise UserError(f"input width {width} must be a multiple of the patch width {patch_w}")
    t = spec.shape[-1]
    n = max(1, -(-t // width))
    padded = torch.nn.functional.pad(spec, (0, n * width - t), value=float(spec.min())) if n * width > t else spec
    chunks = padded.reshape(spec.shape[0], n, width).permute(1, 0, 2)
    real = t - torch.arange(n) * width  # real frames from each chunk's start
    cols = torch.clamp(-(-real // patch_w), 0, width // patch_w)
    return chunks.contiguous(), cols


def clip_views(spec: torch.Tensor, mode: str, width: int, patch_w: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The encoder inputs of one clip under ``mode`` and their valid time columns."""
    if mode == "chunks":
        return split_chunks(spec, width, patch_w)
    if mode == "crop":
        return fix_length(spec, width).unsqueeze(0), torch.tensor([width // patch_w])
    raise UserError(f"--clip {mode!r} must be one of {', '.join(CLIP_MODES)}")


def fit_standardizer(specs: list[torch.Tensor], index, mode: str, width: int) -> Standardizer:
    """Global mean / std of the clips at ``index`` as the encoder will see them (whole clips for
    ``chunks``, centre crops for ``crop``)."""
    picked = [specs[i] for i in index]
    return Standardizer.fit([fix_length(s, width) for s in picked] if mode == "crop" else picked)


def _batches(specs: list[torch.Tensor], mode: str, width: int, patch_w: int,
             batch_size: int) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """``(chunks, valid columns, clip index)`` batches of at most ``batch_size`` chunks."""
    xs, cols, owner, n = [], [], [], 0
    for i, spec in enumerate(specs):
        x, c = clip_views(spec, mode, width, patch_w)
        xs.append(x)
        cols.append(c)
        owner.append(torch.full((len(x),), i, dtype=torch.long))
        n += len(x)
        while n >= batch_size or (i == len(specs) - 1 and n):
            x, c, o = torch.cat(xs), torch.cat(cols), torch.cat(owner)
            yield x[:batch_size], c[:batch_size], o[:batch_size]
            xs, cols, owner = [x[batch_size:]], [c[batch_size:]], [o[batch_size:]]
            n = len(xs[0])


def count_chunks(specs: list[torch.Tensor], mode: str, width: int) -> int:
    return len(specs) if mode == "crop" else sum(max(1, -(-s.shape[-1] // width)) for s in specs)


@torch.inference_mode()
def embed_clips(encoder: Encoder, specs: list[torch.Tensor], norm: Standardizer, mode: str = "chunks",
                batch_size: int = 64, desc: str = "embed",
                report: Callable[[str], None] = report_stderr) -> tuple[np.ndarray, dict]:
    """Every block of every clip: ``(N, depth, (F + 1) * D)`` float32 -- per layer the ``freq``
    layout (F*D: per frequency row the mean over the clip's valid columns) followed by the max
    over all valid tokens (D); ``pooled`` turns it into any pooling. Plus timing info."""
    n_f, n_t = encoder.grid
    width, patch_w = encoder.width, encoder.patch_size[1]
    depth, dim = encoder.depth, encoder.dim
    sums = torch.zeros(len(specs), depth, n_f, dim, dtype=torch.float64)
    maxes = torch.full((len(specs), depth, dim), float("-inf"))
    counts = torch.zeros(len(specs), dtype=torch.float64)
    every = tuple(range(1, depth + 1))
    device = next(encoder.model.parameters(), torch.empty(0)).device
    total = count_chunks(specs, mode, width)
    t0 = time.perf_counter()
    batches = _batches(specs, mode, width, patch_w, batch_size)
    done = 0
    for x, cols, owner in progress(batches, -(-total // batch_size), desc, unit="batches", report=report):
        tokens = block_tokens(encoder.model, norm(x).unsqueeze(1).to(device), every)
        s, c, m = token_stats([t.cpu() for t in tokens], (n_f, n_t), cols)
        sums.index_add_(0, owner, s.double())
        counts.index_add_(0, owner, c.double())
        maxes.scatter_reduce_(0, owner[:, None, None].expand_as(m), m, "amax")
        done += len(x)
    seconds = time.perf_counter() - t0
    freq = (sums / counts.clamp_min(1)[:, None, None, None]).float().reshape(len(specs), depth, n_f * dim)
    out = torch.cat([freq, maxes], dim=2).numpy()
    return out, {"chunks": done, "seconds": seconds}


def pooled(stored: np.ndarray, grid_f: int, dim: int, layers: tuple[int, ...], pooling: str) -> np.ndarray:
    """``embed_clips`` output -> ``(N, len(layers) * width)`` for ``pooling`` (layers 1-based)."""
    from finetune.encoder import pool_stats

    x = torch.from_numpy(np.ascontiguousarray(stored[:, [k - 1 for k in layers]]))
    n, n_layers = x.shape[:2]
    freq = x[..., :grid_f * dim].reshape(n, n_layers, grid_f, dim)
    maxes = x[..., grid_f * dim:]
    return pool_stats(freq, torch.ones(n), maxes, pooling).numpy()
