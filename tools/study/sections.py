"""The markdown sections of a study report (:mod:`tools.study.report`): the header and status,
the accuracy, seed, ranking, property, correlation and recipe tables with their verdicts, the
comparison with the paper and the commands. Each function returns its lines; the numbers come
from :mod:`tools.study.stats`, the plots from :mod:`tools.study.plots` and
:func:`tools.analysis.correlate.plot`.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from tools.sections import note_section
from tools.study.plan import (BUDGET_CHECK, RESULTS, extreme_kinds, plan_units, setting_changes, study_recipe,
                              unit_done)
from tools.study.plots import curves_plot, recipe_plot
from tools.study.presets import SMALL_KINDS, STUDY_PRESETS, StudyPreset
from tools.study.stats import (ALPHA, LAST_PART, beyond_noise, budget_gains, convergence, costs, family,
                               finetune_cpu, machine_hours, mean_curve, probe_accuracy, probe_means, probes,
                               property_rows, split_by_noise, summarise, versus_control, versus_kind, versus_probe)


def _pct(v, sign=False) -> str:
    if v is None or not math.isfinite(v):
        return "–"
    return f"{100 * v:+.1f}" if sign else f"{100 * v:.1f}"


def dataset_name(preset: StudyPreset, label: str) -> str:
    """``(letter) label`` for the kinds of the study, the label alone for the controls."""
    letter = preset.letter(label)
    return f"({letter}) {label}" if letter else label


def status_lines(preset: StudyPreset, rows: list[dict], failed: dict) -> tuple[list[str], list[str], bool]:
    """The status paragraph, the list of missing units, and whether the study is complete."""
    units = plan_units(preset, rows)
    missing = [u.name for u in units if not unit_done(rows, u, preset)]
    extremes_known = extreme_kinds(preset, rows) is not None
    complete = not (missing or (preset.mode == "study" and preset.extremes and not extremes_known))
    lines = []
    if not complete:
        text = (f"**PARTIAL STUDY: {len(units) - len(missing)} of {len(units)} planned units are in "
                f"`{RESULTS}`; {len(missing)} missing** (listed under \"Missing units\").")
        if preset.mode == "study" and preset.extremes and preset.extra_seeds and not extremes_known:
            text += (f" The extra seeds {list(preset.extra_seeds)} of the {preset.extremes} best and "
                     f"{preset.extremes} worst kinds are planned once every kind has its first seed, so "
                     f"{preset.extremes * 2 * len(preset.extra_seeds)} more units will follow.")
        text += " Tables, rankings and correlations below cover only the units that are in."
        lines.append(text)
    else:
        lines.append(f"**Complete: all {len(units)} planned units are in `{RESULTS}`.**")
    miss = [f"- `{name}`" + (f" failed: {failed[name]}" if name in failed else "") for name in missing]
    return lines, miss, complete


def earlier_recipe_lines(preset: StudyPreset, earlier: list[dict]) -> list[str]:
    """The report's note on fine-tuned rows of earlier settings (recipe or budget; left out of its
    numbers)."""
    if not earlier:
        return []
    recipes: dict[str, dict[str, list]] = {}
    for r in earlier:
        changed = ", ".join(f"{k} {v}" for k, v in setting_changes(r, preset).items())
        tasks = recipes.setdefault(changed, {}).setdefault(r["unit"], [])
        if r["task"] not in tasks:
            tasks.append(r["task"])
    return [f"{len(earlier)} fine-tuned row(s) in `{RESULTS}` were made with earlier fine-tuning settings and "
            "are left out of this report (the same command fine-tunes their units again on those tasks with "
            "today's): " + "; ".join(f"{changed} (" + ", ".join(f"`{u}` on {' and '.join(tasks)}"
                                                              for u, tasks in sorted(units.items())) + ")"
                                     for changed, units in recipes.items())
            + f". Today's recipe: {', '.join(f'{k} {v}' for k, v in study_recipe().items())} (the lr grid is "
            f"the preset's); budgets: {budgets_text(preset)}.", ""]


def budgets_text(preset: StudyPreset) -> str:
    """Each fine-tuned task's budget, ``fsdd-ft 2400 steps, ...``."""
    return ", ".join(f"{t.name} {preset.task_steps(t)} steps" for t in preset.tasks_of("finetune"))


def header(preset: StudyPreset, rows: list[dict], failed: dict, note: str | None,
           earlier: list[dict] = ()) -> tuple[list[str], list[str]]:
    """The report's top: status, what wrote it, the preset's budget, data and cost; ``earlier``:
    fine-tuned rows of earlier settings (counted, not used)."""
    status, missing, complete = status_lines(preset, rows, failed)
    cpu, wall, machines = costs(rows)
    shapes = ", ".join(preset.input_sizes)
    steps = ", ".join(str(s) for s in preset.steps)
    lines = [f"# Study report: preset `{preset.name}`", "", *status, "", *earlier_recipe_lines(preset, list(earlier)),
             f"Written by `python -m tools.reproduce --preset {preset.name}` from `{RESULTS}` (one row per "
             f"unit and task), `stats/` and `sheets/` in this folder." if not preset.probe_results else
             f"Written by `python -m tools.reproduce --preset {preset.name}` from `{RESULTS}` in this folder (one "
             f"row per unit and task) and, for the probes beside the fine-tunes and the image properties, the "
             f"probe study's `{preset.probe_results}` and the `stats/` beside it.", "",
             f"- Preset: {preset.description}.",
             f"- Budget: {steps} optimizer steps x batch {preset.batch_size} per run, `{preset.model}` MAE, "
             f"input {shapes}, peak lr {preset.lr if preset.lr else 'pretrain default'}, "
             f"{preset.threads} torch thread(s) per run, checkpoint every {preset.save_every} steps.",
             f"- Data: {preset.n_images:,} images per kind at {preset.size} px (mode L)"
             + ("; " + ", ".join(f"{k} {n:,}" for k, n in preset.kind_n.items() if k in preset.kinds)
                if any(k in preset.kinds for k in preset.kind_n) else "")
             + f"; epochs per run = steps x batch / images (in the tables); render overrides: "
               f"{json.dumps(preset.kind_params) if preset.kind_params else 'none'}.",
             evaluation_text(preset),
             f"- {'Cost' if complete else 'Cost so far'}: {cpu / 3600:.1f} CPU hours (pre-training + "
             f"evaluation, from the units' own CPU time), {wall / 3600:.1f} hours of unit wall time "
             f"(render + pre-training + evaluation; units run side by side overlap), about "
             f"{machine_hours(rows):.1f} hours of machine time (the union of the units' run intervals).",
             f"- Machine(s): {'; '.join(machines) if machines else 'none yet'}.", ""]
    return lines + note_section(note), missing


def evaluation_text(preset: StudyPreset) -> str:
    """The header's line on how the tasks evaluate an encoder (probe suite, fine-tuning or both)."""
    probe, tuned = preset.tasks_of("probe"), preset.tasks_of("finetune")
    parts = []
    if probe:
        parts.append(f"`python -m finetune suite` (linear probe on whole clips in chunks, "
                     f"{pooling_text(preset)}, last block, `--norm {preset.probe_norm}`), accuracy % "
                     f"mean ± std over folds, on {', '.join(t.name for t in probe)}")
    if tuned:
        from finetune.recipe import RECIPE

        interval = (f"every {preset.ft_eval_every} steps" if preset.ft_eval_every else
                    "every tenth of the budget")
        parts.append(f"`python -m finetune full` (encoder + linear head fine-tuned end to end, head pooling "
                     f"{RECIPE['head_pooling']}, head norm {RECIPE['head_norm']}, optimizer steps of "
                     f"{preset.ft_batch} clips: {budgets_text(preset)}, peak lr "
                     f"{', '.join(f'{lr:g}' for lr in preset.ft_lrs)} "
                     f"chosen with the step on the validation split, evaluated {interval}; the test "
                     f"split evaluated once, at the chosen state; whole clips), accuracy % mean ± std over folds, on "
                     f"{', '.join(t.name for t in tuned)}"
                     + (f"; each encoder's own linear probe and `logmel-stats` from `{preset.probe_results}`"
                        if preset.probe_results else ""))
    return (f"- Evaluation: {'; '.join(parts)}. `step0` = the untrained encoder of the same seed (`random:SEED`, "
            f"identical to a run's `step0/`), seeds {list(preset.step0_seeds)}.")


