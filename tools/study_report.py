"""``REPORT/report.md`` of a study (:mod:`tools.study`), written from the committed files alone:
``REPORT/results.jsonl`` (the units' rows), ``REPORT/stats/*.json`` (image properties) and
``REPORT/sheets/*.png`` (contact sheets). Rewritten from scratch on every call; a partial study
gives a partial report that says at its top how many units are missing and lists them.

Gains are paired: a unit trained with seed ``s`` is compared with ``step0`` of seed ``s`` (the
same architecture and initialisation, untrained) at the same input size, fold by fold; the fold
spread of a gain is the std over folds of those paired differences.
"""

from __future__ import annotations

import json
import math
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from generators.atomic import write_bytes_atomic
from tools.study_plan import RESULTS, extreme_kinds, plan_units, read_rows, unit_done
from tools.study_presets import SMALL_KINDS, STUDY_PRESETS, StudyPreset

#: A gain or a difference counts below this p; a property's correlation is called beyond noise
#: below it divided by the number of properties tested (Bonferroni, :func:`correlation_verdict`).
ALPHA = 0.05


# --- numbers (pure) -----------------------------------------------------------------------------

def paired_t_p(diffs) -> float:
    """Two-sided p of a paired t-test of per-fold differences against 0 (NaN for < 2 folds)."""
    from scipy import stats as sps

    d = np.asarray(diffs, dtype=np.float64)
    if len(d) < 2:
        return float("nan")
    sd = d.std(ddof=1)
    if sd == 0:
        return 0.0 if d.mean() != 0 else 1.0
    t = d.mean() / (sd / math.sqrt(len(d)))
    return float(2 * sps.t.sf(abs(t), len(d) - 1))


def _latest(rows: list[dict]) -> list[dict]:
    """One row per (unit, task): a repeated unit's later row wins."""
    out = {}
    for r in rows:
        out[(r["unit"], r["task"])] = r
    return list(out.values())


def summarise(rows: list[dict], tasks: list[str]) -> dict:
    """Per group ``(label, input_size, steps)`` and task: accuracy over seeds, the gain over the
    paired step0, its seed and fold spread and a paired t-test p over folds.

    Returns ``{(label, input_size, steps): {"role", "kind", "letter", "seeds", "leaky": {task},
    task: {...}}}`` where each task entry holds ``acc`` (mean over seeds), ``acc_fold_std`` (mean
    of the per-seed fold std), ``seed_accs``, ``acc_seed_std``, ``gain``, ``gain_seed_std``,
    ``gain_fold_std``, ``p`` and ``paired`` (False when step0 of a seed was missing and the mean
    of the available step0 seeds stood in)."""
    rows = _latest(rows)
    step0 = {}
    for r in rows:
        if r["role"] == "step0":
            step0[(r["input_size"], r["task"], r["seed"])] = r
    groups: dict = {}
    for r in rows:
        key = (r["label"], r["input_size"], r.get("steps") if r["role"] in ("pattern", "audio") else None)
        g = groups.setdefault(key, {"role": r["role"], "kind": r.get("kind"), "letter": r.get("letter"),
                                    "seeds": set(), "leaky": set(), "cpu_s": [], "_rows": []})
        g["seeds"].add(r["seed"])
        g["_rows"].append(r)
        if r.get("leaky"):
            g["leaky"].add(r["task"])
    for key, g in groups.items():
        g["cpu_s"] = list({r["unit"]: r.get("pretrain_cpu_s") or 0.0 for r in g["_rows"]}.values())
        for task in tasks:
            mine = sorted((r for r in g["_rows"] if r["task"] == task), key=lambda r: r["seed"])
            if not mine:
                continue
            accs = np.array([r["acc_mean"] for r in mine])
            gains, fold_diffs, paired = [], [], True
            for r in mine:
                base = step0.get((r["input_size"], task, r["seed"]))
                if base is None or r["role"] == "logmel":
                    pool = [v for (shape, t, _), v in step0.items() if shape == r["input_size"] and t == task]
                    if not pool:
                        continue
                    paired = False
                    base_acc = float(np.mean([v["acc_mean"] for v in pool]))
                    base_folds = _mean_folds([v.get("split_acc") for v in pool])
                else:
                    base_acc, base_folds = base["acc_mean"], base.get("split_acc")
                gains.append(r["acc_mean"] - base_acc)
                folds = r.get("split_acc")
                if folds and base_folds and len(folds) == len(base_folds):
                    fold_diffs.append(np.asarray(folds) - np.asarray(base_folds))
            entry = {"acc": float(accs.mean()), "acc_fold_std": float(np.mean([r["acc_std"] for r in mine])),
                     "seed_accs": {r["seed"]: r["acc_mean"] for r in mine},
                     "acc_seed_std": float(accs.std(ddof=1)) if len(accs) > 1 else float("nan"),
                     "gain": float(np.mean(gains)) if gains else float("nan"),
                     "gain_seed_std": float(np.std(gains, ddof=1)) if len(gains) > 1 else float("nan"),
                     "gain_fold_std": float("nan"), "p": float("nan"), "paired": paired}
            if fold_diffs and len({len(d) for d in fold_diffs}) == 1:
                mean_diffs = np.mean(fold_diffs, axis=0)
                entry["gain_fold_std"] = float(mean_diffs.std(ddof=1)) if len(mean_diffs) > 1 else float("nan")
                entry["p"] = paired_t_p(mean_diffs) if g["role"] != "step0" else float("nan")
            g[task] = entry
        del g["_rows"]
    return groups


