"""``REPORT/report.md`` of a study (:mod:`tools.study.run`), written from the committed files alone:
``REPORT/results.jsonl`` (the units' rows), ``REPORT/stats/*.json`` (image properties) and
``REPORT/sheets/*.png`` (contact sheets); a fine-tuning study (``probe_results``) reads the probe
study's rows and ``stats/`` beside it. Rewritten from scratch on every call; a partial study
gives a partial report that says at its top how many units are missing and lists them. Fine-tuned
rows of an earlier recipe or budget (:func:`tools.study.plan.is_current`) stay in the results file,
are counted at the top and left out of everything else but the longer-budget check.

The numbers are :mod:`tools.study.stats`, the sections :mod:`tools.study.sections`; the report is
written by the section mechanism both report writers share (:func:`tools.sections.write_markdown`).
"""

from __future__ import annotations

import json
from pathlib import Path

from tools.sections import sheets_section, write_markdown
from tools.study.plan import BUDGET_CHECK, RESULTS, is_current, read_rows, recipe_changes
from tools.study.presets import StudyPreset
from tools.study.sections import (audio_kinds_section, budget_check_section, commands_section, convergence_section,
                                  correlation_section, dataset_name, finetune_section, header, missing_kinds_section,
                                  missing_section, paper_section, properties_section, ranking_table, recipe_controls,
                                  recipe_section, seed_table, study_table, summary_section)
from tools.study.stats import budget_checks, kind_accuracy, summarise


def budget_records(report: Path) -> list[dict]:
    """The longer fine-tunes of ``REPORT/budget-check.jsonl`` (``finetune full`` records; none
    when the file is absent)."""
    from finetune.results import read_results

    path = report / BUDGET_CHECK
    return read_results(path, report=lambda m: None) if path.exists() else []


def write_study_report(preset: StudyPreset, report: Path, failed: dict | None = None,
                       note: str | None = None, plots: bool = True) -> Path:
    """Write ``REPORT/report.md`` (and, with ``plots``, its PNGs) from the committed files;
    returns its path."""
    report = Path(report)
    report.mkdir(parents=True, exist_ok=True)
    every = read_rows(report / RESULTS)
    rows = [r for r in every if is_current(r, preset)]
    tasks = [t.name for t in preset.tasks]
    groups = summarise(rows, tasks)
    # a study whose kinds are the probe study's takes their properties (and probe rows) from there
    probe_results = report / preset.probe_results if preset.probe_results else None
    probe_rows = read_rows(probe_results) if probe_results else []
    stats_dir = probe_results.parent / "stats" if probe_results else report / "stats"
    stats = [json.loads(p.read_text()) for p in sorted(stats_dir.glob("*.json"))]
    stats = [s for s in stats if s.get("name") in preset.all_kinds]
    head, missing = header(preset, rows, failed or {}, note, [r for r in every if not is_current(r, preset)])
    if preset.mode == "recipe":
        body = [recipe_section(preset, groups, tasks, report, plots), recipe_controls(preset, groups, tasks)]
    else:
        acc = kind_accuracy(preset, groups, tasks)  # the image kinds: correlations, paper comparison
        acc_all = kind_accuracy(preset, groups, tasks, preset.all_kinds)  # with the audio-native kinds
        # a longer fine-tune is checked against the rows of today's recipe at every budget
        checks = budget_checks([r for r in every if not recipe_changes(r)], budget_records(report),
                               {t.loader: t.name for t in preset.tasks_of("finetune")})
        body = [summary_section(preset, groups, tasks), finetune_section(preset, rows, probe_rows, groups, checks),
                convergence_section(preset, rows, report, plots), budget_check_section(preset, checks),
                audio_kinds_section(preset, rows, groups, tasks),
                study_table(preset, groups, tasks), seed_table(preset, rows, groups, tasks),
                ranking_table(preset, acc_all, tasks), properties_section(preset, stats),
                missing_kinds_section(preset, rows, probe_rows),
                correlation_section(preset, stats, acc, tasks, report, plots),
                paper_section(preset, rows, groups, acc, tasks),
                sheets_section(report, preset.all_kinds, lambda kind: dataset_name(preset, kind))]
    return write_markdown(report / "report.md",
                          [head, *body, missing_section(missing), commands_section(preset)])
