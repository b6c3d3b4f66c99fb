"""The numbers of a study report, as pure functions of the rows of ``REPORT/results.jsonl``
(:mod:`tools.study.plan`) and the preset: accuracy over seeds, paired gains over ``step0`` with
their seed and fold spread, paired t-tests, the beyond-noise rule, comparisons with a control,
family means, the properties-vs-accuracy rows and the cost of the units. Nothing here reads or
writes a file or formats text; :mod:`tools.study.sections` turns these numbers into markdown.

Gains are paired: a unit trained with seed ``s`` is compared with ``step0`` of seed ``s`` (the
same architecture and initialisation, untrained) at the same input size, fold by fold; the fold
spread of a gain is the std over folds of those paired differences.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone

import numpy as np

from tools.study.presets import StudyPreset, input_hw


#: A gain or a difference counts below this p; a property's correlation is called beyond noise
#: below it divided by the number of properties tested (Bonferroni, :func:`correlation_verdict`).
ALPHA = 0.05


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
    """Rows of :func:`tools.analysis.correlate.correlations` (``name``, ``accuracy`` 0-1, one value per
    property column) for the datasets with both statistics and an accuracy."""
    from tools.analysis.correlate import COLUMNS, stats_value

    out = []
    for entry in stats:
        if entry["name"] in accuracy:
            row = {"name": entry["name"], "accuracy": accuracy[entry["name"]], "n_runs": 1}
            row.update({c: stats_value(entry, c) for c in COLUMNS})
            out.append(row)
    return out


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


def costs(rows: list[dict]) -> tuple[float, float, list[str]]:
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


#: Families of pattern kinds, by name prefix, for the summary's family means.
FAMILIES = (("deadleaves-", "dead leaves"), ("stat-", "statistical"), ("stylegan-", "StyleGAN"),
            ("featvis-", "feature visualisation"), ("audio-", "audio-native"))


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


def versus_kind(rows: list[dict], label: str, other: str, task: str) -> tuple | None:
    """``(difference, p, accuracy of label, accuracy of other, seeds)``: ``label`` against
    ``other`` on ``task`` over the seeds both have (per-fold differences averaged over those
    seeds, paired t-test over folds; the accuracies are means over those seeds too); None
    without a shared seed with fold accuracies."""
    rows = _latest(rows)
    mine = {r["seed"]: r.get("split_acc") for r in rows if r["label"] == label and r["task"] == task}
    theirs = {r["seed"]: r.get("split_acc") for r in rows if r["label"] == other and r["task"] == task}
    return paired_by_seed(mine, theirs)


def paired_by_seed(mine: dict, theirs: dict) -> tuple | None:
    """``(difference, p, accuracy of mine, accuracy of theirs, seeds)`` of two ``{seed: fold
    accuracies}`` over the seeds both have (see :func:`versus_kind`); None without one."""
    seeds = [s for s in sorted(mine.keys() & theirs.keys())
             if mine[s] and theirs[s] and len(mine[s]) == len(theirs[s])]
    if not seeds or len({len(mine[s]) for s in seeds}) != 1:
        return None
    mean = np.mean([np.asarray(mine[s]) - np.asarray(theirs[s]) for s in seeds], axis=0)
    return (float(mean.mean()), paired_t_p(mean), float(np.mean([np.mean(mine[s]) for s in seeds])),
            float(np.mean([np.mean(theirs[s]) for s in seeds])), seeds)


def kind_accuracy(preset: StudyPreset, groups: dict, tasks: list[str],
                  kinds: tuple[str, ...] | None = None) -> dict[str, dict[str, float]]:
    """``{task, "mean" or "mean POOLING": {kind: accuracy 0-1}}`` of the kinds evaluated at the
    study's budget (a mean only for kinds with all of its tasks; see :func:`probe_means`), over
    ``kinds`` (default the preset's ``kinds``, without its audio-native kinds)."""
    shape, steps = preset.input_sizes[0], preset.steps[0]
    means = {"mean": list(tasks), **probe_means(preset, tasks)}
    out = {t: {} for t in [*tasks, *means]}
    for kind in preset.kinds if kinds is None else kinds:
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


def probes(preset: StudyPreset, tasks: list[str]) -> dict[str, list[str]]:
    """``{pooling: [task names]}`` of the preset's tasks in ``tasks`` (``freq`` when a task names none)."""
    out: dict[str, list[str]] = {}
    for t in preset.tasks:
        if t.name in tasks:
            out.setdefault(t.pooling or "freq", []).append(t.name)
    return out


def probe_means(preset: StudyPreset, tasks: list[str]) -> dict[str, list[str]]:
    """``{column: tasks}`` of the means the tables average: ``mean`` over every task, or one
    ``mean POOLING`` per probe when the tasks use several poolings (a mean across two protocols
    would mix a probe that separates the kinds with one that does not)."""
    groups = probes(preset, tasks)
    if len(groups) <= 1:
        return {"mean": list(tasks)}
    return {f"mean {p}": ts for p, ts in groups.items()}


# --- fine-tuning: own linear probe, validation curves, CPU ---------------------------------------

def versus_probe(rows: list[dict], probe_rows: list[dict], label: str, task: str, probe_task: str,
                 other: str | None = None) -> tuple | None:
    """A fine-tuned encoder against a linear probe on the same clips, paired by fold: ``label``'s
    rows on ``task`` against the probe rows (another study's) of ``other`` (default ``label``
    itself: its own probe) on ``probe_task``, over the seeds both have; an ``other`` with one row
    (a baseline without seeds: ``logmel-stats``) stands beside every seed. Returns
    :func:`paired_by_seed`'s tuple, or None."""
    rows, probe_rows = _latest(rows), _latest(probe_rows)
    mine = {r["seed"]: r.get("split_acc") for r in rows if r["label"] == label and r["task"] == task}
    theirs = {r["seed"]: r.get("split_acc") for r in probe_rows
              if r["label"] == (other or label) and r["task"] == probe_task}
    if other is not None and len(theirs) == 1:
        theirs = dict.fromkeys(mine, next(iter(theirs.values())))
    return paired_by_seed(mine, theirs)


def probe_accuracy(probe_rows: list[dict], label: str, task: str, seeds) -> float | None:
    """Mean accuracy of ``label``'s probe rows on ``task`` over ``seeds`` (over all of its seeds
    when none of ``seeds`` is there); None without a row."""
    found = {r["seed"]: r["acc_mean"] for r in _latest(probe_rows) if r["label"] == label and r["task"] == task}
    shared = [found[s] for s in seeds if s in found]
    values = shared or list(found.values())
    return float(np.mean(values)) if values else None


def mean_curve(rows: list[dict], label: str, task: str) -> tuple[list[int], np.ndarray, np.ndarray, int] | None:
    """``(steps, mean, std, n)`` of the validation curves (``curves``: per split ``[step,
    accuracy]`` points) of ``label`` on ``task``, over every fold of every seed at the steps all
    of them have: mean and std (ddof 1) over the ``n`` curves; None without two curves."""
    curves = [c for r in _latest(rows) if r["label"] == label and r["task"] == task for c in (r.get("curves") or [])
              if c]
    if len(curves) < 2:
        return None
    steps = sorted(set.intersection(*({int(s) for s, _ in c} for c in curves)))
    if not steps:
        return None
    values = np.array([[dict((int(s), a) for s, a in c)[step] for step in steps] for c in curves], dtype=np.float64)
    return steps, values.mean(axis=0), values.std(axis=0, ddof=1), len(curves)


#: The part of a validation curve the convergence rule looks at (its last fifth, by steps).
LAST_PART = 0.2


def convergence(steps: list[int], mean, std) -> dict | None:
    """The rule *the last fifth of the curve moves less than the fold spread*: over the points
    with step >= (1 - LAST_PART) x the last step, ``moves`` = max - min of the mean curve,
    ``spread`` = the mean of the fold std there; ``converged`` when moves < spread. None with
    fewer than two points in that window."""
    start = (1 - LAST_PART) * steps[-1]
    window = [i for i, s in enumerate(steps) if s >= start]
    if len(window) < 2:
        return None
    part, spread = np.asarray(mean)[window], float(np.mean(np.asarray(std)[window]))
    moves = float(part.max() - part.min())
    return {"from_step": steps[window[0]], "points": len(window), "moves": moves, "spread": spread,
            "converged": bool(moves < spread)}


def finetune_cpu(rows: list[dict]) -> dict:
    """CPU of a fine-tuning study from its rows: ``pretrain_s`` (the pre-trained units, once
    each), ``finetune_s`` (every fine-tune's own CPU, ``ft_cpu_s``), ``per_task``: ``{task:
    [ft_cpu_s of each unit]}`` (one fine-tune = one encoder on one task, every fold) and ``units``
    (fine-tuned units)."""
    latest = _latest(rows)
    pretrain = {r["unit"]: r.get("pretrain_cpu_s") or 0.0 for r in latest}
    per_task: dict[str, list[float]] = {}
    for r in latest:
        if r.get("protocol") == "finetune" and r.get("ft_cpu_s") is not None:
            per_task.setdefault(r["task"], []).append(float(r["ft_cpu_s"]))
    return {"pretrain_s": float(sum(pretrain.values())), "finetune_s": float(sum(sum(v) for v in per_task.values())),
            "per_task": per_task,
            "units": len({r["unit"] for r in latest if r.get("protocol") == "finetune"})}


def check_unit(record: dict, units: set[str]) -> str | None:
    """The study unit a longer-budget ``finetune full`` record belongs to: its ``name`` when that
    is a unit, else ``step0-sSEED`` for the untrained encoder (``--ckpt random``)."""
    if record.get("name") in units:
        return record["name"]
    if record.get("ckpt") == "random":
        name = f"step0-s{(record.get('full') or {}).get('seed', 0)}"
        return name if name in units else None
    return None


def longer_same_recipe(full: dict, row: dict) -> bool:
    """Whether a ``finetune full`` record's settings (``full``) are the study row's fine-tune with
    more steps: the row's lr grid and batch and the rest of the default recipe at the row's input
    size (``finetune.recipe.recipe_settings``); only steps, validation interval and seed may
    differ (steps upwards)."""
    from finetune.recipe import recipe_settings, same_settings

    height, width = input_hw(row["input_size"])
    want = recipe_settings(height, width, lrs=row.get("ft_lrs") or [], batch=row.get("ft_batch"))
    return same_settings(full, want, ignore=("steps", "eval_every")) and \
        (full.get("steps") or 0) > (row.get("ft_steps") or 0)


def budget_checks(rows: list[dict], records: list[dict], task_of: dict[str, str]) -> list[dict]:
    """Each longer fine-tune (``records``: ``finetune full`` records on the first folds of a task,
    ``--max-splits``, with the study's recipe: :func:`longer_same_recipe`) beside the study's row
    of the same unit and task, fold by fold: of ``rows`` of several budgets, the latest of the
    longest budget below the record's. ``task_of`` maps a record's task (the loader) to the
    study's task. Per (unit, task, study budget), the latest record: the row's ``label`` and ``seed``,
    ``steps`` (the study's) and ``long_steps``, per fold ``valid``/``long_valid`` (the best
    validation accuracy, where each fine-tune chose its step) and ``test``/``long_test`` (the test
    accuracy at that step); ``gain_valid``/``gain_test`` their mean differences; ``spread`` the
    fold std of the study's row; ``eval_every`` the longer one's; ``converged`` when the longer
    budget gains less than the fold spread on validation."""
    latest = {(r["unit"], r["task"], r.get("ft_steps")): r for r in rows if r.get("protocol") == "finetune"}
    units = {u for u, _, _ in latest}
    picked: dict[tuple[str, str, int], tuple[dict, dict]] = {}
    for rec in records:
        unit, task = check_unit(rec, units), task_of.get(rec.get("task"))
        shorter = [r for (u, t, _), r in latest.items() if (u, t) == (unit, task)
                   and longer_same_recipe(rec.get("full") or {}, r)]
        if unit is not None and shorter and rec.get("split_valid_acc"):
            row = max(shorter, key=lambda r: r.get("ft_steps") or 0)
            picked[(unit, task, row.get("ft_steps"))] = (rec, row)
    out = []
    for (unit, task, _), (rec, row) in picked.items():
        n = min(len(rec["split_valid_acc"]), len(row.get("split_valid_acc") or []))
        if n == 0:  # the row has no validation accuracies (an older row)
            continue
        valid, long_valid = row["split_valid_acc"][:n], rec["split_valid_acc"][:n]
        test, long_test = row["split_acc"][:n], rec["split_acc"][:n]
        gain_valid = float(np.mean(np.subtract(long_valid, valid)))
        out.append({"unit": unit, "label": row["label"], "seed": row["seed"], "task": task, "folds": n,
                    "steps": row.get("ft_steps"),
                    "long_steps": rec["full"]["steps"], "valid": valid, "long_valid": long_valid,
                    "test": test, "long_test": long_test, "gain_valid": gain_valid,
                    "gain_test": float(np.mean(np.subtract(long_test, test))), "spread": float(row["acc_std"]),
                    "cpu_s": rec.get("cpu_seconds"), "eval_every": rec["full"].get("eval_every"),
                    "converged": bool(gain_valid < float(row["acc_std"]))})
    return sorted(out, key=lambda c: (c["task"], c["unit"], c["steps"] or 0))


def budget_gains(checks: list[dict]) -> list[tuple[dict, dict]]:
    """Each checked kind's gain over ``step0`` at both budgets, where ``step0`` of the same seed
    is checked on the same task, folds and both budgets (``checks`` of :func:`budget_checks`):
    ``(check, {"valid", "test", "long_valid", "long_test": mean paired difference})``."""
    out = []
    for c in checks:
        base = next((b for b in checks if b["label"] == "step0" and c["label"] != "step0" and b["seed"] == c["seed"]
                     and (b["task"], b["folds"], b["steps"], b["long_steps"]) ==
                     (c["task"], c["folds"], c["steps"], c["long_steps"])), None)
        if base is not None:
            out.append((c, {k: float(np.mean(np.subtract(c[k], base[k])))
                            for k in ("valid", "test", "long_valid", "long_test")}))
    return out
