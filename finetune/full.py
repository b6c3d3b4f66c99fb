"""Full fine-tuning: encoder + linear head, trained end to end for a budget of optimizer steps,
selected on validation and tested once.

Recipe (each default and its source in docs/finetune.md, "Recipe"; AudioMAE, Huang et al. 2022,
its ESC-50 fine-tuning config; MAE fine-tuning, He et al. 2022, Table 9):
- model ``finetune.classifier.Classifier``: the final-norm patch tokens of each frequency row
  averaged over time (``head_pooling`` freq; ``mean``: all tokens, AudioMAE's head) ->
  BatchNorm without affine parameters (``head_norm`` batch) -> Linear; stochastic depth
  ``drop_path`` (0.1); the fixed sin-cos position embedding stays frozen;
- AdamW (betas 0.9/0.999, weight decay 0.05, none on biases, norms and tokens) with layer-wise
  lr decay 0.75; linear warm-up over ``warmup`` (10 %) of the steps, then cosine to 0
  (``pretrain.engine.Schedule``, the schedule pre-training uses);
- per step a batch of ``batch_size`` training clips, each seen through a crop of the encoder's
  width at a random offset (``time_shift``; a shorter clip is placed at a random offset), the
  batch no wider than its longest clip (``finetune.augment.batch_width``); SpecAugment masks
  scaled to the input; optional mixup; label smoothing 0.1;
- the budget is ``steps`` optimizer steps, the same for every task and encoder, so every clip
  is seen many times whatever the task's size and a fine-tune costs the same across tasks.

Selection never looks at the test split: the validation split (the task's, or carved from the
training clips by ``carve_validation``) is evaluated every ``eval_every`` steps and at the last
step; each lr of the grid keeps its best state; the (lr, step) with the best validation accuracy
(ties: the earlier) is chosen and only then is the test split evaluated: once at the chosen state,
and once at the last step of the chosen lr (for the curves; never used to choose). Evaluation
sees whole clips: every clip in consecutive chunks of the encoder's width, the last one only as
wide as the clip (``Classifier`` attends to real columns only), the clip's tokens pooled over
all its chunks into the head.

Resumable: each finished split is appended to a progress file (``state``), keyed by the
encoder, task, the content of its log-mels (``LogMels.digest``), settings and split; a rerun
reports the finished splits from it and trains only the others.
"""
from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch
from torch import nn

from finetune.augment import batch_width, mixup, soft_targets, spec_augment, train_view
from finetune.chunks import fit_standardizer, split_chunks
from finetune.classifier import Classifier, param_groups
from finetune.encoder import Encoder
from finetune.features import LogMels
from finetune.recipe import BEFORE_OPTIONS, DEFAULT_BATCH, DEFAULT_STEPS, HEAD_NORMS, HEAD_POOLINGS, RECIPE
from finetune.task import Split, Task, UserError
from generators.atomic import append_json_lines
from pretrain.engine import Schedule, lr_at
from pretrain.frontend import Standardizer

__all__ = ["Classifier", "FullConfig", "batch_order", "build_model", "carve_validation", "full_finetune",
           "param_groups", "spec_augment", "train_batch", "train_step"]