def _mean_folds(fold_lists) -> list[float] | None:
    lists = [f for f in fold_lists if f]
    if not lists or len({len(f) for f in lists}) != 1:
        return None
    return list(np.mean(lists, axis=0))


def beyond_noise(entry: dict, step0_seed_std: float) -> bool:
    """A gain counts when its paired t-test over folds gives p < ALPHA and it exceeds twice the
    seed spread of step0 (and of the unit itself, where it has several seeds)."""
    spread = max(v for v in (step0_seed_std, entry.get("gain_seed_std")) if v is not None and math.isfinite(v)) \
        if any(v is not None and math.isfinite(v) for v in (step0_seed_std, entry.get("gain_seed_std"))) else 0.0
    return bool(math.isfinite(entry["gain"]) and math.isfinite(entry["p"]) and entry["p"] < ALPHA
                and abs(entry["gain"]) > 2 * spread)


def property_rows(stats: list[dict], accuracy: dict[str, float]) -> list[dict]:
    """Rows of :func:`tools.correlate.correlations` (``name``, ``accuracy`` 0-1, one value per
    property column) for the datasets with both statistics and an accuracy."""
    from tools.correlate import COLUMNS, stats_value

    out = []
    for entry in stats:
        if entry["name"] in accuracy:
            row = {"name": entry["name"], "accuracy": accuracy[entry["name"]], "n_runs": 1}
            row.update({c: stats_value(entry, c) for c in COLUMNS})
            out.append(row)
    return out


# --- formatting ---------------------------------------------------------------------------------

def _pct(v, sign=False) -> str:
    if v is None or not math.isfinite(v):
        return "–"
    return f"{100 * v:+.1f}" if sign else f"{100 * v:.1f}"


def _name(preset: StudyPreset, label: str) -> str:
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


def _unit_wall(row: dict) -> float:
    return (row.get("pretrain_wall_s") or 0) + (row.get("eval_wall_s") or 0) + (row.get("render_s") or 0)


