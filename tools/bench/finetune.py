"""Benchmark of full fine-tuning on this machine: the training step against a bare step measured
in the same run, and the evaluation's share of a fine-tune's CPU time.

(a) images/s of
  bare   forward + backward + AdamW of the same timm encoder with a linear head on the mean of
         its patch tokens, on one in-memory batch of full-width inputs (``--n-mels`` x
         ``--frames``): no data path, one parameter group, no drop-path;
  step   ``finetune.full.train_step``, the step ``train_one`` runs: a crop of every clip at a
         random offset, standardisation, SpecAugment, label smoothing, mixup (off by default,
         as in ``finetune full``), layer-wise lr decay groups, AdamW, drop-path, the forward of
         ``Classifier`` through ``narrow_features``; its clips are 1-2 times ``--frames`` long,
         so every batch is full width, like the bare one;
  alternated ``--repeats`` times (each with a fresh model, ``--warmup`` untimed steps first);
  ``step_over_bare`` per repetition and their median, on wall time and on CPU time (target
  >= 0.9; on a machine shared with other jobs the CPU-time ratio is the steadier one: waiting
  for a core is not counted); and the CPU time of the step's data path alone
  (``finetune.full.train_batch``: crops, standardisation, SpecAugment, targets, mixup) over
  5 x ``--steps`` batches, and its share of the step.

(b) the evaluation's share of a fine-tune's CPU time, for task shapes like FSDD (1,800 / 600 /
  600 training / validation / test clips, log-normal lengths of median 0.42 s, sigma 0.33, in
  0.14-2.3 s: batches of 32 are then 92 frames wide on average, as FSDD's are) and the
  instruments task (180 / 60 / 60 clips, median 4.1 s, sigma 0.65, in 1.0-26.3 s). It is
  computed, not run: CPU seconds per training step are measured with ``train_step`` over
  ``--shape-steps`` batches of the shape's training clips (their widths as a fine-tune draws
  them: FSDD batches are narrower than ``--frames``, and vary), CPU seconds per clip with
  ``clip_logits`` on the shape's whole validation split; a fine-tune of ``--budget`` steps
  (default: the task's own, ``finetune.loaders.TASKS``: 2,400 on FSDD, 1,200 on instruments)
  evaluates the validation split at every ``--eval-every`` steps and at the last one, and the
  test split twice (the chosen state and the last step), so

      train = budget x s/step,  eval = (validation points x n_valid + 2 x n_test) x s/clip,
      share = eval / (train + eval),  one fold = train + eval (one lr; set-up not counted).

Prints one JSON line (stdout) and a summary (stderr), with the load average before and after:
rates measured while other jobs run are not this machine's speed.

Example:
    python -m tools.bench.finetune --preset cpu-tiny --threads 1
"""
from __future__ import annotations

import json
import math
import os
import statistics
import sys
import time
from dataclasses import dataclass

# run as a script, this file's folder comes first on sys.path and its name would shadow the
# ``finetune`` package: drop that entry before importing it
if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
    sys.path.pop(0)

import click  # noqa: E402

from finetune.recipe import DEFAULT_BATCH, DEFAULT_STEPS, FSDD_STEPS, default_masks  # noqa: E402
from finetune.task import UserError  # noqa: E402
from generators.bounds import BATCH, BENCH_VALUES, INPUT_SIDE  # noqa: E402

#: Classes of the synthetic tasks (FSDD and the instruments task have 10).
N_CLASSES = 10
#: Most torch threads ``--threads`` accepts.
THREADS_MAX = 256


@dataclass(frozen=True)
class TaskShape:
    """Clip counts of one split of a task and the log-normal distribution of its lengths."""

    name: str
    n_train: int
    n_valid: int
    n_test: int
    median_s: float
    sigma: float
    min_s: float
    max_s: float

    def lengths(self, n: int, seed: int) -> list[float]:
        """``n`` clip lengths in seconds: the distribution's quantiles at (i + 1/2) / n, clipped
        to [min_s, max_s], in a seeded random order."""
        import numpy as np

        z = [statistics.NormalDist().inv_cdf((i + 0.5) / n) for i in range(n)]
        seconds = [min(self.max_s, max(self.min_s, self.median_s * math.exp(self.sigma * v))) for v in z]
        return [seconds[i] for i in np.random.default_rng(seed).permutation(n)]


