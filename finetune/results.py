"""Results as JSON lines, rendered as a markdown table and a bar plot.

One line per (checkpoint, task, method) run::

    {"task": "fsdd", "name": "fractaldb-s0", "group": "fractaldb", "method": "linear",
     "acc_mean": 0.81, "acc_std": 0.02, "split_acc": [...], ...}

The table has one row per ``name`` (the latest line wins when a run is repeated) and one column
per task; rows that share a ``group`` (e.g. three pre-training seeds) get an extra summary row
``group (n=3)`` = mean over members +- std over members (the spread over seeds).
"""
from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path

import numpy as np

from finetune.outputs import check_input_file
from finetune.task import UserError
from generators.atomic import append_json_lines, write_bytes_atomic


def append_result(path: Path, record: dict) -> None:
    """Append one JSON line, time-stamped (creating folders); see
    :func:`generators.atomic.append_json_lines` for what a torn last line or a concurrent
    writer does."""
    append_json_lines(path, [{"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **record}])


def read_results(path: Path, report=lambda msg: print(msg, file=sys.stderr)) -> list[dict]:
    """Records of a results file. A torn last line (a run killed while appending) is dropped
    with a warning through ``report``; a bad line elsewhere is a ``UserError`` naming it."""
    check_input_file(path, "results file")
    out = []
    try:
        lines = path.read_bytes().decode("utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise UserError(f"results file {path}: not UTF-8 text (byte offset {exc.start})") from None
    last = max((n for n, line in enumerate(lines, 1) if line.strip()), default=0)
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            if n == last:
                report(f"warning: {path} line {n}: torn last line (a run killed while writing?) "
                       f"ignored")
                continue
            raise UserError(f"{path} line {n}: not valid JSON") from None
        problem = record_problem(rec)
        if problem:
            raise UserError(f"{path} line {n}: {problem}")
        out.append(rec)
    return out


def _fraction(value) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
            and 0 <= value <= 1)


def record_problem(rec) -> str | None:
    """What makes ``rec`` unfit for a table (``None`` if it is fine): ``task`` and ``name``
    non-empty strings; ``acc_mean``, ``acc_std`` and every ``split_acc`` finite fractions in
    [0, 1] (a percentage such as 57 would print as 5700.0); ``group``, ``method`` and ``metric``
    strings when present."""
    if not isinstance(rec, dict):
        return f"a JSON {type(rec).__name__}, expected an object"
    missing = [k for k in ("task", "name", "acc_mean", "acc_std") if k not in rec]
    if missing:
        return f"needs task, name, acc_mean and acc_std (missing {', '.join(missing)})"
    for key in ("task", "name"):
        if not isinstance(rec[key], str) or not rec[key]:
            return f"{key} {rec[key]!r} must be a non-empty string"
    for key in ("acc_mean", "acc_std"):
        if not _fraction(rec[key]):
            return f"{key} {rec[key]!r} must be a finite fraction in [0, 1] (0.57, not 57)"
    split_acc = rec.get("split_acc", [])
    if not isinstance(split_acc, list) or not all(_fraction(v) for v in split_acc):
        return f"split_acc {split_acc!r} must be a list of finite fractions in [0, 1]"
    for key in ("group", "method", "metric"):
        if rec.get(key) is not None and not isinstance(rec[key], str):
            return f"{key} {rec[key]!r} must be a string"
    return None


def _row_label(rec: dict) -> str:
    method = rec.get("method", "linear")
    layers = rec.get("layers")
    suffix = (f" [{method}" + (f", layers {layers}" if layers and layers != "last" else "")
              + (", norm all" if rec.get("norm") == "all" else "") + "]")
    return rec["name"] + (suffix if suffix != " [linear]" else "")


def summarise(records: list[dict]) -> tuple[list[str], dict[str, dict[str, tuple[float, float, int]]]]:
    """(tasks, {row label: {task: (mean, std, n)}}) with group rows added."""
    latest: dict[tuple[str, str], dict] = {}
    for rec in records:
        latest[(_row_label(rec), rec["task"])] = rec
    tasks = sorted({t for _, t in latest})
    rows: dict[str, dict[str, tuple[float, float, int]]] = {}
    groups: dict[tuple[str, str], list[float]] = {}
    for (label, task), rec in latest.items():
        rows.setdefault(label, {})[task] = (rec["acc_mean"], rec["acc_std"], len(rec.get("split_acc", [])))
        if rec.get("group"):
            suffix = label[len(rec["name"]):]
            groups.setdefault((rec["group"] + suffix, task), []).append(rec["acc_mean"])
    for (group, task), vals in sorted(groups.items()):
        rows.setdefault(f"{group} (n={len(vals)})", {})[task] = (float(np.mean(vals)), float(np.std(vals)), len(vals))
    return tasks, rows


def markdown_table(records: list[dict], average: bool = False) -> str:
    """Rows = encoders, columns = tasks; ``average``: a last column with the mean over the tasks
    (shown only for rows that have every task)."""
    tasks, rows = summarise(records)
    map_tasks = {r["task"] for r in records if r.get("metric") == "mAP"}
    header = [f"{t} (mAP)" if t in map_tasks else t for t in tasks] + (["average"] if average else [])
    lines = ["| encoder | " + " | ".join(header) + " |", "|---|" + "---:|" * len(header)]
    for label in sorted(rows):
        cells = [f"{100 * rows[label][t][0]:.1f} ± {100 * rows[label][t][1]:.1f}" if t in rows[label] else "–"
                 for t in tasks]
        if average:
            full = all(t in rows[label] for t in tasks)
            cells.append(f"{100 * np.mean([rows[label][t][0] for t in tasks]):.1f}" if full else "–")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("Accuracy % (tasks marked mAP: mean average precision %), mean ± std over folds; group rows "
                 "`(n=K)`: mean ± std over the K members.")
    return "\n".join(lines) + "\n"


def bar_plot(records: list[dict], out: Path) -> None:
    """Grouped bars: one group per task, one bar per row label, std as error bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks, rows = summarise(records)
    labels = sorted(rows)
    width = 0.8 / max(1, len(labels))
    fig, ax = plt.subplots(figsize=(max(5, 1.2 * len(tasks) * max(1, len(labels)) * 0.5 + 3), 4))
    for j, label in enumerate(labels):
        xs = [i + (j - (len(labels) - 1) / 2) * width for i, t in enumerate(tasks) if t in rows[label]]
        vals = [rows[label][t] for t in tasks if t in rows[label]]
        ax.bar(xs, [100 * v[0] for v in vals], width, yerr=[100 * v[1] for v in vals], capsize=2, label=label)
    ax.set_xticks(range(len(tasks)), tasks)
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(0, 100)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)


def render(results: Path, out_dir: Path, average: bool = False) -> tuple[Path, Path]:
    """Write ``results.md`` and ``results.png`` into ``out_dir``."""
    records = read_results(results)
    if not records:
        raise UserError(f"results file {results} has no results")
    out_dir.mkdir(parents=True, exist_ok=True)
    md, png = out_dir / "results.md", out_dir / "results.png"
    write_bytes_atomic(md, markdown_table(records, average).encode())
    bar_plot(records, png)
    return md, png
