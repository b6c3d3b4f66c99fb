"""What a study consists of, and its results file: units, their order, which are done.

Pure functions over a :class:`tools.study.presets.StudyPreset` and the rows of
``REPORT/results.jsonl`` (see :mod:`tools.study`), shared by the runner and the report.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from generators.atomic import append_json_lines
from generators.nodes import node_share
from tools.study.presets import StudyPreset, StudyTask

RESULTS = "results.jsonl"
#: Longer fine-tunes of a fine-tuning study's units on their first folds (``finetune full --results``),
#: the stricter convergence check of its report.
BUDGET_CHECK = "budget-check.jsonl"
#: Special names of ``--kinds`` that select the baseline units.
BASELINES = ("step0", "logmel-stats", "audio")


@dataclass(frozen=True)
class Unit:
    """One encoder of the study. ``role``: pattern, step0, logmel or audio; ``label``: the row
    of the tables (kind, ``step0``, ``logmel-stats``, ``audio-DIR``)."""

    name: str
    role: str
    label: str
    kind: str | None
    seed: int
    steps: int | None
    input_size: str

    @property
    def trained(self) -> bool:
        return self.role in ("pattern", "audio")


# --- planning (pure) ----------------------------------------------------------------------------

def audio_label(preset: StudyPreset) -> str:
    return "audio-" + Path(preset.audio[0]).parts[0] if preset.audio else ""


def _unit(preset: StudyPreset, role: str, label: str, kind, seed: int, steps, shape: str) -> Unit:
    parts = [label]
    if preset.mode == "recipe" and role != "logmel":
        parts.append(shape)
        if steps is not None:
            parts.append(str(steps))
    if role != "logmel":
        parts.append(f"s{seed}")
    return Unit("-".join(parts), role, label, kind, seed, steps, shape)


def read_rows(path: Path) -> list[dict]:
    """Rows of a results file; a torn last line (a writer killed mid-line) is ignored."""
    try:
        text = Path(path).read_bytes()
    except OSError:
        return []
    return parse_rows(text)


def parse_rows(content: bytes) -> list[dict]:
    """The rows of a results file's content (see :func:`read_rows`)."""
    rows = []
    for line in content.decode("utf-8", errors="replace").splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict) and row.get("unit"):
            rows.append(row)
    return rows


def unit_tasks(preset: StudyPreset, unit: Unit) -> tuple[StudyTask, ...]:
    """The tasks ``unit`` is evaluated on: every task of the preset, but only the probe tasks for
    ``logmel-stats`` (no encoder to fine-tune)."""
    return preset.tasks_of("probe") if unit.role == "logmel" else preset.tasks


def row_recipe(row: dict) -> dict:
    """The fine-tuning recipe a fine-tuned row was made with (``ft_recipe``: the ``finetune.recipe.RECIPE``
    settings of its record). A row written before rows kept it was made with the recipe of its
    day: today's, less the options added since (``finetune.recipe.BEFORE_OPTIONS``)."""
    from finetune.recipe import BEFORE_OPTIONS, RECIPE, with_earlier_defaults

    return with_earlier_defaults(row["ft_recipe"]) if row.get("ft_recipe") else {**RECIPE, **BEFORE_OPTIONS}


def study_recipe() -> dict:
    """Today's fine-tuning recipe as the study compares rows by: ``finetune.recipe.RECIPE`` less
    the lr. A row keeps its study's lr grid (a list; ``ft_lrs``), a setting of the preset like the
    budget and the batch, which the report compares across rows."""
    from finetune.recipe import RECIPE

    return {k: v for k, v in RECIPE.items() if k != "lr"}


def recipe_changes(row: dict) -> dict:
    """The settings of :func:`study_recipe` a fine-tuned row was made with otherwise than today
    (key: the row's value); empty for today's recipe and for probe rows."""
    if row.get("protocol") != "finetune":
        return {}
    recipe = row_recipe(row)
    return {k: recipe.get(k) for k, v in study_recipe().items() if recipe.get(k) != v}


