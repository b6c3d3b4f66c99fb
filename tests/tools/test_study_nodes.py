"""A study as a job array: each job (node) runs the units at its positions of a stable order,
all appending to one results file; the extra seeds planned later go to the next submission."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import REPO
from tests.tools.test_study import FakeLauncher, fake_rows
from tools.reproduce.cli import main
from tools.study.plan import RESULTS, append_rows, node_order, node_units, plan_units, read_rows, unit_done
from tools.study.presets import STUDY_PRESETS
from tools.study.run import preset_from_json, run_study


def _all_first_seeds(preset):
    return [r for u in plan_units(preset, []) for r in fake_rows(preset, u, 0.5)]


def test_node_order_keeps_every_unit_in_place_when_the_extra_seeds_are_planned():
    preset = STUDY_PRESETS["cpu-study"]
    first = [u.name for u in plan_units(preset, [])]
    rows = _all_first_seeds(preset)
    later = [u.name for u in plan_units(preset, rows)]
    assert len(later) == len(first) + 8  # two more seeds of the two best and two worst kinds
    assert later.index("audio-fm-s0") != first.index("audio-fm-s0")  # the plan itself moves units
    order = [u.name for u in node_order(preset, rows)]
    assert order[:len(first)] == first and sorted(order[len(first):]) == sorted(set(later) - set(first))
    assert [u.name for u in node_order(preset, [])] == first


@pytest.mark.parametrize("preset_name, nodes", [("cpu-study", 4), ("cpu-recipe", 5), ("study-smoke", 3),
                                                ("study-smoke", 20)])
def test_the_nodes_of_an_array_share_the_plan_exactly_once(preset_name, nodes):
    preset = STUDY_PRESETS[preset_name]
    for rows in ([], _all_first_seeds(preset)):
        planned = [u.name for u in plan_units(preset, rows)]
        shares = [[u.name for u in node_units(preset, rows, None, nodes, r)] for r in range(nodes)]
        assert sorted(n for s in shares for n in s) == sorted(planned)
        for share in shares:
            assert share == [n for n in planned if n in share]  # each node runs its share in plan order
        order = [u.name for u in node_order(preset, rows)]
        assert all(order.index(n) % nodes == r for r, share in enumerate(shares) for n in share)
    # a --kinds subset is spread over the nodes too
    subset = [[u.name for u in node_units(preset, [], ("step0",), 2, r)] for r in (0, 1)]
    assert subset[0] and subset[1] and not set(subset[0]) & set(subset[1])
    assert node_units(preset, [], None, 1, 0) == plan_units(preset, [])


def test_array_jobs_run_their_share_then_a_second_submission_the_extra_seeds(tmp_path):
    preset = STUDY_PRESETS["study-smoke"]
    report, logs = tmp_path / "report", {}
    launchers = [FakeLauncher(preset, report) for _ in range(3)]
    for rank in range(3):  # one after the other
        logs[rank] = []
        run_study(preset, tmp_path / f"work{rank}", report, tmp_path, launcher=launchers[rank], log=logs[rank].append,
                  poll_seconds=0, num_nodes=3, node_rank=rank)
    first = [u.name for u in plan_units(preset, [])]
    order = [u.name for u in node_order(preset, read_rows(report / RESULTS))]
    assert order == first + ["fractaldb-s1", "stat-spectrum-s1"]  # the extra seeds at positions 6 and 7
    # node 1 finished the kinds' first seeds, re-planned and ran its extra seed (position 7); node 0 had
    # finished before the extra seeds were planned, so its one (position 6) waits for the next submission
    assert [launchers[r].started for r in range(3)] == [first[0::3], first[1::3] + ["stat-spectrum-s1"], first[2::3]]
    assert logs[2][-1].startswith(f"[node] 2 of 3: 2 unit(s) run here; 1 unit(s) of the study not in {report}")
    assert logs[2][-1].endswith("submit the array again when it has finished)")
    again = [FakeLauncher(preset, report) for _ in range(3)]
    for rank in range(3):
        run_study(preset, tmp_path / f"work{rank}", report, tmp_path, launcher=again[rank], log=lambda m: None,
                  poll_seconds=0, num_nodes=3, node_rank=rank)
    assert [a.started for a in again] == [["fractaldb-s1"], [], []]
    rows = read_rows(report / RESULTS)
    assert sorted(r["unit"] for r in rows) == sorted(u.name for u in plan_units(preset, rows))


def test_a_unit_whose_rows_another_job_appended_meanwhile_is_not_appended_again(tmp_path):
    preset = STUDY_PRESETS["study-smoke"]
    unit = plan_units(preset, [])[3]
    path = tmp_path / RESULTS
    done = lambda have: unit_done(have, unit, preset)  # noqa: E731
    assert append_rows(path, fake_rows(preset, unit, 0.6), done=done) is True
    before = path.read_bytes()
    assert append_rows(path, fake_rows(preset, unit, 0.7), done=done) is False
    assert path.read_bytes() == before
    other = plan_units(preset, [])[4]
    assert append_rows(path, fake_rows(preset, other, 0.7), done=lambda have: unit_done(have, other, preset))
    assert [r["unit"] for r in read_rows(path)] == [unit.name, other.name]


class AppendingLauncher:
    """Stands in for the unit processes of ``python -m tools.reproduce``: a unit's run is its
    last step alone, the append of its rows (under the lock, unless another job's are in)."""

    def __init__(self, work, report, data_root, preset_file, threads):
        self.report, self.preset = Path(report), preset_from_json(json.loads(Path(preset_file).read_text()))

    def start(self, unit):
        appended = append_rows(self.report / RESULTS, fake_rows(self.preset, unit, 0.5),
                               done=lambda have: unit_done(have, unit, self.preset))
        print(f"[test] {unit.name}: {'appended' if appended else 'already in'}", flush=True)
        return type("Done", (), {"poll": lambda _self: 0})()


JOB = """
import os
import sys
sys.path.insert(0, os.getcwd())
import tools.study.run
from tests.tools.test_study_nodes import AppendingLauncher
tools.study.run.SubprocessLauncher = AppendingLauncher
from tools.reproduce.cli import main
sys.exit(main(sys.argv[1:]))
"""
SBATCH = REPO / "tools" / "study" / "slurm-array.sbatch"


def _array(tmp_path, envs, sbatch=False):
    """The jobs of one array submission, started together, each with its environment: the
    command itself, or (``sbatch``) the sbatch script with ``PYTHON`` a stand-in that runs the
    command with stub units."""
    import os

    base = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "JOB_COMPLETION", "SYNTHGEN_NUM"))}
    job = tmp_path / "job.py"
    job.write_text(JOB)
    if sbatch:
        python = tmp_path / "python"
        python.write_text(f'#!/bin/sh\n[ "$1 $2" = "-m tools.reproduce" ] || exit 3\nshift 2\n'
                          f'exec "{sys.executable}" "{job}" "$@"\n')
        python.chmod(0o755)
        command = ["bash", str(SBATCH)]
        base.update(PYTHON=str(python), PRESET="study-smoke", WORK=str(tmp_path / "work"),
                    REPORT=str(tmp_path / "report"), EXTRA=f"--data-root {tmp_path}", SLURM_CPUS_PER_TASK="2")
    else:
        command = [sys.executable, str(job), "--preset", "study-smoke", "--work", str(tmp_path / "work"),
                   "--report", str(tmp_path / "report"), "--data-root", str(tmp_path)]
    jobs = [subprocess.Popen(command, cwd=REPO, env={**base, **env}, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True) for env in envs]
    outputs = [job.communicate(timeout=120)[0] for job in jobs]
    assert [job.returncode for job in jobs] == [0] * len(jobs), outputs
    return [[line.split()[1].rstrip(":") for line in out.splitlines() if line.startswith("[unit]")
             and line.endswith("started")] for out in outputs], outputs


