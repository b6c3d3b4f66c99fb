"""The training loop: AdamW steps with warm-up + cosine lr, accumulation, AMP, DDP, time budget.

Shaped like the MAE reference engine (one loop, a metrics record per log interval), but the
lr is a pure function of the step and the masks are drawn from a generator seeded by
``(seed, rank, step, micro-batch)``, so a resumed run repeats the killed run's steps exactly.
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np
import torch
import torch.distributed as dist

from generators.shards import ShardError

from pretrain.loadmeter import LoadMeter

MASK_TAG = 0x3A5C


class BadShardStop(RuntimeError):
    """A damaged shard ended the run after ``step`` optimizer steps (the message: one line)."""

    def __init__(self, message: str, step: int, images_seen: int):
        super().__init__(message)
        self.step, self.images_seen = step, images_seen


def shard_error_line(error: BaseException) -> str:
    """The one-line message of a ``ShardError``, also when a DataLoader worker re-raised it
    with the worker's traceback in the message."""
    text = str(error).strip()
    last = text.splitlines()[-1] if text else type(error).__name__
    marker = "ShardError: "
    return last.split(marker, 1)[1] if marker in last else last


@dataclass(frozen=True)
class Schedule:
    """lr (per optimizer step): linear warm-up from 0 over ``warmup_steps``, then cosine decay
    to ``min_lr`` at ``total_steps`` (MAE: 40 warm-up epochs of 800/1600; constant after the
    warm-up when ``total_steps`` is None, i.e. a run bounded only by ``--minutes``)."""

    lr: float
    warmup_steps: int
    total_steps: int | None
    min_lr: float = 0.0


def lr_at(step: int, schedule: Schedule) -> float:
    """The lr used for optimizer step ``step`` (0-based)."""
    if step < schedule.warmup_steps:
        return schedule.lr * (step + 1) / schedule.warmup_steps
    if schedule.total_steps is None:
        return schedule.lr
    span = max(1, schedule.total_steps - schedule.warmup_steps)
    progress = min(1.0, (step - schedule.warmup_steps) / span)
    return schedule.min_lr + (schedule.lr - schedule.min_lr) * 0.5 * (1.0 + math.cos(math.pi * progress))


def mask_noise(seed: int, rank: int, step: int, micro: int, batch: int, patches: int) -> torch.Tensor:
    """Uniform ``(batch, patches)`` noise that decides the masks of one micro-batch."""
    key = np.random.SeedSequence(seed, spawn_key=(rank, step, micro, MASK_TAG))
    generator = torch.Generator().manual_seed(int(key.generate_state(1, np.uint64)[0] >> 1))
    return torch.rand(batch, patches, generator=generator)


@dataclass(frozen=True)
class LoopConfig:
    """How long and how to train.

    total_steps: stop after this optimizer step (None: only the time budget stops).
    accum: micro-batches per optimizer step (gradient accumulation).
    seed, rank, world: mask seed and the DDP position of this process.
    amp: use bf16 autocast (CUDA only).
    log_every, save_every, recon_every: intervals in optimizer steps (0 = never).
    minutes: wall-clock budget of this invocation (None = unlimited).
    stop_after_steps: stop after this many steps of this invocation (None = unlimited).
    clip_grad: scale the gradients to at most this global L2 norm before each step (None = never).
    val_every: steps between validation scores (``Hooks.validate``; 0 = never).
    """

    total_steps: int | None
    accum: int = 1
    seed: int = 0
    rank: int = 0
    world: int = 1
    amp: bool = False
    log_every: int = 10
    save_every: int = 200
    recon_every: int = 500
    minutes: float | None = None
    stop_after_steps: int | None = None
    clip_grad: float | None = None
    val_every: int = 0


@dataclass
class Hooks:
    """What the loop reports to: a metrics record, a checkpoint request, a recon request, a
    warning (the loader does not keep up); ``stop`` is asked before every step and returns why
    to stop now (a signal's name, see ``pretrain.signals``) or ``None``; ``validate`` returns the
    validation scores after a step (``{"val_loss": ...}``; ``{}`` where none are computed)."""

    log: Callable[[dict], None]
    checkpoint: Callable[[int, int], None]
    recon: Callable[[int, torch.Tensor], None]
    progress: Callable[[int, float], None] = lambda step, loss: None
    warn: Callable[[str], None] = lambda text: None
    stop: Callable[[], str | None] = lambda: None
    validate: Callable[[int], dict] = lambda step: {}


def grad_norm(parameters, clip: float | None) -> float:
    """Global L2 norm of the gradients (before clipping); with ``clip``, the gradients are then
    scaled to a norm of at most ``clip`` (``torch.nn.utils.clip_grad_norm_``)."""
    params = [p for p in parameters if p.grad is not None]
    if clip is not None:
        return float(torch.nn.utils.clip_grad_norm_(params, clip))
    return float(torch.nn.utils.get_total_norm([p.grad for p in params]))


