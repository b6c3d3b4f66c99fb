"""``python -m tools.reproduce``: render -> pre-train -> evaluate every kind, plus baselines, one report.

For each selected kind: render the shards (``generators.render``), a contact sheet
(``generators.preview``), image statistics (``generators.stats``), MAE pre-training with the preset's
budget (``python -m pretrain``, in pieces of at most ``piece_minutes`` with ``--resume``) and the
linear probe on each task (``python -m finetune linear``). Baselines: the untrained encoder
(the first checkpoint's ``step0/``: same architecture and init, no training), hand-crafted
log-mel statistics (``--ckpt logmel-stats``) and MAE pre-training on real audio (the same
budget; note it sees the evaluation clips unlabelled when that audio is the task's own).
Finally ``REPORT/report.md`` with the accuracy table, bar plot, property table, Fig.-3-style
correlation plots, contact sheets and loss curves (:mod:`tools.reproduce.report`).

Every step is cached: ``WORK/steps/NAME.done`` is written atomically after it succeeds, so a
rerun skips finished steps and resumes unfinished ones. ``--lock FILE`` holds an exclusive
``flock`` per step (and per pre-training piece); ``--stop-after M`` starts no new step after M
minutes, so a long preset can be run in several sittings.

The study presets (``cpu-study``: the 17 datasets at one budget; ``cpu-recipe``: the budget
search) run in units instead, resumable across machines through the committed
``REPORT/results.jsonl`` (:mod:`tools.study.run`, report by :mod:`tools.study.report`), also
as the jobs of a Slurm array or Kubernetes Indexed Job (``--num-nodes``/``--node-rank``;
``tools/study/slurm-array.sbatch``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from finetune.data_root import data_root
from generators.nodes import COUNT_VARIABLE, resolve_nodes
from tools.reproduce.presets import CLIPS_PER_LABEL, PRESETS, Preset, get_preset
from tools.steps import (StepError, checkpoint_step, copy_mini_fsdd, cpu_lock, read_marker, run_command,
                         run_step, write_json_atomic)
from tools.study.presets import STUDY_PRESETS

YIELD_SECONDS = 3.0


def log_interval(steps: int | None) -> int:
    """Steps between loss records: at least a few records even for very short runs (a run of
    4 steps logged every 5 wrote no log.jsonl, and the report had no loss curve)."""
    steps = steps or 1000
    return 1 if steps < 20 else 5 if steps < 200 else 10


class Pipeline:
    """The steps of one preset in one work folder."""

    def __init__(self, preset: Preset, work: Path, report: Path, data_root: Path,
                 lock: str | None = None, stop_after: float | None = None, log=print,
                 lock_per: str = "step", lock_hold: float = 0.0):
        self.preset, self.work, self.report, self.data = preset, Path(work), Path(report), Path(data_root)
        # lock_per "step": the lock is taken per step and per pre-training piece; "run": once
        # around everything of one kind (render .. evaluation), so a queue of other jobs on
        # the lock is waited for once per kind rather than once per step.
        self.unit_lock = lock if lock_per == "run" else None
        self.lock = None if lock_per == "run" else lock
        # With lock_per "run": go on to the next kind without releasing the lock while it has
        # been held for less than lock_hold minutes (fewer waits when kinds are short).
        self.lock_hold, self._held, self._held_since = lock_hold, None, 0.0
        self.log = log
        self.deadline = time.monotonic() + stop_after * 60 if stop_after else None
        self.failed: dict[str, str] = {}
        self.height, self.width = (int(v) for v in preset.input_size.split("x"))

    # --- helpers ------------------------------------------------------------------------------
    def out_of_time(self) -> bool:
        return self.deadline is not None and time.monotonic() > self.deadline

    def step(self, name: str, body, lock: bool = True) -> dict | None:
        """Run a step unless finished, failed earlier in this invocation, or out of time."""
        if read_marker(self.work, name) is None and self.out_of_time():
            self.log(f"[stop] {name}: --stop-after reached; rerun to continue")
            return None
        try:
            return run_step(self.work, name, body, lock=self.lock if lock else None, log=self.log)
        except (StepError, ValueError, OSError, RuntimeError) as error:
            message = str(error).splitlines()[0] if str(error) else type(error).__name__
            self.failed[name] = message
            self.log(f"[FAIL] {name}: {message}")
            return None

    def shards(self, kind: str) -> Path:
        return self.work / "shards" / kind

    def ckpt(self, label: str, seed: int) -> Path:
        return self.work / "ckpt" / f"{label}-s{seed}"

    def task_root(self, root: str) -> Path:
        return self.work / root if root == "fsdd-mini" else self.data / root

    # --- steps --------------------------------------------------------------------------------
    def render(self, kind: str) -> dict:
        from generators.params import make_params
        from generators.registry import get_kind
        from generators.render import RenderConfig, render_dataset

        params = make_params(get_kind(kind).params_type, tuple(self.preset.kind_params.get(kind, ())))
        config = RenderConfig(kind=kind, params=params, n=self.preset.n_images, seed=0,
                              size=self.preset.size, mode="L",
                              shard_size=min(1000, self.preset.n_images))
        started = time.monotonic()
        result = render_dataset(config, self.shards(kind), workers=self.preset.render_workers,
                                progress=False)
        rate = result["images"] / max(time.monotonic() - started, 1e-9)
        return {**result, "images_per_s": round(rate, 2), "params": list(self.preset.kind_params.get(kind, ()))}

    def preview(self, kind: str) -> dict:
        import numpy as np
        from PIL import Image

        from generators.preview import contact_sheet
        from generators.reader import read_images

        images, labels = read_images(self.shards(kind), 16)
        thumbs = [np.asarray(Image.fromarray(im).resize((64, 64), Image.Resampling.BOX))
                  for im in images]
        path = self.report / "sheets" / f"{kind}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        contact_sheet(thumbs, None, columns=8).save(path, optimize=True)
        return {"sheet": str(path)}

    def stats(self, kind: str) -> dict:
        from generators.stats import compute_stats

        result = compute_stats(self.shards(kind), n=self.preset.stats_n, seed=0, name=kind,
                               relative_to=self.work)
        write_json_atomic(self.work / "stats" / f"{kind}.json", result)
        return {"logmel_distance": result["logmel_distance"]}

    def pretrain(self, label: str, seed: int, source: list[str]) -> dict:
        """Train in pieces until the budget is used; each piece under the lock, resumable."""
        out = self.ckpt(label, seed)
        progress_path = self.work / "steps" / f"pretrain-{label}-s{seed}.progress"
        progress = json.loads(progress_path.read_text()) if progress_path.exists() else {"minutes": 0.0}
        p = self.preset
        base = [sys.executable, "-m", "pretrain", *source, "--out", str(out), "--resume",
                "--preset", p.model, "--input-size", p.input_size, "--batch-size", str(p.batch_size),
                "--seed", str(seed), "--device", p.device, "--threads", str(p.threads),
                "--workers", "0" if p.device == "cpu" else "4", "--no-progress",
                "--save-every", "50", "--log-every", str(log_interval(p.steps))]
        while True:
            if p.minutes is not None:
                left = p.minutes - progress["minutes"]
                if left <= 1e-6:
                    break
                piece = ["--minutes", f"{min(left, p.piece_minutes):.4f}"]
            else:
                done = checkpoint_step(out)
                if done >= p.steps:
                    break
                per_piece = max(1, int(p.piece_minutes * 60 * 100 / p.batch_size))  # ~100 img/s
                piece = ["--steps", str(p.steps), "--stop-after-steps", str(per_piece)]
            if self.out_of_time():
                raise StepError(f"--stop-after reached during pre-training of {label}; rerun to continue")
            with cpu_lock(self.lock):
                run_command(base + piece, self.work / "logs" / f"pretrain-{label}-s{seed}.log")
            if p.minutes is not None:
                progress["minutes"] += float(piece[1])
                write_json_atomic(progress_path, progress)
        config = json.loads((out / "config.json").read_text())
        return {"ckpt": str(out), "step": config.get("step"), "images_seen": config.get("images_seen")}

    def evaluate(self, ckpt: str, name: str, group: str, task: str, root: str, seed: int = 0) -> dict:
        p = self.preset
        task_name, extra = (task, [])
        if task == "fsdd-mini":
            task_name, extra = "folder", ["--folds", "2"]
        run_command([sys.executable, "-m", "finetune", "linear", "--ckpt", ckpt, "--task", task_name,
                     "--root", str(self.task_root(root)), *extra, "--preset", p.model, "--seed", str(seed),
                     "--n-mels", str(self.height), "--frames", str(self.width),
                     "--norm", p.probe_norm, "--threads", str(p.threads),
                     "--results", str(self.work / "results.jsonl"),
                     "--name", name, *(["--group", group] if group != name else []),
                     "--cache", str(self.work / "embeddings")],
                    self.work / "logs" / f"eval-{name}-{task}.log")
        return {"ckpt": ckpt, "name": name, "task": task}

    def make_mini_fsdd(self) -> dict:
        """``WORK/fsdd-mini/DIGIT/*.wav``: the first CLIPS_PER_LABEL clips of every digit."""
        return copy_mini_fsdd(self.data, self.work / "fsdd-mini", CLIPS_PER_LABEL)

    # --- the whole run ------------------------------------------------------------------------
    def run(self) -> dict:
        p = self.preset
        self.work.mkdir(parents=True, exist_ok=True)
        write_json_atomic(self.work / "preset.json", {"preset": p.__dict__})
        if any(task == "fsdd-mini" for task, _ in p.tasks) or p.audio == "fsdd-mini":
            self.step("data-fsdd-mini", self.make_mini_fsdd, lock=False)
        self.first_ckpt = None
        for kind in p.kinds:
            self._locked_unit(self.unit_steps(kind), lambda k=kind: self._kind(k))
        if p.audio:
            self._locked_unit(self.unit_steps("audio"), self._audio)
        self._locked_unit(self.unit_steps("baselines"), self._baselines)
        self._release()
        from tools.reproduce.report import write_report

        report = write_report(self.work, self.report, p, self.failed)
        self.log(f"report: {report}")
        return {"failed": self.failed, "report": str(report)}

    def _locked_unit(self, steps: list[str], body) -> None:
        """Run ``body`` under the unit lock (lock_per "run") unless all of ``steps`` are done."""
        if self.unit_lock is None or all(read_marker(self.work, n) is not None for n in steps):
            body()
            return
        if self.out_of_time():
            self.log(f"[stop] {steps[0]}...: --stop-after reached; rerun to continue")
            return
        if self._held is None:
            self._held = cpu_lock(self.unit_lock)
            self._held.__enter__()
            self._held_since = time.monotonic()
        try:
            body()
        finally:
            if time.monotonic() - self._held_since >= self.lock_hold * 60:
                self._release()

    def _release(self) -> None:
        if self._held is not None:
            self._held.__exit__(None, None, None)
            self._held = None
            # flock wakes the waiters, but this process would re-take the lock for its next
            # kind before any of them runs: step aside so the lock really changes hands.
            time.sleep(YIELD_SECONDS)

    def unit_steps(self, unit: str) -> list[str]:
        """The steps of one kind (``unit`` = kind name), of ``audio`` or of ``baselines``."""
        p, tasks = self.preset, [t for t, _ in self.preset.tasks]
        if unit == "baselines":
            return [f"eval-{b}-{t}" for b in ("random-init", "logmel-stats") for t in tasks]
        label = "audio-" + Path(p.audio).parts[0] if unit == "audio" else unit
        names = [] if unit == "audio" else [f"render-{unit}", f"preview-{unit}", f"stats-{unit}"]
        for seed in p.seeds:
            names += [f"pretrain-{label}-s{seed}"] + [f"eval-{label}-s{seed}-{t}" for t in tasks]
        return names

    def _kind(self, kind: str) -> None:
        p = self.preset
        if not self.step(f"render-{kind}", lambda: self.render(kind)):
            return
        self.step(f"preview-{kind}", lambda: self.preview(kind), lock=False)
        self.step(f"stats-{kind}", lambda: self.stats(kind), lock=False)
        for seed in p.seeds:
            source = ["--data", str(self.shards(kind))]
            if not self.step(f"pretrain-{kind}-s{seed}",
                             lambda s=seed: self.pretrain(kind, s, source), lock=False):
                continue
            self.first_ckpt = self.first_ckpt or self.ckpt(kind, seed)
            self._evaluate_all(str(self.ckpt(kind, seed)), f"{kind}-s{seed}", kind, seed)

    def _audio(self) -> None:
        p = self.preset
        audio_dir = self.task_root(p.audio) if p.audio == "fsdd-mini" else self.data / p.audio
        label = "audio-" + Path(p.audio).parts[0]
        for seed in p.seeds:
            if self.step(f"pretrain-{label}-s{seed}",
                         lambda s=seed: self.pretrain(label, s, ["--audio", str(audio_dir)]), lock=False):
                self.first_ckpt = self.first_ckpt or self.ckpt(label, seed)
                self._evaluate_all(str(self.ckpt(label, seed)), f"{label}-s{seed}", label, seed)

    def _baselines(self) -> None:
        if self.first_ckpt is not None:
            # The untrained encoder of the same run: identical architecture and init, no training.
            self._evaluate_all(str(self.first_ckpt / "step0"), "random-init", "random-init", 0)
        self._evaluate_all("logmel-stats", "logmel-stats", "logmel-stats", 0)

    def _evaluate_all(self, ckpt: str, name: str, group: str, seed: int) -> None:
        for task, root in self.preset.tasks:
            self.step(f"eval-{name}-{task}",
                      lambda t=task, r=root: self.evaluate(ckpt, name, group, t, r, seed))


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m tools.reproduce", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Render, pre-train and evaluate pattern kinds plus baselines; write one report.",
        epilog="presets:\n" + "\n".join(f"  {k}: {v.description}" for k, v in PRESETS.items()) +
               "\n\nstudy presets (units resumable across machines through REPORT/results.jsonl):\n" +
               "\n".join(f"  {k}: {v.description}" for k, v in STUDY_PRESETS.items()) +
               "\n\nexamples:\n  python -m tools.reproduce --preset cpu --work runs/cpu --report report-cpu "
               "--lock runs/cpu.lock\n  python -m tools.reproduce --preset cpu-study --work runs/study "
               "--report docs/report-cpu-study --parallel 2 --hours 2.5\n"
               "  python -m tools.reproduce --preset cpu-finetune --work runs/study --report "
               "docs/report-cpu-finetune --data-root DATA --parallel 2   # the study's encoders fine-tuned\n"
               "  sbatch --array=0-15 tools/study/slurm-array.sbatch   # a study as a Slurm job array "
               "(docs/analysis.md)")
    p.add_argument("--preset", default="cpu",
                   help=f"one of {', '.join([*PRESETS, *STUDY_PRESETS])} (default cpu)")
    p.add_argument("--work", type=Path, required=True, help="folder for shards, checkpoints, results, markers")
    p.add_argument("--report", type=Path, required=True, help="folder for report.md and its PNGs")
    p.add_argument("--data-root", type=Path,
                   help="folder holding the audio datasets (fsdd/, instruments/; default: the SYNTHGEN_DATA "
                        "environment variable; not needed with --report-only)")
    p.add_argument("--kinds", help="comma-separated kinds instead of the preset's")
    p.add_argument("--minutes", type=float, help="pre-training minutes per run instead of the preset's budget")
    p.add_argument("--steps", type=int, help="pre-training steps per run instead of the preset's budget")
    p.add_argument("--n-images", type=int, help="images rendered per kind instead of the preset's")
    p.add_argument("--piece-minutes", type=float, help="longest single pretrain invocation")
    p.add_argument("--lock", help="flock this file around every heavy step (e.g. runs/cpu.lock; share one file between jobs that share the CPUs)")
    p.add_argument("--lock-per", choices=("step", "run"), default="step",
                   help="take --lock per step and pre-training piece (default), or once per kind "
                        "(render, stats, pre-training and evaluation of one kind; fewer waits)")
    p.add_argument("--lock-hold", type=float, default=0.0, metavar="M",
                   help="with --lock-per run: keep the lock for the next kind while it has been "
                        "held for less than M minutes (default 0: release after every kind)")
    p.add_argument("--stop-after", type=float, metavar="M", help="start no new step after M minutes")
    p.add_argument("--report-only", action="store_true", help="only rewrite the report from WORK")
    p.add_argument("--note", help="a paragraph put at the top of the report (e.g. what the run lacks)")
    study = p.add_argument_group(f"study presets ({', '.join(STUDY_PRESETS)})")
    study.add_argument("--parallel", type=int, default=1, metavar="N",
                       help="units run side by side, one torch thread each (default 1; 2 on a 2-core machine)")
    study.add_argument("--max-units", type=int, metavar="N", help="start no more than N units, then write the report")
    study.add_argument("--hours", type=float, metavar="H", help="start no new unit after H hours, then write the report")
    study.add_argument("--input-sizes", metavar="HxW,...", help="encoder input sizes instead of the preset's")
    study.add_argument("--grid-steps", metavar="S,...", help="optimizer steps per run instead of the preset's "
                       "(several: the recipe grid)")
    study.add_argument("--extreme-seeds", type=int, metavar="N",
                       help="seeds of step0 and of the extreme kinds (default 3)")
    study.add_argument("--num-nodes", type=int, metavar="K",
                       help="jobs sharing the study (a job array; docs/analysis.md, 'On a cluster'): each runs "
                            "its share of the units, one REPORT folder for all [default: SLURM_ARRAY_TASK_COUNT, "
                            f"else {COUNT_VARIABLE}, else 1]. With K > 1 the job writes no report.md: run "
                            "--report-only once the array has finished")
    study.add_argument("--node-rank", type=int, metavar="R",
                       help="this job's rank 0..K-1: it runs the units at plan positions i with i %% K == R "
                            "[default: SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN, else JOB_COMPLETION_INDEX, else 0]; "
                            "--num-nodes and --node-rank win over the environment")
    return p


def main(argv: list[str] | None = None) -> int:
    args = get_parser().parse_args(argv)
    if args.preset in STUDY_PRESETS:
        return study_main(args)
    if args.preset not in PRESETS:
        print(f"reproduce: error: unknown preset {args.preset!r}; expected one of "
              f"{', '.join([*PRESETS, *STUDY_PRESETS])}", file=sys.stderr)
        return 2
    for flag in ("num_nodes", "node_rank"):
        if getattr(args, flag) is not None:
            print(f"reproduce: error: --{flag.replace('_', '-')}: only the study presets "
                  f"({', '.join(STUDY_PRESETS)}) run as a job array", file=sys.stderr)
            return 2
    try:
        for name in ("minutes", "steps", "n_images", "piece_minutes", "stop_after"):
            value = getattr(args, name)
            if value is not None and value <= 0:
                raise ValueError(f"--{name.replace('_', '-')} {value} must be > 0")
        kinds = tuple(k.strip() for k in args.kinds.split(",") if k.strip()) if args.kinds else None
        if kinds:
            from generators.registry import list_kinds

            known = {k.name for k in list_kinds()}
            unknown = [k for k in kinds if k not in known]
            if unknown:
                raise ValueError(f"unknown kind(s) {', '.join(unknown)}; see `synthgen list`")
        preset = get_preset(args.preset, kinds=kinds, minutes=args.minutes, steps=args.steps,
                            n_images=args.n_images, piece_minutes=args.piece_minutes)
        data = None if args.report_only else data_root(args.data_root)
    except ValueError as error:
        print(f"reproduce: error: {error}", file=sys.stderr)
        return 2
    if data is None:
        from tools.reproduce.report import write_report

        print(f"report: {write_report(args.work, args.report, preset, {}, args.note)}")
        return 0
    pipeline = Pipeline(preset, args.work, args.report, data, args.lock, args.stop_after,
                        log=lambda m: print(m, flush=True), lock_per=args.lock_per,
                        lock_hold=args.lock_hold)
    result = pipeline.run()
    return 1 if result["failed"] else 0


def _int_list(text: str, option: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise ValueError(f"{option} {text!r} must be comma-separated integers") from None
    if not values or any(v <= 0 for v in values):
        raise ValueError(f"{option} {text!r} must list positive integers")
    return values


def study_main(args) -> int:
    """A unit-based study preset: run the pending units, then write REPORT/report.md."""
    from tools.study.run import run_study
    from tools.study.plan import BASELINES
    from tools.study.presets import get_study_preset
    from tools.study.report import write_study_report

    try:
        for name in ("n_images", "stop_after", "max_units", "hours", "extreme_seeds"):
            value = getattr(args, name)
            if value is not None and value <= 0:
                raise ValueError(f"--{name.replace('_', '-')} {value} must be > 0")
        if args.parallel < 1:
            raise ValueError(f"--parallel {args.parallel} must be >= 1")
        if args.minutes is not None:
            raise ValueError("--minutes: study presets have a budget in optimizer steps; use --steps")
        if args.lock:
            raise ValueError("--lock: study presets share the CPUs through --parallel, not a lock file")
        kinds = tuple(k.strip() for k in args.kinds.split(",") if k.strip()) if args.kinds else None
        if kinds:
            from generators.registry import list_kinds

            known = {k.name for k in list_kinds()} | set(BASELINES)
            unknown = [k for k in kinds if k not in known]
            if unknown:
                raise ValueError(f"unknown kind(s) {', '.join(unknown)}; see `synthgen list` "
                                 f"(baselines: {', '.join(BASELINES)})")
        steps = (args.steps,) if args.steps else _int_list(args.grid_steps, "--grid-steps") if args.grid_steps else None
        shapes = None
        if args.input_sizes:
            shapes = tuple(s.strip() for s in args.input_sizes.split(",") if s.strip())
        extra = None
        if args.extreme_seeds:
            extra = {"step0_seeds": tuple(range(args.extreme_seeds)),
                     "extra_seeds": tuple(range(1, args.extreme_seeds))}
        preset = get_study_preset(args.preset, steps=steps, input_sizes=shapes, n_images=args.n_images,
                                  **(extra or {}))
        data = None if args.report_only else data_root(args.data_root)
        num_nodes, node_rank = (1, 0) if args.report_only else resolve_nodes(args.num_nodes, args.node_rank)
    except ValueError as error:
        print(f"reproduce: error: {error}", file=sys.stderr)
        return 2
    failed = {}
    if not args.report_only:
        hours = args.hours if args.hours else (args.stop_after / 60 if args.stop_after else None)
        if num_nodes > 1:
            print(f"[node] {node_rank} of {num_nodes}", flush=True)
        result = run_study(preset, args.work, args.report, data, kinds=kinds, parallel=args.parallel,
                           max_units=args.max_units, hours=hours, log=lambda m: print(m, flush=True),
                           num_nodes=num_nodes, node_rank=node_rank)
        failed = result["failed"]
        if num_nodes > 1:
            # jobs of an array end at different times: one report of the whole study, written once
            print(f"report: not written by node {node_rank} of {num_nodes}; run the same command with "
                  "--report-only once every job has finished", flush=True)
            return 1 if failed else 0
    print(f"report: {write_study_report(preset, args.report, failed=failed, note=args.note)}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