def test_concurrent_array_jobs_from_slurm_and_kubernetes_variables_land_every_row_once(tmp_path):
    preset = STUDY_PRESETS["study-smoke"]
    first = [u.name for u in plan_units(preset, [])]
    # sbatch --array=1-3 tools/study/slurm-array.sbatch: ranks SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN
    started, outputs = _array(tmp_path, [{"SLURM_ARRAY_TASK_ID": str(i), "SLURM_ARRAY_TASK_MIN": "1",
                                          "SLURM_ARRAY_TASK_MAX": "3", "SLURM_ARRAY_TASK_COUNT": "3"}
                                         for i in (1, 2, 3)], sbatch=True)
    rows = read_rows(tmp_path / "report" / RESULTS)
    order = [u.name for u in node_order(preset, rows)]
    for rank, names in enumerate(started):
        assert set(first[rank::3]) <= set(names) and all(order.index(n) % 3 == rank for n in names)
        assert f"[node] {rank} of 3" in outputs[rank] and "report: not written by node" in outputs[rank]
    assert not (tmp_path / "report" / "report.md").exists()
    assert sorted(r["unit"] for r in rows) == sorted({r["unit"] for r in rows}) and set(first) <= {
        r["unit"] for r in rows}
    # the second submission, as a Kubernetes Indexed Job of 3 completions: the extra seeds
    _array(tmp_path, [{"JOB_COMPLETION_INDEX": str(i), "SYNTHGEN_NUM_NODES": "3"} for i in range(3)])
    rows = read_rows(tmp_path / "report" / RESULTS)
    assert sorted(r["unit"] for r in rows) == sorted(u.name for u in plan_units(preset, rows))  # each once
    assert main(["--preset", "study-smoke", "--work", str(tmp_path / "work"), "--report", str(tmp_path / "report"),
                 "--report-only"]) == 0
    assert "Complete: all 8 planned units" in (tmp_path / "report" / "report.md").read_text()