def setting_changes(row: dict, preset: StudyPreset) -> dict:
    """What a fine-tuned row was made with otherwise than ``preset`` asks today: the
    :func:`recipe_changes`, and ``steps`` when its budget (``ft_steps``) is not its task's
    (``StudyPreset.task_steps``). Empty for probe rows and rows of tasks the preset lacks."""
    changes = recipe_changes(row)
    task = next((t for t in preset.tasks_of("finetune") if t.name == row.get("task")), None)
    if row.get("protocol") == "finetune" and task is not None and row.get("ft_steps") != preset.task_steps(task):
        changes["steps"] = row.get("ft_steps")
    return changes


def is_current(row: dict, preset: StudyPreset) -> bool:
    """Whether a row counts for today's ``preset``: every probe row, and a fine-tuned row made
    with today's recipe and its task's budget (:func:`setting_changes` empty). Rows of earlier
    settings stay in the results file but their units are fine-tuned again (on those tasks) and
    their numbers are left out of the report."""
    return not setting_changes(row, preset)


def unit_done(rows: list[dict], unit: Unit, preset: StudyPreset) -> bool:
    """True when ``rows`` hold a current row (:func:`is_current`) of ``unit`` for every task it
    is evaluated on."""
    have = {r.get("task") for r in rows if r.get("unit") == unit.name and is_current(r, preset)}
    return all(t.name in have for t in unit_tasks(preset, unit))


def mean_accuracy(rows: list[dict], unit_name: str, tasks: list[str]) -> float | None:
    """Mean over ``tasks`` of the unit's accuracy (None unless every task has a row)."""
    accs = {r["task"]: r["acc_mean"] for r in rows if r.get("unit") == unit_name}
    if not all(t in accs for t in tasks):
        return None
    return sum(accs[t] for t in tasks) / len(tasks)


