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