def pooling_text(preset: StudyPreset) -> str:
    """How the preset's tasks pool the encoder's tokens, in words."""
    groups = probes(preset, [t.name for t in preset.tasks])
    words = {"freq": "frequency-preserving pooling", "mean": "mean pooling"}
    names = {p: words.get(p, f"{p} pooling") for p in groups}
    if len(groups) == 1:
        return next(iter(names.values()))
    return "; ".join(f"{names[p]} on {', '.join(ts)}" for p, ts in groups.items())


def study_table(preset: StudyPreset, groups: dict, tasks: list[str]) -> list[str]:
    shape, steps = preset.input_sizes[0], preset.steps[0]
    s0 = groups.get(("step0", shape, None), {})
    means = probe_means(preset, tasks)
    head = "| dataset | seeds | epochs | " + " | ".join(f"{t} acc | {t} gain" for t in tasks) + " | " + \
        " | ".join(f"{m} gain" for m in means) + " |"
    lines = ["## Accuracy and gain over step0", "",
             "Accuracy % (mean over seeds ± mean fold std) and gain over `step0` of the same seed in "
             "points (± fold spread of the paired per-fold differences). **Bold** gains are beyond "
             "noise: paired t-test over folds p < 0.05 and larger than twice the seed spread of "
             "`step0` (and of the kind, where it has several seeds). `leaky`: the pre-training "
             "audio contains that task's clips (unlabelled), so only the other column is fair.", "",
             head, "|---|---|---:|" + "---:|---:|" * len(tasks) + "---:|" * len(means)]
    step0_std = {t: s0.get(t, {}).get("acc_seed_std", float("nan")) for t in tasks}
    order = [("step0", shape, None), ("logmel-stats", shape, None)]
    order += [(k, shape, steps) for k in preset.all_kinds]
    order += [(label, sh, st) for (label, sh, st), g in groups.items() if g["role"] == "audio"]
    for key in order:
        g = groups.get(key)
        if g is None:
            if key[0] in preset.all_kinds:
                lines.append(f"| {dataset_name(preset, key[0])} | – | {preset.epochs(key[0], steps):.1f} | "
                             + " | ".join("– | –" for _ in tasks) + " |" + " – |" * len(means))
            continue
        cells = [dataset_name(preset, key[0]), ",".join(str(s) for s in sorted(g["seeds"]))]
        cells.append(f"{preset.epochs(g['kind'], steps):.1f}" if g["kind"] else "–")
        gains = {}
        for t in tasks:
            e = g.get(t)
            if e is None:
                cells += ["–", "–"]
                continue
            acc = f"{_pct(e['acc'])} ± {_pct(e['acc_fold_std'])}"
            if t in g["leaky"]:
                acc += " leaky"
            if g["role"] == "step0":
                gain = f"0 (seed std {_pct(e['acc_seed_std'])})"
            else:
                gain = f"{_pct(e['gain'], True)} ± {_pct(e['gain_fold_std'])}"
                if beyond_noise(e, step0_std[t]):
                    gain = f"**{gain}**"
                if t not in g["leaky"] and math.isfinite(e["gain"]):
                    gains[t] = e["gain"]
            cells += [acc, gain]
        for m_tasks in means.values():
            m = [gains[t] for t in m_tasks if t in gains]
            cells.append(_pct(np.mean(m), True) if m and g["role"] != "step0" else "–")
        lines.append("| " + " | ".join(cells) + " |")
    return lines + [""]


def summary_section(preset: StudyPreset, groups: dict, tasks: list[str]) -> list[str]:
    """What is beyond noise, task by task: how many kinds beat step0 beyond noise, fall below it
    beyond noise or stay within it, the best kind, the controls' gains, and the mean gain per
    family of kinds (first seeds and extra seeds alike: the group's mean)."""
    shape, steps = preset.input_sizes[0], preset.steps[0]
    s0 = groups.get(("step0", shape, None), {})
    kinds = {k: groups[(k, shape, steps)] for k in preset.kinds if (k, shape, steps) in groups}
    audio = next((g for g in groups.values() if g["role"] == "audio"), None)
    logmel = groups.get(("logmel-stats", shape, None))
    lines = ["## What is beyond noise", "",
             "Per task: the kinds measured so far whose gain over `step0` is beyond noise (the rule of "
             "the table below), above or below, and those within noise; the best kind; the gains of "
             "the controls. Family means are plain means of the kinds' gains.", "",
             "| task | kinds | above step0 | below step0 | within noise | best kind (gain) | logmel-stats | real audio |",
             "|---|---:|---:|---:|---:|---|---:|---:|"]
    fams = list(dict.fromkeys(family(k) for k in kinds))  # in the preset's order of kinds
    fam_gain: dict[str, dict[str, float]] = {f: {} for f in fams}
    for t in tasks:
        std = s0.get(t, {}).get("acc_seed_std", float("nan"))
        measured, up, down = split_by_noise(kinds, t, std)
        best = max(measured, key=lambda k: measured[k]["gain"]) if measured else None

        def control(g):
            if g is None or t not in g or not math.isfinite(g[t]["gain"]):
                return "–"
            text = _pct(g[t]["gain"], True) + (" leaky" if t in g["leaky"] else "")
            return f"**{text}**" if beyond_noise(g[t], std) else text

        lines.append(f"| {t} | {len(measured)} | {len(up)} | {len(down)} | {len(measured) - len(up) - len(down)} | "
                     + (f"{dataset_name(preset, best)} ({_pct(measured[best]['gain'], True)})" if best else "–")
                     + f" | {control(logmel)} | {control(audio)} |")
        for f in fams:
            gains = [e["gain"] for k, e in measured.items() if family(k) == f]
            if gains:
                fam_gain[f][t] = float(np.mean(gains))
    lines.append("")
    if fams:
        lines += ["Mean gain over `step0` per family (points):", "",
                  "| family | kinds | " + " | ".join(tasks) + " |", "|---|---:|" + "---:|" * len(tasks)]
        for f in fams:
            n = sum(family(k) == f for k in kinds)
            lines.append(f"| {f} | {n} | " + " | ".join(_pct(fam_gain[f].get(t, float("nan")), True) for t in tasks) + " |")
        lines.append("")
    return lines


