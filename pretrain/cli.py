"""Command line of ``python -m pretrain`` (also ``torchrun -m pretrain``): parse and validate.

Every user mistake (missing shards, a shape that the patch does not divide, an unknown preset,
a checkpoint that cannot be resumed) ends in one line ``pretrain: error: ...`` and exit code 2.
"""

from __future__ import annotations

import argparse
import sys

from generators.bounds import BATCH, IMAGE_SIDE, INPUT_SIDE, SHUFFLE_BUFFER, WORKERS
from pretrain.presets import PRESETS

EXAMPLES = """examples:
  python -m pretrain --data shards/fractaldb-128 --preset cpu-tiny --minutes 30 --out ckpt/fdb
  python -m pretrain --data shards/fractaldb:0.5 --data shards/stat-spectrum:0.5 \\
      --input-size 128x512 --epochs 10 --out ckpt/mix
  python -m pretrain --data pattern:fractaldb,num_classes=1000 --workers 8 --steps 5000 --out ckpt/fly
  python -m pretrain --data pattern:deadleaves-squares --data shards/fractaldb \\
      --data-weights 0.7,0.3 --steps 5000 --out ckpt/mix2
  torchrun --nproc-per-node 2 -m pretrain --data shards/fractaldb --steps 5000 --out ckpt/ddp
  python -m pretrain --data shards/fractaldb --steps 5000 --out ckpt/ddp --resume   # after a kill
  python -m pretrain --data pattern:fractaldb --steps 3000 --clip-grad 1 --val-every 100 \
      --val-audio $SYNTHGEN_DATA/fsdd/recordings --out ckpt/watched
  python -m pretrain plot ckpt/watched          # loss, val loss, lr, grad norm -> ckpt/watched/curves.png
"""


def parse_size(text: str) -> tuple[int, int]:
    """``"128x512"`` -> ``(128, 512)`` (rows = mel bins, columns = frames); ``"128"`` -> square."""
    try:
        parts = [int(v) for v in text.lower().split("x")]
    except ValueError:
        parts = []
    if len(parts) == 1:
        parts = parts * 2
    if len(parts) != 2 or min(parts) <= 0:
        raise argparse.ArgumentTypeError(f"input size {text!r} must look like HxW, e.g. 128x512")
    return parts[0], parts[1]


def parse_weights(text: str) -> tuple[float, ...]:
    """``"0.7,0.3"`` -> ``(0.7, 0.3)``; every weight a number in (0, ``MAX_WEIGHT``]."""
    from pretrain.sources import MAX_WEIGHT, weight_ok

    try:
        weights = tuple(float(v) for v in text.split(","))
    except ValueError:
        weights = ()
    if not weights or not all(weight_ok(w) for w in weights):
        raise argparse.ArgumentTypeError(f"data weights {text!r} must be numbers > 0 and <= {MAX_WEIGHT:g} "
                                         f"separated by commas, e.g. 0.7,0.3")
    return weights


