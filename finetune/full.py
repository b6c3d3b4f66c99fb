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
- training crops are random, evaluation crops centred; the fixed sin-cos position embedding
  stays frozen.
With a validation set the test accuracy of the epoch with the best validation accuracy is
reported, otherwise that of the last epoch.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from torch import nn

from finetune.encoder import Encoder
from finetune.features import LogMels
from pretrain.frontend import Standardizer, fix_length
from finetune.task import UserError


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


def lr_at(step: int, total: int, warmup: int, lr: float) -> float:
    """Linear warm-up to ``lr`` then cosine decay to 0 (a pure function of the step)."""
    if step < warmup:
        return lr * (step + 1) / warmup
    return lr * 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))


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


def _accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int) -> float:
    model.eval()
    with torch.inference_mode():
        pred = torch.cat([model(x[i:i + batch_size]).argmax(1) for i in range(0, len(x), batch_size)])
    return float((pred == y).float().mean())


def finetune_split(make_encoder: Callable[[], Encoder], mels: LogMels, split, frames: int, cfg: FullConfig,
                   report: Callable[[str], None]) -> float:
    """Fine-tune a fresh copy of the encoder on one split; test accuracy."""
    task = mels.task
    y = torch.as_tensor(task.labels())
    n_cls = len(task.classes)
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    fixed = torch.stack([fix_length(s, frames) for s in mels.specs])
    norm = Standardizer.fit(fixed[list(split.train)])
    enc = make_encoder()
    model = Classifier(enc.model.requires_grad_(True), n_cls)
    if hasattr(model.encoder, "pos_embed"):
        model.encoder.pos_embed.requires_grad_(False)
    opt = torch.optim.AdamW(param_groups(model, cfg.lr, cfg.weight_decay, cfg.layer_decay), betas=(0.9, 0.999))
    train = np.array(split.train)
    steps_per_epoch = math.ceil(len(train) / cfg.batch_size)
    total, warmup = cfg.epochs * steps_per_epoch, int(cfg.warmup_epochs * steps_per_epoch)
    x_test = norm(fixed[list(split.test)]).unsqueeze(1)
    x_val = norm(fixed[list(split.valid)]).unsqueeze(1) if split.valid else None
    best_val, test_at_best, step = -1.0, 0.0, 0
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
                g["lr"] = lr_at(step, total, warmup, cfg.lr) * g["lr_scale"]
            loss = nn.functional.cross_entropy(model(x), target)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
        if x_val is not None:
            val = _accuracy(model, x_val, y[list(split.valid)], cfg.batch_size)
            if val > best_val:
                best_val, test_at_best = val, _accuracy(model, x_test, y[list(split.test)], cfg.batch_size)
            report(f"{split.name} epoch {epoch + 1}: loss {loss.item():.3f} valid {val:.3f}")
        else:
            report(f"{split.name} epoch {epoch + 1}: loss {loss.item():.3f}")
    return test_at_best if x_val is not None else _accuracy(model, x_test, y[list(split.test)], cfg.batch_size)


def full_finetune(make_encoder: Callable[[], Encoder], mels: LogMels, frames: int, cfg: FullConfig,
                  max_splits: int | None = None, report: Callable[[str], None] = print) -> list[float]:
    """Test accuracy per split (the first ``max_splits`` splits when given)."""
    splits = mels.task.splits[:max_splits] if max_splits else mels.task.splits
    return [finetune_split(make_encoder, mels, s, frames, cfg, report) for s in splits]