def audio_kinds_section(preset: StudyPreset, rows: list[dict], groups: dict, tasks: list[str]) -> list[str]:
    """The audio-native kinds (``preset.audio_kinds``) against step0, the best image kind and the
    real-audio MAE, task by task, with one generated sentence per task from the measured numbers."""
    if not preset.audio_kinds:
        return []
    shape, steps = preset.input_sizes[0], preset.steps[0]
    s0 = groups.get(("step0", shape, None), {})
    first, last = preset.letter(preset.audio_kinds[0]), preset.letter(preset.audio_kinds[-1])
    lines = [f"## Audio-native kinds ({first}–{last})", "",
             f"{len(preset.audio_kinds)} kinds synthesise sound (harmonic, FM, classic waveforms, coloured "
             "noise, chirps/AM, struck modes and their mixtures; `docs/audio-kinds.md`) and store its "
             "log-mel through the evaluation's own front end; one seed each at the budget of the image "
             "kinds. They are rows of the tables below but stay out of the extremes, the Fig. 3 "
             "correlations and the paper comparison, which are over the image datasets a–q. "
             "Gains over `step0` follow the noise rule of the accuracy table; the best kinds are "
             "chosen by their accuracy over all their seeds, and the differences to the best image "
             "kind and to the real-audio MAE are paired over the folds of the seeds both have (p of "
             "a paired t-test; the sentences give the other encoder's accuracy on those seeds).", ""]
    audio = {k: groups[(k, shape, steps)] for k in preset.audio_kinds if (k, shape, steps) in groups}
    if not audio:
        return lines + ["No audio-native kind measured yet.", ""]
    image = {k: groups[(k, shape, steps)] for k in preset.kinds if (k, shape, steps) in groups}
    real = next(((label, g) for (label, _, _), g in groups.items() if g["role"] == "audio"), None)
    lines += ["| task | audio kinds | above step0 | below | within noise | best audio kind (acc, gain) "
              "| best image kind (acc, gain) | audio − image, shared seeds (p) | real audio (acc) | audio − real, shared seeds (p) |",
              "|---|---:|---:|---:|---:|---|---|---:|---:|---:|"]
    sentences = []
    for t in tasks:
        std = s0.get(t, {}).get("acc_seed_std", float("nan"))
        measured, up, down = split_by_noise(audio, t, std)
        if not measured:
            continue
        best = max(measured, key=lambda k: measured[k]["acc"])
        img = {k: g[t] for k, g in image.items() if t in g}
        best_img = max(img, key=lambda k: img[k]["acc"]) if img else None
        vs_img = versus_kind(rows, best, best_img, t) if best_img else None
        vs_real = versus_kind(rows, best, real[0], t) if real and t in real[1] else None
        leaky = real is not None and t in real[1]["leaky"]

        def diff(v):
            return f"{_pct(v[0], True)} (p = {v[1]:.3f})" if v else "–"

        lines.append(f"| {t} | {len(measured)} | {len(up)} | {len(down)} | {len(measured) - len(up) - len(down)} | "
                     f"{dataset_name(preset, best)} ({_pct(measured[best]['acc'])}, "
                     f"{_pct(measured[best]['gain'], True)}) | "
                     + (f"{dataset_name(preset, best_img)} ({_pct(img[best_img]['acc'])}, "
                        f"{_pct(img[best_img]['gain'], True)})" if best_img else "–")
                     + f" | {diff(vs_img)} | "
                     + (f"{_pct(real[1][t]['acc'])}{' leaky' if leaky else ''}" if real and t in real[1] else "–")
                     + f" | {diff(vs_real)} |")

        def compare(v, what, note=""):
            if v is None:
                return f"not paired with {what}"
            word = "above" if v[0] > 0 else "below"
            verdict = "beyond noise" if v[1] < ALPHA else "within noise"
            seeds = ", ".join(str(s) for s in v[4])
            return (f"{abs(100 * v[0]):.1f} points {word} {what} at {_pct(v[3])} % on seed{'s' if len(v[4]) > 1 else ''} "
                    f"{seeds} ({note}{verdict}, p = {v[1]:.3f})")

        text = (f"On {t}, of {len(measured)} audio-native kinds {len(up)} are above `step0` beyond noise and "
                f"{len(down)} below; the best, {dataset_name(preset, best)} at {_pct(measured[best]['acc'])} %, is "
                + (compare(vs_img, f"the best image kind, {dataset_name(preset, best_img)},") if best_img
                   else "not compared with an image kind"))
        if real and t in real[1]:
            text += ", and " + compare(vs_real, "the real-audio MAE",
                                       "its pre-training audio contains this task's clips; " if leaky else "")
        sentences.append(f"- {text}.")
    fam = {}
    for label, kinds in (("audio-native", audio), ("image", image)):
        fam[label] = {t: float(np.mean([g[t]["gain"] for g in kinds.values() if t in g and math.isfinite(g[t]["gain"])]))
                      for t in tasks if any(t in g and math.isfinite(g[t]["gain"]) for g in kinds.values())}
    lines += ["", "Mean gain over `step0` (points): audio-native kinds "
              + ", ".join(f"{t} {_pct(v, True)}" for t, v in fam["audio-native"].items())
              + "; image kinds " + ", ".join(f"{t} {_pct(v, True)}" for t, v in fam["image"].items()) + ".", ""]
    return lines + sentences + [""]


#: The study whose comparison the study presets repeat at their own scale; only the claims of its
#: abstract are quoted, the rest of the comparison is measured here.
PAPER = ("Y. Ishikawa, T. Komatsu and Y. Aoki, *Pre-training with Synthetic Patterns for Audio*, "
         "ICASSP 2025 (arXiv:2410.00511)")