def machine_hours(rows: list[dict]) -> float:
    """Hours during which at least one unit ran: the union of the intervals ``[finished - unit
    wall time, finished]`` of the units (units run side by side count once; a unit resumed across
    sittings is taken as one interval ending when it finished, so this is an upper bound)."""
    spans = []
    for r in {r["unit"]: r for r in rows}.values():
        if r.get("finished"):
            end = datetime.strptime(r["finished"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp()
            spans.append((end - _unit_wall(r), end))
    total, reach = 0.0, float("-inf")
    for start, end in sorted(spans):
        if end > reach:
            total += end - max(start, reach)
            reach = end
    return total / 3600


def _costs(rows: list[dict]) -> tuple[float, float, list[str]]:
    units = {}
    for r in rows:
        units[r["unit"]] = r
    cpu = sum((r.get("pretrain_cpu_s") or 0) + (r.get("eval_cpu_s") or 0) for r in units.values())
    wall = sum(_unit_wall(r) for r in units.values())
    machines = sorted({r.get("machine", "?") for r in units.values()})
    finished = sorted(r["finished"] for r in units.values() if r.get("finished"))
    if finished:
        machines.append(f"units finished between {finished[0]} and {finished[-1]} (UTC)")
    return cpu, wall, machines


def header(preset: StudyPreset, rows: list[dict], failed: dict, note: str | None) -> tuple[list[str], list[str]]:
    status, missing, complete = status_lines(preset, rows, failed)
    cpu, wall, machines = _costs(rows)
    shapes = ", ".join(preset.input_sizes)
    steps = ", ".join(str(s) for s in preset.steps)
    lines = [f"# Study report: preset `{preset.name}`", "", *status, "",
             f"Written by `python -m tools.reproduce --preset {preset.name}` from `{RESULTS}` (one row per "
             f"unit and task), `stats/` and `sheets/` in this folder.", "",
             f"- Preset: {preset.description}.",
             f"- Budget: {steps} optimizer steps x batch {preset.batch_size} per run, `{preset.model}` MAE, "
             f"input {shapes}, peak lr {preset.lr if preset.lr else 'pretrain default'}, "
             f"{preset.threads} torch thread(s) per run, checkpoint every {preset.save_every} steps.",
             f"- Data: {preset.n_images:,} images per kind at {preset.size} px (mode L)"
             + ("; " + ", ".join(f"{k} {n:,}" for k, n in preset.kind_n.items() if k in preset.kinds)
                if any(k in preset.kinds for k in preset.kind_n) else "")
             + f"; epochs per run = steps x batch / images (in the tables); render overrides: "
               f"{json.dumps(preset.kind_params) if preset.kind_params else 'none'}.",
             f"- Evaluation: `python -m finetune suite` (linear probe on whole clips in chunks, "
             f"{pooling_text(preset)}, last block, `--norm {preset.probe_norm}`), accuracy % "
             f"mean ± std over folds, on {', '.join(t.name for t in preset.tasks)}. `step0` = the "
             f"untrained encoder of the same seed (`random:SEED`, identical to a run's `step0/`), "
             f"seeds {list(preset.step0_seeds)}.",
             f"- {'Cost' if complete else 'Cost so far'}: {cpu / 3600:.1f} CPU hours (pre-training + "
             f"evaluation, from the units' own CPU time), {wall / 3600:.1f} hours of unit wall time "
             f"(render + pre-training + evaluation; units run side by side overlap), about "
             f"{machine_hours(rows):.1f} hours of machine time (the union of the units' run intervals).",
             f"- Machine(s): {'; '.join(machines) if machines else 'none yet'}.", ""]
    if note:
        lines += [f"**Note.** {note}", ""]
    return lines, missing


def pooling_text(preset: StudyPreset) -> str:
    """How the preset's tasks pool the encoder's tokens, in words."""
    groups = probes(preset, [t.name for t in preset.tasks])
    words = {"freq": "frequency-preserving pooling", "mean": "mean pooling"}
    names = {p: words.get(p, f"{p} pooling") for p in groups}
    if len(groups) == 1:
        return next(iter(names.values()))
    return "; ".join(f"{names[p]} on {', '.join(ts)}" for p, ts in groups.items())


def probe_means(preset: StudyPreset, tasks: list[str]) -> dict[str, list[str]]:
    """``{column: tasks}`` of the means the tables average: ``mean`` over every task, or one
    ``mean POOLING`` per probe when the tasks use several poolings (a mean across two protocols
    would mix a probe that separates the kinds with one that does not)."""
    groups = probes(preset, tasks)
    if len(groups) <= 1:
        return {"mean": list(tasks)}
    return {f"mean {p}": ts for p, ts in groups.items()}


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
    order += [(k, shape, steps) for k in preset.kinds]
    order += [(label, sh, st) for (label, sh, st), g in groups.items() if g["role"] == "audio"]
    for key in order:
        g = groups.get(key)
        if g is None:
            if key[0] in preset.kinds:
                lines.append(f"| {_name(preset, key[0])} | – | {preset.epochs(key[0], steps):.1f} | "
                             + " | ".join("– | –" for _ in tasks) + " |" + " – |" * len(means))
            continue
        cells = [_name(preset, key[0]), ",".join(str(s) for s in sorted(g["seeds"]))]
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


#: Families of pattern kinds, by name prefix, for the summary's family means.
FAMILIES = (("deadleaves-", "dead leaves"), ("stat-", "statistical"), ("stylegan-", "StyleGAN"),
            ("featvis-", "feature visualisation"))


def family(kind: str) -> str:
    """The family of a kind (``formula`` for FractalDB, VisualAtom and shader programs)."""
    return next((name for prefix, name in FAMILIES if kind.startswith(prefix)), "formula")


def split_by_noise(kinds: dict[str, dict], task: str, step0_seed_std: float) -> tuple[dict, list[str], list[str]]:
    """``(measured, above, below)``: the task entries of the kinds (``{kind: group}``) with a
    finite gain, and the kinds whose gain is above or below step0 beyond noise."""
    measured = {k: g[task] for k, g in kinds.items() if task in g and math.isfinite(g[task]["gain"])}
    up = [k for k, e in measured.items() if e["gain"] > 0 and beyond_noise(e, step0_seed_std)]
    down = [k for k, e in measured.items() if e["gain"] < 0 and beyond_noise(e, step0_seed_std)]
    return measured, up, down


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
                     + (f"{_name(preset, best)} ({_pct(measured[best]['gain'], True)})" if best else "–")
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


#: The study whose comparison the study presets repeat at their own scale; only the claims of its
#: abstract are quoted, the rest of the comparison is measured here.
PAPER = ("Y. Ishikawa, T. Komatsu and Y. Aoki, *Pre-training with Synthetic Patterns for Audio*, "
         "ICASSP 2025 (arXiv:2410.00511)")


def versus_control(rows: list[dict], role: str,
                   tasks: list[str]) -> dict[str, dict[str, tuple[float, float, float]]]:
    """``{task: {kind: (difference, p, accuracy)}}``: each pattern kind's accuracy minus that of
    the control with ``role`` (e.g. ``audio``), over the seeds both have, with a paired t-test p
    over folds (per-fold differences averaged over those seeds), and the kind's accuracy over
    those same seeds. Kinds or tasks without a shared seed are left out."""
    rows = _latest(rows)
    control = {(r["task"], r["seed"]): r for r in rows if r["role"] == role}
    out: dict[str, dict[str, tuple[float, float, float]]] = {t: {} for t in tasks}
    for t in tasks:
        per_kind: dict[str, list] = {}
        kind_acc: dict[str, list] = {}
        for r in rows:
            base = control.get((t, r["seed"]))
            if r["role"] != "pattern" or r["task"] != t or base is None:
                continue
            folds, base_folds = r.get("split_acc"), base.get("split_acc")
            if folds and base_folds and len(folds) == len(base_folds):
                per_kind.setdefault(r["label"], []).append(np.asarray(folds) - np.asarray(base_folds))
                kind_acc.setdefault(r["label"], []).append(float(np.mean(folds)))
        for kind, diffs in per_kind.items():
            if len({len(d) for d in diffs}) == 1:
                mean = np.mean(diffs, axis=0)
                out[t][kind] = (float(mean.mean()), paired_t_p(mean), float(np.mean(kind_acc[kind])))
    return out


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
            lines.append(f"| {t} | {_pct(audio[t]['acc'])} | {_name(preset, best)} ({_pct(diffs[best][2])}, "
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
                     f"over {', '.join(m_tasks)}, first {', '.join(_name(preset, k) for k in order[:n])}; "
                     f"last {', '.join(_name(preset, k) for k in order[-n:])} ({len(order)} kinds with "
                     "every task).")
    lines += ["", "The paper's own per-dataset accuracies and Fig. 3 correlations are not restated in this "
              "report: set the ranking and the Fig. 3 tables above beside the paper's to compare the "
              "orderings property by property.", ""]
    return lines


def seed_table(preset: StudyPreset, rows: list[dict], groups: dict, tasks: list[str]) -> list[str]:
    shape, steps = preset.input_sizes[0], preset.steps[0]
    extremes = extreme_kinds(preset, rows)
    lines = ["## Seed spread: step0 and the extreme kinds", ""]
    if extremes is None:
        lines += ["The extreme kinds are chosen once every kind has its first seed; until then only "
                  "step0's seeds are shown.", ""]
        keys = [("step0", shape, None)]
    else:
        lines += [f"Best by mean accuracy of the first seed: {', '.join(extremes[0])}; worst: "
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
            lines.append(f"| {_name(preset, key[0])} | {t} | {per_seed} | {_pct(e['acc'])} ± "
                         f"{_pct(e['acc_seed_std'])} | {gain} |")
    return lines + [""]


def kind_accuracy(preset: StudyPreset, groups: dict, tasks: list[str]) -> dict[str, dict[str, float]]:
    """``{task, "mean" or "mean POOLING": {kind: accuracy 0-1}}`` of the kinds evaluated at the
    study's budget (a mean only for kinds with all of its tasks; see :func:`probe_means`)."""
    shape, steps = preset.input_sizes[0], preset.steps[0]
    means = {"mean": list(tasks), **probe_means(preset, tasks)}
    out = {t: {} for t in [*tasks, *means]}
    for kind in preset.kinds:
        g = groups.get((kind, shape, steps))
        if g is None:
            continue
        for t in tasks:
            if t in g:
                out[t][kind] = g[t]["acc"]
        for m, m_tasks in means.items():
            if all(t in g for t in m_tasks):
                out[m][kind] = float(np.mean([g[t]["acc"] for t in m_tasks]))
    return out


def ranking_table(preset: StudyPreset, acc: dict, tasks: list[str]) -> list[str]:
    means = [m for m in probe_means(preset, tasks) if m != "mean"]
    columns = [*tasks, *means]
    lines = ["## Ranking", "", "Rank 1 = highest accuracy; ordered by the mean accuracy over the tasks"
             + (f" (the per-probe means in the columns {', '.join(means)})" if means else "") + ".", "",
             "| rank | dataset | " + " | ".join(f"{t} (rank)" for t in columns) + " | mean |",
             "|---:|---|" + "---:|" * len(columns) + "---:|"]
    ranks = {t: {k: i + 1 for i, k in enumerate(sorted(acc[t], key=lambda k: -acc[t][k]))} for t in columns}
    for i, kind in enumerate(sorted(acc["mean"], key=lambda k: -acc["mean"][k]), 1):
        cells = [str(i), _name(preset, kind)]
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
    named = [{**s, "name": _name(preset, s["name"])} for s in stats]
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
    from tools.correlate import COLUMNS, correlations, plot

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


def probes(preset: StudyPreset, tasks: list[str]) -> dict[str, list[str]]:
    """``{pooling: [task names]}`` of the preset's tasks in ``tasks`` (``freq`` when a task names none)."""
    out: dict[str, list[str]] = {}
    for t in preset.tasks:
        if t.name in tasks:
            out.setdefault(t.pooling or "freq", []).append(t.name)
    return out


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


def sheets_section(preset: StudyPreset, report: Path) -> list[str]:
    sheets = {p.stem: p for p in (report / "sheets").glob("*.png")}
    if not sheets:
        return []
    lines = ["## Contact sheets", "", "The first 16 images of every dataset (64 px thumbnails).", ""]
    for kind in [k for k in preset.kinds if k in sheets]:
        lines += [f"**{_name(preset, kind)}**", "", f"![{kind}](sheets/{kind}.png)", ""]
    return lines


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


def write_study_report(preset: StudyPreset, report: Path, failed: dict | None = None,
                       note: str | None = None, plots: bool = True) -> Path:
    """Write ``REPORT/report.md`` (and, with ``plots``, its PNGs) from the committed files;
    returns its path."""
    report = Path(report)
    report.mkdir(parents=True, exist_ok=True)
    rows = read_rows(report / RESULTS)
    tasks = [t.name for t in preset.tasks]
    groups = summarise(rows, tasks)
    stats = [json.loads(p.read_text()) for p in sorted((report / "stats").glob("*.json"))]
    stats = [s for s in stats if s.get("name") in preset.kinds]
    lines, missing = header(preset, rows, failed or {}, note)
    if preset.mode == "recipe":
        lines += recipe_section(preset, groups, tasks, report, plots)
        for shape in preset.input_sizes:
            s0 = groups.get(("step0", shape, None))
            if s0:
                lines += [f"step0 at {shape} (accuracy %): " + "; ".join(
                    f"{t} {_pct(s0[t]['acc'])} (seed std {_pct(s0[t]['acc_seed_std'])})" for t in tasks if t in s0), ""]
        logmel = next((g for (label, _, _), g in groups.items() if label == "logmel-stats"), None)
        if logmel:
            lines += ["logmel-stats (accuracy %): " + "; ".join(
                f"{t} {_pct(logmel[t]['acc'])} ± {_pct(logmel[t]['acc_fold_std'])}" for t in tasks if t in logmel), ""]
    else:
        acc = kind_accuracy(preset, groups, tasks)
        lines += summary_section(preset, groups, tasks)
        lines += study_table(preset, groups, tasks) + seed_table(preset, rows, groups, tasks)
        lines += ranking_table(preset, acc, tasks) + properties_section(preset, stats)
        lines += correlation_section(preset, stats, acc, tasks, report, plots)
        lines += paper_section(preset, rows, groups, acc, tasks)
        lines += sheets_section(preset, report)
    lines += ["## Missing units", ""] + (missing or ["None."]) + [""]
    lines += commands_section(preset)
    path = report / "report.md"
    write_bytes_atomic(path, "\n".join(lines).encode())
    return path
