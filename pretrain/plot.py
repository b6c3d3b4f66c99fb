"""``python -m pretrain plot RUN [RUN ...]``: the curves of pre-training runs, from their
``log.jsonl``, in one PNG: the training loss with the validation losses (``val_loss``,
``val_audio_loss``, when the run had ``--val-every``), the learning rate, and the gradient norm
(mean over each log interval, and its maximum) against the optimizer step. Written atomically
to ``RUN/curves.png`` (one run) or ``--out``.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from pathlib import Path

from generators.atomic import write_bytes_atomic

#: (log field, label, line style) of the loss panel.
LOSSES = (("loss", "training loss", "-"), ("val_loss", "validation loss (held-back batch)", "--"),
          ("val_audio_loss", "validation loss (real audio)", ":"))


def read_log(run: Path) -> list[dict]:
    """The records of ``RUN/log.jsonl``; ``ValueError`` (one line) when it is missing or holds
    none. A torn last line (a killed run) is left out."""
    path = Path(run) / "log.jsonl"
    if not path.is_file():
        raise ValueError(f"{run}: no log.jsonl (give a folder written by python -m pretrain)")
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    records = []
    for n, line in enumerate(lines, 1):
        try:
            record = json.loads(line)
        except ValueError:
            if n == len(lines):
                continue
            raise ValueError(f"{path} line {n} is not a log record") from None
        if isinstance(record, dict) and isinstance(record.get("step"), (int, float)):
            records.append(record)
    if not records:
        raise ValueError(f"{path} holds no log record yet")
    return records


def series(records: list[dict], field: str) -> tuple[list[float], list[float]]:
    """``(steps, values)`` of the records that have ``field``."""
    rows = [(r["step"], r[field]) for r in records if isinstance(r.get(field), (int, float))]
    return [s for s, _ in rows], [v for _, v in rows]


def plot_runs(runs: list[Path], out: Path) -> Path:
    """Draw the loss, lr and gradient-norm panels of ``runs`` into ``out`` (PNG); returns it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    logs = {Path(run): read_log(Path(run)) for run in runs}
    fig, (ax_loss, ax_lr, ax_norm) = plt.subplots(3, 1, figsize=(7, 8), sharex=True)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (run, records) in enumerate(logs.items()):
        colour = colours[i % len(colours)]
        name = f"{run.name}: " if len(logs) > 1 else ""
        for field, label, style in LOSSES:
            steps, values = series(records, field)
            if steps:
                ax_loss.plot(steps, values, style, color=colour, linewidth=1.2, label=name + label)
        steps, values = series(records, "lr")
        ax_lr.plot(steps, values, color=colour, linewidth=1.2, label=run.name)
        steps, values = series(records, "grad_norm")
        if steps:
            ax_norm.plot(steps, values, color=colour, linewidth=1.2, label=name + "mean over the log interval")
        steps, values = series(records, "grad_norm_max")
        if steps:
            ax_norm.plot(steps, values, color=colour, linewidth=0.8, alpha=0.4, label=name + "max over the log interval")
    ax_loss.set_ylabel("MAE loss")
    ax_loss.legend(fontsize=7)
    ax_lr.set_ylabel("learning rate")
    ax_norm.set_ylabel("gradient L2 norm")
    ax_norm.set_xlabel("optimizer step")
    if any(series(r, "grad_norm")[0] for r in logs.values()):
        ax_norm.set_yscale("log")
        ax_norm.legend(fontsize=7)
    else:
        ax_norm.text(0.5, 0.5, "no grad_norm in the log (written before it was recorded)",
                     ha="center", va="center", transform=ax_norm.transAxes, fontsize=8)
    if len(logs) > 1:
        ax_lr.legend(fontsize=7)
    fig.suptitle(", ".join(run.name for run in logs), fontsize=10)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    plt.close(fig)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(out, buffer.getvalue())
    return out


class OneLineParser(argparse.ArgumentParser):
    """A bad argument is one line ``pretrain plot: error: ...`` and exit code 2 (no usage dump)."""

    def error(self, message: str):
        self.exit(2, f"pretrain plot: error: {message} (see --help)\n")


def main(argv: list[str] | None = None) -> int:
    p = OneLineParser(prog="python -m pretrain plot",
                                description="Loss, validation loss, lr and gradient norm of pre-training runs "
                                            "(from RUN/log.jsonl) in one PNG.")
    p.add_argument("runs", nargs="+", metavar="RUN", help="checkpoint folders written by python -m pretrain")
    p.add_argument("--out", type=Path, help="PNG to write (default RUN/curves.png for one run; needed for several)")
    args = p.parse_args(argv)
    try:
        if args.out is None and len(args.runs) > 1:
            raise ValueError(f"{len(args.runs)} runs: give --out PNG")
        out = args.out if args.out is not None else Path(args.runs[0]) / "curves.png"
        if out.suffix.lower() != ".png":
            raise ValueError(f"--out {out} must end in .png")
        print(f"curves: {plot_runs([Path(r) for r in args.runs], out)}")
    except (ValueError, OSError) as error:
        print(f"pretrain plot: error: {error}", file=sys.stderr)
        return 2
    return 0