def paper_section(preset: StudyPreset, rows: list[dict], groups: dict, acc: dict, tasks: list[str]) -> list[str]:
    """How the measured ordering compares with the claims of :data:`PAPER`: synthetic
    pre-training against none (``step0``), against real-audio pre-training at the same budget on
    the tasks its audio does not contain, and which patterns lead (``acc``: :func:`kind_accuracy`)."""
    shape, steps = preset.input_sizes[0], preset.steps[0]
    s0 = groups.get(("step0", shape, None), {})
    kinds = {k: groups[(k, shape, steps)] for k in preset.kinds if (k, shape, steps) in groups}
    lines = ["## How this compares with the paper", "",
             f"This study repeats, at CPU scale, the comparison of {PAPER}. The abstract claims that "
             "MAE pre-training on synthetic patterns reaches audio accuracy comparable to "
             "pre-training on AudioSet-2M, and that its 17 datasets show which kinds of pattern are "
             "effective. This study trains a much smaller encoder for far fewer images "
             f"(`{preset.model}`, {shape}, {steps} steps x {preset.batch_size}; the `gpu-paper` "
             "preset of `python -m tools.reproduce` is the setting closer to the paper's), so it "
             "tests whether the claims already hold at this budget:", ""]
    if not kinds:
        return lines + ["No pattern kind measured yet.", ""]
    parts = []
    for t in tasks:
        measured, up, down = split_by_noise(kinds, t, s0.get(t, {}).get("acc_seed_std", float("nan")))
        parts.append(f"{t} {len(up)} above, {len(down)} below, {len(measured) - len(up) - len(down)} within noise")
    lines += ["- **Synthetic pre-training against none** (`step0`, the rule of the tables above), "
              f"per task, of the {len(kinds)} kinds measured: " + "; ".join(parts) + ".", ""]
    audio = next((g for g in groups.values() if g["role"] == "audio"), None)
    if audio is None:
        lines += ["- **Synthetic against real-audio pre-training at the same budget** (the paper's "
                  "AudioSet-2M comparison): pending, the real-audio unit is not in yet.", ""]
    else:
        fair = [t for t in tasks if t in audio and t not in audio["leaky"]]
        versus = versus_control(rows, "audio", fair)
        lines += ["- **Synthetic against real-audio pre-training at the same budget** (the paper's "
                  "AudioSet-2M comparison; here MAE on the pre-training audio of the preset, so only "
                  "the tasks whose clips it does not contain count). A kind is above or below the "
                  "real-audio encoder when the paired t-test over folds gives p < 0.05:", "",
                  "| task | real audio acc | best kind (acc on the seeds of the real-audio run, difference, p) "
                  "| above | within | below |",
                  "|---|---:|---|---:|---:|---:|"]
        for t in fair:
            diffs = {k: v for k, v in versus[t].items() if k in kinds}
            if not diffs:
                continue
            best = max(diffs, key=lambda k: diffs[k][0])
            above = sum(d > 0 and p < ALPHA for d, p, _ in diffs.values())
            below = sum(d < 0 and p < ALPHA for d, p, _ in diffs.values())
            lines.append(f"| {t} | {_pct(audio[t]['acc'])} | {dataset_name(preset, best)} ({_pct(diffs[best][2])}, "
                         f"{_pct(diffs[best][0], True)}, p = {diffs[best][1]:.3f}) | {above} | "
                         f"{len(diffs) - above - below} | {below} |")
        lines.append("")
    for key, m_tasks in probe_means(preset, tasks).items():
        order = sorted(acc[key], key=lambda k: -acc[key][k])
        if len(order) < 2:
            continue
        n = min(3, len(order) // 2)
        probe = key.partition(" ")[2]
        lines.append(f"- **Which patterns lead**{f' ({probe} pooling)' if probe else ''}: by mean accuracy "
                     f"over {', '.join(m_tasks)}, first {', '.join(dataset_name(preset, k) for k in order[:n])}; "
                     f"last {', '.join(dataset_name(preset, k) for k in order[-n:])} ({len(order)} kinds with "
                     "every task).")
    lines += ["", "The paper's own per-dataset accuracies and Fig. 3 correlations are not restated in this "
              "report: set the ranking and the Fig. 3 tables above beside the paper's to compare the "
              "orderings property by property.", ""]
    return lines


def seed_table(preset: StudyPreset, rows: list[dict], groups: dict, tasks: list[str]) -> list[str]:
    shape, steps = preset.input_sizes[0], preset.steps[0]
    extremes = extreme_kinds(preset, rows)
    title = "## Seed spread: step0 and the extreme kinds"
    if not preset.extremes or not preset.extra_seeds:  # no extremes rule: the kinds named with seeds
        several = [k for k in preset.seed_kinds if (k, shape, steps) in groups]
        planned = ", ".join(f"{k} {list(preset.seeds + tuple(v))}" for k, v in preset.seed_kinds.items())
        lines = ["## Seed spread: step0" + "".join(f" and {k}" for k in several), "",
                 f"Kinds planned with several seeds: {planned or 'none'}.", ""]
        keys = [("step0", shape, None)] + [(k, shape, steps) for k in several]
    elif extremes is None:
        lines = [title, "", "The extreme kinds are chosen once every kind has its first seed; until then only "
                 "step0's seeds are shown.", ""]
        keys = [("step0", shape, None)]
    else:
        lines = [title, "", f"Best by mean accuracy of the first seed: {', '.join(extremes[0])}; worst: "
                 f"{', '.join(extremes[1])}.", ""]
        keys = [("step0", shape, None)] + [(k, shape, steps) for k in extremes[0] + extremes[1]]
    lines += ["| dataset | task | accuracy per seed | mean ± seed std | gain ± seed std |", "|---|---|---|---:|---:|"]
    for key in keys:
        g = groups.get(key)
        if g is None:
            continue
        for t in tasks:
            e = g.get(t)
            if e is None:
                continue
            per_seed = " / ".join(f"s{s}: {_pct(a)}" for s, a in sorted(e["seed_accs"].items()))
            gain = "–" if g["role"] == "step0" else f"{_pct(e['gain'], True)} ± {_pct(e['gain_seed_std'])}"
            lines.append(f"| {dataset_name(preset, key[0])} | {t} | {per_seed} | {_pct(e['acc'])} ± "
                         f"{_pct(e['acc_seed_std'])} | {gain} |")
    return lines + [""]


def ranking_table(preset: StudyPreset, acc: dict, tasks: list[str]) -> list[str]:
    means = [m for m in probe_means(preset, tasks) if m != "mean"]
    columns = [*tasks, *means]
    lines = ["## Ranking", "", "Rank 1 = highest accuracy; ordered by the mean accuracy over the tasks"
             + (f" (the per-probe means in the columns {', '.join(means)})" if means else "") + ".", "",
             "| rank | dataset | " + " | ".join(f"{t} (rank)" for t in columns) + " | mean |",
             "|---:|---|" + "---:|" * len(columns) + "---:|"]
    ranks = {t: {k: i + 1 for i, k in enumerate(sorted(acc[t], key=lambda k: -acc[t][k]))} for t in columns}
    for i, kind in enumerate(sorted(acc["mean"], key=lambda k: -acc["mean"][k]), 1):
        cells = [str(i), dataset_name(preset, kind)]
        cells += [f"{_pct(acc[t][kind])} ({ranks[t][kind]})" if kind in acc[t] else "–" for t in columns]
        cells.append(_pct(acc["mean"][kind]))
        lines.append("| " + " | ".join(cells) + " |")
    return lines + [""]


def properties_section(preset: StudyPreset, stats: list[dict]) -> list[str]:
    from generators.stats import markdown_table

    lines = ["## Image properties", "",
             f"`synthgen stats` over {preset.stats_n} images per dataset, resized to 128 px; means ± std "
             "(definitions in `docs/analysis.md`).", ""]
    if not stats:
        return lines + ["No dataset measured yet.", ""]
    named = [{**s, "name": dataset_name(preset, s["name"])} for s in stats]
    return lines + [markdown_table(named), ""]


def correlation_section(preset: StudyPreset, stats: list[dict], acc: dict, tasks: list[str],
                        report: Path, plots: bool = True) -> list[str]:
    """Fig.-3-style Pearson r and p per property over a-n and over all kinds, with scatter plots;
    one table per pooling probe when the tasks use several (see :func:`probe_means`)."""
    means = probe_means(preset, tasks)
    lines = ["## Properties vs accuracy (Fig. 3 at this scale)", "",
             "Pearson r and two-sided p between each property and the mean accuracy over the tasks "
             "(one point per dataset), over the 14 small datasets a–n as the paper does, and over all "
             "datasets as a second view; per-task r in the last columns"
             + ("; one table per pooling, as the two probes measure different things" if len(means) > 1 else "")
             + ".", ""]
    for key, m_tasks in means.items():
        probe = key.partition(" ")[2]
        if probe:
            lines += [f"### {probe} pooling ({', '.join(m_tasks)})", ""]
        lines += _correlation_table(preset, stats, acc, key, m_tasks, report, probe, plots)
    return lines


def correlation_verdict(beyond: list[tuple[str, float]], n: int) -> list[str]:
    """The plain statement under a Fig.-3 table: ``beyond`` lists ``(text, p)`` for every
    correlation with p < ALPHA; one survives when p < ALPHA / ``n`` (Bonferroni over the ``n``
    properties tested)."""
    strict = [text for text, p in beyond if p < ALPHA / n]
    lines = [f"p < {ALPHA:g} before correcting for the number of properties tested: "
             + "; ".join(text for text, _ in beyond) + ".", ""]
    if strict:
        rest = " The others above are not." if len(strict) < len(beyond) else ""
        return lines + [f"**Beyond noise after Bonferroni correction over the {n} properties** (p < "
                        f"{ALPHA / n:.4f}): " + "; ".join(strict) + "." + rest, ""]
    return lines + [f"**No correlation is beyond noise after Bonferroni correction over the {n} properties** "
                    f"(p < {ALPHA / n:.4f}): with {n} properties tested, the chance that at least one gives "
                    f"p < {ALPHA:g} by chance alone is {1 - (1 - ALPHA) ** n:.0%} (for independent tests).", ""]


def _correlation_table(preset: StudyPreset, stats: list[dict], acc: dict, key: str, tasks: list[str],
                       report: Path, probe: str, plots: bool) -> list[str]:
    """The table (and plots) of one accuracy column ``key`` of :func:`kind_accuracy`; ``probe`` is
    its pooling, or "" when the study has one probe."""
    from tools.analysis.correlate import COLUMNS, correlations, plot

    prefix = f"correlation-{probe}" if probe else "correlation"

    views = [("a–n", "a-n", [k for k in preset.kinds if k in SMALL_KINDS]), ("all", "all", list(preset.kinds))]
    tables = {}
    for title, slug, kinds in views:
        per = {}
        for column in [key, *tasks]:
            rows = property_rows([s for s in stats if s["name"] in kinds],
                                 {k: v for k, v in acc[column].items() if k in kinds})
            per[column] = (rows, correlations(rows) if rows else None)
        tables[title] = per
        rows, table = per[key]
        if plots and rows and len(rows) >= 3:
            label = f"audio ({probe} pooling, task mean)" if probe else "mean audio"
            plot(rows, table, label, report / f"{prefix}-{slug}", singles=False)
    head = "| property | " + " | ".join(f"r {v} | p {v} | n {v}" for v, _, _ in views) + " | " + \
        " | ".join(f"r {t} (all)" for t in tasks) + " |"
    lines = [head, "|---|" + "---:|---:|---:|" * len(views) + "---:|" * len(tasks)]
    beyond = []
    for column in COLUMNS:
        cells = [column]
        for title, _, _ in views:
            table = tables[title][key][1]
            s = table[column] if table else {"r": float("nan"), "p": float("nan"), "n": 0}
            cells += [_num(s["r"], "+.2f"), _num(s["p"], ".3f"), str(s["n"])]
            if math.isfinite(s["p"]) and s["p"] < ALPHA:
                beyond.append((f"{column} over {title}: r = {s['r']:+.2f}, p = {s['p']:.3f}", s["p"]))
        for t in tasks:
            table = tables["all"][t][1]
            cells.append(_num(table[column]["r"], "+.2f") if table else "–")
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    n_small = len(tables["a–n"][key][0])
    if beyond:
        lines += correlation_verdict(beyond, len(COLUMNS))
    else:
        lines += [f"**No property correlates with accuracy beyond noise** (no p < 0.05; {n_small} of the 14 "
                  "small datasets measured).", ""]
    for _, slug, _ in views:
        if (report / f"{prefix}-{slug}" / "correlation.png").exists():
            lines += [f"![{prefix} {slug}]({prefix}-{slug}/correlation.png)", ""]
    return lines


def _num(v, fmt: str) -> str:
    return "–" if v is None or not math.isfinite(v) else format(v, fmt)


def recipe_section(preset: StudyPreset, groups: dict, tasks: list[str], report: Path,
                   plots: bool = True) -> list[str]:
    """Gain over step0 vs pre-training CPU time per (kind, input, steps), table and plot."""
    lines = ["## Gain over step0 vs CPU time", "",
             "Gain in points over `step0` of the same seed and input size (mean over seeds ± seed "
             "std; fold spread of the paired per-fold differences in brackets); CPU minutes of "
             "pre-training per run (mean over seeds). **Bold**: beyond noise (paired t-test over folds p < "
             "0.05 and larger than twice the seed spread of `step0` and of the recipe).", "",
             "| kind | input | steps | seeds | CPU min / run | " + " | ".join(f"gain {t}" for t in tasks) + " | mean gain |",
             "|---|---|---:|---|---:|" + "---:|" * len(tasks) + "---:|"]
    points = []
    for (label, shape, steps), g in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2] or 0)):
        if g["role"] != "pattern":
            continue
        s0 = groups.get(("step0", shape, None), {})
        cpu_min = float(np.mean(g["cpu_s"])) / 60 if g["cpu_s"] else float("nan")
        cells, gains, strong = [label, shape, str(steps), ",".join(map(str, sorted(g["seeds"]))), f"{cpu_min:.0f}"], [], []
        for t in tasks:
            e = g.get(t)
            if e is None:
                cells.append("–")
                continue
            text = f"{_pct(e['gain'], True)} ± {_pct(e['gain_seed_std'])} ({_pct(e['gain_fold_std'])})"
            ok = beyond_noise(e, s0.get(t, {}).get("acc_seed_std", float("nan")))
            cells.append(f"**{text}**" if ok else text)
            gains.append(e["gain"])
            strong.append(ok)
        mean_gain = float(np.mean(gains)) if gains else float("nan")
        cells.append(_pct(mean_gain, True))
        lines.append("| " + " | ".join(cells) + " |")
        points.append({"label": label, "shape": shape, "steps": steps, "cpu_min": cpu_min,
                       "gain": {t: g[t]["gain"] for t in tasks if t in g},
                       "std": {t: g[t]["gain_seed_std"] for t in tasks if t in g},
                       "strong": {t: ok for t, ok in zip([t for t in tasks if t in g], strong)},
                       "mean_gain": mean_gain})
    lines.append("")
    if points and plots and recipe_plot(points, tasks, report / "recipe.png"):
        lines += ["![gain vs CPU time](recipe.png)", ""]
    for probe, probe_tasks in probes(preset, tasks).items():
        lines += recipe_verdict(points, probe, probe_tasks, several=len(probes(preset, tasks)) > 1)
    return lines


