"""``python -m finetune linear|full|suite|table|bench``.

Examples::

    python -m finetune linear --ckpt random --task fsdd --root data/fsdd --results results.jsonl
    python -m finetune linear --ckpt logmel-stats --task fsdd --root data/fsdd --results results.jsonl
    python -m finetune linear --ckpt runs/fractaldb-s0 --group fractaldb --task fsdd --root data/fsdd
    python -m finetune full --ckpt runs/fractaldb-s0 --task fsdd --root data/fsdd  # 2400 steps, FSDD's default
    python -m finetune suite docs/evaluation/tasks.toml --ckpt logmel-stats --ckpt runs/fractaldb-s0 \
        --results results.jsonl --out report/
    python -m finetune table results.jsonl --out report/

User mistakes (missing files or columns, unreadable audio or audio holding NaN/inf samples, a
file listed twice by a task, a CSV naming files outside its folder, a checkpoint that does not
fit) print one line ``finetune: error: ...`` naming the file or value and exit with status 2.
Output paths (``--results``, ``--state``, ``--cache``, ``--out``) are checked before any work
starts: a folder given for a file, a read-only place, a symlink loop or a FIFO is refused.
"""
from __future__ import annotations

import functools
import json
import os
import sys
from pathlib import Path

import click

from finetune.loaders import TASKS, task_help
from finetune.outputs import check_output_file, check_output_folder
from finetune.recipe import DEFAULT_BATCH, DEFAULT_STEPS, HEAD_NORMS, HEAD_POOLINGS, RECIPE, default_masks
from finetune.task import MAX_CLIP_SECONDS, UserError
from generators.bounds import BATCH, BENCH_VALUES, INPUT_SIDE

DEFAULT_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "synthgen" / "embeddings"


