"""One pre-training run: sources, model, optimizer, resume, the loop, checkpoints and logs.

``run(args)`` is the body of ``python -m pretrain``. Under ``torchrun`` (``WORLD_SIZE > 1``) it
joins a DDP group (gloo on CPU, nccl on CUDA); rank 0 alone writes files.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import sys
from pathlib import Path

import torch
import torch.distributed as dist

from pretrain import checkpoint as ckpt
from pretrain.data import PretrainStream, make_loader, total_items
from pretrain.engine import BadShardStop, Hooks, LoopConfig, Schedule, mask_noise, train_loop
from pretrain.identity import source_identity
from pretrain.signals import EXIT_CODES, StopSignals
from pretrain.loadmeter import LoadMeter
from pretrain.mae import MaskedAutoencoder
from pretrain.model import preset_dict, timm_kwargs
from pretrain.recon import save_reconstruction
from pretrain.patterns import compute_classes
from pretrain.sources import Source, audio_source, data_source, skipped_shards, with_stats
from pretrain.transforms import Augment
from pretrain.validation import audio_batch, hold_back, score, source_batch

SKIP_LOG = "skipped_shards.jsonl"

# settings that fix the data order, the masks and the lr schedule: a resumed run must match
RESUME_KEYS = ("preset", "input_size", "mask_ratio", "norm_pix_loss", "batch_size", "accum",
               "world_size", "workers", "seed", "data", "shuffle_buffer", "crop_scale", "flip",
               "lr", "min_lr", "warmup_steps", "total_steps", "weight_decay", "clip_grad", "val_size")


def setup_distributed(device_choice: str) -> tuple[int, int, torch.device]:
    """``(rank, world, device)``; joins the process group when launched by torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    use_cuda = device_choice == "cuda" or (device_choice == "auto" and torch.cuda.is_available())
    local = int(os.environ.get("LOCAL_RANK", "0"))
    device = torch.device(f"cuda:{local}") if use_cuda else torch.device("cpu")
    if use_cuda:
        torch.cuda.set_device(device)
    if world > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    rank = dist.get_rank() if world > 1 else 0
    return rank, world, device


def available_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def share_classes(sources: list[Source], rank: int, world: int, progress: bool) -> None:
    """Compute the class parameters of every pattern source once: rank 0 computes them with all
    its CPUs, the other ranks receive them; DataLoader workers inherit them with the source."""
    patterns = [s.pattern for s in sources if s.kind == "pattern"]
    if not patterns:
        return
    classes = [None] * len(patterns)
    if rank == 0:
        classes = [compute_classes(p.spec, available_cpus(), progress) for p in patterns]
    if world > 1:
        dist.broadcast_object_list(classes, src=0)
    for pattern, computed in zip(patterns, classes):
        pattern.classes = computed


def open_sources(args, saved: dict | None, rank: int = 0, world: int = 1) -> list[Source]:
    """Sources from ``--data``/``--audio`` (class parameters of pattern sources computed once);
    statistics from the saved config when resuming."""
    height = args.input_size[0]
    sources = [data_source(s, height) for s in args.data]
    if getattr(args, "data_weights", None) is not None:
        for spec, source in zip(args.data, sources):
            if source.path != spec:
                raise ValueError(f"--data {spec} has a :WEIGHT and --data-weights is given; use one")
        sources = [dataclasses.replace(s, weight=w) for s, w in zip(sources, args.data_weights)]
    sources += [audio_source(s) for s in args.audio]
    if getattr(args, "skip_bad_shards", False):
        log = str(Path(args.out) / SKIP_LOG)
        sources = [dataclasses.replace(s, skip_log=log) if s.kind == "shards" else s for s in sources]
    share_classes(sources, rank, world, progress=rank == 0 and not args.no_progress)
    old = {(d["kind"], d["path"]): d for d in (saved or {}).get("data", [])}
    result = []
    for source in sources:
        stats = old.get((source.kind, source.path), {})
        result.append(with_stats(source, stats.get("mean"), stats.get("std")))
    return result