def parse_scale(text: str) -> tuple[float, float]:
    try:
        low, high = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"crop scale {text!r} must look like LOW,HIGH, e.g. 0.35,1") from None
    if not 0 < low <= high <= 1:
        raise argparse.ArgumentTypeError(f"crop scale {text!r} must satisfy 0 < LOW <= HIGH <= 1")
    return low, high


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports a bad argument in one line (no usage dump) and exits 2."""

    def error(self, message: str):
        self.exit(2, f"pretrain: error: {message} (see --help)\n")


def get_args_parser() -> argparse.ArgumentParser:
    p = OneLineParser(
        prog="python -m pretrain", epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="MAE pre-training of a timm ViT encoder on synthgen shards (or audio folders). "
                    "Writes a checkpoint directory: encoder.safetensors, config.json, train_state.pt, "
                    "log.jsonl, recon/*.png and step0/ (the untrained encoder, the fair random control). "
                    "Ctrl-C or SIGTERM stops after the current step, saves a checkpoint at that step and "
                    "exits with 130 / 143; --resume continues from it (a second signal stops at once). "
                    "A checkpoint that cannot be saved (a full disk) leaves the previous one unchanged "
                    "and ends the run with one line and exit code 1.")
    data = p.add_argument_group("data")
    data.add_argument("--data", action="append", default=[], metavar="DIR[:WEIGHT]",
                      help="synthgen shard directory, or pattern:KIND[,KEY=VALUE...] to render a "
                           "kind on the fly (keys: the kind's parameters, seed, size "
                           f"{IMAGE_SIDE.describe()}, mode; sample i "
                           "equals sample i of `synthgen render KIND --seed SEED`); repeat to mix "
                           "sources, sampled by WEIGHT (default 1; 0 < WEIGHT <= 1e6)")
    data.add_argument("--data-weights", type=parse_weights, metavar="W1,W2,...",
                      help="sampling weights of the --data sources in order (instead of :WEIGHT), "
                           "e.g. 0.7,0.3; each > 0 and <= 1e6")
    data.add_argument("--audio", action="append", default=[], metavar="DIR[:WEIGHT]",
                      help="folder of .wav/.flac/.ogg files (recursive), turned into log-mels with "
                           "pretrain.frontend; the real-audio pre-training baseline")
    data.add_argument("--input-size", type=parse_size, default=(128, 128), metavar="HxW",
                      help="encoder input, rows x columns = mel bins x frames (default 128x128); "
                           f"both multiples of the patch size, each {INPUT_SIDE.describe()}. Patterns are "
                           "tiled/cropped to it")
    data.add_argument("--crop-scale", type=parse_scale, default=(0.35, 1.0), metavar="LOW,HIGH",
                      help="random crop area as a share of the pattern (default 0.35,1)")
    data.add_argument("--no-flip", action="store_true", help="no random horizontal flips")
    data.add_argument("--shuffle-buffer", type=int, default=1000, metavar="N",
                      help=f"items in each reader's seeded shuffle buffer (default 1000; {SHUFFLE_BUFFER.describe()})")
    data.add_argument("--workers", type=int, metavar="N",
                      help=f"DataLoader worker processes per rank (0 = in-process, else {WORKERS.describe()}). "
                           "Default: 1 when "
                           "training on CPU; on a GPU every CPU of the rank but one (rendering on the "
                           "fly needs many cores per GPU, see docs/pretrain.md); --resume keeps the "
                           "run's own")
    model = p.add_argument_group("model")
    model.add_argument("--preset", default="cpu-tiny", metavar="NAME",
                       help=f"encoder/decoder sizes: {', '.join(sorted(PRESETS))} (default cpu-tiny)")
    model.add_argument("--mask-ratio", type=float, default=0.75,
                       help="share of patches hidden from the encoder (default 0.75, MAE paper)")
    model.add_argument("--no-norm-pix-loss", action="store_true",
                       help="regress raw pixels instead of per-patch normalised ones")
    opt = p.add_argument_group("optimisation")
    opt.add_argument("--batch-size", type=int, default=64,
                     help=f"images per rank per micro-batch (default 64; {BATCH.describe()})")
    opt.add_argument("--accum", type=int, default=1,
                     help=f"micro-batches per optimizer step (default 1; {BATCH.describe()})")
    opt.add_argument("--steps", type=int, help="optimizer steps of the whole run (sets the cosine schedule)")
    opt.add_argument("--epochs", type=float, help="passes over the data instead of --steps")
    opt.add_argument("--minutes", type=float,
                     help="time budget of this invocation: stop and checkpoint after M minutes. "
                          "Alone (no --steps/--epochs) the lr stays constant after warm-up")
    opt.add_argument("--stop-after-steps", type=int, metavar="K",
                     help="stop and checkpoint after K steps of this invocation (split a run into jobs)")
    opt.add_argument("--lr", type=float, help="peak lr (default: --blr x effective batch / 256)")
    opt.add_argument("--blr", type=float, default=1.5e-4, help="base lr per 256 images (default 1.5e-4, MAE)")
    opt.add_argument("--min-lr", type=float, default=0.0, help="lr at the end of the cosine (default 0)")
    opt.add_argument("--warmup-steps", type=int,
                     help="linear warm-up steps (default 5%% of the steps, at most 500; 100 without --steps)")
    opt.add_argument("--weight-decay", type=float, default=0.05, help="AdamW weight decay (default 0.05, MAE)")
    opt.add_argument("--seed", type=int, default=0, help="initialisation, data order and mask seed (default 0)")
    opt.add_argument("--clip-grad", type=float, metavar="MAX",
                     help="scale the gradients to a global L2 norm of at most MAX before each step (default: "
                          "no clipping; the norm before clipping is logged as grad_norm either way)")
    val = p.add_argument_group("validation (val_loss, val_audio_loss in log.jsonl; python -m pretrain plot RUN)")
    val.add_argument("--val-every", type=int, default=0, metavar="N",
                     help="score a fixed held-back batch every N steps (default 0: never): items of the "
                          "training data it never trains on (a pattern's samples from index 2**40, the "
                          "last shards or files of a folder)")
    val.add_argument("--val-size", type=int, default=64, metavar="N",
                     help="items in each validation batch (default 64)")
    val.add_argument("--val-audio", metavar="DIR",
                     help="also score N clips of this audio folder as log-mels (val_audio_loss): how far "
                          "the synthetic data is from audio while it trains")
    run = p.add_argument_group("run")
    run.add_argument("--out", required=True, metavar="CKPT", help="checkpoint directory")
    run.add_argument("--resume", action="store_true",
                     help="continue the run in CKPT exactly (same data order and masks); refused when "
                          "the data's content changed (shards rendered again with another kind or seed, "
                          "files added or removed). Starts fresh if CKPT holds no train state yet (with "
                          "a warning and a new log if it holds the log of a run that never saved one)")
    run.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    run.add_argument("--amp", choices=("auto", "on", "off"), default="auto",
                     help="bf16 autocast: auto = on for CUDA, off on CPU")
    run.add_argument("--threads", type=int, help="torch CPU threads per process (default: torch's choice)")
    run.add_argument("--log-every", type=int, default=10, help="steps between log.jsonl records (default 10)")
    run.add_argument("--save-every", type=int, default=200, help="steps between checkpoints (default 200)")
    run.add_argument("--recon-every", type=int, default=500,
                     help="steps between reconstruction PNGs in CKPT/recon (default 500; 0 = never)")
    run.add_argument("--no-progress", action="store_true", help="no tqdm progress bar")
    run.add_argument("--force", action="store_true",
                     help="write into a non-empty CKPT that holds no checkpoint yet")
    run.add_argument("--skip-bad-shards", action="store_true",
                     help="skip a damaged shard (reported on stderr and in config.json) instead of "
                          "stopping; without it a damaged shard saves a checkpoint and stops, and "
                          "--resume continues once the shard is re-rendered or removed")
    return p


CHECKPOINT_NAMES = ("config.json", "train_state.pt", "encoder.safetensors", "log.jsonl", "step0")


def check_out(out: str, force: bool) -> None:
    """``--out`` must be a folder that is absent, empty or a checkpoint directory."""
    from pathlib import Path

    if not out.strip():
        raise ValueError("--out is empty; give the checkpoint folder (an unset shell variable?)")
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise ValueError(f"--out {out} is a file; give a checkpoint folder")
    import os

    from generators.regular_files import entry_kind

    for name in (*CHECKPOINT_NAMES, "skipped_shards.jsonl"):  # never block on a FIFO, never follow
        want = "a directory" if name == "step0" else "a regular file"
        try:
            kind = entry_kind(os.lstat(path / name).st_mode)
        except FileNotFoundError:
            continue
        if kind != want:
            raise ValueError(f"--out {out}: {name} is {kind}, not {want}; remove it")
    if force or not path.is_dir() or any((path / name).exists() for name in CHECKPOINT_NAMES):
        return
    others = sorted(p.name for p in path.iterdir() if not p.name.startswith("."))
    if others:
        raise ValueError(f"--out {out} holds {len(others)} other file(s) ({', '.join(others[:3])}"
                         f"{', ...' if len(others) > 3 else ''}) but no checkpoint; choose an "
                         f"empty folder or pass --force")


def check_numbers(args: argparse.Namespace) -> None:
    """Every numeric flag finite and in range, named in the message."""
    import math

    for name in ("mask_ratio", "blr", "min_lr", "weight_decay", "lr", "epochs", "minutes", "clip_grad"):
        value = getattr(args, name)
        if value is not None and not math.isfinite(value):
            raise ValueError(f"--{name.replace('_', '-')} {value} must be a finite number")
    for name, low in (("seed", 0), ("warmup_steps", 0), ("log_every", 0), ("save_every", 0),
                      ("recon_every", 0), ("threads", 1), ("val_every", 0), ("val_size", 1)):
        value = getattr(args, name)
        if value is not None and value < low:
            raise ValueError(f"--{name.replace('_', '-')} {value} must be >= {low}")
    if not args.blr > 0:
        raise ValueError(f"--blr {args.blr} must be > 0")
    if args.clip_grad is not None and not args.clip_grad > 0:
        raise ValueError(f"--clip-grad {args.clip_grad} must be > 0")
    for name in ("min_lr", "weight_decay"):
        if getattr(args, name) < 0:
            raise ValueError(f"--{name.replace('_', '-')} {getattr(args, name)} must be >= 0")


def check_args(args: argparse.Namespace) -> None:
    """Cross-argument checks; ``ValueError`` with a one-line message."""
    from pretrain.model import check_input_size
    from pretrain.presets import get_preset

    if not args.data and not args.audio:
        raise ValueError("give at least one --data DIR or --audio DIR")
    if args.data_weights is not None and len(args.data_weights) != len(args.data):
        raise ValueError(f"--data-weights has {len(args.data_weights)} weights for "
                         f"{len(args.data)} --data sources")
    check_out(args.out, args.force)
    check_numbers(args)
    spec = get_preset(args.preset)
    for side, value in zip(("height", "width"), args.input_size):  # before anything is allocated
        INPUT_SIDE.check(value, f"--input-size {side}")
    height, width = check_input_size(args.input_size, spec.patch_size)
    if not 0 < args.mask_ratio < 1:
        raise ValueError(f"--mask-ratio {args.mask_ratio} must be in (0, 1)")
    patches = (height // spec.patch_size) * (width // spec.patch_size)
    keep = max(1, int(round(patches * (1 - args.mask_ratio))))
    if keep >= patches:
        raise ValueError(f"--mask-ratio {args.mask_ratio} hides no patch of the {patches} patches "
                         f"of a {height}x{width} input; use at least {1 / patches:.3g}")
    for name, bound in (("batch_size", BATCH), ("accum", BATCH), ("shuffle_buffer", SHUFFLE_BUFFER)):
        bound.check(getattr(args, name), f"--{name.replace('_', '-')}")
    if args.workers:  # 0: in-process
        WORKERS.check(args.workers, "--workers")
    elif args.workers is not None and args.workers < 0:
        raise ValueError(f"--workers {args.workers} must be >= 0")
    for name in ("steps", "epochs", "minutes", "stop_after_steps", "lr"):
        value = getattr(args, name)
        if value is not None and not value > 0:
            raise ValueError(f"--{name.replace('_', '-')} {value} must be > 0")
    if args.steps is not None and args.epochs is not None:
        raise ValueError("give either --steps or --epochs, not both")
    if args.steps is None and args.epochs is None and args.minutes is None:
        raise ValueError("give --steps, --epochs or --minutes to bound the run")
    if args.val_audio is not None:
        from pathlib import Path

        if not args.val_every:
            raise ValueError("--val-audio needs --val-every N (how often to score it)")
        if not Path(args.val_audio).is_dir():
            raise ValueError(f"--val-audio {args.val_audio} is not a folder")
    if args.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise ValueError("--device cuda but no CUDA device is available")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["plot"]:
        from pretrain.plot import main as plot_main

        return plot_main(argv[1:])
    args = get_args_parser().parse_args(argv)
    from pretrain.checkpoint import CheckpointError, SaveError
    from generators.shards import ShardError
    from pretrain.engine import BadShardStop
    from pretrain.signals import EXIT_CODES
    from pretrain.train import run

    try:
        check_args(args)
        result = run(args)
    except KeyboardInterrupt:  # before the first step (or a second Ctrl-C): nothing new saved
        print("pretrain: interrupted before a checkpoint could be saved; the folder holds what was "
              "saved before", file=sys.stderr)
        return 130
    except (FloatingPointError, BadShardStop, SaveError) as error:
        print(f"pretrain: error: {error}", file=sys.stderr)
        return 1
    except ShardError as error:  # met before training (input statistics): nothing to save
        print(f"pretrain: error: {error}; re-render or remove the shard (or pass "
              f"--skip-bad-shards)", file=sys.stderr)
        return 1
    except (ValueError, FileNotFoundError, CheckpointError) as error:
        print(f"pretrain: error: {error}", file=sys.stderr)
        return 2
    except OSError as error:  # a full disk or a lost mount outside the checkpoint writes
        print(f"pretrain: error: {error}", file=sys.stderr)
        return 1
    return EXIT_CODES.get(result.get("stopped"), 0)
