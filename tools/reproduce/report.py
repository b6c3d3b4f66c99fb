"""The markdown report of ``python -m tools.reproduce``: built from whatever its work folder holds.

Sections: set-up and real budget, accuracy table + bar plot (``finetune.results``), pre-training
runs (steps and images reached, wall time), loss curves, image properties (``generators.stats``),
property-vs-accuracy correlation (``tools.analysis.correlate``), contact sheets, step timings, and what
is missing. Rewritten from scratch on every call (:func:`tools.sections.write_markdown`), so a partial
run gives a partial report.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from generators.atomic import write_json_atomic
from tools.sections import machine_text, note_section, sheets_section, write_markdown
from tools.steps import read_marker


def _read_jsonl(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def loss_plot(work: Path, out: Path) -> Path | None:
    """Loss vs step of every checkpoint under ``WORK/ckpt`` in one PNG."""
    logs = sorted((work / "ckpt").glob("*/log.jsonl"))
    if not logs:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.6))
    for log in logs:
        records = [r for r in _read_jsonl(log) if "loss" in r and "step" in r]
        if records:
            ax.plot([r["step"] for r in records], [r["loss"] for r in records], label=log.parent.name,
                    linewidth=1)
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("MAE loss (normalised pixels)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out, dpi=80)
    plt.close(fig)
    return out


def pretrain_rows(work: Path) -> list[str]:
    rows = ["| run | steps | images seen | wall time of the step (min) | stopped |", "|---|---:|---:|---:|---|"]
    for config_path in sorted((work / "ckpt").glob("*/config.json")):
        config = json.loads(config_path.read_text())
        name = config_path.parent.name
        marker = read_marker(work, f"pretrain-{name}")
        wall = f"{marker['seconds'] / 60:.1f}" if marker else "unfinished"
        rows.append(f"| {name} | {config.get('step')} | {config.get('images_seen')} | {wall} | "
                    f"{config.get('stopped') or ''} |")
    return rows


def step_rows(work: Path) -> list[str]:
    rows = ["| step | seconds | finished (UTC) |", "|---|---:|---|"]
    for path in sorted((work / "steps").glob("*.done"), key=lambda p: p.stat().st_mtime):
        marker = json.loads(path.read_text())
        rows.append(f"| {path.stem} | {marker.get('seconds', '?')} | {marker.get('finished', '?')} |")
    return rows


def setup_section(preset, note: str | None) -> list[str]:
    """Title, how the report was made, the preset, budget, data, evaluation and machine."""
    lines = [f"# Reproduction report: preset `{preset.name}`", "",
             f"Generated {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} by "
             f"`python -m tools.reproduce --preset {preset.name}`.", "",
             f"- Preset: {preset.description}.",
             f"- Budget: {preset.budget_text()}; seeds {list(preset.seeds)}.",
             f"- Data: {preset.n_images} images per kind at {preset.size} px (mode L); kinds: "
             f"{', '.join(preset.kinds)}; parameter overrides: "
             f"{json.dumps(preset.kind_params) if preset.kind_params else 'none'}.",
             f"- Evaluation: linear probe (`python -m finetune linear`) on "
             f"{', '.join(t for t, _ in preset.tasks)}; baselines: `random-init` (the untrained "
             f"encoder of the first run, its `step0/`), `logmel-stats` (hand-crafted log-mel "
             f"mean+std), `audio-*` (MAE pre-training on real audio with the same budget; it sees "
             f"the evaluation clips unlabelled when the audio is the task's own, so it is an "
             f"optimistic in-domain reference).",
             f"- Machine: {machine_text()}.", ""]
    return lines + note_section(note)


def accuracy_section(records: list[dict], report: Path) -> list[str]:
    """The accuracy table and ``accuracy.png``."""
    lines = ["## Accuracy", ""]
    if not records:
        return lines + ["No evaluation finished yet.", ""]
    from finetune.results import bar_plot, markdown_table

    bar_plot(records, report / "accuracy.png")
    return lines + [markdown_table(records), "![accuracy](accuracy.png)", ""]


def pretraining_section(work: Path, report: Path) -> list[str]:
    """Steps, images and wall time of every pre-training run, and ``loss.png``."""
    lines = ["## Pre-training runs", ""] + pretrain_rows(work) + [""]
    if loss_plot(work, report / "loss.png"):
        lines += ["![loss curves](loss.png)", ""]
    return lines


def properties_section(stats: list[dict]) -> list[str]:
    """The image-property table of every dataset plus the log-mel reference row."""
    from generators.stats import load_reference, markdown_table

    lines = ["## Image properties", "",
             "Means ± std over a seeded sample of images, resized to 128 px (see "
             "`docs/analysis.md` for the definitions); the last row is the log-mel "
             "reference (real audio).", ""]
    try:
        reference = load_reference()
    except ValueError:
        reference = None
    rows = stats + ([reference] if reference else [])
    return lines + [markdown_table(rows) if rows else "No statistics yet.\n", ""]


def correlation_section(stats: list[dict], records: list[dict], report: Path) -> list[str]:
    """Per task, property-vs-accuracy correlations (``tools.analysis.correlate``); writes ``stats.json``."""
    from tools.analysis.correlate import correlate

    lines = ["## Properties vs accuracy", ""]
    if not (stats and records):
        return lines + ["Needs both statistics and results.", ""]
    write_json_atomic(report / "stats.json", stats, indent=1)
    for task in sorted({r["task"] for r in records}):
        folder = report / ("correlation-" + task.replace(":", "-").replace("/", "-"))
        try:
            correlate(stats, records, task, folder)
        except ValueError as error:
            lines += [f"{task}: {error}", ""]
            continue
        lines += [f"### {task}", "", (folder / "correlation.md").read_text(), "",
                  f"![correlation]({folder.name}/correlation.png)", ""]
    return lines + ["With one point per kind, r rests on a handful of datasets: read it as a "
                    "description of this run, not as evidence of a law.", ""]


def missing_section(work: Path, preset, failed: dict) -> list[str]:
    """Steps that failed (with their message) or have not run."""
    missing = _missing(work, preset)
    if not (failed or missing):
        return []
    lines = ["## Missing or failed", ""]
    lines += [f"- `{name}` failed: {message}" for name, message in sorted(failed.items())]
    lines += [f"- `{name}` not run" for name in missing if name not in failed]
    return lines + [""]


def write_report(work: Path, report: Path, preset, failed: dict, note: str | None = None) -> Path:
    """Write ``REPORT/report.md`` (and its PNGs) from the work folder; returns its path."""
    work, report = Path(work), Path(report)
    report.mkdir(parents=True, exist_ok=True)
    records = _read_jsonl(work / "results.jsonl")
    stats = [json.loads(p.read_text()) for p in sorted((work / "stats").glob("*.json"))]
    return write_markdown(report / "report.md", [
        setup_section(preset, note), accuracy_section(records, report), pretraining_section(work, report),
        properties_section(stats), correlation_section(stats, records, report), sheets_section(report),
        ["## Steps", ""] + step_rows(work) + [""], missing_section(work, preset, failed)])


def _missing(work: Path, preset) -> list[str]:
    return [n for n in expected_steps(preset) if read_marker(work, n) is None]


def expected_steps(preset) -> list[str]:
    """Names of the steps a full run of ``preset`` finishes (without previews)."""
    names = []
    for kind in preset.kinds:
        names += [f"render-{kind}", f"stats-{kind}"]
        for seed in preset.seeds:
            names.append(f"pretrain-{kind}-s{seed}")
            names += [f"eval-{kind}-s{seed}-{task}" for task, _ in preset.tasks]
    if preset.audio:
        label = "audio-" + Path(preset.audio).parts[0]
        for seed in preset.seeds:
            names.append(f"pretrain-{label}-s{seed}")
            names += [f"eval-{label}-s{seed}-{task}" for task, _ in preset.tasks]
    names += [f"eval-random-init-{task}" for task, _ in preset.tasks]
    names += [f"eval-logmel-stats-{task}" for task, _ in preset.tasks]
    return names