def extreme_kinds(preset: StudyPreset, rows: list[dict]) -> tuple[list[str], list[str]] | None:
    """``(best, worst)`` kinds by the mean accuracy over the tasks of their first seed, or None
    while some kind's first seed is not evaluated (the extremes of a partial study would move)."""
    if preset.mode != "study" or preset.extremes <= 0 or not preset.extra_seeds:
        return None
    tasks = [t.name for t in preset.tasks]
    shape, steps = preset.input_sizes[0], preset.steps[0]
    score = {}
    for kind in preset.kinds:
        acc = mean_accuracy(rows, _unit(preset, "pattern", kind, kind, preset.seeds[0], steps, shape).name, tasks)
        if acc is None:
            return None
        score[kind] = acc
    ranked = sorted(preset.kinds, key=lambda k: (-score[k], k))
    k = min(preset.extremes, len(ranked) // 2)
    return ranked[:k], ranked[len(ranked) - k:] if k else []


def _pixels(shape: str) -> int:
    height, _, width = shape.partition("x")
    return int(height) * int(width)


def plan_units(preset: StudyPreset, rows: list[dict]) -> list[Unit]:
    """Every unit of the study in run order, given the rows already in the results file (the
    extra seeds of the extreme kinds appear once every first seed is in)."""
    units = []
    for shape in preset.input_sizes:
        units += [_unit(preset, "step0", "step0", None, s, None, shape) for s in preset.step0_seeds]
    if preset.logmel:
        units.append(_unit(preset, "logmel", "logmel-stats", None, 0, None, preset.input_sizes[0]))
    # cheapest runs first: the cost of a run grows with steps x input pixels
    grid = sorted(((steps, shape) for steps in preset.steps for shape in preset.input_sizes),
                  key=lambda c: (c[0] * _pixels(c[1]), c[0]))
    # kinds with a reduced image count (the neural kinds, hours of rendering each) after the others
    # and after the real-audio control, so a study cut short by --hours has the most kinds in
    fast = [k for k in preset.kinds if k not in preset.kind_n]
    slow = [k for k in preset.kinds if k in preset.kind_n]
    for i, (steps, shape) in enumerate(grid):  # kinds inner: two parallel units render different kinds
        units += [_unit(preset, "pattern", kind, kind, s, steps, shape) for s in preset.seeds for kind in fast]
        if i == 0 and preset.audio:
            units += [_unit(preset, "audio", audio_label(preset), None, s, steps, shape) for s in preset.seeds]
        units += [_unit(preset, "pattern", kind, kind, s, steps, shape) for s in preset.seeds for kind in slow]
    extremes = extreme_kinds(preset, rows)
    if extremes:
        for kind in dict.fromkeys(extremes[0] + extremes[1]):
            units += [_unit(preset, "pattern", kind, kind, s, preset.steps[0], preset.input_sizes[0])
                      for s in preset.extra_seeds if s not in preset.seeds]
    # the extra seeds of named kinds (planned from the start, unlike the extremes)
    planned = {u.name for u in units}
    units += [u for kind, seeds in preset.seed_kinds.items() for s in seeds
              if (u := _unit(preset, "pattern", kind, kind, s, preset.steps[0], preset.input_sizes[0])).name
              not in planned]
    # the audio-native kinds last: the units of ``kinds`` and their extremes never depend on them
    units += [_unit(preset, "pattern", kind, kind, s, preset.steps[0], preset.input_sizes[0])
              for s in preset.seeds for kind in preset.audio_kinds if kind not in preset.kinds]
    return prioritise(units, preset.priority)


def prioritise(units: list[Unit], priority: tuple[str, ...]) -> list[Unit]:
    """``units`` with those named in ``priority`` first, in that order; the others keep theirs."""
    rank = {name: i for i, name in enumerate(priority)}
    first = sorted((u for u in units if u.name in rank), key=lambda u: rank[u.name])
    return first + [u for u in units if u.name not in rank]


def select(units: list[Unit], kinds: tuple[str, ...] | None) -> list[Unit]:
    """The units of ``kinds`` (kind names and the baseline names of ``BASELINES``); all for None."""
    if not kinds:
        return units
    role_of = {"step0": "step0", "logmel-stats": "logmel", "audio": "audio"}
    roles = {role_of[k] for k in kinds if k in role_of}
    return [u for u in units if (u.kind in kinds) or (u.role in roles)]


def node_order(preset: StudyPreset, rows: list[dict]) -> list[Unit]:
    """The units in the order the nodes of a job array share them out (position i goes to node
    ``i % num_nodes``, :func:`generators.nodes.node_share`): the plan of an empty results file
    first, then the units planned later (the extra seeds of the extreme kinds, once every first
    seed is in) in plan order. Rows arriving never move a unit, so every node, whenever it
    plans, gives each unit the same position; a unit of the first part that the current plan
    dropped keeps its place (the caller runs only planned units)."""
    first = plan_units(preset, [])
    names = {u.name for u in first}
    return first + [u for u in plan_units(preset, rows) if u.name not in names]


def node_units(preset: StudyPreset, rows: list[dict], kinds: tuple[str, ...] | None, num_nodes: int,
               node_rank: int) -> list[Unit]:
    """The planned units (of ``kinds``) that node ``node_rank`` of ``num_nodes`` runs, in plan
    order: those at its positions of :func:`node_order` (after ``kinds`` is applied, so a
    subset is spread over every node too). One node: the whole plan."""
    planned = select(plan_units(preset, rows), kinds)
    if num_nodes == 1:
        return planned
    order = select(node_order(preset, rows), kinds)
    mine = {order[i].name for i in node_share(len(order), num_nodes, node_rank)}
    return [u for u in planned if u.name in mine]


# --- results file -------------------------------------------------------------------------------

def append_rows(path: Path, rows: list[dict], done: Callable[[list[dict]], bool] | None = None) -> bool:
    """Append ``rows`` as JSON lines in one write under the file's lock
    (:func:`generators.atomic.append_json_lines`): a unit's rows are in the file all or none,
    also with jobs on several machines appending at once (a torn tail left by a killed writer
    is ended with a newline first). ``done(rows_in_file) -> bool`` is asked under the lock; when
    True nothing is appended (another job got the unit's rows in first). Returns whether the
    rows were appended."""
    if done is None:
        return append_json_lines(path, rows)
    return append_json_lines(path, rows, unless=lambda content: done(parse_rows(content)))