def _all_mean(value: float, world: int) -> float:
    if world == 1:
        return value
    tensor = torch.tensor([value], dtype=torch.float64)
    dist.all_reduce(tensor)
    return float(tensor) / world


def _any(flag: bool, world: int) -> bool:
    if world == 1:
        return flag
    tensor = torch.tensor([int(flag)])
    dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
    return bool(tensor)


def train_loop(model: torch.nn.Module, optimizer: torch.optim.Optimizer, schedule: Schedule,
               batches: Iterator[torch.Tensor], start_step: int, images_seen: int,
               config: LoopConfig, hooks: Hooks, patches: int, device: torch.device,
               meter: LoadMeter | None = None) -> tuple[int, int, str]:
    """Run optimizer steps from ``start_step``; returns ``(step, images_seen, why it stopped)``.

    ``model(images, noise)`` must return ``(loss, pred, mask)`` (a ``MaskedAutoencoder``, maybe
    wrapped in DDP). ``batches`` yields ``pretrain.data.Item`` batches or bare image tensors.
    ``images_seen`` counts images over all ranks. ``meter`` (updated in place) counts images
    per source and the time spent waiting for data; its fields join every log record.
    """
    meter = meter if meter is not None else LoadMeter(1, world=config.world)
    began = time.monotonic()
    step, window_loss, window_steps, window_images = start_step, 0.0, 0, 0
    window_norms: list[float] = []
    window_start = time.monotonic()
    autocast = (torch.autocast(device_type="cuda", dtype=torch.bfloat16) if config.amp
                else contextlib.nullcontext())
    model.train()
    while True:
        if config.total_steps is not None and step >= config.total_steps:
            reason = "steps"
            break
        over_time = config.minutes is not None and time.monotonic() - began >= config.minutes * 60
        requested = hooks.stop()
        if _any(over_time or requested is not None, config.world):  # one collective for both
            reason = requested or ("minutes" if over_time else "signal on another rank")
            break
        if config.stop_after_steps is not None and step - start_step >= config.stop_after_steps:
            reason = "stop-after-steps"
            break
        lr = lr_at(step, schedule)
        for group in optimizer.param_groups:
            group["lr"] = lr
        step_loss, step_images = 0.0, 0
        for micro in range(config.accum):
            waiting = time.perf_counter()
            try:
                batch = next(batches)
            except ShardError as error:
                raise BadShardStop(shard_error_line(error), step, images_seen) from None
            images = meter.add(batch, time.perf_counter() - waiting).to(device, non_blocking=True)
            noise = mask_noise(config.seed, config.rank, step, micro, images.shape[0], patches)
            last = micro == config.accum - 1
            sync = model.no_sync() if (config.world > 1 and not last) else contextlib.nullcontext()
            with sync:
                with autocast:
                    loss, _, _ = model(images, noise.to(device))
                (loss / config.accum).backward()
            step_loss += float(loss.detach()) / config.accum
            step_images += images.shape[0]
            if micro == 0 and config.recon_every and config.rank == 0 and step % config.recon_every == 0:
                hooks.recon(step, images[:4].detach())
        if not math.isfinite(step_loss):
            raise FloatingPointError(f"loss is {step_loss} at step {step}; lower --lr or check the data")
        norm = grad_norm(model.parameters(), config.clip_grad)
        if not math.isfinite(norm):
            raise FloatingPointError(f"gradient norm is {norm} at step {step}; lower --lr or check the data")
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        step += 1
        images_seen += step_images * config.world
        window_loss += step_loss
        window_steps += 1
        window_images += step_images * config.world
        window_norms.append(norm)
        hooks.progress(step, step_loss)
        scores = hooks.validate(step) if config.val_every and step % config.val_every == 0 else {}
        if config.log_every and step % config.log_every == 0:
            now = time.monotonic()
            record = {"step": step, "loss": _all_mean(window_loss / window_steps, config.world),
                      "lr": lr, "grad_norm": sum(window_norms) / len(window_norms),
                      "grad_norm_max": max(window_norms),
                      "images_per_s": window_images / max(now - window_start, 1e-9),
                      "images_seen": images_seen, "minutes": (now - began) / 60, **scores}
            record.update(meter.window(now - window_start))
            warning = meter.warning(record)
            if warning:
                hooks.warn(warning)
            hooks.log(record)
            window_loss, window_steps, window_images, window_start = 0.0, 0, 0, now
            window_norms = []
        elif scores:
            hooks.log({"step": step, "lr": lr, **scores})
        if config.save_every and step % config.save_every == 0:
            hooks.checkpoint(step, images_seen)
    return step, images_seen, reason