def recipe_verdict(points: list[dict], probe: str, tasks: list[str], several: bool) -> list[str]:
    """The cheapest recipe that beats step0 beyond noise on every one of ``tasks`` (one probe)."""
    scope = f"every task of the {probe}-pooling probe ({', '.join(tasks)})" if several else "every task"

    def beats(p):
        return all(p["strong"].get(t) for t in tasks) and float(np.mean([p["gain"][t] for t in tasks])) > 0

    measured = [p for p in points if all(t in p["gain"] for t in tasks)]
    winners = sorted((p for p in measured if beats(p)), key=lambda p: p["cpu_min"])
    if winners:
        w = winners[0]
        gain = float(np.mean([w["gain"][t] for t in tasks]))
        return [f"**Cheapest recipe that beats step0 beyond seed and fold spread on {scope}:** "
                f"{w['label']}, input {w['shape']}, {w['steps']} steps ({w['cpu_min']:.0f} CPU minutes per "
                f"run, mean gain {_pct(gain, True)} points).", ""]
    if measured:
        return [f"**No recipe measured so far beats step0 beyond seed and fold spread on {scope}.** "
                "Run the study at the recipe with the largest mean gain per CPU minute and report its "
                "gains over step0, which may be zero.", ""]
    return []


def override_flags(preset: StudyPreset) -> str:
    """The ``tools.reproduce`` flags that turn the named preset into ``preset`` (the grid,
    images and seed overrides a report was written with), e.g. ``" --grid-steps 1000,3000"``."""
    base = STUDY_PRESETS.get(preset.name)
    if base is None:
        return ""
    flags = []
    if preset.steps != base.steps:
        flags.append(f"--grid-steps {','.join(str(s) for s in preset.steps)}")
    if preset.input_sizes != base.input_sizes:
        flags.append(f"--input-sizes {','.join(preset.input_sizes)}")
    if preset.n_images != base.n_images:
        flags.append(f"--n-images {preset.n_images}")
    if preset.step0_seeds != base.step0_seeds:
        flags.append(f"--extreme-seeds {len(preset.step0_seeds)}")
    return "".join(" " + f for f in flags)


def commands_section(preset: StudyPreset) -> list[str]:
    return ["## Commands", "", "```bash",
            f"python -m tools.reproduce --preset {preset.name} --work runs/{preset.name} "
            f"--report docs/report-{preset.name}{override_flags(preset)} --parallel 2",
            f"git add docs/report-{preset.name} && git commit -m 'study: more units'   # after every sitting",
            "```", "",
            "A rerun (on this or any machine with the committed folder) skips the units whose rows are "
            "in `results.jsonl`; `--max-units N` or `--hours H` stop it cleanly after some units.", ""]