def default_workers(device: torch.device, saved: dict | None) -> int:
    """``--workers`` when not given: the resumed run's own; else 1 on CPU (the CPU step consumes
    tens of images/s, which one worker renders or decodes many times over), and on a GPU every
    CPU of this rank but one (a ViT-B MAE consumes ~2,000 images/s per GPU: 5-14 cores of
    rendering, 3 of shard decoding, measured in docs/pretrain.md with
    tools/bench/pretrain_stream.py)."""
    if saved is not None and "workers" in saved.get("train", {}):
        return int(saved["train"]["workers"])
    if device.type != "cuda":
        return 1
    local_world = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
    return max(1, available_cpus() // local_world - 1)


def resolve_settings(args, sources: list[Source], world: int) -> dict:
    """The run's settings (JSON-able), with steps, lr and warm-up resolved."""
    per_step = args.batch_size * args.accum * world
    total = args.steps
    if args.epochs is not None:
        total = max(1, math.ceil(args.epochs * total_items(sources) / per_step))
    warmup = args.warmup_steps
    if warmup is None:
        warmup = min(500, max(1, round(0.05 * total))) if total else 100
    return {
        "preset": args.preset, "input_size": list(args.input_size), "mask_ratio": args.mask_ratio,
        "norm_pix_loss": not args.no_norm_pix_loss, "batch_size": args.batch_size,
        "accum": args.accum, "world_size": world, "workers": args.workers, "seed": args.seed,
        "data": [[s.kind, s.path, s.weight] for s in sources], "shuffle_buffer": args.shuffle_buffer,
        "data_identity": [source_identity(s) for s in sources],
        "crop_scale": list(args.crop_scale), "flip": not args.no_flip,
        "lr": args.lr if args.lr is not None else args.blr * per_step / 256, "min_lr": args.min_lr,
        "warmup_steps": warmup, "total_steps": total, "weight_decay": args.weight_decay,
        "effective_batch": per_step, "clip_grad": getattr(args, "clip_grad", None),
        "val_every": getattr(args, "val_every", 0) or 0,
        "val_size": getattr(args, "val_size", None) if getattr(args, "val_every", 0) else None,
        "val_audio": getattr(args, "val_audio", None),
    }


def check_resumable(settings: dict, saved: dict) -> None:
    old = saved.get("train", {})
    for key in RESUME_KEYS:
        if old.get(key) != settings[key]:
            raise ckpt.CheckpointError(f"cannot resume: {key}={settings[key]!r} differs from the "
                                       f"checkpoint's {old.get(key)!r}")
    if "data_identity" not in old:  # a checkpoint written before data fingerprints existed
        print("pretrain: warning: the checkpoint records no data fingerprint; the content of the data "
              "is not checked, only its paths", file=sys.stderr)
        return
    for (kind, path, _), then, now in zip(settings["data"], old["data_identity"], settings["data_identity"]):
        if then != now:
            raise ckpt.CheckpointError(
                f"cannot resume: --{'audio' if kind == 'audio' else 'data'} {path} holds other data than the "
                f"checkpoint was trained on (fingerprint {then} then, {now} now: rendered again with another "
                f"kind, seed or size, or files added or removed); restore that data or start a new run")


def checkpoint_config(settings: dict, sources: list[Source], step: int, images_seen: int,
                      stopped: str | None = None, source_images: list[int] | None = None) -> dict:
    """``config.json``: how to build the encoder (timm), input statistics, provenance."""
    import timm

    name, kwargs = timm_kwargs(settings["preset"], tuple(settings["input_size"]))
    height, width = settings["input_size"]
    return {
        "timm_name": name, "timm_kwargs": kwargs, "preset": settings["preset"],
        "preset_config": preset_dict(settings["preset"]),
        "input": {"height": height, "width": width, "mean": sources[0].mean, "std": sources[0].std,
                  "note": "x = (value - mean) / std; patterns: pixels in [0, 1]; audio: log-mel"},
        "step": step, "images_seen": images_seen, "data": [s.describe() for s in sources],
        "source_images": source_images or [0] * len(sources),
        "train": settings, "stopped": stopped,
        "versions": {"torch": torch.__version__, "timm": timm.__version__},
    }


def make_optimizer(mae: MaskedAutoencoder, settings: dict) -> torch.optim.AdamW:
    """AdamW (betas 0.9/0.95, MAE); no weight decay on biases, norms, tokens (MAE/timm)."""
    decay, plain = [], []
    for name, param in mae.named_parameters():
        if not param.requires_grad:
            continue
        (plain if param.ndim <= 1 or name.endswith(("cls_token", "mask_token")) else decay).append(param)
    return torch.optim.AdamW([{"params": decay, "weight_decay": settings["weight_decay"]},
                              {"params": plain, "weight_decay": 0.0}],
                             lr=settings["lr"], betas=(0.9, 0.95))


def truncate_log(path: Path, step: int) -> None:
    """Drop records after ``step`` (written by a killed run after its last checkpoint). A torn
    last line (killed mid-write) is dropped with a warning; a bad line elsewhere is an error
    naming the file and line."""
    if not path.exists():
        return
    lines = [(n, line) for n, line in enumerate(path.read_text().splitlines(), 1) if line.strip()]
    keep = []
    for n, line in lines:
        try:
            record = json.loads(line)
            record_step = record.get("step", 0) if isinstance(record, dict) else None
        except ValueError:
            record_step = None
        if not isinstance(record_step, (int, float)):
            if n == lines[-1][0]:
                print(f"pretrain: warning: {path} line {n}: torn last line dropped", file=sys.stderr)
                continue
            raise ckpt.CheckpointError(f"{path} line {n} is not a log record; fix or remove it")
        if record_step <= step:
            keep.append(line)
    ckpt.write_text(path, "".join(line + "\n" for line in keep))


def run(args) -> dict:
    """Train as ``args`` says; returns the final ``config.json`` dict (on every rank)."""
    rank, world, device = setup_distributed(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    out = Path(args.out)
    has_state = (out / ckpt.STATE_FILE).exists()
    if has_state and not args.resume:
        raise ValueError(f"--out {out} already holds a run; pass --resume to continue it or "
                         f"choose another directory")
    log_path = out / "log.jsonl"
    if not has_state and log_path.is_file() and log_path.read_text().strip():
        # a run whose first checkpoint was never saved (a full disk, a kill): never append to it
        # silently, which would repeat its steps in the log
        if not args.resume:
            raise ValueError(f"--out {out} holds log.jsonl but no {ckpt.STATE_FILE} (a run whose first "
                             f"checkpoint was never saved); pass --resume to start it again at step 0, or "
                             f"choose another directory")
        if rank == 0:
            print(f"pretrain: warning: {out} holds log.jsonl but no {ckpt.STATE_FILE} (its first checkpoint "
                  f"was never saved); starting again at step 0, with a new log", file=sys.stderr)
            ckpt.write_text(log_path, "")
    state = ckpt.load_state(out) if has_state else None
    saved = ckpt.read_config(out) if has_state else None
    if args.workers is None:
        args.workers = default_workers(device, saved)
    sources = open_sources(args, saved, rank, world)
    held_back = []
    if args.val_every:  # the validation items are never trained on
        sources_with_held_back = sources
        sources, held_back = hold_back(sources, args.val_size)
    settings = resolve_settings(args, sources, world)
    if saved is not None:
        check_resumable(settings, saved)
    batches_to_score = {}  # built before anything is written: a bad --val-audio writes nothing
    if rank == 0 and args.val_every:
        input_size = tuple(settings["input_size"])
        batches_to_score["val_loss"] = source_batch(sources_with_held_back, held_back, input_size, args.seed)
        if args.val_audio:
            batches_to_score["val_audio_loss"] = audio_batch(args.val_audio, args.val_size, input_size, args.seed)
    amp = args.amp == "on" or (args.amp == "auto" and device.type == "cuda")
    mae = MaskedAutoencoder(settings["preset"], tuple(settings["input_size"]), settings["mask_ratio"],
                            settings["norm_pix_loss"], seed=args.seed).to(device)
    optimizer = make_optimizer(mae, settings)
    start_step, images_seen, source_images = 0, 0, None
    if state is not None:
        try:
            mae.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            ckpt.set_rng_state(state["rng"])
            start_step, images_seen = int(state["step"]), int(state["images_seen"])
        except (RuntimeError, ValueError, KeyError, TypeError) as error:
            first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise ckpt.CheckpointError(f"{out / ckpt.STATE_FILE} does not fit this model "
                                       f"({first})") from None
        source_images = [int(v) for v in state.get("source_images", [])] or None
        if rank == 0:
            truncate_log(out / "log.jsonl", start_step)
    elif rank == 0:
        ckpt.save_encoder(out / "step0", mae.encoder, checkpoint_config(settings, sources, 0, 0, "untrained"))
    model = mae
    if world > 1:
        model = torch.nn.parallel.DistributedDataParallel(
            mae, device_ids=[device.index] if device.type == "cuda" else None)
    stream = PretrainStream(sources, tuple(settings["input_size"]), args.seed, rank, world,
                            args.batch_size, start_step * args.accum, args.shuffle_buffer,
                            Augment(scale=tuple(args.crop_scale), flip=not args.no_flip))
    loader = make_loader(stream, args.workers)
    batches = iter(loader)
    progress = None
    if rank == 0 and not args.no_progress:
        from tqdm import tqdm

        progress = tqdm(total=settings["total_steps"], initial=start_step, unit="step",
                        dynamic_ncols=True, file=sys.stderr)

    saved_step = [start_step if state is not None else None]  # the last checkpoint on disk

    def cannot_save(what: str, step: int, error: OSError) -> ckpt.SaveError:
        last = saved_step[0]
        kept = (f"the checkpoint of step {last} is unchanged" if last is not None
                else "no checkpoint was saved before")
        return ckpt.SaveError(f"cannot {what} of step {step} in {out} ({error.strerror or error}); {kept}: "
                              f"free space and rerun with --resume")

    def log(record: dict) -> None:
        if rank == 0:
            try:
                with open(out / "log.jsonl", "a") as handle:
                    handle.write(json.dumps(record) + "\n")
            except OSError as error:
                raise cannot_save("append the log record", record["step"], error) from None
            if progress is not None and "loss" in record:
                shown = {"loss": f"{record['loss']:.4f}", "gnorm": f"{record['grad_norm']:.3g}"}
                shown.update({k: f"{record[k]:.4f}" for k in ("val_loss", "val_audio_loss") if k in record})
                progress.set_postfix(shown, img_s=f"{record['images_per_s']:.1f}")

    meter = LoadMeter(len(sources), args.workers, world, source_images or [])

    def save(step: int, seen: int, stopped: str | None = None) -> None:
        counts = meter.totals()  # collective: every rank calls save
        if rank == 0:
            config = checkpoint_config(settings, sources, step, seen, stopped, counts)
            skipped = skipped_shards(out / SKIP_LOG)
            if skipped:
                config["skipped_shards"] = skipped
            try:
                ckpt.save_checkpoint(out, mae.encoder, config, {
                    "model": mae.state_dict(), "optimizer": optimizer.state_dict(), "step": step,
                    "images_seen": seen, "rng": ckpt.rng_state(), "source_images": counts, "format": 1})
            except OSError as error:
                raise cannot_save("save the checkpoint", step, error) from None
            saved_step[0] = step

    def recon(step: int, images: torch.Tensor) -> None:
        noise = mask_noise(args.seed, 0, 0, 0, images.shape[0], mae.num_patches).to(device)
        save_reconstruction(mae, images, noise, out / "recon" / f"step{step:07d}.png")

    def warn(text: str) -> None:
        if rank == 0:
            (progress.write if progress is not None else print)(text, file=sys.stderr)

    def validate(step: int) -> dict:
        return {name: score(mae, batch, args.seed, device) for name, batch in batches_to_score.items()}

    signals = StopSignals()
    hooks = Hooks(log=log, checkpoint=save, recon=recon, warn=warn, stop=signals.requested, validate=validate,
                  progress=(lambda step, loss: progress.update(1)) if progress is not None else (lambda s, l: None))
    loop = LoopConfig(total_steps=settings["total_steps"], accum=args.accum, seed=args.seed, rank=rank,
                      world=world, amp=amp, log_every=args.log_every, save_every=args.save_every,
                      recon_every=args.recon_every, minutes=args.minutes,
                      stop_after_steps=args.stop_after_steps, clip_grad=args.clip_grad, val_every=args.val_every)
    schedule = Schedule(settings["lr"], settings["warmup_steps"], settings["total_steps"], settings["min_lr"])
    with signals.installed():  # Ctrl-C / SIGTERM: stop after the current step and save it
        try:
            step, images_seen, reason = train_loop(model, optimizer, schedule, batches, start_step,
                                                   images_seen, loop, hooks, mae.num_patches, device, meter)
        except BadShardStop as stop:
            save(stop.step, stop.images_seen, "damaged shard")
            raise BadShardStop(f"{stop}; checkpoint saved at step {stop.step}: re-render or remove "
                               f"the shard and rerun with --resume (or pass --skip-bad-shards)",
                               stop.step, stop.images_seen) from None
        finally:
            del batches
            if progress is not None:
                progress.close()
        save(step, images_seen, reason)
    skipped = skipped_shards(out / SKIP_LOG) if rank == 0 else []
    if skipped:
        print(f"pretrain: warning: {len(skipped)} damaged shard(s) skipped, listed in "
              f"{out / ckpt.CONFIG_FILE} (skipped_shards)", file=sys.stderr)
    counts = meter.totals()
    if world > 1:
        dist.barrier()
        dist.destroy_process_group()
    if rank == 0 and reason in EXIT_CODES:
        print(f"pretrain: stopped by {reason} at step {step}; checkpoint saved in {out}: rerun with --resume "
              f"to continue", file=sys.stderr)
    elif rank == 0:
        print(f"pretrain: stopped at step {step} ({reason}), {images_seen} images; checkpoint {out}",
              file=sys.stderr)
    return checkpoint_config(settings, sources, step, images_seen, reason, counts)
