"""``python -m tools.analysis.correlate``: dataset properties vs downstream accuracy (like Fig. 3 of the
synthetic-pattern audio pre-training studies), with Pearson r.

Joins the JSON of ``synthgen stats`` (one entry per dataset, key ``name``) with the JSON
lines of ``python -m finetune linear`` (keys ``task``, ``name``, ``group``, ``acc_mean``): a
stats entry matches the result records whose ``group`` equals its name, or else whose ``name``
does; several matching records (seeds) are averaged. One scatter plot per property (x =
property mean over the sampled images, y = accuracy in %), one point per dataset, labelled,
with a least-squares line and r in the title; plus ``correlation.md`` with r, the two-sided
p-value (t-test, n - 2 degrees of freedom) and n. With few datasets r is noisy: with n = 6,
|r| must exceed 0.81 for p < 0.05.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

from generators.atomic import write_bytes_atomic, write_json_atomic
from generators.image_properties import PROPERTY_NAMES

#: Columns taken from a stats entry, with the axis label used in the plots.
COLUMNS = {
    "spectrum_slope": "spectrum slope (log power / log freq)",
    "edge_density": "edge density",
    "intensity_entropy": "intensity entropy (bits)",
    "png_ratio": "PNG size / raw size",
    "self_similarity": "PHOG self-similarity",
    "diversity": "diversity (thumbnail RMS distance)",
    "intra_class": "intra-class diversity",
    "inter_class": "inter-class diversity",
    "logmel_distance": "distance to log-mel statistics (z-RMS)",
}


class CorrelateError(ValueError):
    """A user mistake: one line."""


def pearson(x, y) -> tuple[float, float]:
    """``(r, two-sided p)`` of paired finite values; NaN for < 3 pairs or a constant side."""
    from scipy import stats as sps

    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan"), float("nan")
    xc, yc = x - x.mean(), y - y.mean()
    r = float(np.clip((xc @ yc) / math.sqrt((xc @ xc) * (yc @ yc)), -1.0, 1.0))
    if abs(r) == 1.0:
        return r, 0.0
    t = r * math.sqrt((len(x) - 2) / (1 - r * r))
    return r, float(2 * sps.t.sf(abs(t), len(x) - 2))


def stats_value(entry: dict, column: str) -> float:
    if column in PROPERTY_NAMES:
        value = entry["properties"][column]["mean"]
    else:
        value = entry.get(column)
    return float("nan") if value is None else float(value)


def join(stats: list[dict], results: list[dict], task: str) -> list[dict]:
    """Rows ``{"name", "accuracy" (0-1), "n_runs", column: value...}`` for matched datasets."""
    rows = []
    for entry in stats:
        records = [r for r in results if r.get("task") == task and r.get("group") == entry["name"]]
        if not records:
            records = [r for r in results if r.get("task") == task and r.get("name") == entry["name"]]
        latest = {}
        for r in records:  # a repeated run replaces the earlier line, as in finetune's tables
            latest[(r["name"], r.get("method", "linear"))] = r
        accs = [r["acc_mean"] for r in latest.values() if r.get("method", "linear") == "linear"]
        if not accs:
            continue
        row = {"name": entry["name"], "accuracy": float(np.mean(accs)), "n_runs": len(accs)}
        row.update({c: stats_value(entry, c) for c in COLUMNS})
        rows.append(row)
    return rows


def correlations(rows: list[dict]) -> dict[str, dict]:
    acc = [r["accuracy"] for r in rows]
    out = {}
    for column in COLUMNS:
        values = [r[column] for r in rows]
        r, p = pearson(values, acc)
        out[column] = {"r": r, "p": p, "n": int(np.sum(np.isfinite(values)))}
    return out


def plot(rows: list[dict], table: dict[str, dict], task: str, out: Path, singles: bool = True) -> list[Path]:
    """One PNG per column with >= 3 points (unless ``singles`` is False), and
    ``correlation.png`` with all of them."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    columns = [c for c in COLUMNS if table[c]["n"] >= 3]
    written = []
    cols = 3
    grid_rows = max(1, math.ceil(len(columns) / cols))
    grid, axes = plt.subplots(grid_rows, cols, figsize=(4 * cols, 3.3 * grid_rows), squeeze=False)
    for ax in axes.ravel()[len(columns):]:
        ax.axis("off")
    for column, grid_ax in zip(columns, axes.ravel()):
        _scatter(grid_ax, rows, column, table[column], task)
        if not singles:
            continue
        single, ax1 = plt.subplots(figsize=(4.5, 3.5))
        _scatter(ax1, rows, column, table[column], task)
        single.tight_layout()
        path = out / f"correlation-{column}.png"
        single.savefig(path, dpi=90)
        plt.close(single)
        written.append(path)
    grid.tight_layout()
    path = out / "correlation.png"
    grid.savefig(path, dpi=80)
    plt.close(grid)
    return [path, *written]