def _user_errors(fn):
    """Turn ``UserError``/``AudioError`` into ``finetune: error: <one line>`` and exit 2."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from pretrain.frontend import AudioError
        from finetune.task import UserError

        try:
            return fn(*args, **kwargs)
        except (UserError, AudioError) as exc:
            click.echo(f"finetune: error: {exc}", err=True)
            sys.exit(2)
    return wrapper


def task_options(fn):
    """Options shared by ``linear`` and ``full`` (one flag name means one thing)."""
    opts = [
        click.option("--task", "task_name", required=True, help=task_help()),
        click.option("--root", required=True, type=click.Path(path_type=Path),
                     help="dataset folder in its published layout (csv: the CSV file)"),
        click.option("--folds", default=5, show_default=True, help="folds for the folder/csv loaders without folds"),
        click.option("--fsdd-split", default="5fold", show_default=True, help="fsdd: 5fold (meta_5fold.csv) or upstream"),
        click.option("--preset", default="cpu-tiny", show_default=True, help="encoder preset for --ckpt random"),
        click.option("--seed", default=0, show_default=True, help="seed of --ckpt random (and of fine-tuning)"),
        click.option("--frames", default=128, show_default=True,
                     help=f"encoder input width in 10-ms frames ({INPUT_SIDE.describe()})"),
        click.option("--clip", default="chunks", show_default=True, type=click.Choice(["chunks", "crop"]),
                     help="chunks: the whole clip in consecutive chunks of --frames (padding-only tokens "
                          "dropped); crop: the centre --frames only"),
        click.option("--clip-seconds", default=None, type=float,
                     help="crop (from the start) or pad every clip to this length, in (0, "
                          f"{MAX_CLIP_SECONDS:g}] s; default: the task's published length (EVAR's table), "
                          "the clip's own for fsdd, folder and csv"),
        click.option("--csv-paths-outside", is_flag=True,
                     help="csv: allow file names that are absolute or lead out of the CSV's folder "
                          "(refused by default, so a CSV cannot make the tools read other files)"),
        click.option("--n-mels", default=128, show_default=True,
                     help=f"mel bins (input height, {INPUT_SIDE.describe()})"),
        click.option("--level", default="peak", show_default=True, type=click.Choice(["peak", "rms", "none"]),
                     help="loudness normalisation"),
        click.option("--skip-bad", is_flag=True, help="report and skip missing/corrupt audio instead of failing"),
        click.option("--threads", default=2, show_default=True, help="torch threads (the probe uses 1 BLAS thread)"),
        click.option("--batch-size", default=None, type=int,
                     help=f"linear: clips per forward batch [default: 64]; full: clips per optimizer step "
                          f"[default: {DEFAULT_BATCH}] ({BATCH.describe()})"),
        click.option("--results", type=click.Path(path_type=Path), default=None, help="append the result to this .jsonl"),
        click.option("--name", default=None, help="row label in tables (default: checkpoint folder name)"),
        click.option("--group", "groups", multiple=True,
                     help="group label to aggregate seeds, e.g. fractaldb (linear: one per --ckpt, or one for all; "
                          "'' for none)"),
    ]
    for opt in reversed(opts):
        fn = opt(fn)
    return fn


def _check_sizes(n_mels: int, frames: int, batch_size: int) -> None:
    """The sizes that allocate, bounded (``generators.bounds``) before any work starts."""
    from finetune.task import UserError

    try:
        INPUT_SIDE.check(n_mels, "--n-mels")
        INPUT_SIDE.check(frames, "--frames")
        BATCH.check(batch_size, "--batch-size")
    except ValueError as exc:
        raise UserError(str(exc)) from None


def _setup(threads: int, n_mels: int, frames: int, level: str, clip: str = "chunks"):
    import torch

    from finetune.features import FeatureConfig
    from finetune.task import UserError
    from pretrain.frontend import FrontendConfig

    if threads < 1:
        raise UserError(f"--threads {threads} must be >= 1")
    torch.set_num_threads(threads)
    try:
        return FeatureConfig(FrontendConfig(n_mels=n_mels), frames, level, clip)
    except ValueError as exc:
        from finetune.task import UserError
        raise UserError(str(exc)) from None


def _load(task_name: str, root: Path, folds: int, fsdd_split: str, clip_seconds: float | None = None,
          csv_paths_outside: bool = False):
    from finetune.loaders import load_task

    kwargs = {"folds": folds} if task_name in ("folder", "csv") else {"split": fsdd_split} if task_name == "fsdd" else {}
    if task_name == "csv" and csv_paths_outside:
        kwargs["paths_outside"] = True
    task = load_task(task_name, root, **kwargs)
    return task if clip_seconds is None else task.with_clip_seconds(clip_seconds)


def _finish(record: dict, results: Path | None, name: str | None, group: str | None) -> None:
    if name:
        record["name"] = name
    if group:
        record["group"] = group
    summary = {k: record[k] for k in ("task", "name", "acc_mean", "acc_std", "split_acc") if k in record}
    click.echo(json.dumps(summary))
    metric = "% mAP" if record.get("metric") == "mAP" else "%"
    click.echo(f"{record['name']} on {record['task']}: {100 * record['acc_mean']:.1f} ± "
               f"{100 * record['acc_std']:.1f} {metric} over {len(record['split_acc'])} split(s)", err=True)
    if results:
        from finetune.results import append_result
        append_result(results, record)


@click.group()
def main() -> None:
    """Audio evaluation of encoders: linear probe, fine-tuning, result tables."""


@main.command()
@click.option("--ckpt", "ckpts", required=True, multiple=True,
              help="checkpoint folder, 'random' (untrained --preset encoder) or 'logmel-stats'; repeat to "
                   "evaluate several with one front-end pass")
@task_options
@click.option("--layers", "layer_specs", default=("last",), show_default=True, multiple=True,
              help="blocks to pool: last, all, or numbers like 6,12 (negative from the end), concatenated; "
                   "repeat for several probes")
@click.option("--pooling", default="freq", show_default=True, type=click.Choice(["freq", "mean", "meanmax"]),
              help="freq: per time step the frequency-patch tokens side by side, mean over time (F*D "
                   "values, the M2D/EVAR layout); mean: mean of all patch tokens; meanmax: mean and max")
@click.option("--norm", default="split", show_default=True, type=click.Choice(["split", "all"]),
              help="input mean/std: per split from its training clips (k passes), or over all clips (1 pass)")
@click.option("--cache", type=str, default=str(DEFAULT_CACHE), show_default=True,
              help="embedding cache folder ('' disables)")
@_user_errors
def linear(ckpts, task_name, root, folds, fsdd_split, preset, seed, frames, clip, clip_seconds, csv_paths_outside,
           n_mels, level, skip_bad, threads, batch_size, results, name, groups, layer_specs, pooling, norm, cache):
    """Linear probe of frozen encoders (or baselines) on one task."""
    from finetune.evaluate import linear_eval
    from finetune.features import compute_logmels
    from finetune.task import UserError

    if name and len(ckpts) > 1:
        raise UserError("--name labels one checkpoint; omit it when giving several --ckpt")
    if len(groups) not in (0, 1, len(ckpts)):
        raise UserError(f"give one --group, or one per --ckpt ({len(ckpts)}), not {len(groups)}")
    group_of = dict(zip(ckpts, groups)) if len(groups) == len(ckpts) else {c: (groups or ("",))[0] for c in ckpts}
    check_output_file(results, "--results")
    check_output_folder(Path(cache) if cache else None, "--cache")
    batch_size = 64 if batch_size is None else batch_size
    _check_sizes(n_mels, frames, batch_size)
    cfg = _setup(threads, n_mels, frames, level, clip)
    task = _load(task_name, root, folds, fsdd_split, clip_seconds, csv_paths_outside)
    mels = None
    for ckpt in ckpts:
        for layers in (layer_specs if ckpt != "logmel-stats" else ("last",)):
            record = linear_eval(task, ckpt, cfg, preset=preset, seed=seed, layers=layers, pooling=pooling,
                                 cache_dir=Path(cache) if cache else None, skip_bad=skip_bad,
                                 batch_size=batch_size, norm=norm, mels=mels)
            mels = record.pop("_mels")
            _finish(record, results, name, group_of[ckpt])


@main.command()
@click.option("--ckpt", required=True, help="checkpoint folder or 'random' (untrained --preset encoder)")
@task_options
@click.option("--steps", default=None, type=int,
              help=f"optimizer steps per fine-tune [default: {DEFAULT_STEPS}; "
                   + "; ".join(f"--task {n}: {s.ft_steps}" for n, s in TASKS.items()
                               if s.ft_steps != DEFAULT_STEPS) + "]")
@click.option("--eval-every", default=0, show_default=True, type=int,
              help="steps between validation evaluations (0: a tenth of --steps)")
@click.option("--lr", "lrs", default=(RECIPE["lr"],), show_default=True, multiple=True, type=float,
              help="peak lr of the head; repeat for a grid: the lr (with the step) is chosen on the validation split")
@click.option("--layer-decay", default=RECIPE["layer_decay"], show_default=True, help="layer-wise lr decay per block")
@click.option("--weight-decay", default=RECIPE["weight_decay"], show_default=True)
@click.option("--warmup", default=RECIPE["warmup"], show_default=True, help="fraction of the steps of linear warm-up")
@click.option("--drop-path", default=RECIPE["drop_path"], show_default=True,
              help="stochastic depth rate of the last block")
@click.option("--label-smoothing", default=RECIPE["label_smoothing"], show_default=True)
@click.option("--freq-mask", default=None, type=int,
              help="SpecAugment max band in mel bins [default: 48/128 of --n-mels, AudioMAE's]")
@click.option("--time-mask", default=None, type=int,
              help="SpecAugment max span in frames [default: 192/1024 of --frames, AudioMAE's]")
@click.option("--mixup", default=RECIPE["mixup"], show_default=True, help="mixup Beta parameter (0 = off)")
@click.option("--time-shift/--no-time-shift", default=RECIPE["time_shift"], show_default=True,
              help="training crops at random offsets (else from the clip's start)")
@click.option("--head-pooling", default=RECIPE["head_pooling"], show_default=True, type=click.Choice(HEAD_POOLINGS),
              help="the head's input: mean of all patch tokens, or freq: each frequency row's mean over time, "
                   "concatenated")
@click.option("--head-norm", default=RECIPE["head_norm"], show_default=True, type=click.Choice(HEAD_NORMS),
              help="batch: BatchNorm (no affine) on the pooled features before the linear head")
@click.option("--max-splits", default=None, type=int, help="only the first N >= 1 splits (folds) [default: all]")
@click.option("--state", type=click.Path(path_type=Path), default=None,
              help="progress file (.jsonl): finished splits are appended and read back by a rerun (resume)")
@_user_errors
def full(ckpt, task_name, root, folds, fsdd_split, preset, seed, frames, clip, clip_seconds, csv_paths_outside,
         n_mels, level, skip_bad, threads, batch_size, results, name, groups, steps, eval_every, lrs, layer_decay,
         weight_decay, warmup, drop_path, label_smoothing, freq_mask, time_mask, mixup, time_shift, head_pooling,
         head_norm, max_splits, state):
    """Fine-tune encoder + linear head end to end on one task for a budget of optimizer steps.
    The validation split (the task's, or carved from the training folds) is evaluated every
    --eval-every steps; the lr and the step are chosen on it, and the test split is evaluated
    once, at the chosen state (plus the last step, for the curves). Evaluation sees whole clips."""
    import numpy as np

    from finetune.evaluate import resolve_encoder
    from finetune.features import compute_logmels
    from finetune.full import FullConfig, full_finetune
    from finetune.task import UserError

    if ckpt == "logmel-stats":
        raise UserError("--ckpt logmel-stats has no encoder to fine-tune; use a checkpoint or random")
    if max_splits is not None and max_splits < 1:
        raise UserError(f"--max-splits {max_splits} must be >= 1 (omit it for every split)")
    check_output_file(results, "--results")
    check_output_file(state, "--state")
    batch_size = DEFAULT_BATCH if batch_size is None else batch_size
    _check_sizes(n_mels, frames, batch_size)
    cfg = _setup(threads, n_mels, frames, level, clip)
    auto_freq, auto_time = default_masks(n_mels, frames)
    fcfg = FullConfig(steps=TASKS[task_name].ft_steps if steps is None else steps, batch_size=batch_size, lr=lrs[0],
                      weight_decay=weight_decay, layer_decay=layer_decay, warmup=warmup, drop_path=drop_path,
                      label_smoothing=label_smoothing, freq_mask=auto_freq if freq_mask is None else freq_mask,
                      time_mask=auto_time if time_mask is None else time_mask, mixup=mixup, time_shift=time_shift,
                      head_pooling=head_pooling, head_norm=head_norm, eval_every=eval_every, seed=seed)
    for lr in lrs:
        if lr <= 0:
            raise UserError(f"--lr {lr} must be > 0")
    task = _load(task_name, root, folds, fsdd_split, clip_seconds, csv_paths_outside)
    if task.multilabel:
        raise UserError(f"full fine-tuning supports single-label tasks; {task.name} is multi-label (use linear)")
    first = resolve_encoder(ckpt, cfg, preset, seed)  # fail early on a bad checkpoint
    mels = compute_logmels(task, cfg, skip_bad=skip_bad)
    splits = full_finetune(lambda: resolve_encoder(ckpt, cfg, preset, seed), mels, cfg.frames, fcfg, max_splits,
                           report=lambda m: click.echo(m, err=True), lrs=tuple(lrs), state=state)
    accs = [s["acc"] for s in splits]
    record = {"task": mels.task.name, "method": "full", "ckpt": ckpt, "name": first.name,
              "n_clips": len(mels.task.clips), "skipped": mels.skipped, "features": cfg.to_dict(),
              "full": {**fcfg.__dict__, "lr": list(lrs)}, "acc_mean": float(np.mean(accs)),
              "acc_std": float(np.std(accs)), "split_acc": accs, "splits": [s["split"] for s in splits],
              "split_last_acc": [s.get("last_acc") for s in splits], "split_valid_acc": [s.get("valid_acc") for s in splits],
              "split_lr": [s["lr"] for s in splits], "split_step": [s["step"] for s in splits],
              "curves": [s.get("curves") for s in splits],
              "cpu_seconds": round(sum(s["cpu_seconds"] for s in splits), 1),
              "train_cpu_s": round(sum(s.get("train_cpu_s", 0) for s in splits), 1),
              "eval_cpu_s": round(sum(s.get("eval_cpu_s", 0) for s in splits), 1)}
    _finish(record, results, name, groups[0] if groups else None)


@main.command()
@click.argument("task_file", type=click.Path(path_type=Path))
@click.option("--ckpt", "ckpts", required=True, multiple=True,
              help="checkpoint folder, random[:SEED] or logmel-stats; repeat for every encoder of the table")
@click.option("--group", "groups", multiple=True, help="group label per --ckpt (seeds of one recipe), '' for none")
@click.option("--results", required=True, type=click.Path(path_type=Path),
              help="results .jsonl; pairs already in it are skipped (a killed suite resumes)")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="folder for results.md and results.png")
@click.option("--layers", default="last", show_default=True, help="blocks to pool (per-task 'layers' overrides)")
@click.option("--pooling", default="freq", show_default=True, type=click.Choice(["freq", "mean", "meanmax"]))
@click.option("--clip", default="chunks", show_default=True, type=click.Choice(["chunks", "crop"]))
@click.option("--norm", default="split", show_default=True, type=click.Choice(["split", "all"]))
@click.option("--preset", default="cpu-tiny", show_default=True, help="encoder preset for --ckpt random")
@click.option("--seed", default=0, show_default=True, help="seed of --ckpt random")
@click.option("--frames", default=128, show_default=True,
              help=f"encoder input width in 10-ms frames ({INPUT_SIDE.describe()})")
@click.option("--n-mels", default=128, show_default=True, help=f"mel bins ({INPUT_SIDE.describe()})")
@click.option("--level", default="peak", show_default=True, type=click.Choice(["peak", "rms", "none"]))
@click.option("--skip-bad", is_flag=True, help="report and skip missing/corrupt audio instead of failing")
@click.option("--threads", default=2, show_default=True)
@click.option("--batch-size", default=64, show_default=True, help=f"clips per forward batch ({BATCH.describe()})")
@click.option("--cache", type=str, default=str(DEFAULT_CACHE), show_default=True,
              help="embedding cache folder ('' disables)")
@click.option("--data-root", type=click.Path(path_type=Path),
              help="what $SYNTHGEN_DATA in the task file's roots stands for (default: the SYNTHGEN_DATA "
                   "environment variable)")
@_user_errors
def suite(task_file, ckpts, groups, results, out, layers, pooling, clip, norm, preset, seed, frames, n_mels, level,
          skip_bad, threads, batch_size, cache, data_root):
    """Linear probe of every --ckpt on every task of TASK_FILE (TOML), resumable; writes one
    table (encoders x tasks, average column) and a plot to --out."""
    from finetune.evaluate import linear_eval
    from finetune.results import render
    from finetune.suite import read_task_file, run_suite
    from finetune.task import UserError

    if len(groups) not in (0, len(ckpts)):
        raise UserError(f"give one --group per --ckpt ({len(ckpts)}), not {len(groups)}")
    check_output_file(results, "--results")
    check_output_folder(out, "--out")
    check_output_folder(Path(cache) if cache else None, "--cache")
    _check_sizes(n_mels, frames, batch_size)
    tasks = read_task_file(task_file, data_root)
    if results.is_file() and results.stat().st_size:
        from finetune.results import read_results

        read_results(results, report=lambda m: None)  # rows the table would refuse: now, not after the work

    def evaluate(task, settings, pending):
        cfg = _setup(threads, n_mels, frames, level, settings["clip"])
        loaded = _load(task.task, task.root, settings.get("folds", 5), settings.get("fsdd_split", "5fold"),
                       settings.get("clip_seconds"), settings.get("csv_paths_outside", False))
        mels = None
        for ckpt in pending:  # a generator: each record is saved as soon as it is done
            record = linear_eval(loaded, ckpt, cfg, preset=preset, seed=seed, layers=settings["layers"],
                                 pooling=settings["pooling"], cache_dir=Path(cache) if cache else None,
                                 skip_bad=skip_bad, batch_size=batch_size, norm=settings["norm"], mels=mels,
                                 report=lambda m: click.echo(m, err=True))
            mels = record.pop("_mels")
            yield record

    defaults = {"layers": layers, "pooling": pooling, "clip": clip, "norm": norm, "frames": frames,
                "n_mels": n_mels, "level": level, "preset": preset, "seed": seed}
    run_suite(tasks, list(ckpts), dict(zip(ckpts, groups)), results, defaults, evaluate,
              report=lambda m: click.echo(m, err=True))
    md, png = render(results, out, average=True)
    click.echo(md.read_text())
    click.echo(f"wrote {md} and {png}", err=True)


@main.command()
@click.argument("results", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), required=True, help="folder for results.md and results.png")
@_user_errors
def table(results, out):
    """Render RESULTS (.jsonl) as a markdown table and a bar plot."""
    from finetune.results import render

    check_output_folder(out, "--out")
    md, png = render(results, out)
    click.echo(md.read_text())
    click.echo(f"wrote {md} and {png}", err=True)


@main.command()
@click.option("--ckpt", default="random", show_default=True, help="checkpoint folder or 'random'")
@click.option("--preset", default="cpu-tiny", show_default=True)
@click.option("--frames", default=128, show_default=True, type=INPUT_SIDE.click_type())
@click.option("--n-mels", default=128, show_default=True, type=INPUT_SIDE.click_type())
@click.option("--n", default=512, show_default=True, type=BATCH.click_type(),
              help=f"clips to embed (at most {BENCH_VALUES.limit:,} values in all: n x n-mels x frames)")
@click.option("--batch-size", default=64, show_default=True, type=BATCH.click_type())
@click.option("--threads", default=2, show_default=True)
@_user_errors
def bench(ckpt, preset, frames, n_mels, n, batch_size, threads):
    """Embedding-extraction speed (clips/s) of the frozen encoder on random log-mels; also the
    front end alone on 1.5-s 8-kHz clips (the FSDD format) as the baseline ratio."""
    import time

    import numpy as np
    import torch

    from finetune.encoder import embed_batch
    from finetune.evaluate import resolve_encoder
    from pretrain.frontend import log_mel, resample

    try:
        BENCH_VALUES.check(n * n_mels * frames, f"--n {n} clips of --n-mels {n_mels} x --frames {frames}",
                           "lower --n")
    except ValueError as exc:
        raise UserError(str(exc)) from None
    cfg = _setup(threads, n_mels, frames, "peak")
    enc = resolve_encoder(ckpt, cfg, preset, 0)
    x = torch.randn(n, 1, n_mels, frames)
    embed_batch(enc, x[:batch_size], (enc.depth,), "mean")  # warm-up
    t0 = time.perf_counter()
    for i in range(0, n, batch_size):
        embed_batch(enc, x[i:i + batch_size], (enc.depth,), "mean")
    enc_rate = n / (time.perf_counter() - t0)
    waves = np.random.default_rng(0).standard_normal((min(n, 256), 12000)).astype(np.float32) * 0.1
    log_mel(resample(waves[0], 8000, cfg.frontend.sample_rate), cfg.frontend)  # warm-up: first-call imports
    t0 = time.perf_counter()
    for w in waves:
        log_mel(resample(w, 8000, cfg.frontend.sample_rate), cfg.frontend)
    fe_rate = len(waves) / (time.perf_counter() - t0)
    click.echo(json.dumps({"encoder": enc.name, "input": [n_mels, frames], "threads": threads,
                           "batch_size": batch_size, "embed_clips_per_s": round(enc_rate, 1),
                           "frontend_clips_per_s": round(fe_rate, 1),
                           "embed_vs_frontend": round(enc_rate / fe_rate, 3)}))
