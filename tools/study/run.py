"""Unit-based studies (``python -m tools.reproduce --preset cpu-study|cpu-recipe``), resumable
across machines through one small committed file.

A *unit* is one encoder evaluated on every task of the preset: a pattern kind with a seed
(render -> pre-train -> evaluate), the untrained encoder ``step0`` of a seed, ``logmel-stats``,
or MAE pre-training on real audio. A unit ends by appending all its evaluation rows (plain JSON
lines, a few hundred bytes each) to ``REPORT/results.jsonl`` in one write. That file is the
study's state: commit it, and a rerun on a fresh machine skips every unit whose rows are there.
Inside one machine every step is also resumable: ``WORK/steps/*.done`` markers (render, image
statistics, pre-training, evaluation), ``pretrain --resume`` with a checkpoint every
``save_every`` steps (a kill costs at most that much training), and the suite's own results
file.

Units run as child processes (``python -m tools.study unit ...``), ``--parallel N`` of them
side by side with one torch thread each; every child's CPU time is measured from its own
children (``getrusage``), so the report can state the CPU cost of each unit.

On a cluster a study is K jobs of an array (``num_nodes``/``node_rank``, from
:mod:`generators.nodes`): each runs the units at its positions of
:func:`tools.study.plan.node_order` and appends to the one results file under its lock; the
report is written once, afterwards (docs/analysis.md, "On a cluster").
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

from tools.sections import machine_text
from tools.steps import (StepError, checkpoint_step, copy_mini_fsdd, cpu_lock, read_marker, run_command, run_step,
                         write_json_atomic)
from tools.study.plan import (RESULTS, Unit, append_rows, is_current, node_units, plan_units, read_rows, select,
                              unit_done, unit_tasks)
from tools.study.presets import STUDY_PRESETS, StudyPreset, StudyTask, input_hw
#: Clips per digit of the ``fsdd-mini`` task (built from FSDD in the work folder).
MINI_CLIPS = 6



# --- one unit (runs in its own process) ---------------------------------------------------------

class UnitRunner:
    """The steps of one unit in ``work``; rows appended to ``report/results.jsonl``."""

    def __init__(self, preset: StudyPreset, work: Path, report: Path, data_root: Path, log=print):
        self.preset, self.work, self.report, self.data = preset, Path(work), Path(report), Path(data_root)
        self.log = log

    def shards(self, kind: str) -> Path:
        return self.work / "shards" / kind

    def data_path(self, rel: str) -> Path:
        """A preset path: ``fsdd-mini`` is built in the work folder, anything else is under the data root."""
        return self.work / rel if Path(rel).parts[0] == "fsdd-mini" else self.data / rel

    def timed(self, command: list[str], log_name: str) -> dict:
        """Run ``command`` (log under WORK/logs); its wall and CPU seconds (user + system)."""
        before, started = resource.getrusage(resource.RUSAGE_CHILDREN), time.monotonic()
        run_command(command, self.work / "logs" / log_name, env=thread_env(self.preset.threads))
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        return {"wall_s": time.monotonic() - started, "cpu_s": cpu}

    def run(self, unit: Unit) -> list[dict]:
        """Run ``unit`` unless its rows are in the results file; refuses while another process
        of this work folder runs the same unit (two trainings of one checkpoint folder)."""
        import fcntl

        with open(self._lock(f"unit-{unit.name}"), "a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise StepError(f"unit {unit.name} is being run by another process in {self.work}") from None
            return self._run(unit)

    def _run(self, unit: Unit) -> list[dict]:
        results = self.report / RESULTS
        if unit_done(read_rows(results), unit, self.preset):
            self.log(f"[skip] {unit.name}: rows already in {results}")
            return []
        info: dict = {}
        if any(Path(t.root).parts[0] == "fsdd-mini" for t in self.preset.tasks) or \
                any(Path(a).parts[0] == "fsdd-mini" for a in self.preset.audio):
            with cpu_lock(self._lock("fsdd-mini")):
                run_step(self.work, "data-fsdd-mini", self.make_mini_fsdd, log=self.log)
        if unit.kind:
            if self.preset.probe_results and read_marker(self.work, f"pretrain-{unit.name}") is not None:
                # the checkpoint is there and the properties come from the probe study: no shards needed
                rendered = read_marker(self.work, f"render-{unit.kind}") or {}
            else:
                with cpu_lock(self._lock(f"kind-{unit.kind}")):
                    rendered = run_step(self.work, f"render-{unit.kind}", lambda: self.render(unit.kind), log=self.log)
                    if not self.preset.probe_results:
                        self.stats(unit.kind)
                        self.sheet(unit.kind)
            info["render_s"] = rendered.get("seconds")
            info["images_per_s"] = rendered.get("images_per_s")
        if unit.trained:
            info.update(run_step(self.work, f"pretrain-{unit.name}", lambda: self.pretrain(unit), log=self.log))
            ckpt = str(self.work / "ckpt" / unit.name)
        else:
            ckpt = f"random:{unit.seed}" if unit.role == "step0" else "logmel-stats"
        tasks = unit_tasks(self.preset, unit)
        evaluated: dict = {}
        if any(t.protocol == "probe" for t in tasks):
            evaluated = run_step(self.work, f"eval-{unit.name}", lambda: self.evaluate(unit, ckpt), log=self.log)
        if any(t.protocol == "finetune" for t in tasks):
            # no step marker: a probe study's eval-UNIT marker in this work folder must not skip it;
            # finished tasks are skipped by their records, finished folds by the progress files
            tuned = self.finetune(unit, ckpt)
            evaluated = {k: round((evaluated.get(k) or 0.0) + tuned[k], 1) for k in ("eval_cpu_s", "eval_wall_s")}
        # only the tasks without a current row: a task fine-tuned again (its budget changed) adds
        # its own row, not a second one of the tasks that still count
        have = {r.get("task") for r in read_rows(results) if r.get("unit") == unit.name and is_current(r, self.preset)}
        rows = [r for r in self.rows(unit, info, evaluated) if r["task"] not in have]
        if not append_rows(results, rows, done=lambda have: unit_done(have, unit, self.preset)):
            # another job (a second submission of an array, another work folder) was first
            self.log(f"[skip] {unit.name}: rows appended to {results} by another job meanwhile; not appended again")
            return []
        self.log(f"[rows] {unit.name}: {len(rows)} rows appended to {results}")
        return rows

    def _lock(self, name: str) -> Path:
        folder = self.work / "locks"
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f"{name}.lock"

    def make_mini_fsdd(self) -> dict:
        return copy_mini_fsdd(self.data, self.work / "fsdd-mini", MINI_CLIPS)

    def render(self, kind: str) -> dict:
        from generators.params import make_params
        from generators.registry import get_kind
        from generators.render import RenderConfig, render_dataset

        p = self.preset
        params = make_params(get_kind(kind).params_type, tuple(p.kind_params.get(kind, ())))
        n = p.images(kind)
        config = RenderConfig(kind=kind, params=params, n=n, seed=0, size=p.size, mode="L",
                              shard_size=min(1000, n))
        started = time.monotonic()
        result = render_dataset(config, self.shards(kind), workers=p.render_workers, progress=False)
        rate = result["images"] / max(time.monotonic() - started, 1e-9)
        return {"images": result["images"], "images_per_s": round(rate, 2)}

    def stats(self, kind: str) -> None:
        """``REPORT/stats/KIND.json`` (committed with the results), unless already there."""
        path = self.report / "stats" / f"{kind}.json"
        if path.exists():
            return
        from generators.stats import compute_stats

        result = compute_stats(self.shards(kind), n=self.preset.stats_n, seed=0, name=kind)
        result["path"] = kind  # machine-independent
        write_json_atomic(path, result)

    def sheet(self, kind: str) -> None:
        """``REPORT/sheets/KIND.png``: the first 16 images as 64-px thumbnails, unless already there."""
        path = self.report / "sheets" / f"{kind}.png"
        if path.exists():
            return
        import numpy as np
        from PIL import Image

        from generators import atomic
        from generators.preview import contact_sheet
        from generators.reader import read_images

        images, _ = read_images(self.shards(kind), 16)
        thumbs = [np.asarray(Image.fromarray(im).resize((64, 64), Image.Resampling.BOX)) for im in images]
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic.atomic_path(path) as tmp:
            contact_sheet(thumbs, None, columns=8).save(tmp, format="PNG", optimize=True)

    def pretrain(self, unit: Unit) -> dict:
        """``pretrain --resume`` in pieces of ``piece_steps``; CPU and wall time summed over the
        pieces in ``WORK/steps/pretrain-UNIT.progress`` (a killed piece's time is not counted)."""
        p, out = self.preset, self.work / "ckpt" / unit.name
        progress_path = self.work / "steps" / f"pretrain-{unit.name}.progress"
        progress = json.loads(progress_path.read_text()) if progress_path.exists() else {"cpu_s": 0.0, "wall_s": 0.0}
        if unit.role == "audio":
            source = [a for rel in p.audio for a in ("--audio", str(self.data_path(rel)))]
        else:
            source = ["--data", str(self.shards(unit.kind))]
        command = [sys.executable, "-m", "pretrain", *source, "--out", str(out), "--resume",
                   "--preset", p.model, "--input-size", unit.input_size, "--batch-size", str(p.batch_size),
                   *(["--lr", str(p.lr)] if p.lr else []), "--steps", str(unit.steps),
                   "--stop-after-steps", str(p.piece_steps), "--seed", str(unit.seed),
                   "--device", p.device, "--threads", str(p.threads), "--workers", str(p.workers),
                   "--no-progress", "--save-every", str(p.save_every),
                   "--log-every", str(1 if unit.steps < 20 else 10)]
        stalls = 0
        while (before := checkpoint_step(out)) < unit.steps:
            spent = self.timed(command, f"pretrain-{unit.name}.log")
            # config.json is written before train_state.pt, so after a kill between the two the
            # resumed piece repeats steps config.json already counts: one piece may seem idle.
            stalls = stalls + 1 if checkpoint_step(out) <= before else 0
            if stalls >= 2:
                raise StepError(f"pretrain of {unit.name} made no progress past step {before}; "
                                f"see {self.work / 'logs' / f'pretrain-{unit.name}.log'}")
            progress = {k: progress[k] + spent[k] for k in ("cpu_s", "wall_s")}
            write_json_atomic(progress_path, progress)
        config = json.loads((out / "config.json").read_text())
        return {"step": config.get("step"), "images_seen": config.get("images_seen"),
                "pretrain_cpu_s": round(progress["cpu_s"], 1), "pretrain_wall_s": round(progress["wall_s"], 1)}

    def task_file(self) -> Path:
        """``WORK/tasks.toml``: the probe tasks of the preset, for ``python -m finetune suite``."""
        lines = []
        for t in self.preset.tasks_of("probe"):
            lines += ["[[task]]", f"name = {json.dumps(t.name)}", f"task = {json.dumps(t.loader)}",
                      f"root = {json.dumps(str(self.data_path(t.root)))}"]
            lines += [f"folds = {t.folds}"] if t.folds else []
            lines += [f"pooling = {json.dumps(t.pooling)}"] if t.pooling else []
            lines.append("")
        path = self.work / "tasks.toml"
        path.parent.mkdir(parents=True, exist_ok=True)
        from generators import atomic

        atomic.write_bytes_atomic(path, "\n".join(lines).encode())
        return path

    def evaluate(self, unit: Unit, ckpt: str) -> dict:
        """The probe tasks through ``finetune suite``; its CPU and wall seconds."""
        p = self.preset
        height, width = input_hw(unit.input_size)
        suite = self.work / "suite"
        spent = self.timed([sys.executable, "-m", "finetune", "suite", str(self.task_file()), "--ckpt", ckpt,
                            "--results", str(suite / f"{unit.name}.jsonl"), "--out", str(suite / unit.name),
                            "--norm", p.probe_norm, "--threads", str(p.threads), "--preset", p.model,
                            "--seed", str(unit.seed), "--n-mels", str(height), "--frames", str(width),
                            "--cache", str(self.work / "embeddings")], f"eval-{unit.name}.log")
        return {"eval_cpu_s": round(spent["cpu_s"], 1), "eval_wall_s": round(spent["wall_s"], 1)}

    def finetune(self, unit: Unit, ckpt: str) -> dict:
        """Each fine-tuned task through ``finetune full``: skipped when its record (same settings)
        is in, else resumed fold by fold from its ``--state`` file. CPU and wall seconds of the
        commands, summed over sittings in ``WORK/steps/finetune-UNIT.progress`` (reset when the
        settings of its tasks, :meth:`finetune_settings`, change; a killed command's time is not
        counted)."""
        from finetune.recipe import with_earlier_defaults

        tasks = [t for t in unit_tasks(self.preset, unit) if t.protocol == "finetune"]
        settings = {t.name: self.finetune_settings(unit, t) for t in tasks}
        path = self.work / "steps" / f"finetune-{unit.name}.progress"
        progress = json.loads(path.read_text()) if path.exists() else {}
        stored = progress.get("settings")
        # a file of one settings object for every task (before budgets were per task) is reset too
        if not (isinstance(stored, dict) and set(stored) == set(settings) and all(
                isinstance(stored[k], dict) and with_earlier_defaults(stored[k]) == v for k, v in settings.items())):
            progress = {"cpu_s": 0.0, "wall_s": 0.0}
        progress["settings"] = settings
        for t in tasks:
            if self.finetune_record(unit, t) is not None:
                continue
            self.log(f"[run ] finetune {unit.name} on {t.name}")
            spent = self.timed(self.finetune_command(unit, t, ckpt), f"finetune-{unit.name}-{t.name}.log")
            progress.update({k: progress[k] + spent[k] for k in ("cpu_s", "wall_s")})
            write_json_atomic(path, progress)
        return {"eval_cpu_s": progress["cpu_s"], "eval_wall_s": progress["wall_s"]}

    def finetune_paths(self, unit: Unit, task: StudyTask) -> tuple[Path, Path]:
        """``(results, state)`` of ``finetune full`` for ``unit`` on ``task`` in the work folder."""
        folder = self.work / "finetune" / unit.name
        return folder / f"{task.name}.jsonl", folder / f"{task.name}.state.jsonl"

    def finetune_command(self, unit: Unit, task: StudyTask, ckpt: str) -> list[str]:
        """``python -m finetune full`` of ``unit`` on ``task`` with the preset's fine-tuning settings;
        ``--seed`` is the unit's (the untrained encoder's and the fine-tune's)."""
        p = self.preset
        height, width = input_hw(unit.input_size)
        results, state = self.finetune_paths(unit, task)
        return [sys.executable, "-m", "finetune", "full", "--ckpt", ckpt, "--task", task.loader,
                "--root", str(self.data_path(task.root)), *(["--folds", str(task.folds)] if task.folds else []),
                "--preset", p.model, "--seed", str(unit.seed), "--n-mels", str(height), "--frames", str(width),
                "--threads", str(p.threads), "--batch-size", str(p.ft_batch), "--steps", str(p.task_steps(task)),
                "--eval-every", str(p.ft_eval_every), *[a for lr in p.ft_lrs for a in ("--lr", f"{lr:g}")],
                "--name", unit.name, "--results", str(results), "--state", str(state)]

    def finetune_settings(self, unit: Unit, task: StudyTask) -> dict:
        """The settings the record of ``unit``'s fine-tune on ``task`` keeps (``full``, less the
        seed): the task's budget (``StudyPreset.task_steps``), the preset's lr grid, batch and
        evaluation interval, the default recipe at the unit's input size
        (``finetune.recipe.recipe_settings``)."""
        from finetune.recipe import recipe_settings

        p = self.preset
        height, width = input_hw(unit.input_size)
        return recipe_settings(height, width, steps=p.task_steps(task), lrs=p.ft_lrs, batch=p.ft_batch,
                               eval_every=p.ft_eval_every)

    def finetune_record(self, unit: Unit, task: StudyTask) -> dict | None:
        """The last record of ``finetune full`` for ``unit`` on ``task`` made with the unit's
        fine-tuning settings (:meth:`finetune_settings`), or None before one is written (a record
        of other settings, the recipe's included, is not reused)."""
        from finetune.recipe import same_settings
        from finetune.results import read_results

        results, _ = self.finetune_paths(unit, task)
        if not results.exists():
            return None
        want = self.finetune_settings(unit, task)
        records = [r for r in read_results(results, report=lambda m: None) if same_settings(r.get("full") or {}, want)]
        return records[-1] if records else None

    def rows(self, unit: Unit, info: dict, evaluated: dict) -> list[dict]:
        """The unit's rows: one per task, from the suite's results file (probe tasks) and the
        records of ``finetune full`` (fine-tuned tasks), with the unit's facts."""
        from finetune.results import read_results

        p = self.preset
        tasks = unit_tasks(p, unit)
        records = {}
        if any(t.protocol == "probe" for t in tasks):
            records = {r["task"]: r for r in read_results(self.work / "suite" / f"{unit.name}.jsonl",
                                                          report=lambda m: None)}
        for t in tasks:
            if t.protocol == "finetune" and (record := self.finetune_record(unit, t)) is not None:
                records[t.name] = record
        missing = [t.name for t in tasks if t.name not in records]
        if missing:
            raise StepError(f"{unit.name}: the evaluation wrote no result for {', '.join(missing)}")
        base = {"unit": unit.name, "role": unit.role, "label": unit.label, "kind": unit.kind,
                "letter": p.letter(unit.kind) if unit.kind else None, "seed": unit.seed,
                "input_size": unit.input_size, "steps": unit.steps, "preset": p.name,
                "machine": machine_text(), "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "eval_cpu_s": evaluated.get("eval_cpu_s"), "eval_wall_s": evaluated.get("eval_wall_s")}
        if unit.trained:
            base.update(images_seen=info.get("images_seen"), step_reached=info.get("step"),
                        pretrain_cpu_s=info.get("pretrain_cpu_s"), pretrain_wall_s=info.get("pretrain_wall_s"))
        if unit.kind:
            base.update(n_images=p.images(unit.kind), epochs=round(p.epochs(unit.kind, unit.steps), 2),
                        render_s=info.get("render_s"), render_images_per_s=info.get("images_per_s"))
        rows = []
        for t in tasks:
            r = records[t.name]
            row = {**base, "task": t.name, "acc_mean": r["acc_mean"], "acc_std": r["acc_std"],
                   "split_acc": r.get("split_acc"), "metric": r.get("metric", "accuracy"),
                   "leaky": unit.role == "audio" and t.name in p.leaky_tasks}
            rows.append({**row, **finetune_fields(r)} if t.protocol == "finetune" else row)
        return rows


def finetune_fields(record: dict) -> dict:
    """What a row of a fine-tuned task carries beside the usual fields, from a ``finetune full``
    record: per split the test accuracy at the last step, the validation accuracy, step and lr
    chosen on validation, the validation curve of the chosen lr as ``[step, accuracy]`` points,
    the fine-tuning settings (``ft_recipe``: the record's ``finetune.recipe.RECIPE`` settings)
    and its CPU seconds (all, training, evaluation; splits resumed from the progress file count
    with the CPU they took)."""
    from finetune.recipe import RECIPE, with_earlier_defaults

    full = record.get("full") or {}
    curves = []
    for lr, per_lr in zip(record.get("split_lr") or [], record.get("curves") or []):
        points = (per_lr or {}).get(f"{lr:g}") or []
        curves.append([[p["step"], round(p["valid"], 5)] for p in points])
    return {"protocol": "finetune", "metric": "acc", "split_last_acc": record.get("split_last_acc"),
            "split_valid_acc": record.get("split_valid_acc"), "split_step": record.get("split_step"),
            "split_lr": record.get("split_lr"), "curves": curves, "ft_steps": full.get("steps"),
            "ft_lrs": full.get("lr"), "ft_batch": full.get("batch_size"),
            "ft_recipe": {k: v for k, v in with_earlier_defaults(full).items() if k in RECIPE},
            "ft_cpu_s": record.get("cpu_seconds"),
            "ft_train_cpu_s": record.get("train_cpu_s"), "ft_eval_cpu_s": record.get("eval_cpu_s")}


def thread_env(threads: int) -> dict:
    value = str(threads)
    return {"OMP_NUM_THREADS": value, "MKL_NUM_THREADS": value, "OPENBLAS_NUM_THREADS": value}


# --- the scheduler ------------------------------------------------------------------------------

class SubprocessLauncher:
    """Starts a unit as ``python -m tools.study unit ...`` with its output in WORK/logs/unit-NAME.log."""

    def __init__(self, work: Path, report: Path, data_root: Path, preset_file: Path, threads: int):
        self.work, self.report, self.data, self.preset_file = work, report, data_root, preset_file
        self.threads = threads

    def start(self, unit: Unit):
        log = self.work / "logs" / f"unit-{unit.name}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        handle = open(log, "a")
        process = subprocess.Popen([sys.executable, "-m", "tools.study", "unit", "--preset-file", str(self.preset_file),
                                    "--work", str(self.work), "--report", str(self.report), "--data-root",
                                    str(self.data), "--unit", unit.name],
                                   stdout=handle, stderr=subprocess.STDOUT,
                                   env={**os.environ, **thread_env(self.threads)})
        process.log_path, process.log_handle = log, handle
        return process


def run_study(preset: StudyPreset, work: Path, report: Path, data_root: Path, *, kinds=None, parallel: int = 1,
              max_units: int | None = None, hours: float | None = None, launcher=None, log=print,
              poll_seconds: float = 1.0, num_nodes: int = 1, node_rank: int = 0) -> dict:
    """Run the pending units (``parallel`` at a time, each through ``launcher.start(unit)``,
    which returns an object with ``poll()``: a child process by default).

    Starts no new unit after ``max_units`` units or ``hours`` hours; re-plans after every
    finished unit (the extra seeds of the extreme kinds appear once all first seeds are in).
    With ``num_nodes`` > 1 (one job of an array) only the units of ``node_rank``
    (:func:`tools.study.plan.node_units`), then returns; units planned later on other nodes'
    positions are left to the next submission.
    Returns ``{"ran": [...], "failed": {unit: message}}``; the caller writes the report."""
    work, report = Path(work), Path(report)
    work.mkdir(parents=True, exist_ok=True)
    preset_file = work / "study-preset.json"
    write_json_atomic(preset_file, preset_to_json(preset))
    launcher = launcher or SubprocessLauncher(work, report, data_root, preset_file, preset.threads)
    deadline = time.monotonic() + hours * 3600 if hours else None
    running: dict[str, object] = {}
    ran, failed, started = [], {}, 0
    while True:
        rows = read_rows(report / RESULTS)
        pending = [u for u in node_units(preset, rows, kinds, num_nodes, node_rank)
                   if not unit_done(rows, u, preset) and u.name not in running and u.name not in failed
                   and u.name not in ran]
        may_start = (max_units is None or started < max_units) and (deadline is None or time.monotonic() < deadline)
        while pending and may_start and len(running) < parallel:
            unit = pending.pop(0)
            log(f"[unit] {unit.name}: started")
            running[unit.name] = launcher.start(unit)
            started += 1
            may_start = max_units is None or started < max_units
        if not running:
            if pending:
                log(f"[stop] {len(pending)} unit(s) left for a later run ({'--max-units' if max_units else '--hours'} reached)")
            break
        time.sleep(poll_seconds if all(p.poll() is None for p in running.values()) else 0)
        for name, process in list(running.items()):
            code = process.poll()
            if code is None:
                continue
            del running[name]
            if getattr(process, "log_handle", None):
                process.log_handle.close()
            if code == 0:
                ran.append(name)
                log(f"[unit] {name}: done")
            else:
                tail = _tail(getattr(process, "log_path", None))
                failed[name] = f"exit {code}: {tail}"
                log(f"[FAIL] {name}: exit {code}; see {getattr(process, 'log_path', '')}: {tail}")
    if num_nodes > 1:
        rows = read_rows(report / RESULTS)
        left = [u for u in select(plan_units(preset, rows), kinds) if not unit_done(rows, u, preset)]
        log(f"[node] {node_rank} of {num_nodes}: {len(ran)} unit(s) run here; {len(left)} unit(s) of the study "
            f"not in {report / RESULTS} yet (running on other nodes, failed, or planned once more rows are in: "
            "submit the array again when it has finished)")
    return {"ran": ran, "failed": failed}


def _tail(path) -> str:
    if path is None:
        return ""
    try:
        lines = [ln.strip() for ln in Path(path).read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return ""
    return " | ".join(lines[-3:])


def preset_to_json(preset: StudyPreset) -> dict:
    return asdict(preset)


def preset_from_json(data: dict) -> StudyPreset:
    data = dict(data)
    data["tasks"] = tuple(StudyTask(**t) for t in data["tasks"])
    for key in ("kinds", "steps", "input_sizes", "seeds", "step0_seeds", "extra_seeds", "audio", "leaky_tasks",
                "audio_kinds", "priority", "ft_lrs"):
        if key in data:
            data[key] = tuple(data[key])
    data["kind_params"] = {k: tuple(v) for k, v in data["kind_params"].items()}
    if "seed_kinds" in data:
        data["seed_kinds"] = {k: tuple(v) for k, v in data["seed_kinds"].items()}
    return StudyPreset(**data)


def unit_main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tools.study unit",
                                description="Run one unit of a study (started by python -m tools.reproduce).")
    p.add_argument("--preset-file", type=Path, required=True)
    p.add_argument("--work", type=Path, required=True)
    p.add_argument("--report", type=Path, required=True)
    p.add_argument("--data-root", type=Path, required=True)
    p.add_argument("--unit", required=True)
    args = p.parse_args(argv)
    preset = preset_from_json(json.loads(args.preset_file.read_text()))
    rows = read_rows(args.report / RESULTS)
    units = {u.name: u for u in plan_units(preset, rows)}
    if args.unit not in units:
        print(f"study: error: unit {args.unit} is not part of preset {preset.name}", file=sys.stderr)
        return 2
    import torch

    torch.set_num_threads(preset.threads)
    try:
        UnitRunner(preset, args.work, args.report, args.data_root, log=lambda m: print(m, flush=True)).run(units[args.unit])
    except (StepError, ValueError, OSError, RuntimeError) as error:
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        print(f"study: error: {message}", file=sys.stderr, flush=True)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["unit"]:
        return unit_main(argv[1:])
    print("usage: python -m tools.study unit --preset-file F --work W --report R --data-root D --unit NAME\n"
          f"(studies are run with python -m tools.reproduce --preset {'|'.join(STUDY_PRESETS)})", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())


