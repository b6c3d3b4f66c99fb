"""Full fine-tuning: encoder + linear head, trained end to end, AudioMAE / M2D style.

Recipe (AudioMAE, Huang et al. 2022, Sec. 4 and its fine-tuning config; MAE fine-tuning,
He et al. 2022, Table 9):
- head: mean of the patch tokens (final LayerNorm applied) -> Linear, init N(0, 2e-5) as MAE;
- AdamW (betas 0.9/0.999, weight decay 0.05, none on biases, norms, tokens and positions);
- layer-wise lr decay 0.75: block k of L gets ``lr * decay ** (L + 1 - k)``, patch embedding
  ``lr * decay ** (L + 1)``, head and final norm ``lr``;
- linear warm-up then cosine decay per step;
- SpecAugment-style masking on the standardised input (Park et al. 2019): one frequency band
  of width U[0, freq_mask) and one time span of width U[0, time_mask) set to 0 (the mean);
- optional mixup (Zhang et al. 2018) with ``Beta(mixup, mixup)`` weights on inputs and targets;
- training crops are random (the encoder's input width); evaluation sees whole clips: every
  clip in consecutive chunks, padding-only patch columns dropped, the mean of all its tokens
  fed to the head (``finetune.chunks``); the fixed sin-cos position embedding stays frozen.

Model selection never looks at the test fold: when the split has no validation set, one is
carved from the training clips (``carve_validation``: the next fold of a cross-validated task,
else every 10th training clip of each class, from its first). Every peak lr of ``lrs`` is trained; the
(lr, epoch) with the best validation accuracy is chosen and the test accuracy at that epoch is
reported.

Resumable: each finished split is appended to a progress file (``state``), keyed by the
encoder, task, the content of its log-mels (``LogMels.digest``), settings and split; a rerun
reports the finished splits from it and trains only the others (audio replaced under the same
file names is trained again).
"""
from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn

from finetune.chunks import embed_clips, fit_standardizer, pooled
from finetune.encoder import Encoder
from finetune.features import LogMels
from finetune.task import Split, Task, UserError
from generators.atomic import append_json_lines
from pretrain.engine import Schedule, lr_at
from pretrain.frontend import fix_length


@dataclass(frozen=True)
class FullConfig:
    """epochs: passes over the training clips; batch_size: clips per step; lr: peak lr of the
    head (AudioMAE's ESC-50 recipe: blr 1e-3 x batch/256); weight_decay: AdamW decay;
    layer_decay: per-block lr factor (0.75); warmup_epochs: linear warm-up length;
    freq_mask, time_mask: SpecAugment maximum widths in bins / frames (AudioMAE uses 48/192 for
    128 x 1024 inputs; scaled here for 128-frame inputs); mixup: Beta parameter (0 = off);
    seed: init of the head, crops, masks and batch order."""

    epochs: int = 20
    batch_size: int = 32
    lr: float = 5e-4
    weight_decay: float = 0.05
    layer_decay: float = 0.75
    warmup_epochs: float = 1.0
    freq_mask: int = 24
    time_mask: int = 24
    mixup: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise UserError(f"{name}={getattr(self, name)} must be >= 1")
        if not 0 < self.layer_decay <= 1:
            raise UserError(f"layer_decay={self.layer_decay} must be in (0, 1]")
        if self.lr <= 0 or self.mixup < 0 or self.freq_mask < 0 or self.time_mask < 0:
            raise UserError("lr must be > 0 and mixup, freq_mask, time_mask >= 0")