@dataclass(frozen=True)
class FullConfig:
    """steps: optimizer steps per fine-tune; batch_size: clips per step; lr: peak lr of the head
    (AudioMAE's ESC-50 recipe: blr 1e-3 x batch/256 ~ 5e-4 at batch 128); weight_decay: AdamW
    decay; layer_decay: per-block lr factor; warmup: fraction of the steps of linear warm-up
    (AudioMAE: 5 of 50 epochs); drop_path: stochastic depth of the last block; label_smoothing;
    freq_mask, time_mask: SpecAugment maximum widths in bins / frames (AudioMAE: 48 of 128 bins,
    192 of 1024 frames; ``finetune.recipe.default_masks`` scales them); mixup: Beta parameter
    (0 = off); time_shift: random crop offsets (else from the start); head_pooling, head_norm:
    the head's input (``finetune.classifier``); eval_every: steps between
    validation evaluations (0: a tenth of ``steps``); seed: head init, drop-path, crops, masks,
    batch order."""

    steps: int = DEFAULT_STEPS
    batch_size: int = DEFAULT_BATCH
    lr: float = RECIPE["lr"]
    weight_decay: float = RECIPE["weight_decay"]
    layer_decay: float = RECIPE["layer_decay"]
    warmup: float = RECIPE["warmup"]
    drop_path: float = RECIPE["drop_path"]
    label_smoothing: float = RECIPE["label_smoothing"]
    freq_mask: int = 48
    time_mask: int = 24
    mixup: float = RECIPE["mixup"]
    time_shift: bool = RECIPE["time_shift"]
    head_pooling: str = RECIPE["head_pooling"]
    head_norm: str = RECIPE["head_norm"]
    eval_every: int = 0
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size"):
            if getattr(self, name) < 1:
                raise UserError(f"{name}={getattr(self, name)} must be >= 1")
        for name, allowed in (("head_pooling", HEAD_POOLINGS), ("head_norm", HEAD_NORMS)):
            if getattr(self, name) not in allowed:
                raise UserError(f"{name}={getattr(self, name)!r} must be one of {', '.join(allowed)}")
        if self.head_norm == "batch" and self.batch_size < 2:
            raise UserError(f"head_norm='batch' needs batch_size >= 2, not {self.batch_size}")
        checks = {"layer_decay": 0 < self.layer_decay <= 1, "lr": self.lr > 0, "weight_decay": self.weight_decay >= 0,
                  "warmup": 0 <= self.warmup < 1, "drop_path": 0 <= self.drop_path < 1,
                  "label_smoothing": 0 <= self.label_smoothing < 1, "mixup": self.mixup >= 0,
                  "freq_mask": self.freq_mask >= 0, "time_mask": self.time_mask >= 0,
                  "eval_every": 0 <= self.eval_every}
        want = {"layer_decay": "in (0, 1]", "lr": "> 0", "weight_decay": ">= 0", "warmup": "in [0, 1)",
                "drop_path": "in [0, 1)", "label_smoothing": "in [0, 1)", "mixup": ">= 0", "freq_mask": ">= 0",
                "time_mask": ">= 0", "eval_every": ">= 0 (0: a tenth of steps)"}
        for name, ok in checks.items():
            if not (ok and math.isfinite(float(getattr(self, name)))):
                raise UserError(f"{name}={getattr(self, name)} must be {want[name]}")

    @property
    def eval_interval(self) -> int:
        return self.eval_every or max(1, self.steps // 10)


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




@torch.inference_mode()
def clip_logits(model: Classifier, specs: list[torch.Tensor], index, norm, frames: int,
                batch_size: int) -> torch.Tensor:
    """Logits of whole clips: every clip in consecutive chunks of ``frames``, each chunk only as
    wide as the patch columns it fills, the clip's tokens pooled over all its chunks into the head
    (``Classifier.pool_sums``)."""
    was_training = model.training
    model.eval()
    patch = model.encoder.patch_embed.patch_size[1]
    pieces: dict[int, list[tuple[int, torch.Tensor]]] = {}
    for j, i in enumerate(index):
        chunks, cols = split_chunks(specs[i], frames, patch)
        for chunk, n in zip(chunks, cols.tolist()):
            if n:
                pieces.setdefault(n * patch, []).append((j, chunk[:, :n * patch]))
    sums = torch.zeros(len(index), model.head.in_features, dtype=torch.float64)
    counts = torch.zeros(len(index), dtype=torch.float64)
    for width in sorted(pieces):
        items = pieces[width]
        for s in range(0, len(items), batch_size):
            part = items[s:s + batch_size]
            tokens = model.tokens(norm(torch.stack([c for _, c in part])).unsqueeze(1))  # (B, N, D)
            owner = torch.tensor([j for j, _ in part])
            chunk_sums, count = model.pool_sums(tokens)
            sums.index_add_(0, owner, chunk_sums.double())
            counts.index_add_(0, owner, torch.full((len(part),), float(count), dtype=torch.float64))
    logits = model.classify((sums / counts[:, None]).float())
    model.train(was_training)
    return logits


def _accuracy(logits: torch.Tensor, y: torch.Tensor) -> float:
    return float((logits.argmax(1) == y).float().mean())


@dataclass
class Run:
    """One lr of one split: the validation curve, the best and the last state."""

    lr: float
    curve: list[dict]
    best_valid: float
    best_step: int
    best_state: dict
    last_state: dict
    train_cpu_s: float
    eval_cpu_s: float


def _snapshot(model: nn.Module) -> dict:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def build_model(encoder: Encoder, n_classes: int, cfg: FullConfig) -> tuple[Classifier, torch.optim.Optimizer]:
    """The fine-tuned model around ``encoder`` (trainable, drop-path ``cfg.drop_path``, the
    position embedding frozen) and its AdamW with layer-wise lr decay groups. The head's init
    draws from torch's global generator."""
    model = Classifier(encoder.model.requires_grad_(True), n_classes, cfg.drop_path, cfg.head_pooling, cfg.head_norm)
    if getattr(model.encoder, "pos_embed", None) is not None:
        model.encoder.pos_embed.requires_grad_(False)
    opt = torch.optim.AdamW(param_groups(model, cfg.lr, cfg.weight_decay, cfg.layer_decay), betas=(0.9, 0.999))
    return model, opt


def batch_order(train: np.ndarray, batch_size: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """Training-clip indices, ``batch_size`` per step, endlessly: passes over ``train`` in
    random order, the leftover clips of a pass first in the next one."""
    order, pos = rng.permutation(train), 0
    while True:
        if pos + batch_size > len(order):
            order, pos = np.concatenate([order[pos:], rng.permutation(train)]), 0
        yield order[pos:pos + batch_size]
        pos += batch_size


def train_batch(specs: list[torch.Tensor], labels: torch.Tensor, idx: np.ndarray, frames: int, patch_w: int,
                n_classes: int, norm, cfg: FullConfig, rng: np.random.Generator,
                gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs ``(B, 1, n_mels, width)`` and soft targets of the training clips ``idx``: crops of
    the batch's width (``time_shift``), standardised, SpecAugment, label smoothing, mixup."""
    width = batch_width([specs[i].shape[-1] for i in idx], frames, patch_w)
    x = torch.stack([train_view(specs[i], width, cfg.time_shift, rng) for i in idx])
    x = spec_augment(norm(x).unsqueeze(1), cfg.freq_mask, cfg.time_mask, gen)
    return mixup(x, soft_targets(labels[idx], n_classes, cfg.label_smoothing), cfg.mixup, rng)


def train_step(model: Classifier, opt: torch.optim.Optimizer, specs: list[torch.Tensor], labels: torch.Tensor,
               idx: np.ndarray, frames: int, norm, cfg: FullConfig, lr: float, rng: np.random.Generator,
               gen: torch.Generator) -> float:
    """One optimizer step on the training clips ``idx`` (``train_batch``) with the head's lr
    ``lr`` (each group gets ``lr * lr_scale``): forward, backward, AdamW. Returns the loss; a
    non-finite loss is returned before anything is updated. ``train_one`` runs it once per
    step, and ``tools/bench/finetune.py`` times it."""
    x, target = train_batch(specs, labels, idx, frames, model.encoder.patch_embed.patch_size[1],
                            model.head.out_features, norm, cfg, rng, gen)
    for g in opt.param_groups:
        g["lr"] = lr * g["lr_scale"]
    loss = nn.functional.cross_entropy(model(x), target)
    value = float(loss.detach())
    if not math.isfinite(value):
        return value
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return value


def train_one(make_encoder: Callable[[], Encoder], mels: LogMels, split: Split, frames: int, cfg: FullConfig,
              norm: Standardizer, report: Callable[[str], None]) -> Run:
    """Fine-tune a fresh copy of the encoder on ``split.train`` for ``cfg.steps`` steps
    (``train_step``; inputs standardised by ``norm``, fit on ``split.train``); the validation
    split is evaluated every ``cfg.eval_interval`` steps and at the last one."""
    task = mels.task
    y = torch.as_tensor(task.labels())
    torch.manual_seed(cfg.seed)  # head init and drop-path draws
    rng = np.random.default_rng(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    model, opt = build_model(make_encoder(), len(task.classes), cfg)
    schedule = Schedule(lr=cfg.lr, warmup_steps=int(cfg.warmup * cfg.steps), total_steps=cfg.steps)
    valid_y = y[list(split.valid)]
    batches = batch_order(np.array(split.train), cfg.batch_size, rng)
    curve: list[dict] = []
    best = (-1.0, 0, {})
    losses: list[float] = []
    train_cpu = eval_cpu = 0.0
    model.train()
    for step in range(cfg.steps):
        c0 = time.process_time()
        loss = train_step(model, opt, mels.specs, y, next(batches), frames, norm, cfg, lr_at(step, schedule), rng, gen)
        if not math.isfinite(loss):
            raise UserError(f"{split.name} lr {cfg.lr:g} step {step + 1}: the training loss is "
                            f"{loss} (non-finite inputs or weights, or --lr too high)")
        losses.append(loss)
        train_cpu += time.process_time() - c0
        if (step + 1) % cfg.eval_interval == 0 or step + 1 == cfg.steps:
            c0 = time.process_time()
            acc = _accuracy(clip_logits(model, mels.specs, split.valid, norm, frames, cfg.batch_size), valid_y)
            eval_cpu += time.process_time() - c0
            curve.append({"step": step + 1, "valid": acc, "loss": float(np.mean(losses))})
            losses = []
            if acc > best[0]:
                best = (acc, step + 1, _snapshot(model))
            report(f"{split.name} lr {cfg.lr:g} step {step + 1}/{cfg.steps}: loss {curve[-1]['loss']:.3f} "
                   f"valid {100 * acc:.1f} %")
    return Run(cfg.lr, curve, best[0], best[1], best[2], _snapshot(model), train_cpu, eval_cpu)


def finetune_split(make_encoder: Callable[[], Encoder], mels: LogMels, split: Split, frames: int, cfg: FullConfig,
                   report: Callable[[str], None], lrs: tuple[float, ...] | None = None) -> dict:
    """Every lr of ``lrs`` (default ``cfg.lr``) on one split; the (lr, step) with the best
    validation accuracy (ties: the earlier) is chosen, then the test split is evaluated once
    there (``acc``) and once at the last step of that lr (``last_acc``, for the curves only)."""
    split = carve_validation(mels.task, split)
    if not split.valid:
        raise UserError(f"split {split.name}: no clips left to carve a validation set from")
    t0, c0 = time.perf_counter(), time.process_time()
    chosen: Run | None = None
    curves, train_cpu, eval_cpu = {}, 0.0, 0.0
    norm = fit_standardizer(mels.specs, split.train, "chunks", frames)  # one for every lr and the test
    for lr in lrs or (cfg.lr,):
        run = train_one(make_encoder, mels, split, frames, replace(cfg, lr=lr), norm, report)
        curves[f"{lr:g}"] = run.curve
        train_cpu, eval_cpu = train_cpu + run.train_cpu_s, eval_cpu + run.eval_cpu_s
        if chosen is None or run.best_valid > chosen.best_valid:
            chosen = run
    c1 = time.process_time()
    model = Classifier(make_encoder().model, len(mels.task.classes), pooling=cfg.head_pooling, head_norm=cfg.head_norm)
    test_y = torch.as_tensor(mels.task.labels())[list(split.test)]
    accs = []
    for state in (chosen.best_state, chosen.last_state):
        model.load_state_dict(state)
        accs.append(_accuracy(clip_logits(model, mels.specs, split.test, norm, frames, cfg.batch_size), test_y))
    eval_cpu += time.process_time() - c1
    return {"split": split.name, "acc": accs[0], "last_acc": accs[1], "valid_acc": chosen.best_valid,
            "lr": chosen.lr, "step": chosen.best_step, "n_train": len(split.train), "n_valid": len(split.valid),
            "n_test": len(split.test), "curves": curves, "seconds": round(time.perf_counter() - t0, 1),
            "cpu_seconds": round(time.process_time() - c0, 1), "train_cpu_s": round(train_cpu, 3),
            "eval_cpu_s": round(eval_cpu, 3)}


def state_key(encoder: Encoder, mels: LogMels, frames: int, cfg: FullConfig, lrs, split: str) -> str:
    """The progress file's key of one split. Options at the value every run had before they
    existed (``BEFORE_OPTIONS``) are left out, so earlier progress files still resume."""
    settings = {k: v for k, v in asdict(cfg).items() if not (k in BEFORE_OPTIONS and v == BEFORE_OPTIONS[k])}
    blob = json.dumps({"enc": encoder.fingerprint, "task": mels.task.fingerprint(), "mels": mels.digest(),
                       "frames": frames, "cfg": settings, "lrs": list(lrs or (cfg.lr,)), "split": split, "v": 3},
                      sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


STATE_FIELDS = {"key": str, "split": str, "acc": float, "lr": float, "step": int, "cpu_seconds": float}


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
        report(f"{s.name}: test {100 * rec['acc']:.1f} % at lr {rec['lr']:g} step {rec['step']} "
               f"(valid {100 * rec['valid_acc']:.1f} %), {rec['cpu_seconds']:.0f} CPU s")
        if state is not None:  # one write; a torn last line of a killed run is ended first
            append_json_lines(state, [rec])
        out.append(rec)
    return out
