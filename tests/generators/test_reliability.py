"""Fault injection on rendering and reading shards: corrupted bytes, killed processes, bad files.

Every test damages something for real (flipped bytes in a tar, SIGKILL/SIGTERM of the render,
hostile ``dataset.json``) and checks what docs/reliability.md promises: no silent short read,
rerunning repairs, no orphaned worker, one error line with exit 2 and nothing written.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

from tests.helpers import run_synthgen

# 3 shards of 8 samples, 32² noise: renders in a second or two.
BASE = ["render", "stat-spectrum", "--n", "24", "--shard-size", "8", "--size", "32", "--quiet",
        "--workers", "1"]


def digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.glob("*.tar"))}


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("reference") / "data"
    run_synthgen(*BASE, "--out", out, check=True)
    return out


@pytest.fixture
def dataset(reference, tmp_path) -> Path:
    out = tmp_path / "data"
    shutil.copytree(reference, out)
    return out


def flip_header_byte(tar_path: Path, sample: int) -> int:
    """Flip one byte in the tar header of ``sample``'s first member (not the first header);
    returns the header's byte offset. The file keeps its size."""
    with tarfile.open(tar_path) as tar:
        keys = list(dict.fromkeys(m.name.split(".")[0] for m in tar.getmembers()))
        offset = next(m.offset for m in tar.getmembers() if m.name.startswith(keys[sample] + "."))
    data = bytearray(tar_path.read_bytes())
    data[offset + 3] ^= 0x40  # inside the member name: the header checksum no longer matches
    tar_path.write_bytes(bytes(data))
    return offset


def one_error_line(result: subprocess.CompletedProcess, prefix: str = "synthgen: error: ") -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(prefix), result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


# --- row 1: a flipped byte in a member header never gives a short read -----------------------

def test_reader_raises_on_damaged_header_instead_of_stopping_early(dataset):
    from generators.reader import finished_shards, iter_raw_samples
    from generators.shards import ShardError

    victim = dataset / "stat-spectrum-000001.tar"
    offset = flip_header_byte(victim, 5)
    seen = []
    with pytest.raises(ShardError) as caught:
        for raw in iter_raw_samples(finished_shards(dataset)):
            seen.append(raw["__key__"])
    message = str(caught.value)
    assert str(victim) in message and "sample 13" in message and f"byte offset {offset}" in message
    assert len(seen) == 8 + 5  # everything before the damage, then the error


def test_preview_and_stats_refuse_a_damaged_shard(dataset, tmp_path):
    flip_header_byte(dataset / "stat-spectrum-000000.tar", 3)
    sheet = tmp_path / "sheet.png"
    result = run_synthgen("preview", dataset, "--out", sheet, "--count", "24")
    assert result.returncode == 2
    assert "stat-spectrum-000000.tar" in one_error_line(result) and not sheet.exists()
    stats_json = tmp_path / "stats.json"
    result = run_synthgen("stats", dataset, "--n", "24", "--json", stats_json)
    assert result.returncode == 2
    assert "stat-spectrum-000000.tar: damaged shard" in one_error_line(result)
    assert not stats_json.exists()


# --- row 2: a shard of the right size but wrong bytes is re-rendered by a rerun --------------

def test_rerun_rerenders_a_shard_corrupted_after_rendering(reference, dataset):
    victim = dataset / "stat-spectrum-000001.tar"
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0x01  # same size, different bytes (bit rot, a bad copy)
    victim.write_bytes(bytes(data))
    result = run_synthgen(*BASE, "--out", dataset, check=True)
    assert "rendered 1 shards" in result.stderr and "2 already finished" in result.stderr
    assert "stat-spectrum-000001.tar: bytes differ from its sidecar" in result.stderr
    assert digests(dataset) == digests(reference)


# --- row 4: --out "" and a folder of someone else's files -----------------------------------

def test_empty_out_is_refused_and_nothing_written(tmp_path):
    result = run_synthgen(*BASE, "--out", "", cwd=tmp_path)
    assert result.returncode == 2 and "--out" in one_error_line(result)
    assert list(tmp_path.iterdir()) == []