def test_the_sbatch_script_passes_its_settings_and_refuses_a_task_outside_an_array(tmp_path):
    import os

    python = tmp_path / "python"
    python.write_text('#!/bin/sh\necho "$@"\n')
    python.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}
    env.update(PYTHON=str(python), PRESET="cpu-study", HOURS="5", EXTRA="--kinds fractaldb,step0",
               SLURM_CPUS_PER_TASK="4")

    def run(**more):
        return subprocess.run(["bash", str(SBATCH)], cwd=tmp_path, env={**env, **more}, capture_output=True, text=True)

    task = run(SLURM_ARRAY_TASK_ID="3")
    assert task.stdout.strip() == ("-m tools.reproduce --preset cpu-study --work runs/cpu-study --report "
                                   "report-cpu-study --parallel 4 --hours 5 --kinds fractaldb,step0")
    assert run(REPORT_ONLY="1", HOURS="").stdout.strip() == (
        "-m tools.reproduce --preset cpu-study --work runs/cpu-study --report report-cpu-study --report-only "
        "--kinds fractaldb,step0")
    alone = run()
    assert alone.returncode == 2 and alone.stdout == ""
    assert alone.stderr.strip() == "slurm-array.sbatch: error: submit with --array=0-N (or REPORT_ONLY=1 for the report)"


@pytest.mark.parametrize("env, flags, message", [
    ({"SLURM_ARRAY_TASK_ID": "x"}, [], "SLURM_ARRAY_TASK_ID='x' in the environment must be an integer"),
    ({"SLURM_ARRAY_TASK_ID": "4", "SLURM_ARRAY_TASK_COUNT": "4"}, [],
     "node rank 4 from the environment (SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN, or JOB_COMPLETION_INDEX) "
     "must be smaller than the node count 4 from SLURM_ARRAY_TASK_COUNT or SYNTHGEN_NUM_NODES"),
    ({"JOB_COMPLETION_INDEX": "2"}, [], "node rank 2 from the environment (SLURM_ARRAY_TASK_ID - "
     "SLURM_ARRAY_TASK_MIN, or JOB_COMPLETION_INDEX) must be smaller than the default node count 1 "
     "(give --num-nodes or set SYNTHGEN_NUM_NODES)"),
    ({"SLURM_ARRAY_TASK_ID": "9"}, ["--num-nodes", "2", "--node-rank", "-1"], "--node-rank -1 must be >= 0"),
])
def test_a_bad_node_from_the_environment_or_the_flags_is_one_line(env, flags, message, tmp_path, capsys,
                                                                  monkeypatch):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert main(["--preset", "study-smoke", "--work", str(tmp_path / "w"), "--report", str(tmp_path / "r"),
                 "--data-root", str(tmp_path), *flags]) == 2
    assert capsys.readouterr().err.strip() == f"reproduce: error: {message}"
    assert not (tmp_path / "r").exists() and not (tmp_path / "w").exists()


def test_node_flags_are_refused_outside_the_study_presets(tmp_path, capsys):
    assert main(["--preset", "smoke", "--work", str(tmp_path / "w"), "--report", str(tmp_path / "r"),
                 "--num-nodes", "2"]) == 2
    assert capsys.readouterr().err.strip() == ("reproduce: error: --num-nodes: only the study presets "
                                               f"({', '.join(STUDY_PRESETS)}) run as a job array")


@pytest.mark.slow
def test_real_array_jobs_sharing_one_work_folder_complete_the_study_smoke(tmp_path):
    """Real units (render, pre-train, suite on generated tones), three jobs of a Slurm array
    started together on one work and one report folder, then the array submitted again."""
    import os

    from tests.tools.test_study import _tone_fsdd

    data = _tone_fsdd(tmp_path / "data")
    work, report = tmp_path / "work", tmp_path / "report"
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "JOB_COMPLETION", "SYNTHGEN_NUM"))}
    command = [sys.executable, "-m", "tools.reproduce", "--preset", "study-smoke", "--work", str(work),
               "--report", str(report), "--data-root", str(data)]
    for submission in range(2):
        jobs = [subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                 env={**base, "SLURM_ARRAY_TASK_ID": str(i), "SLURM_ARRAY_TASK_COUNT": "3"})
                for i in range(3)]
        outputs = [job.communicate(timeout=900)[0] for job in jobs]
        assert [job.returncode for job in jobs] == [0, 0, 0], outputs
    rows = read_rows(report / RESULTS)
    assert sorted(r["unit"] for r in rows) == sorted(u.name for u in plan_units(STUDY_PRESETS["study-smoke"], rows))
    assert subprocess.run(command + ["--report-only"], cwd=REPO, capture_output=True).returncode == 0
    assert "Complete: all 8 planned units" in (report / "report.md").read_text()