SHAPES = {
    "fsdd": TaskShape("fsdd", 1800, 600, 600, 0.42, 0.33, 0.14, 2.3),
    "instruments": TaskShape("instruments", 180, 60, 60, 4.1, 0.65, 1.0, 26.3),
}


def load_average() -> list[float] | None:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


def bare_step_rate(make_encoder, batch: int, n_mels: int, frames: int, steps: int, warmup: int) -> tuple[float, float]:
    """(images per wall second, images per CPU second) of forward + backward + AdamW of the bare
    timm encoder with a linear head on one fixed full-width batch."""
    import torch
    from torch import nn

    torch.manual_seed(0)
    vit = make_encoder().model.requires_grad_(True).train()
    head = nn.Linear(vit.embed_dim, N_CLASSES)
    opt = torch.optim.AdamW([*vit.parameters(), *head.parameters()], lr=5e-4, weight_decay=0.05)
    x = torch.randn(batch, 1, n_mels, frames)
    y = torch.randint(0, N_CLASSES, (batch,))
    t0 = c0 = 0.0
    for step in range(warmup + steps):
        if step == warmup:
            t0, c0 = time.perf_counter(), time.process_time()
        loss = nn.functional.cross_entropy(head(vit.forward_features(x)[:, vit.num_prefix_tokens:].mean(1)), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return batch * steps / (time.perf_counter() - t0), batch * steps / (time.process_time() - c0)


def random_specs(frames_per_clip: list[int], n_mels: int, seed: int):
    """Random log-mels of the given lengths (content does not change the cost) and labels."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    specs = [torch.randn(n_mels, t, generator=gen) for t in frames_per_clip]
    return specs, torch.randint(0, N_CLASSES, (len(specs),), generator=gen)


class Trainer:
    """A fine-tune's model, optimizer and batch draws, set up as ``train_one`` sets them up, on
    the clips ``specs[:n_train]``; ``run`` times ``train_step``."""

    def __init__(self, make_encoder, specs, labels, n_train: int, frames: int, cfg):
        import numpy as np
        import torch

        from finetune.chunks import fit_standardizer
        from finetune.full import batch_order, build_model
        from pretrain.engine import Schedule

        torch.manual_seed(cfg.seed)
        self.rng = np.random.default_rng(cfg.seed)
        self.gen = torch.Generator().manual_seed(cfg.seed)
        train = np.arange(n_train)
        self.norm = fit_standardizer(specs, train, "chunks", frames)
        self.model, self.opt = build_model(make_encoder(), N_CLASSES, cfg)
        self.schedule = Schedule(lr=cfg.lr, warmup_steps=int(cfg.warmup * cfg.steps), total_steps=cfg.steps)
        self.batches = batch_order(train, cfg.batch_size, self.rng)
        self.specs, self.labels, self.frames, self.cfg, self.step = specs, labels, frames, cfg, 0
        self.model.train()

    def run(self, steps: int, warmup: int) -> tuple[float, float, float]:
        """(wall s per step, CPU s per step, mean input width) of ``steps`` steps after ``warmup``."""
        from finetune.augment import batch_width
        from finetune.full import train_step
        from pretrain.engine import lr_at

        patch = self.model.encoder.patch_embed.patch_size[1]
        t0 = c0 = 0.0
        widths = []
        for k in range(warmup + steps):
            if k == warmup:
                t0, c0 = time.perf_counter(), time.process_time()
            idx = next(self.batches)
            if k >= warmup:
                widths.append(batch_width([self.specs[i].shape[-1] for i in idx], self.frames, patch))
            loss = train_step(self.model, self.opt, self.specs, self.labels, idx, self.frames, self.norm, self.cfg,
                              lr_at(self.step, self.schedule), self.rng, self.gen)
            self.step += 1
            if not math.isfinite(loss):
                raise UserError(f"the training loss is {loss} at step {self.step}")
        return ((time.perf_counter() - t0) / steps, (time.process_time() - c0) / steps,
                sum(widths) / len(widths))

    def data_path(self, steps: int) -> float:
        """CPU s per step of ``train_batch`` alone (the step's data path), over ``steps`` batches."""
        from finetune.full import train_batch

        patch, n_classes = self.model.encoder.patch_embed.patch_size[1], self.model.head.out_features
        c0 = time.process_time()
        for _ in range(steps):
            train_batch(self.specs, self.labels, next(self.batches), self.frames, patch, n_classes, self.norm,
                        self.cfg, self.rng, self.gen)
        return (time.process_time() - c0) / steps


def shape_cost(shape: TaskShape, make_encoder, n_mels: int, frames: int, cfg, steps: int,
               warmup: int, folds: int) -> dict:
    """Measured CPU s per training step and per evaluated clip of ``shape``, and the CPU time of
    a fine-tune of ``cfg.steps`` steps computed from them."""
    from finetune.chunks import seconds_to_frames
    from finetune.full import clip_logits
    from pretrain.frontend import FrontendConfig

    frontend = FrontendConfig(n_mels=n_mels)
    lengths = shape.lengths(shape.n_train, 1) + shape.lengths(shape.n_valid, 2)
    specs, labels = random_specs([seconds_to_frames(s, frontend) for s in lengths], n_mels, 0)
    trainer = Trainer(make_encoder, specs, labels, shape.n_train, frames, cfg)
    wall_step, cpu_step, width = trainer.run(steps, warmup)
    valid = list(range(shape.n_train, len(specs)))
    model, patch = trainer.model, trainer.model.encoder.patch_embed.patch_size[1]
    clip_logits(model, specs, valid[:2], trainer.norm, frames, cfg.batch_size)  # warm-up
    c0 = time.process_time()
    clip_logits(model, specs, valid, trainer.norm, frames, cfg.batch_size)
    cpu_clip = (time.process_time() - c0) / len(valid)
    chunks = sum(max(1, -(-specs[i].shape[-1] // frames)) for i in valid)
    budget, interval = cfg.steps, cfg.eval_interval
    points = budget // interval + (1 if budget % interval else 0)
    eval_clips = points * shape.n_valid + 2 * shape.n_test
    train_cpu, eval_cpu = budget * cpu_step, eval_clips * cpu_clip
    return {"clips": [shape.n_train, shape.n_valid, shape.n_test], "median_s": shape.median_s,
            "budget_steps": budget, "eval_every": interval,
            "mean_train_width": round(width, 1), "train_images_per_s": round(cfg.batch_size / wall_step, 1),
            "train_cpu_s_per_step": float(f"{cpu_step:.4g}"), "eval_cpu_s_per_clip": float(f"{cpu_clip:.4g}"),
            "eval_chunks_per_clip": round(chunks / len(valid), 2), "valid_points": points,
            "eval_clips": eval_clips, "train_cpu_s": round(train_cpu, 3), "eval_cpu_s": round(eval_cpu, 3),
            "eval_share": round(eval_cpu / (train_cpu + eval_cpu), 4),
            "fold_cpu_s": round(train_cpu + eval_cpu, 3),
            "folds_cpu_h": round(folds * (train_cpu + eval_cpu) / 3600, 3)}


def check_sizes(n_mels: int, frames: int, batch_size: int) -> None:
    """The batch's values bounded and the front end's mel bins valid, before anything is built."""
    from pretrain.frontend import FrontendConfig

    try:
        BENCH_VALUES.check(batch_size * n_mels * frames,
                           f"--batch-size {batch_size} clips of --n-mels {n_mels} x --frames {frames}",
                           "lower --batch-size")
        FrontendConfig(n_mels=n_mels)
    except ValueError as exc:
        raise UserError(str(exc)) from None


def run_bench(preset: str, n_mels: int, frames: int, batch_size: int, steps: int, warmup: int, repeats: int,
              threads: int, budget: int | None, eval_every: int, folds: int, shapes: tuple[str, ...],
              shape_steps: int) -> dict:
    """The step against the bare step, and per task shape the evaluation's share of a fine-tune of
    ``budget`` steps (None: the task's own default, ``finetune.loaders.TASKS``)."""
    from dataclasses import replace

    import torch

    from finetune.encoder import random_encoder
    from finetune.full import FullConfig
    from finetune.loaders import TASKS

    torch.set_num_threads(threads)
    load_before = load_average()
    make_encoder = lambda: random_encoder(preset, n_mels, frames)  # noqa: E731
    make_encoder()  # a bad preset or size fails here, before any timing
    freq_mask, time_mask = default_masks(n_mels, frames)
    cfg = FullConfig(batch_size=batch_size, freq_mask=freq_mask, time_mask=time_mask, eval_every=eval_every)
    long_specs, long_labels = random_specs([frames + (i * 7919) % (frames + 1) for i in range(4 * batch_size)],
                                           n_mels, 0)
    bare, bare_cpu, step, step_cpu = [], [], [], []
    # alternate the two and keep every repetition: a burst of other work lands on both sides
    for _ in range(repeats):
        wall, cpu = bare_step_rate(make_encoder, batch_size, n_mels, frames, steps, warmup)
        bare.append(wall)
        bare_cpu.append(cpu)
        trainer = Trainer(make_encoder, long_specs, long_labels, len(long_specs), frames, cfg)
        wall_step, cpu_step, _ = trainer.run(steps, warmup)
        step.append(batch_size / wall_step)
        step_cpu.append(batch_size / cpu_step)
    data_cpu = trainer.data_path(5 * steps)
    ratios = [s / b for s, b in zip(step, bare)]
    ratios_cpu = [s / b for s, b in zip(step_cpu, bare_cpu)]
    result = {"preset": preset, "input": [n_mels, frames], "batch_size": batch_size, "threads": threads,
              "steps": steps, "warmup": warmup, "repeats": repeats,
              "bare_images_per_s": [round(v, 2) for v in bare], "step_images_per_s": [round(v, 2) for v in step],
              "step_over_bare": [round(v, 3) for v in ratios],
              "step_over_bare_cpu": [round(v, 3) for v in ratios_cpu],
              "step_over_bare_median": round(statistics.median(ratios), 3),
              "step_over_bare_cpu_median": round(statistics.median(ratios_cpu), 3),
              "data_path_cpu_ms_per_step": round(1000 * data_cpu, 3),
              "data_path_share_of_step": round(data_cpu * statistics.median(step_cpu) / batch_size, 4),
              "folds": folds,
              "eval_share_method": "computed: budget x measured CPU s per train_step + clip evaluations x "
                                   "measured CPU s per clip (clip_logits)",
              "shape_steps": shape_steps,
              "shapes": {name: shape_cost(SHAPES[name], make_encoder, n_mels, frames,
                                          replace(cfg, steps=budget or TASKS[name].ft_steps), shape_steps,
                                          warmup, folds) for name in shapes}}
    result["load_before"], result["load_after"] = load_before, load_average()
    return result


def summary(r: dict) -> str:
    lines = [f"bare {statistics.median(r['bare_images_per_s']):.1f} img/s | fine-tuning step "
             f"{statistics.median(r['step_images_per_s']):.1f} img/s: {r['step_over_bare_median']:.3f} of bare "
             f"on wall time {r['step_over_bare']}, {r['step_over_bare_cpu_median']:.3f} on CPU time "
             f"{r['step_over_bare_cpu']} (medians, per repetition; target >= 0.9); data path "
             f"{r['data_path_cpu_ms_per_step']:.1f} CPU ms/step "
             f"({100 * r['data_path_share_of_step']:.1f} % of the step)"]
    for name, s in r["shapes"].items():
        lines.append(f"{name}: {s['train_cpu_s_per_step']:.3f} CPU s/step, "
                     f"{s['eval_cpu_s_per_clip'] * 1000:.1f} CPU ms/clip; "
                     f"{s['budget_steps']} steps: train {s['train_cpu_s']:.0f} s + eval {s['eval_cpu_s']:.0f} s "
                     f"({s['eval_clips']} clips) -> evaluation {100 * s['eval_share']:.1f} % (target <= 15 %); "
                     f"{r['folds']} folds {s['folds_cpu_h']:.2f} CPU h (one lr)")
    lines.append(f"load average before {r['load_before']}, after {r['load_after']} on {os.cpu_count()} CPUs")
    return "\n".join(lines)


HELP = """Benchmark of full fine-tuning: (a) images/s of finetune.full.train_step (the step of
``finetune full``: crops with time shift, standardisation, SpecAugment, label smoothing, mixup,
layer-wise lr decay, AdamW, drop-path) against a bare forward + backward + AdamW of the same
timm encoder, batch and input width, alternated --repeats times in one run (target >= 0.9);
(b) the evaluation's share of a fine-tune's CPU time (target <= 15 %) for FSDD- and
instruments-shaped tasks, computed from the measured CPU s per training step and per evaluated
clip: --budget steps (default: each task's own), the validation split every --eval-every steps
and at the last, the test split twice; and the CPU hours of --folds folds. One JSON line on
stdout, a summary with the load average on stderr. See docs/finetune.md, "Benchmark"."""


@click.command(help=HELP)
@click.option("--preset", default="cpu-tiny", show_default=True, help="encoder preset (random weights)")
@click.option("--n-mels", default=128, show_default=True, type=INPUT_SIDE.click_type(), help="input height")
@click.option("--frames", default=128, show_default=True, type=INPUT_SIDE.click_type(), help="input width")
@click.option("--batch-size", default=DEFAULT_BATCH, show_default=True, type=BATCH.click_type(),
              help="clips per step (and per evaluation batch)")
@click.option("--steps", default=10, show_default=True, type=click.IntRange(1, 10_000),
              help="timed steps per measurement")
@click.option("--shape-steps", default=30, show_default=True, type=click.IntRange(1, 10_000),
              help="timed training steps per task shape (their batch widths vary)")
@click.option("--warmup", default=2, show_default=True, type=click.IntRange(0, 1000),
              help="untimed steps before each measurement (the first steps of a process are slow)")
@click.option("--repeats", default=3, show_default=True, type=click.IntRange(1, 100),
              help="alternating bare / step measurements")
@click.option("--threads", default=1, show_default=True, type=click.IntRange(1, THREADS_MAX), help="torch threads")
@click.option("--budget", default=None, type=click.IntRange(1, 10_000_000),
              help="optimizer steps of the fine-tune whose evaluation share is computed [default: the task's, "
                   f"as finetune full: {DEFAULT_STEPS}; fsdd {FSDD_STEPS}]")
@click.option("--eval-every", default=0, show_default=True, type=click.IntRange(0, 10_000_000),
              help="steps between validation evaluations (0: a tenth of --budget)")
@click.option("--folds", default=5, show_default=True, type=click.IntRange(1, 1000),
              help="folds of the fine-tune whose CPU hours are computed")
@click.option("--shape", "shapes", multiple=True, default=tuple(SHAPES), show_default=True,
              type=click.Choice(list(SHAPES)), help="task shapes for the evaluation share (repeat)")
def main(preset, n_mels, frames, batch_size, steps, shape_steps, warmup, repeats, threads, budget, eval_every, folds,
         shapes):
    try:
        check_sizes(n_mels, frames, batch_size)
        result = run_bench(preset, n_mels, frames, batch_size, steps, warmup, repeats, threads, budget, eval_every,
                           folds, tuple(dict.fromkeys(shapes)), shape_steps)
    except UserError as exc:
        click.echo(f"finetune bench: error: {exc}", err=True)
        sys.exit(2)
    click.echo(json.dumps(result))
    click.echo(summary(result), err=True)


if __name__ == "__main__":
    main()
