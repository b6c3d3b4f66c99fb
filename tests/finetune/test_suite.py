"""``python -m finetune suite``: task file, every pair, resume, the table with an average column."""
import json

from click.testing import CliRunner

from finetune.cli import main
from tests.finetune.test_cli import SMALL


def _run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def _task_file(tmp_path, tone_folder):
    path = tmp_path / "tasks.toml"
    path.write_text(f'[[task]]\nname = "tones"\ntask = "folder"\nroot = "{tone_folder}"\nfolds = 2\n\n'
                    f'[[task]]\nname = "tones-mean"\ntask = "folder"\nroot = "{tone_folder}"\nfolds = 2\n'
                    f'pooling = "mean"\nclip = "crop"\n')
    return path


def test_suite_runs_every_pair_and_resume_skips_finished_pairs(tmp_path, tone_folder):
    tasks, res, out = _task_file(tmp_path, tone_folder), tmp_path / "r.jsonl", tmp_path / "report"
    args = ["suite", tasks, "--ckpt", "random:0", "--ckpt", "logmel-stats", "--group", "rnd", "--group", "",
            "--results", res, "--out", out, "--cache", tmp_path / "cache", *SMALL]
    first = _run(*args)
    assert first.exit_code == 0, first.output
    recs = [json.loads(x) for x in res.read_text().splitlines()]
    assert [(r["task"], r["name"]) for r in recs] == [("tones", "random-test-micro-s0"), ("tones", "logmel-stats"),
                                                      ("tones-mean", "random-test-micro-s0"),
                                                      ("tones-mean", "logmel-stats")]
    assert recs[0]["pooling"] == "freq" and recs[2]["pooling"] == "mean"
    assert recs[2]["features"]["clip"] == "crop" and recs[0]["group"] == "rnd" and "group" not in recs[1]
    assert "decoded folder:tones" in first.stderr and "fit folder:tones fold2 (2/2)" in first.stderr
    md = (out / "results.md").read_text()
    assert "| encoder | tones | tones-mean | average |" in md
    row = next(ln for ln in md.splitlines() if ln.startswith("| logmel-stats |"))
    accs = [recs[1]["acc_mean"], recs[3]["acc_mean"]]
    assert row.endswith(f"| {100 * sum(accs) / 2:.1f} |")
    # a rerun finds every pair done: nothing is decoded or appended
    again = _run(*args)
    assert again.exit_code == 0, again.output
    assert again.stderr.count("skipped") == 4 and "decoded" not in again.stderr
    assert len(res.read_text().splitlines()) == 4
    # a killed run (last pair not written) redoes only that pair
    lines = res.read_text().splitlines()
    res.write_text("\n".join(lines[:3]) + "\n")
    resumed = _run(*args)
    assert resumed.exit_code == 0, resumed.output
    assert resumed.stderr.count("skipped") == 3 and "[4/4] logmel-stats on tones-mean" in resumed.stderr


def test_bad_task_files_are_one_line_errors(tmp_path, tone_folder):
    path = tmp_path / "t.toml"
    for text, msg in (('[[task]]\nname = "a"\n', "task 1 misses task, root"),
                      ('[[task]]\nname = "a"\ntask = "folder"\nroot = "x"\nwhat = 1\n', "unknown option(s) what"),
                      ('x = [', "not valid TOML"), ('', "needs at least one [[task]] entry")):
        path.write_text(text)
        out = _run("suite", path, "--ckpt", "logmel-stats", "--results", tmp_path / "r.jsonl", "--out", tmp_path)
        assert out.exit_code == 2 and msg in out.stderr, out.output
        assert len(out.stderr.strip().splitlines()) == 1