class Classifier(nn.Module):
    """Encoder -> mean of patch tokens -> Linear."""

    def __init__(self, encoder: nn.Module, num_classes: int):
        super().__init__()
        self.encoder = encoder
        self.head = nn.Linear(encoder.embed_dim, num_classes)
        nn.init.trunc_normal_(self.head.weight, std=2e-5)
        nn.init.zeros_(self.head.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = self.encoder.forward_features(x)[:, self.encoder.num_prefix_tokens:]  # (B, N, D)
        return self.head(tokens.mean(dim=1))


def param_groups(model: Classifier, lr: float, weight_decay: float, layer_decay: float) -> list[dict]:
    """AdamW groups with layer-wise lr decay; no decay on 1-D parameters and tokens."""
    depth = len(model.encoder.blocks)
    groups: dict[tuple[int, bool], dict] = {}
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        if name.startswith("encoder.blocks."):
            layer = int(name.split(".")[2]) + 1
        elif name.startswith(("encoder.patch_embed", "encoder.cls_token", "encoder.pos_embed", "encoder.reg_token")):
            layer = 0
        else:  # final norm, head
            layer = depth + 1
        no_decay = p.ndim <= 1 or name.endswith(("cls_token", "pos_embed", "reg_token"))
        g = groups.setdefault((layer, no_decay), {"params": [], "weight_decay": 0.0 if no_decay else weight_decay,
                                                  "lr_scale": layer_decay ** (depth + 1 - layer)})
        g["params"].append(p)
    for g in groups.values():
        g["lr"] = lr * g["lr_scale"]
    return list(groups.values())


def spec_augment(x: torch.Tensor, freq_mask: int, time_mask: int, gen: torch.Generator) -> torch.Tensor:
    """Zero one random frequency band and one random time span per example of ``(B, 1, F, T)``."""
    x = x.clone()
    _, _, n_f, n_t = x.shape
    for b in range(x.shape[0]):
        for size, maxw, axis in ((n_f, freq_mask, 2), (n_t, time_mask, 3)):
            if maxw <= 0:
                continue
            w = int(torch.randint(0, min(maxw, size) + 1, (1,), generator=gen))
            s = int(torch.randint(0, size - w + 1, (1,), generator=gen))
            x[b].narrow(axis - 1, s, w).zero_()
    return x


def carve_validation(task: Task, split: Split) -> Split:
    """``split`` itself when it has a validation set; else one carved from its training clips:
    for k-fold CV the fold after the test fold (cyclically), otherwise every 10th training clip
    of each class, starting with its first. The test clips are never touched."""
    if split.valid:
        return split
    test_folds = {task.clips[i].fold for i in split.test}
    train_folds = sorted({task.clips[i].fold for i in split.train},
                         key=lambda f: (0, int(f), "") if f.isdigit() else (1, 0, f))
    if len(train_folds) >= 2 and len(test_folds) == 1:
        (test,) = test_folds
        order = sorted(train_folds + [test], key=lambda f: (0, int(f), "") if f.isdigit() else (1, 0, f))
        val_fold = order[(order.index(test) + 1) % len(order)]
        valid = tuple(i for i in split.train if task.clips[i].fold == val_fold)
    else:
        seen: dict[str, int] = {}
        picked = []
        for i in split.train:
            n = seen[task.clips[i].label] = seen.get(task.clips[i].label, -1) + 1
            if n % 10 == 0:
                picked.append(i)
        valid = tuple(picked)
    chosen = set(valid)
    return Split(split.name, tuple(i for i in split.train if i not in chosen), split.test, valid)


def clip_logits(model: Classifier, encoder: Encoder, mels: LogMels, index, norm, batch_size: int) -> torch.Tensor:
    """Logits of whole clips: mean of the final-norm tokens over all chunks, then the head."""
    model.eval()
    view = Encoder(model.encoder, encoder.name, encoder.fingerprint, encoder.height, encoder.width)
    stored, _ = embed_clips(view, [mels.specs[i] for i in index], norm, "chunks", batch_size,
                            report=lambda m: None)
    feats = torch.from_numpy(pooled(stored, encoder.grid[0], encoder.dim, (encoder.depth,), "mean"))
    with torch.inference_mode():
        return model.head(feats)


def _accuracy(logits: torch.Tensor, y: torch.Tensor) -> float:
    return float((logits.argmax(1) == y).float().mean())


def train_one(make_encoder: Callable[[], Encoder], mels: LogMels, split: Split, frames: int, cfg: FullConfig,
              report: Callable[[str], None]) -> tuple[list[float], list[float]]:
    """Fine-tune a fresh copy of the encoder on ``split.train``; validation and test accuracy
    after every epoch (whole clips)."""
    task = mels.task
    y = torch.as_tensor(task.labels())
    n_cls = len(task.classes)
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    norm = fit_standardizer(mels.specs, split.train, "chunks", frames)
    enc = make_encoder()
    model = Classifier(enc.model.requires_grad_(True), n_cls)
    if hasattr(model.encoder, "pos_embed"):
        model.encoder.pos_embed.requires_grad_(False)
    opt = torch.optim.AdamW(param_groups(model, cfg.lr, cfg.weight_decay, cfg.layer_decay), betas=(0.9, 0.999))
    train = np.array(split.train)
    steps_per_epoch = math.ceil(len(train) / cfg.batch_size)
    schedule = Schedule(lr=cfg.lr, warmup_steps=int(cfg.warmup_epochs * steps_per_epoch),
                        total_steps=cfg.epochs * steps_per_epoch)
    vals, tests, step = [], [], 0
    for epoch in range(cfg.epochs):
        model.train()
        order = rng.permutation(train)
        for start in range(0, len(order), cfg.batch_size):
            idx = order[start:start + cfg.batch_size]
            x = torch.stack([fix_length(mels.specs[i], frames, random_crop=True, rng=rng) for i in idx])
            x = spec_augment(norm(x).unsqueeze(1), cfg.freq_mask, cfg.time_mask, gen)
            target = nn.functional.one_hot(y[idx], n_cls).float()
            if cfg.mixup > 0:
                lam = float(rng.beta(cfg.mixup, cfg.mixup))
                perm = torch.as_tensor(rng.permutation(len(idx)))
                x, target = lam * x + (1 - lam) * x[perm], lam * target + (1 - lam) * target[perm]
            for g in opt.param_groups:
                g["lr"] = lr_at(step, schedule) * g["lr_scale"]
            loss = nn.functional.cross_entropy(model(x), target)
            if not torch.isfinite(loss):
                raise UserError(f"{split.name} lr {cfg.lr:g} epoch {epoch + 1}: the training loss is "
                                f"{float(loss)} (non-finite inputs or weights, or --lr too high)")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
        vals.append(_accuracy(clip_logits(model, enc, mels, split.valid, norm, cfg.batch_size), y[list(split.valid)]))
        tests.append(_accuracy(clip_logits(model, enc, mels, split.test, norm, cfg.batch_size), y[list(split.test)]))
        report(f"{split.name} lr {cfg.lr:g} epoch {epoch + 1}/{cfg.epochs}: loss {loss.item():.3f} "
               f"valid {100 * vals[-1]:.1f} %")
    return vals, tests


def finetune_split(make_encoder: Callable[[], Encoder], mels: LogMels, split: Split, frames: int, cfg: FullConfig,
                   report: Callable[[str], None], lrs: tuple[float, ...] | None = None) -> dict:
    """Every lr of ``lrs`` (default ``cfg.lr``) on one split; the (lr, epoch) with the best
    validation accuracy (ties: the earlier) chooses the reported test accuracy."""
    split = carve_validation(mels.task, split)
    if not split.valid:
        raise UserError(f"split {split.name}: no clips left to carve a validation set from")
    t0, c0 = time.perf_counter(), time.process_time()
    best = None
    curves = {}
    for lr in lrs or (cfg.lr,):
        vals, tests = train_one(make_encoder, mels, split, frames, replace(cfg, lr=lr), report)
        curves[str(lr)] = {"valid": vals, "test": tests}
        epoch = int(np.argmax(vals))
        if best is None or vals[epoch] > best[0]:
            best = (vals[epoch], lr, epoch, tests[epoch])
    return {"split": split.name, "acc": best[3], "valid_acc": best[0], "lr": best[1], "epoch": best[2] + 1,
            "n_train": len(split.train), "n_valid": len(split.valid), "n_test": len(split.test), "curves": curves,
            "seconds": round(time.perf_counter() - t0, 1), "cpu_seconds": round(time.process_time() - c0, 1)}


def state_key(encoder: Encoder, mels: LogMels, frames: int, cfg: FullConfig, lrs, split: str) -> str:
    blob = json.dumps({"enc": encoder.fingerprint, "task": mels.task.fingerprint(), "mels": mels.digest(),
                       "frames": frames, "cfg": asdict(cfg), "lrs": list(lrs or (cfg.lr,)), "split": split, "v": 2},
                      sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


STATE_FIELDS = {"key": str, "split": str, "acc": float, "lr": float, "epoch": int, "cpu_seconds": float}


def _state_problem(rec) -> str | None:
    """Why ``rec`` is not a finished-split record (``None`` if it is one)."""
    if not isinstance(rec, dict):
        return f"a JSON {type(rec).__name__}, expected a finished-split object"
    for key, kind in STATE_FIELDS.items():
        value = rec.get(key)
        number = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        if kind is str:
            ok, want = isinstance(value, str) and bool(value), "a non-empty string"
        elif kind is int:
            ok, want = number and value == int(value) and value >= 1, "an integer >= 1"
        else:
            ok, want = number and value >= 0, "a finite number >= 0"
        if not ok:
            return f"{key} {value!r} must be {want}"
    if not rec["acc"] <= 1:
        return f"acc {rec['acc']!r} must be a fraction in [0, 1]"
    return None


def _read_state(state: Path | None, report: Callable[[str], None] = print) -> dict[str, dict]:
    """Finished splits of a progress file by key. A line that is not JSON (torn: a run killed
    while appending) is skipped with a warning, so that split is trained again; a JSON line of
    the wrong shape is a ``UserError`` naming file and line."""
    if state is None or not state.exists():
        return {}
    from finetune.outputs import check_input_file

    check_input_file(state, "--state")
    out = {}
    for n, line in enumerate(state.read_bytes().decode("utf-8", "replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            report(f"warning: {state} line {n}: torn line (a run killed while writing?) skipped; "
                   f"that split is trained again")
            continue
        problem = _state_problem(rec)
        if problem:
            raise UserError(f"{state} line {n}: {problem}; not a finetune progress file?")
        out[rec["key"]] = rec
    return out


def full_finetune(make_encoder: Callable[[], Encoder], mels: LogMels, frames: int, cfg: FullConfig,
                  max_splits: int | None = None, report: Callable[[str], None] = print,
                  lrs: tuple[float, ...] | None = None, state: Path | None = None) -> list[dict]:
    """One result per split (the first ``max_splits`` when given); splits already in ``state``
    are read back instead of trained, and each newly finished split is appended to it."""
    splits = mels.task.splits[:max_splits] if max_splits else mels.task.splits
    first = make_encoder()
    done = _read_state(state, report)
    out = []
    for s in splits:
        key = state_key(first, mels, frames, cfg, lrs, s.name)
        if key in done:
            report(f"{s.name}: finished earlier ({100 * done[key]['acc']:.1f} %), read from {state}")
            out.append(done[key])
            continue
        rec = {"key": key, **finetune_split(make_encoder, mels, s, frames, cfg, report, lrs)}
        report(f"{s.name}: test {100 * rec['acc']:.1f} % at lr {rec['lr']:g} epoch {rec['epoch']} "
               f"(valid {100 * rec['valid_acc']:.1f} %), {rec['cpu_seconds']:.0f} CPU s")
        if state is not None:  # one write; a torn last line of a killed run is ended first
            append_json_lines(state, [rec])
        out.append(rec)
    return out