def recipe_controls(preset: StudyPreset, groups: dict, tasks: list[str]) -> list[str]:
    """The controls under the recipe table: ``step0`` per input size and ``logmel-stats``."""
    lines = []
    for shape in preset.input_sizes:
        s0 = groups.get(("step0", shape, None))
        if s0:
            lines += [f"step0 at {shape} (accuracy %): " + "; ".join(
                f"{t} {_pct(s0[t]['acc'])} (seed std {_pct(s0[t]['acc_seed_std'])})" for t in tasks if t in s0), ""]
    logmel = next((g for (label, _, _), g in groups.items() if label == "logmel-stats"), None)
    if logmel:
        lines += ["logmel-stats (accuracy %): " + "; ".join(
            f"{t} {_pct(logmel[t]['acc'])} ± {_pct(logmel[t]['acc_fold_std'])}" for t in tasks if t in logmel), ""]
    return lines


def missing_section(missing: list[str]) -> list[str]:
    """The planned units not in ``results.jsonl`` yet (from :func:`header`)."""
    return ["## Missing units", ""] + (missing or ["None."]) + [""]


# --- fine-tuning studies (tasks with protocol "finetune") -----------------------------------------

def _hours(seconds: float) -> str:
    return f"{seconds / 3600:.1f}"


def _encoders(preset: StudyPreset, groups: dict) -> list[tuple[tuple, dict]]:
    """``(key, group)`` of every fine-tuned encoder at the study's budget: step0, the kinds in
    report order, the real-audio MAE."""
    shape, steps = preset.input_sizes[0], preset.steps[0]
    keys = [("step0", shape, None)] + [(k, shape, steps) for k in preset.all_kinds]
    keys += [key for key, g in groups.items() if g["role"] == "audio"]
    return [(key, groups[key]) for key in keys if key in groups]


def finetune_section(preset: StudyPreset, rows: list[dict], probe_rows: list[dict], groups: dict,
                     checks: list[dict] = ()) -> list[str]:
    """Per fine-tuned task: each encoder's fine-tuned accuracy, its gain over step0 (paired by
    fold, the noise rule of the accuracy table), its own linear probe and ``logmel-stats`` (the
    probe study's rows on the same clips) with paired differences, then plain sentences from the
    numbers (with the longer-budget check's verdict where ``checks``, of
    :func:`tools.study.stats.budget_checks`, has one for the task) and the CPU the study spent."""
    tasks = preset.tasks_of("finetune")
    if not tasks:
        return []
    shape = preset.input_sizes[0]
    s0 = groups.get(("step0", shape, None), {})
    lines = ["## Fine-tuning against step0, its own linear probe and logmel-stats", "",
             f"Fine-tuned accuracy % (mean over seeds ± mean fold std) and gain over `step0` fine-tuned the "
             "same way (same seed, paired by fold; **bold** beyond noise by the rule of the accuracy table). "
             + (f"Beside it, from the probe study (`{preset.probe_results}`) on the same clips and folds: the "
                "encoder's own linear probe (same unit, frequency-preserving pooling) and `logmel-stats`; the "
                "differences are fine-tuned minus probe, paired by fold over the seeds both have (p of a paired "
                f"t-test; beyond noise when p < {ALPHA:g}). " if preset.probe_results else
                "The preset names no probe study (`probe_results`), so the probe columns stay empty. ")
             + "CPU h: one fine-tune of the encoder on the task, every fold (the fine-tune's own CPU time, "
             "mean over the encoder's seeds).", ""]
    settings: dict[str, dict[str, set]] = {}
    for r in rows:
        if r.get("protocol") == "finetune" and r.get("ft_steps") is not None:
            key = f"{r.get('ft_steps')} steps, lr {', '.join(f'{lr:g}' for lr in r.get('ft_lrs') or [])}"
            settings.setdefault(r["task"], {}).setdefault(key, set()).add(r["unit"])
    mixed = {task: keys for task, keys in settings.items() if len(keys) > 1}
    if mixed:
        lines += ["**Rows of one task were fine-tuned with different settings** (compare within one only): "
                  + "; ".join(f"{task}: " + ", ".join(f"{k} ({len(v)} unit{'s' if len(v) > 1 else ''})"
                                                      for k, v in keys.items()) for task, keys in mixed.items())
                  + ".", ""]
    elif settings:
        lines += ["Fine-tuning settings of every row: " + "; ".join(
            f"{task} {next(iter(keys))}" for task, keys in settings.items()) + ".", ""]
    for t in tasks:
        probe_task = t.probe_task or t.name
        logmel = probe_accuracy(probe_rows, "logmel-stats", probe_task, [0])
        lines += [f"### {t.name} (probe: {probe_task})", "",
                  "| encoder | seeds | fine-tuned | gain over step0 | own probe | fine-tuned − own probe (p) "
                  "| fine-tuned − logmel-stats (p) | CPU h |", "|---|---|---:|---:|---:|---:|---:|---:|"]
        std0 = s0.get(t.name, {}).get("acc_seed_std", float("nan"))
        fair = {}
        for (label, _, _), g in _encoders(preset, groups):
            e = g.get(t.name)
            if e is None:
                continue
            leaky = t.name in g["leaky"]
            if g["role"] == "step0":
                gain = f"0 (seed std {_pct(e['acc_seed_std'])})"
            else:
                gain = f"{_pct(e['gain'], True)} ± {_pct(e['gain_fold_std'])}"
                gain = f"**{gain}**" if beyond_noise(e, std0) else gain
            own = versus_probe(rows, probe_rows, label, t.name, probe_task)
            own_acc = probe_accuracy(probe_rows, label, probe_task, sorted(g["seeds"]))
            vs_logmel = versus_probe(rows, probe_rows, label, t.name, probe_task, "logmel-stats")
            cpu = [r["ft_cpu_s"] for r in _latest_rows(rows) if r["label"] == label and r["task"] == t.name
                   and r.get("ft_cpu_s") is not None]
            lines.append(f"| {dataset_name(preset, label)} | {','.join(str(s) for s in sorted(g['seeds']))} | "
                         f"{_pct(e['acc'])} ± {_pct(e['acc_fold_std'])}{' leaky' if leaky else ''} | {gain} | "
                         f"{_pct(own_acc) if own_acc is not None else '–'} | {_diff(own)} | {_diff(vs_logmel)} | "
                         + (f"{np.mean(cpu) / 3600:.2f}" if cpu else "–") + " |")
            if not leaky:
                fair[label] = (g, e, own, vs_logmel, own_acc)
        lines += [f"| logmel-stats (probe) | 0 | {_pct(logmel) if logmel is not None else '–'} | | | | | |", ""]
        sentences = finetune_sentences(preset, t.name, fair, std0, logmel)
        lines += sentences[:1] + probe_protocol_line(preset, probe_rows, probe_task, fair) + sentences[1:]
        today = [c for c in checks if c["task"] == t.name and c["steps"] == preset.task_steps(t)]
        lines += budget_line(preset, today, t.name) + [""]
    lines += finetune_cost_lines(rows, shared=bool(preset.probe_results))
    return lines


def budget_line(preset: StudyPreset, checks: list[dict], task: str) -> list[str]:
    """The longer-budget check's verdict on ``task`` (``checks``: its longer fine-tunes) for the
    sentences above (none unchecked)."""
    if not checks:
        return []
    short = [c for c in checks if not c["converged"]]
    names = ", ".join(dataset_name(preset, c["label"]) for c in (short or checks))
    if not short:
        return [f"- **Budget:** the longer-budget check (below) finds {checks[0]['steps']} steps enough on "
                f"{task} for {names}."]
    steps = sorted({c["long_steps"] for c in short})
    return [f"- **Budget: these fine-tunes are not converged.** On the first fold(s), "
            f"{' / '.join(map(str, steps))} steps instead of {short[0]['steps']} gain more than the fold spread on "
            f"{task} for {names} (section \"A longer budget on the first fold\", with the gain over `step0` "
            "at both budgets): the comparisons above hold for this budget only."]


