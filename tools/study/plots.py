"""The plots of a study report that are not the Fig.-3 scatter plots
(:func:`tools.analysis.correlate.plot` draws those)."""

from __future__ import annotations

import math
from pathlib import Path


def recipe_plot(points: list[dict], tasks: list[str], out: Path) -> bool:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(tasks), figsize=(5 * len(tasks), 3.8), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        for label, shape in sorted({(p["label"], p["shape"]) for p in points}):
            line = sorted((p for p in points if p["label"] == label and p["shape"] == shape and task in p["gain"]),
                          key=lambda p: p["cpu_min"])
            if not line:
                continue
            ys = [100 * p["gain"][task] for p in line]
            err = [100 * p["std"][task] if math.isfinite(p["std"][task]) else 0.0 for p in line]
            ax.errorbar([p["cpu_min"] for p in line], ys, yerr=err, marker="o", capsize=3,
                        label=f"{label} {shape}")
            for p, y in zip(line, ys):
                ax.annotate(str(p["steps"]), (p["cpu_min"], y), fontsize=7, xytext=(3, 3), textcoords="offset points")
        ax.axhline(0, color="grey", linewidth=1)
        ax.set_xlabel("pre-training CPU minutes per run")
        ax.set_ylabel("gain over step0 (points)")
        ax.set_title(task, fontsize=10)
        ax.legend(fontsize=7)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=80)
    plt.close(fig)
    return True


def curves_plot(curves: dict[str, dict[str, tuple]], out: Path,
                emphasise: tuple[str, ...] = ("step0", "fractaldb")) -> bool:
    """Validation accuracy vs fine-tuning step, one panel per task: ``curves`` is ``{task: {label:
    (steps, mean, std, n)}}``; the ``emphasise`` labels get their fold spread shaded."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = [t for t in curves if curves[t]]
    if not tasks:
        return False
    fig, axes = plt.subplots(1, len(tasks), figsize=(5.5 * len(tasks), 4), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        for label, (steps, mean, std, n) in curves[task].items():
            strong = label in emphasise
            line, = ax.plot(steps, [100 * v for v in mean], marker="o" if strong else None, markersize=3,
                            linewidth=2 if strong else 0.8, alpha=1 if strong else 0.6, label=f"{label} (n={n})")
            if strong:
                ax.fill_between(steps, [100 * (m - s) for m, s in zip(mean, std)],
                                [100 * (m + s) for m, s in zip(mean, std)], color=line.get_color(), alpha=0.15)
        ax.set_xlabel("fine-tuning step")
        ax.set_ylabel("validation accuracy % (mean over folds)")
        ax.set_title(task, fontsize=10)
        ax.legend(fontsize=6, ncol=2)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    from generators import atomic

    with atomic.atomic_path(out) as tmp:
        fig.savefig(tmp, dpi=80, format="png")
    plt.close(fig)
    return True