def _scatter(ax, rows: list[dict], column: str, stat: dict, task: str) -> None:
    xs = np.array([r[column] for r in rows])
    ys = np.array([100 * r["accuracy"] for r in rows])
    keep = np.isfinite(xs)
    ax.scatter(xs[keep], ys[keep], s=22, color="tab:blue")
    for r, x, y in zip(rows, xs, ys):
        if np.isfinite(x):
            ax.annotate(r["name"], (x, y), fontsize=6, xytext=(3, 2), textcoords="offset points")
    if keep.sum() >= 2 and np.ptp(xs[keep]) > 0:
        slope, intercept = np.polyfit(xs[keep], ys[keep], 1)
        line = np.linspace(xs[keep].min(), xs[keep].max(), 2)
        ax.plot(line, slope * line + intercept, color="tab:red", linewidth=1)
    ax.set_title(f"r = {stat['r']:.2f} (p = {stat['p']:.2f}, n = {stat['n']})", fontsize=9)
    ax.set_xlabel(COLUMNS[column], fontsize=8)
    ax.set_ylabel(f"{task} accuracy (%)", fontsize=8)
    ax.tick_params(labelsize=7)


def markdown(rows: list[dict], table: dict[str, dict], task: str) -> str:
    lines = [f"Pearson r between dataset properties and linear-probe accuracy on {task} "
             f"({len(rows)} datasets).", "", "| property | r | p | n |", "|---|---:|---:|---:|"]
    for column, s in sorted(table.items(), key=lambda kv: -abs(kv[1]["r"]) if math.isfinite(kv[1]["r"]) else 0):
        r = "–" if not math.isfinite(s["r"]) else f"{s['r']:+.2f}"
        p = "–" if not math.isfinite(s["p"]) else f"{s['p']:.3f}"
        lines.append(f"| {column} | {r} | {p} | {s['n']} |")
    lines += ["", "| dataset | accuracy % | runs |", "|---|---:|---:|"]
    lines += [f"| {r['name']} | {100 * r['accuracy']:.1f} | {r['n_runs']} |" for r in rows]
    return "\n".join(lines) + "\n"


def read_results(path: Path) -> list[dict]:
    try:
        text = path.read_text()
    except OSError:
        raise CorrelateError(f"results file {path} cannot be read") from None
    records = []
    for n, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                records.append(json.loads(line))
            except ValueError:
                raise CorrelateError(f"{path} line {n}: not valid JSON") from None
    return records


def read_stats(path: Path) -> list[dict]:
    try:
        stats = json.loads(path.read_text())
    except (OSError, ValueError):
        raise CorrelateError(f"stats file {path} is not readable JSON") from None
    stats = stats if isinstance(stats, list) else [stats]
    if not all(isinstance(s, dict) and "name" in s and "properties" in s for s in stats):
        raise CorrelateError(f"stats file {path} must hold synthgen stats entries")
    return stats


def correlate(stats: list[dict], results: list[dict], task: str, out: Path) -> dict:
    """Join, compute r, write ``correlation.md``, ``correlation.json`` and the PNGs into ``out``."""
    rows = join(stats, results, task)
    if not rows:
        raise CorrelateError(f"no stats entry matches a result of task {task} by group or name")
    table = correlations(rows)
    out.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(out / "correlation.md", markdown(rows, table, task).encode())
    write_json_atomic(out / "correlation.json", {"task": task, "rows": rows, "r": table}, indent=1, default=float)
    plot(rows, table, task, out)
    return {"rows": rows, "r": table}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tools.analysis.correlate",
                                description="Scatter plots and Pearson r: dataset properties vs accuracy.")
    p.add_argument("--stats", required=True, type=Path, help="JSON from synthgen stats --json")
    p.add_argument("--results", required=True, type=Path, help="JSON lines of python -m finetune")
    p.add_argument("--task", default="fsdd", help="task whose accuracy is plotted (default fsdd)")
    p.add_argument("--out", required=True, type=Path, help="folder for correlation*.png/.md/.json")
    args = p.parse_args(argv)
    try:
        result = correlate(read_stats(args.stats), read_results(args.results), args.task, args.out)
    except CorrelateError as error:
        print(f"correlate: error: {error}", file=sys.stderr)
        return 2
    print((args.out / "correlation.md").read_text(), end="")
    return 0 if result else 1


if __name__ == "__main__":
    sys.exit(main())