def _latest_rows(rows: list[dict]) -> list[dict]:
    return list({(r["unit"], r["task"]): r for r in rows}.values())


def _diff(v) -> str:
    return f"{_pct(v[0], True)} (p = {v[1]:.3f})" if v else "–"


def finetune_sentences(preset: StudyPreset, task: str, fair: dict, step0_std: float, logmel: float | None) -> list[str]:
    """The plain statements under a task's fine-tuning table, from the numbers: ``fair`` is
    ``{label: (group, task entry, vs own probe, vs logmel-stats, own probe accuracy)}`` of the
    encoders whose pre-training did not see the task's clips."""
    kinds = {label: v[0] for label, v in fair.items() if v[0]["role"] == "pattern"}
    measured, up, down = split_by_noise(kinds, task, step0_std)
    if not fair:
        return [f"- On {task}: no fine-tuned encoder measured yet."]
    out = []
    if not measured:
        out.append(f"- **Synthetic pre-training against training from scratch on {task}:** no pattern kind "
                   "fine-tuned yet.")
    elif up:
        named = ", ".join(f"{dataset_name(preset, k)} ({_pct(measured[k]['gain'], True)})"
                          for k in sorted(up, key=lambda k: -measured[k]["gain"]))
        out.append(f"- **Synthetic pre-training beats training from scratch under fine-tuning on {task}:** "
                   f"{len(up)} of {len(measured)} kinds are above `step0` beyond noise: {named}"
                   + (f"; {len(down)} below" if down else "") + f"; {len(measured) - len(up) - len(down)} within noise.")
    else:
        best = max(measured, key=lambda k: measured[k]["gain"])
        out.append(f"- **Synthetic pre-training does not beat training from scratch under fine-tuning on {task}:** "
                   + (f"none of the {len(measured)} kinds is" if len(measured) > 1 else "the one kind measured is not")
                   + " above `step0` beyond noise"
                   + (f" ({len(down)} below)" if down else "") + f"; the largest gain is "
                   f"{dataset_name(preset, best)}'s {_pct(measured[best]['gain'], True)} points.")
    best = max(fair, key=lambda label: fair[label][1]["acc"])
    g, e, own, vs_logmel, own_acc = fair[best]

    def against(v, what):
        if v is None:
            return f"not compared with {what} (no paired probe row)"
        word = "above" if v[0] > 0 else "below"
        seeds = "" if sorted(v[4]) == sorted(g["seeds"]) else \
            f" on seed{'s' if len(v[4]) > 1 else ''} {', '.join(map(str, v[4]))} (fine-tuned {_pct(v[2])} % there)"
        return (f"{abs(100 * v[0]):.1f} points {word} {what} at {_pct(v[3])} %{seeds} "
                f"({'beyond' if v[1] < ALPHA else 'within'} noise, p = {v[1]:.3f})")

    out.append(f"- **Best fine-tuned encoder on {task}:** {dataset_name(preset, best)} at {_pct(e['acc'])} %; it is "
               + against(own, "its own linear probe") + ", and "
               + (against(vs_logmel, "`logmel-stats`") if logmel is not None else "not compared with `logmel-stats` "
                  "(no probe row)") + ".")
    return out


def probe_protocol_line(preset: StudyPreset, probe_rows: list[dict], probe_task: str, fair: dict) -> list[str]:
    """Which of the fine-tuned kinds are beyond noise under the other protocol: the probe study's
    rows on ``probe_task`` (gains over its own ``step0``, its noise rule), over the kinds of
    ``fair`` that it has."""
    if not probe_rows:
        return []
    shape, steps = preset.input_sizes[0], preset.steps[0]
    groups = summarise(probe_rows, [probe_task])
    kinds = {k: groups[(k, shape, steps)] for k, v in fair.items()
             if v[0]["role"] == "pattern" and (k, shape, steps) in groups}
    std = groups.get(("step0", shape, None), {}).get(probe_task, {}).get("acc_seed_std", float("nan"))
    measured, up, down = split_by_noise(kinds, probe_task, std)
    if not measured:
        return []

    def named(ks):
        if not ks:
            return ""
        return " (" + ", ".join(f"{dataset_name(preset, k)} {_pct(measured[k]['gain'], True)}" for k in ks) + ")"

    return [f"- **Under the linear probe** (the probe study on {probe_task}, the same {len(measured)} "
            f"kind{'s' if len(measured) > 1 else ''}): {len(up)} above `step0` beyond noise{named(up)}, "
            f"{len(down)} below{named(down)}, {len(measured) - len(up) - len(down)} within noise."]


def finetune_cost_lines(rows: list[dict], shared: bool = True) -> list[str]:
    """The CPU a fine-tuning study spent: pre-training (once per unit; ``shared``: the probe
    study's checkpoints), fine-tuning, and one (encoder, task, every fold) fine-tune per task."""
    cpu = finetune_cpu(rows)
    if not cpu["units"]:
        return []
    per = "; ".join(f"{t} {np.mean(v) / 3600:.2f} CPU h (range {min(v) / 3600:.2f}–{max(v) / 3600:.2f}, "
                    f"{len(v)} fine-tunes)" for t, v in cpu["per_task"].items())
    return [f"**CPU spent:** {_hours(cpu['pretrain_s'])} CPU hours of pre-training for the pre-trained units "
            f"(each once{'; the checkpoints are the probe study' + chr(39) + 's' if shared else ''}), "
            f"{_hours(cpu['finetune_s'])} CPU hours of "
            f"fine-tuning over {cpu['units']} units. One fine-tune of an encoder on a task, every fold: {per}.", ""]


def convergence_section(preset: StudyPreset, rows: list[dict], report: Path, plots: bool = True) -> list[str]:
    """Validation accuracy against fine-tuning step per task and encoder (mean over folds ± fold
    spread), plotted in ``finetune-curves.png``, and the convergence rule per (encoder, task)."""
    tasks = [t.name for t in preset.tasks_of("finetune")]
    if not tasks:
        return []
    lines = ["## Convergence of the fine-tunes", "",
             "Validation accuracy against the fine-tuning step at the chosen lr, mean over the folds (and seeds) "
             "± their std. Rule: **converged** when the last fifth of the curve (the points from "
             f"{100 * (1 - LAST_PART):.0f} % of the steps on) moves, max − min of the mean, by less than the "
             "fold spread there (the mean std over folds).", ""]
    curves: dict[str, dict[str, tuple]] = {t: {} for t in tasks}
    tuned = {r["label"] for r in rows if r.get("protocol") == "finetune"}
    labels = [key[0] for key, _ in _encoders(preset, summarise_labels(rows)) if key[0] in tuned]
    table = ["| encoder | task | curves | points in the last fifth | last fifth moves | fold spread | converged |",
             "|---|---|---:|---:|---:|---:|---|"]
    verdicts: dict = {True: [], False: [], None: []}
    for label in labels:
        for t in tasks:
            curve = mean_curve(rows, label, t)
            if curve is None:
                continue
            curves[t][label] = curve
            rule = convergence(*curve[:3])
            if rule is None:
                table.append(f"| {dataset_name(preset, label)} | {t} | {curve[3]} | <2 | – | – | not evaluable |")
                verdicts[None].append(f"{label} on {t}")
                continue
            verdicts[rule["converged"]].append(f"{label} on {t}")
            table.append(f"| {dataset_name(preset, label)} | {t} | {curve[3]} | {rule['points']} | "
                         f"{100 * rule['moves']:.1f} | {100 * rule['spread']:.1f} | "
                         f"{'**yes**' if rule['converged'] else 'no'} |")
    if not any(curves.values()):
        return lines + ["No validation curves yet.", ""]
    lines += table + [""]
    n = len(verdicts[True]) + len(verdicts[False])
    text = f"Converged by this rule: {len(verdicts[True])} of {n} (encoder, task) pairs."
    if verdicts[False]:
        text += " Still moving: " + ", ".join(verdicts[False]) + "."
    if verdicts[None]:
        text += (f" Not evaluable (fewer than two validation points in the last fifth): "
                 + ", ".join(verdicts[None]) + ".")
    lines += [text, ""]
    if plots and curves_plot(curves, report / "finetune-curves.png"):
        lines += ["![validation accuracy vs fine-tuning step](finetune-curves.png)", ""]
    return lines


