"""tools/bench/render.py: batched kinds are also timed one at a time, in the same run, with
1 and 2 processes; ratios and 105,000-image hours are printed (tiny settings: this checks that
the benchmark runs and reports consistent numbers, not any speed)."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

TINY = ["--param", "stylegan-random:channel_base=256", "--param", "stylegan-random:channel_max=16",
        "--param", "stylegan-random:num_classes=3",
        "--param", "featvis-random:steps=2", "--param", "featvis-random:net_size=32",
        "--param", "featvis-random:num_classes=5"]


def table(text: str) -> list[dict]:
    lines = [line for line in text.splitlines() if " | " in line]
    header = [cell.strip() for cell in lines[0].split("|")]
    rows = []
    for line in lines[1:]:
        cells = [cell.strip() for cell in line.split("|")]
        rows.append({k: (v if k == "kind" else float(v)) for k, v in zip(header, cells)})
    return rows


def test_batched_and_one_at_a_time_with_one_and_two_processes(capsys):
    from tools.bench.render import main

    assert main(["--kinds", "stylegan-random", "--n", "4", "--size", "16", "--mode", "RGB",
                 "--workers", "1,2", "--param", "stylegan-random:batch_size=2", *TINY]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("load average before:")
    assert out.splitlines()[-1].startswith("load average after:")
    rows = table(out)
    assert [r["kind"] for r in rows] == ["stylegan-random"]
    for row in rows:
        assert row["batch"] == 2
        for column in ("w1", "w2", "w1@1", "w2@1", "h_105k", "h_105k@1"):
            assert math.isfinite(row[column]) and row[column] > 0, (row["kind"], column)
        for n in (1, 2):
            # printed with 3 decimals
            assert row[f"x{n}"] == pytest.approx(row[f"w{n}"] / row[f"w{n}@1"], rel=2e-2)
        assert row["start2"] >= 0
        best = max(row["w1"], row["w2"])
        # plus the class search; both sides are printed with 3 decimals, so allow half a unit
        assert row["h_105k"] >= 105_000 / best / 3600 * 0.999 - 5e-4


def test_batch_size_sweep_gives_one_row_per_size(capsys):
    from tools.bench.render import main

    assert main(["--kinds", "featvis-random", "--n", "4", "--size", "16", "--mode", "RGB",
                 "--workers", "1", "--batch-sizes", "2,4", *TINY]) == 0
    rows = table(capsys.readouterr().out)
    assert [(r["kind"], r["batch"]) for r in rows] == [("featvis-random", 2),
                                                         ("featvis-random", 4)]
    for row in rows:
        assert row["x1"] > 0 and row["h_105k@1"] > 0


def test_neural_selects_the_six_batched_kinds():
    from tools.bench.render import neural_kinds

    assert sorted(neural_kinds()) == ["featvis-deadleaves", "featvis-random",
                                      "stylegan-highfreq", "stylegan-oriented",
                                      "stylegan-random", "stylegan-sparse"]


def test_bad_batch_sizes_are_a_one_line_error(capsys):
    from tools.bench.render import main

    with pytest.raises(SystemExit) as stop:
        main(["--kinds", "stylegan-random", "--batch-sizes", "2,x"])
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "--batch-sizes" in err and "integers" in err


def test_audio_clips_of_many_frames_against_the_png_floor(capsys):
    from tools.bench.render import main

    assert main(["--kinds", "audio-fm,audio-noise", "--size", "32", "--frames", "200", "--n", "3"]) == 0
    out = capsys.readouterr().out
    rows = [[c.strip() for c in line.split("|")] for line in out.splitlines() if " | " in line][1:]
    assert [(r[0], r[1]) for r in rows] == [("audio-fm", "32x200"), ("audio-noise", "32x200")]
    for _, _, clips, base, overhead in rows:
        assert float(clips) > 0 and float(base) > 0
        assert float(overhead) == pytest.approx(float(base) / float(clips), rel=0.02, abs=0.06)  # .1f
    with pytest.raises(SystemExit):
        main(["--kinds", "fractaldb", "--frames", "10"])
    assert "--frames times audio kinds only; fractaldb render images" in capsys.readouterr().err