def test_out_with_other_files_needs_force(tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.tex").write_text("precious")
    result = run_synthgen(*BASE, "--out", out)
    assert result.returncode == 2
    assert "thesis.tex" in one_error_line(result) and "--force" in result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["thesis.tex"]
    run_synthgen(*BASE, "--out", out, "--force", check=True)
    assert (out / "thesis.tex").read_text() == "precious" and len(digests(out)) == 3


# --- row 5: killing the main render process leaves no worker behind --------------------------

def process_table() -> dict[int, tuple[int, str]]:
    """``{pid: (parent pid, state)}`` of every process, from /proc."""
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        table[int(entry.name)] = (int(fields[1]), fields[0])
    return table


def alive(pids: set[int]) -> set[int]:
    table = process_table()
    return {pid for pid in pids if pid in table and table[pid][1] != "Z"}


def descendants(pid: int) -> set[int]:
    table = process_table()
    found, frontier = set(), {pid}
    while frontier:
        frontier = {p for p, (parent, state) in table.items() if parent in frontier and state != "Z"}
        found |= frontier
    return found


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc (Linux)")
@pytest.mark.parametrize("signum, exit_code", [(signal.SIGKILL, -signal.SIGKILL),
                                               (signal.SIGTERM, 143)])
def test_killed_render_leaves_no_workers(tmp_path, signum, exit_code):
    out = tmp_path / "data"
    args = ["render", "stat-spectrum", "--n", "4000", "--shard-size", "20", "--size", "128",
            "--workers", "2", "--quiet", "--out", str(out)]
    process = subprocess.Popen([sys.executable, "-m", "generators.cli", *args],
                               start_new_session=True, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 120
        while len(list(out.glob("*.json"))) < 3 and time.time() < deadline:  # workers rendering
            time.sleep(0.05)
        children = descendants(process.pid)
        assert len(children) >= 3, "two workers and the resource tracker should be running"
        os.kill(process.pid, signum)
        assert process.wait(timeout=30) == exit_code
        deadline = time.time() + 10
        while alive(children) and time.time() < deadline:
            time.sleep(0.1)
        assert alive(children) == set(), "workers or the resource tracker outlived the render"
        if signum == signal.SIGTERM:
            assert process.stderr.read().strip().splitlines()[-1] == "synthgen: terminated"
        finished = sorted(out.glob("*.json"))
        time.sleep(2)
        assert sorted(out.glob("*.json")) == finished, "shards appeared after the render died"
    finally:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait()


# --- row 7: non-finite parameters are rejected before anything is written --------------------

@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_non_finite_param_is_rejected(tmp_path, value):
    out = tmp_path / "data"
    result = run_synthgen(*BASE, "--param", f"slope_min={value}", "--out", out)
    assert result.returncode == 2
    assert f"slope_min='{value}' must be a finite number" in one_error_line(result)
    assert not out.exists()
    result = run_synthgen("preview", "stat-spectrum", "--param", f"slope_min={value}",
                          "--out", tmp_path / "p.png")
    assert result.returncode == 2 and "finite" in one_error_line(result)
    assert list(tmp_path.iterdir()) == []


# --- row 8: a node rank from the environment is validated like the flag ----------------------

@pytest.mark.parametrize("env, message", [
    ({"SLURM_ARRAY_TASK_ID": "1", "SLURM_ARRAY_TASK_MIN": "5"}, "node rank -4"),
    ({"SLURM_ARRAY_TASK_ID": "7", "SLURM_ARRAY_TASK_COUNT": "4"}, "node rank 7"),
    ({"JOB_COMPLETION_INDEX": "-1"}, "node rank -1"),
])
def test_bad_rank_from_environment_is_refused(tmp_path, env, message):
    out = tmp_path / "data"
    environ = {k: v for k, v in os.environ.items()
               if not k.startswith(("SLURM_", "JOB_COMPLETION"))}
    result = run_synthgen(*BASE, "--out", out, env={**environ, **env})
    assert result.returncode == 2 and message in one_error_line(result)
    assert not out.exists()


# --- row 9: leftovers are cleaned by a rerun and reported by verify --------------------------

def test_stale_dataset_temporary_is_removed_by_a_rerun(dataset):
    stale = dataset / "dataset.json.tmp4242"
    stale.write_text("{")
    os.utime(stale, (time.time() - 3600, time.time() - 3600))
    fresh = dataset / "dataset.json.tmp4343"  # another node may be writing this one right now
    fresh.write_text("{")
    run_synthgen(*BASE, "--out", dataset, check=True)
    assert not stale.exists() and fresh.exists()


def test_verify_reports_stray_shards_and_temporaries(dataset):
    (dataset / "stat-spectrum-000000.tar.tmp999").write_bytes(b"partial")
    result = run_synthgen("verify", dataset)
    assert result.returncode == 0
    assert "WARN stat-spectrum-000000.tar.tmp999: temporary file" in result.stdout
    assert "1 warning" in result.stdout
    shutil.copy(dataset / "stat-spectrum-000000.tar", dataset / "stat-spectrum-000003.tar")
    result = run_synthgen("verify", dataset)
    assert result.returncode == 1
    assert "FAIL stat-spectrum-000003.tar: shard file outside the dataset's 3 shards" in result.stdout


# --- row 11: dataset.json is untrusted -------------------------------------------------------

def test_kind_with_a_path_never_opens_files_outside_the_folder(dataset, tmp_path):
    outside = tmp_path / "x-000000.tar"
    shutil.copy(dataset / "stat-spectrum-000000.tar", outside)
    shutil.copy(dataset / "stat-spectrum-000000.json", tmp_path / "x-000000.json")
    info = json.loads((dataset / "dataset.json").read_text())
    info.update(kind="../x", n=8, num_shards=1)
    (dataset / "dataset.json").write_text(json.dumps(info))
    from generators.reader import finished_shards

    with pytest.raises(ValueError, match="kind '../x' is not a pattern kind name"):
        finished_shards(dataset)
    for command in (["verify", dataset], ["preview", dataset, "--out", tmp_path / "s.png"],
                    ["stats", dataset, "--n", "4"]):
        result = run_synthgen(*command)
        assert result.returncode == 2 and "'../x'" in one_error_line(result)
    assert not (tmp_path / "s.png").exists()


# --- row 12: a read-only install with a read-only HOME keeps every kind ----------------------

def unavailable_kinds(listing: str) -> dict[str, str]:
    return {line.split(":")[0]: line for line in listing.splitlines() if "[unavailable:" in line}


def test_read_only_install_keeps_every_kind(tmp_path):
    from tests.helpers import REPO

    install = tmp_path / "install"
    for package in ("generators", "shaders"):
        shutil.copytree(REPO / package, install / package,
                        ignore=shutil.ignore_patterns("__pycache__"))
    home = install / "home"  # read-only like the rest: numba cannot use ~/.cache
    home.mkdir()
    out = tmp_path / "out"
    script = (f"cd {tmp_path} && {sys.executable} -m generators.cli list && "
              f"{sys.executable} -m generators.cli render stat-spectrum --n 2 --size 16 --quiet "
              f"--workers 1 --out {out}")
    if os.geteuid() == 0:  # root writes anywhere: make the install read-only for real
        if shutil.which("unshare") is None or subprocess.run(
                ["unshare", "-m", "true"], capture_output=True).returncode != 0:
            pytest.skip("needs unshare -m to mount a read-only install as root")
        command = ["unshare", "-m", "bash", "-c",
                   f"mount --bind -o ro {install} {install} && {script}"]
    else:
        subprocess.run(["chmod", "-R", "a-w", str(install)], check=True)
        command = ["bash", "-c", script]
    env = {k: v for k, v in os.environ.items() if k not in ("NUMBA_CACHE_DIR", "XDG_CACHE_HOME")}
    env.update(HOME=str(home), PYTHONPATH=str(install), TMPDIR=str(tmp_path))
    try:
        result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    finally:
        subprocess.run(["chmod", "-R", "u+w", str(install)])
    assert result.returncode == 0, result.stderr
    assert "cannot cache" not in result.stdout
    normal = unavailable_kinds(run_synthgen("list", check=True).stdout)
    assert set(unavailable_kinds(result.stdout)) == set(normal)
    assert len(digests(out)) == 1
    cache = tmp_path / f"synthgen-numba-{os.geteuid()}"
    assert cache.is_dir() and cache.stat().st_mode & 0o777 == 0o700 and any(cache.rglob("*.nbi"))


# --- round 3: full disks, hostile folders, bounded sizes, output paths -----------------------

def in_process(capsys, *args) -> tuple[int, list[str], str]:
    """``synthgen ARGS`` in this process: ``(exit code, stderr lines, stdout)``."""
    from generators.cli import main

    try:
        code = main([str(a) for a in args])
    except SystemExit as stop:  # argparse (stats) exits; the console script does the same
        code = stop.code
    captured = capsys.readouterr()
    return code, captured.err.strip().splitlines(), captured.out


def onto_dev_full(handle) -> None:
    """Point an open file's descriptor at /dev/full: every write-out fails with ENOSPC."""
    if not Path("/dev/full").exists():
        pytest.skip("needs /dev/full to simulate a full disk")
    full = os.open("/dev/full", os.O_WRONLY)
    try:
        os.dup2(full, handle.fileno())
    finally:
        os.close(full)


def test_full_disk_at_commit_leaves_no_temporary(tmp_path):
    import errno

    from generators.atomic import AtomicFile

    target = AtomicFile(tmp_path / "model.bin")
    onto_dev_full(target.file)
    target.file.write(b"x" * 100)  # still in the buffer: the flush at commit fails
    with pytest.raises(OSError) as caught:
        target.commit()
    assert caught.value.errno == errno.ENOSPC
    assert list(tmp_path.iterdir()) == []  # unlinked first, closed without flushing again


def test_full_disk_in_a_tar_writer_leaves_no_temporary(tmp_path):
    import errno

    from generators.shards import AtomicTarWriter

    with pytest.raises(OSError) as caught:
        with AtomicTarWriter(tmp_path / "x-000000.tar") as writer:
            onto_dev_full(writer._target.file)
            for i in range(8):
                writer.write({"__key__": f"{i:09d}", "png": os.urandom(3000)})
            writer.close()
    assert caught.value.errno == errno.ENOSPC
    assert list(tmp_path.iterdir()) == []


def limit_file_size(limit: int):
    """``preexec_fn``: files may grow to ``limit`` bytes, then writes fail (EFBIG), as on a
    full disk; SIGXFSZ is ignored (inherited by the spawned workers) so the write returns the
    error instead of killing the process."""
    import resource

    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


def test_render_that_cannot_write_is_one_line_and_leaves_no_temporaries(tmp_path):
    out = tmp_path / "data"
    result = subprocess.run([sys.executable, "-m", "generators.cli", *BASE[:-2], "--workers", "2",
                             "--out", str(out)], capture_output=True, text=True, timeout=120,
                            preexec_fn=limit_file_size(12_000))  # a shard is ~28 kB
    assert result.returncode == 1, result.stderr
    line = one_error_line(result)
    assert "File too large" in line and str(out) in line and "rerun" in line
    assert not [p.name for p in out.iterdir() if ".tmp" in p.name]
    assert not list(out.glob("*.tar")) and (out / "dataset.json").exists()  # rerun resumes


@pytest.fixture
def alarm():
    """Fail (instead of hanging the test run) if a command blocks for 20 s."""
    def hung(signum, frame):
        raise TimeoutError("blocked for 20 s")
    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(20)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


@pytest.mark.parametrize("entry", ["shard-fifo", "sidecar-fifo", "shard-symlink"])
def test_non_regular_files_in_a_dataset_are_never_opened(dataset, tmp_path, capsys, alarm, entry):
    name = "stat-spectrum-000001.tar" if entry.startswith("shard") else "stat-spectrum-000001.json"
    victim = dataset / name
    elsewhere = tmp_path / name
    shutil.move(victim, elsewhere)
    if entry.endswith("fifo"):
        os.mkfifo(victim)  # no writer: opening it for reading would block forever
    else:
        victim.symlink_to(elsewhere)
    sheet = tmp_path / "sheet.png"
    for command, code in ((["preview", dataset, "--out", sheet, "--count", "24"], 2),
                          (["stats", dataset, "--n", "24"], 2), (["verify", dataset], 1)):
        returned, err, out = in_process(capsys, *command)  # before: preview, stats hung
        assert returned == code, err
        if command[0] != "verify":
            assert len(err) == 1 and err[0].startswith("synthgen: error: "), err
        text = out if command[0] == "verify" else err[0]
        assert "stat-spectrum-000001" in text and "not a regular file" in text, text
    assert not sheet.exists()
    assert elsewhere.exists() and victim.is_symlink() != entry.endswith("fifo")


@pytest.mark.parametrize("case", ["bomb", "wrong-size", "wrong-mode", "not-png", "no-png",
                                  "symlink", "corrupt-pixels"])
def test_hostile_sample_is_a_shard_error_naming_shard_and_sample(dataset, tmp_path, capsys, case):
    from tests.hostile_shards import CASES, forge_sample

    key = forge_sample(dataset / "stat-spectrum-000001.tar", 3, case)
    expected = CASES[case][1]
    code, err, out = in_process(capsys, "verify", dataset)
    assert code == 1 and not err[:-1], err  # the sidecar matches: only reading every sample tells
    fails = [line for line in out.splitlines() if line.startswith("FAIL")]
    assert len(fails) == 1 and "stat-spectrum-000001.tar" in fails[0] and key in fails[0]
    assert expected in fails[0], fails
    sheet = tmp_path / "sheet.png"
    for command in (["preview", dataset, "--out", sheet, "--count", "24"],
                    ["stats", dataset, "--n", "24", "--json", tmp_path / "s.json"]):
        code, err, _ = in_process(capsys, *command)
        assert code == 2 and len(err) == 1 and err[0].startswith("synthgen: error: "), err
        assert f"stat-spectrum-000001.tar: sample {key}: " in err[0] and expected in err[0]
        assert "BytesIO" not in err[0]
    assert not sheet.exists() and not (tmp_path / "s.json").exists()


def test_bounds_are_in_the_help():
    from generators.bounds import IMAGE_SIDE, SAMPLES, STATS_N, STATS_SIDE

    render_help = run_synthgen("render", "--help", check=True).stdout
    assert f"{SAMPLES.high}" in render_help and f"{IMAGE_SIDE.high}" in render_help
    stats_help = " ".join(run_synthgen("stats", "--help", check=True).stdout.split())
    assert f"{STATS_N.low}..{STATS_N.high}" in stats_help
    assert f"{STATS_SIDE.low}..{STATS_SIDE.high}" in stats_help


@pytest.mark.parametrize("flag, value, bound", [("--n", "100000", "2..4096"),
                                                ("--size", "100000", "16..1024")])
def test_stats_sizes_are_bounded_before_anything_is_read(tmp_path, capsys, flag, value, bound):
    code, err, _ = in_process(capsys, "stats", tmp_path / "absent", flag, value)
    assert code == 2 and len(err) == 1, err  # before: killed by the OOM killer at 21.9 GB
    assert f"{flag} {value}" in err[0] and bound in err[0]


def test_preview_sheet_of_a_dataset_is_bounded_before_reading(dataset, tmp_path, capsys):
    info = json.loads((dataset / "dataset.json").read_text())
    info["size"] = 8192  # 1024 images of 8192² would need 200 GB
    (dataset / "dataset.json").write_text(json.dumps(info))
    code, err, _ = in_process(capsys, "preview", dataset, "--out", tmp_path / "s.png",
                              "--count", "1024")
    assert code == 2 and len(err) == 1, err
    assert "--count 1024" in err[0] and "8192" in err[0] and "pixels" in err[0]
    assert not (tmp_path / "s.png").exists()


@pytest.mark.parametrize("extra, message", [
    (["--n", "2000000000"], "1<=x<=1000000000"),
    (["--workers", "100000"], "1<=x<=1024"),
    (["--size", "8192", "--shard-size", "1000"], "--shard-size 1000"),
    (["--n", "100000000", "--shard-size", "1"], "make 100,000,000 shards"),
])
def test_render_counts_are_bounded_before_rendering(tmp_path, capsys, extra, message):
    blocker = tmp_path / "file"
    blocker.write_text("")  # an --out that cannot be created: the bound must be checked first
    code, err, _ = in_process(capsys, *BASE, *extra, "--out", blocker / "data")
    assert code == 2 and len(err) == 1, err
    assert message in err[0]


def symlink_loop(folder: Path, name: str) -> Path:
    folder.mkdir(exist_ok=True)
    (folder / f"other-{name}").symlink_to(folder / name)
    (folder / name).symlink_to(folder / f"other-{name}")
    return folder / name


@pytest.mark.parametrize("target", ["directory", "loop", "under-a-file", "read-only"])
def test_output_paths_are_checked_before_the_work(dataset, tmp_path, capsys, target):
    if target == "read-only" and os.access("/sys", os.W_OK) and not Path("/sys/block").exists():
        pytest.skip("needs a read-only /sys")
    paths = {"directory": lambda name: tmp_path / name,
             "loop": lambda name: symlink_loop(tmp_path / "loops", name),
             "under-a-file": lambda name: tmp_path / "file" / name,
             "read-only": lambda name: Path("/sys") / name}  # read-only even for root
    (tmp_path / "file").write_text("")
    texts = {"directory": ("is a folder; give a file", "is a directory"),  # click says the latter
             "loop": ("Too many levels of symbolic links",), "under-a-file": ("Not a directory",),
             "read-only": ("cannot write in /sys",)}
    for command, flag, name in ((["preview", dataset, "--count", "4"], "--out", "sheet.png"),
                                (["stats", dataset, "--n", "4"], "--json", "s.json"),
                                (["stats", dataset, "--n", "4"], "--md", "s.md")):
        path = paths[target](name)
        if target == "directory":
            path.mkdir()
        code, err, _ = in_process(capsys, *command, flag, path)
        assert code == 2 and len(err) == 1, err  # before: the error came after the work
        assert flag in err[0] and str(path) in err[0], err
        assert any(text in err[0] for text in texts[target]), err
    out = paths[target]("rendered")
    if target == "directory":
        out.write_text("")  # for render --out a folder is right and a file is wrong
        texts[target] = ("is a file",)  # click (file_okay=False) or the output check
    code, err, _ = in_process(capsys, *BASE, "--out", out)
    assert code == 2 and len(err) == 1 and any(text in err[0] for text in texts[target]), err