def missing_kinds_section(preset: StudyPreset, rows: list[dict], probe_rows: list[dict]) -> list[str]:
    """Fig. 3 under fine-tuning: which of the kinds a-n have no fine-tuned first seed yet and the
    CPU-hours they need (fine-tuning at the measured CPU per unit; pre-training as the probe study
    measured it, for checkpoints not at hand)."""
    if not preset.tasks_of("finetune"):
        return []
    shape, steps = preset.input_sizes[0], preset.steps[0]
    small = [k for k in preset.kinds if k in SMALL_KINDS]
    have = {(r["label"], r["task"]) for r in rows if r["role"] == "pattern" and r.get("seed") == preset.seeds[0]}
    missing = [k for k in small if not all((k, t.name) in have for t in preset.tasks)]
    lines = ["## Fig. 3 under fine-tuning", ""]
    if not missing:
        return lines + [f"All {len(small)} kinds of a–n are fine-tuned; the correlation section below is "
                        "Fig. 3 under fine-tuning.", ""]
    cpu = finetune_cpu(rows)
    per_unit = sum(np.mean(v) for v in cpu["per_task"].values()) if cpu["per_task"] else None
    pre = {r["label"]: r.get("pretrain_cpu_s") or 0.0 for r in probe_rows
           if r.get("role") == "pattern" and r.get("seed") == preset.seeds[0] and r.get("label") in missing}
    text = (f"{len(missing)} of the {len(small)} kinds of a–n are not fine-tuned yet: "
            + ", ".join(dataset_name(preset, k) for k in missing) + ". ")
    if per_unit is not None:
        text += (f"At the measured {per_unit / 3600:.2f} CPU hours of fine-tuning per unit (every task and "
                 f"fold, mean over the units in), they need about {len(missing) * per_unit / 3600:.1f} CPU hours of "
                 "fine-tuning")
    else:
        text += "No unit is fine-tuned yet, so their fine-tuning cost is not measured"
    if pre:
        text += (f", plus {sum(pre.values()) / 3600:.1f} CPU hours of pre-training for those whose checkpoints "
                 f"are not at hand (as the probe study measured it, {shape}, {steps} steps)")
    lines += [text + ". Until then the correlation section below is over the kinds measured so far.", ""]
    return lines


def summarise_labels(rows: list[dict]) -> dict:
    """``{(label, input_size, steps): {"role": ...}}`` of the rows, the keys :func:`_encoders` orders."""
    return {(r["label"], r["input_size"], r.get("steps") if r["role"] in ("pattern", "audio") else None):
            {"role": r["role"]} for r in rows}


def budget_check_section(preset: StudyPreset, checks: list[dict]) -> list[str]:
    """The stricter convergence check: longer fine-tunes of some units on their first folds
    (``REPORT/budget-check.jsonl``) beside the study's fine-tunes of the same folds (``checks`` of
    :func:`tools.study.stats.budget_checks`; a check against a row of an earlier budget of its
    task, set aside from the tables, is marked: it is why the budget changed)."""
    tasks = preset.tasks_of("finetune")
    if not tasks:
        return []
    budget = {t.name: preset.task_steps(t) for t in tasks}
    lines = ["### A longer budget on the first fold", "",
             "The warm-up + cosine schedule brings the lr to zero at the last step, so every curve flattens in "
             "its last fifth and the rule above can hold for a model that more steps would still improve. The "
             "stricter check fine-tunes an encoder again with a longer budget on the first fold(s) of a task "
             f"(rows in `{BUDGET_CHECK}`, one `python -m finetune full ... --max-splits N --results "
             f"{BUDGET_CHECK}` each) and sets it beside the study's fine-tune of the same fold(s). Rule: the "
             "study's budget is **enough** for an (encoder, task) when the longer one gains less than the "
             "study row's fold spread on validation (best validation accuracy of each, where each chose its "
             "step); test accuracy at the chosen step is shown beside it, not used.", ""]
    if not checks:
        return lines + ["No longer fine-tune is in yet.", ""]
    lines += ["| encoder | task | folds | steps | valid | test | longer | valid | test | gain valid | gain test "
              "| fold spread | CPU h | enough |",
              "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for c in checks:
        cpu = f"{c['cpu_s'] / 3600:.2f}" if c.get("cpu_s") else "–"
        lines.append(f"| {dataset_name(preset, c['label'])} ({c['unit']}) | {c['task']} | {c['folds']} | "
                     f"{c['steps']}{'' if c['steps'] == budget.get(c['task']) else ' (earlier)'} | "
                     f"{_pct(np.mean(c['valid']))} | {_pct(np.mean(c['test']))} | {c['long_steps']} "
                     f"| {_pct(np.mean(c['long_valid']))} | {_pct(np.mean(c['long_test']))} | "
                     f"{_pct(c['gain_valid'], True)} | {_pct(c['gain_test'], True)} | {_pct(c['spread'])} | {cpu} | "
                     f"{'**yes**' if c['converged'] else 'no'} |")
    roots = {t.name: (t.loader, t.root) for t in tasks}
    lines += ["", "Commands of the rows (`WORK`: the study's work folder, `DATA`: the data root):", ""]
    for c in checks:
        ckpt = "random" if c["label"] == "step0" else f"WORK/ckpt/{c['unit']}"
        loader, root = roots[c["task"]]
        lines.append(f"- `python -m finetune full --ckpt {ckpt} --seed {c['seed']} --task {loader} --root "
                     f"DATA/{root} --steps {c['long_steps']} --eval-every {c['eval_every']} --max-splits {c['folds']} "
                     f"--threads 1 --name {c['unit']} --results REPORT/{BUDGET_CHECK}`")
    today = [c for c in checks if c["steps"] == budget.get(c["task"])]
    short = [f"{c['unit']} on {c['task']}" for c in today if not c["converged"]]
    gains = []
    for c, at in budget_gains(checks):
        gains.append(f"- **{dataset_name(preset, c['label'])} over `step0` on {c['task']}** (the same "
                     f"{c['folds']} fold{'s' if c['folds'] > 1 else ''}): {_pct(at['valid'], True)} points on "
                     f"validation ({_pct(at['test'], True)} test) at {c['steps']} steps, "
                     f"{_pct(at['long_valid'], True)} ({_pct(at['long_test'], True)} test) at {c['long_steps']} steps.")
    if gains:
        lines += ["", "The gain over `step0` at both budgets, where both are checked on the same folds:", "", *gains]
    text = (f"Enough by this rule, at today's budgets ({budgets_text(preset)}): {len(today) - len(short)} of "
            f"{len(today)} checked (encoder, task) pairs.")
    earlier = sorted({(c["task"], c["steps"]) for c in checks if c not in today})
    if earlier:
        text += (" Rows marked *earlier* are checks of a task's earlier budget ("
                 + ", ".join(f"{task} {steps} steps" for task, steps in earlier)
                 + "), whose rows are set aside: they are why the budget changed.")
    if short:
        text += (" **Not enough for " + ", ".join(short) + "**: the longer budget gains more than the fold "
                 "spread, so these fine-tunes stopped short of what the encoder can reach; gains over `step0` "
                 "measured at the study's budget include that shortfall.")
    return lines + ["", text, ""]
