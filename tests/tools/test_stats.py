"""Dataset statistics: sampling from shards, the stored log-mel reference, the command line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from generators.params import make_params
from generators.registry import get_kind
from generators.render import RenderConfig, render_dataset
from generators.stats import (DEFAULT_REFERENCE, compute_stats, load_reference, logmel_distance,
                              markdown_table, sample_dataset)
from generators.image_properties import mean_pairwise_distance, resize_gray, to_gray
from tests.helpers import run_synthgen, shared_data
from tools.analysis.stats import main


def render(out: Path, kind: str, n: int, *items: str) -> Path:
    params = make_params(get_kind(kind).params_type, items)
    render_dataset(RenderConfig(kind=kind, params=params, n=n, size=32, shard_size=5), out,
                   progress=False)
    return out


@pytest.fixture(scope="module")
def spectrum_dir(tmp_path_factory):
    return render(tmp_path_factory.mktemp("data") / "stat-spectrum", "stat-spectrum", 12)


def test_sampling_is_seeded_without_replacement_and_spans_shards(spectrum_dir):
    images, labels, total = sample_dataset(spectrum_dir, 12, seed=0)
    assert total == 12 and len(images) == 12 and labels == [None] * 12
    keys = {im.tobytes() for im in images}
    assert len(keys) == 12  # every image once
    first = sample_dataset(spectrum_dir, 4, seed=1)[0]
    again = sample_dataset(spectrum_dir, 4, seed=1)[0]
    other = sample_dataset(spectrum_dir, 4, seed=2)[0]
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not all(np.array_equal(a, b) for a, b in zip(first, other))


def test_compute_stats_reports_every_property_and_the_distance(spectrum_dir):
    result = compute_stats(spectrum_dir, n=8, seed=0, size=32)
    assert result["name"] == "stat-spectrum" and result["kind"] == "stat-spectrum"
    assert result["n_sampled"] == 8 and result["dataset_size"] == 12
    # stat-spectrum draws 1/f^s amplitude with s in [0.5, 3.5]: power slope in about [-7, -1]
    assert -7.5 < result["properties"]["spectrum_slope"]["mean"] < -0.5
    assert result["intra_class"] is None and result["diversity"] > 0
    assert result["logmel_distance"] > 0
    assert json.loads(json.dumps(result)) == result  # JSON-able


def test_class_kinds_get_intra_and_inter_class_diversity(tmp_path):
    folder = render(tmp_path / "fdb", "fractaldb", 8, "num_classes=2")
    result = compute_stats(folder, n=8, seed=0, size=32)
    # by hand: sample i has class i % 2, so classes {0, 2, 4, 6} and {1, 3, 5, 7}
    images, labels, _ = sample_dataset(folder, 8, seed=0)
    assert labels == [0, 1] * 4
    thumbs = np.stack([resize_gray(to_gray(im), 16).ravel() for im in images])
    within = [mean_pairwise_distance(thumbs[c::2]) for c in (0, 1)]
    between = mean_pairwise_distance(np.stack([thumbs[0::2].mean(0), thumbs[1::2].mean(0)]))
    assert result["intra_class"] == pytest.approx(np.mean(within))
    assert result["inter_class"] == pytest.approx(between)
    assert 0 < result["intra_class"] < 1 and 0 < result["inter_class"] < 1


def test_logmel_distance_is_zero_at_the_reference_mean():
    reference = load_reference()
    at_mean = {p: np.array([s["mean"]]) for p, s in reference["properties"].items()}
    assert logmel_distance(at_mean, reference) == pytest.approx(0.0)
    one_sd = {p: np.array([s["mean"] + s["std"]]) for p, s in reference["properties"].items()}
    assert logmel_distance(one_sd, reference) == pytest.approx(1.0)


def test_stored_reference_is_fsdd_log_mel_statistics():
    reference = json.loads(DEFAULT_REFERENCE.read_text())
    assert reference["kind"] == "audio" and reference["n_sampled"] == 300
    # log-mel spectrograms are smooth along frequency and time: a steep spectrum
    assert -3.5 < reference["properties"]["spectrum_slope"]["mean"] < -1.5


def test_markdown_table_has_a_row_per_dataset(spectrum_dir):
    table = markdown_table([compute_stats(spectrum_dir, n=4, size=32), load_reference()])
    lines = table.strip().splitlines()
    assert len(lines) == 4 and lines[2].startswith("| stat-spectrum |")
    assert lines[3].startswith("| log-mel fsdd |")


def test_cli_writes_json_and_markdown(spectrum_dir, tmp_path):
    assert main([str(spectrum_dir), "--n", "4", "--size", "32", "--json", str(tmp_path / "s.json"),
                 "--md", str(tmp_path / "s.md")]) == 0
    assert json.loads((tmp_path / "s.json").read_text())[0]["n_sampled"] == 4
    assert "| stat-spectrum |" in (tmp_path / "s.md").read_text()


@pytest.mark.parametrize("args, message", [
    (["/nonexistent/shards"], "dataset folder /nonexistent/shards does not exist"),
    (["x", "--n", "1"], "--n 1 must be an integer in 2..4096"),
    ([], "give at least one shard directory DIR (or --audio DIR)"),
    (["x", "--write-reference", "r.json"], "--write-reference needs --audio DIR"),
])
def test_cli_errors_are_one_line(args, message, capsys):
    assert main(args) == 2
    assert capsys.readouterr().err.strip() == f"stats: error: {message}"


def test_stored_paths_are_relative_to_the_work_folder(spectrum_dir):
    result = compute_stats(spectrum_dir, n=4, size=32, relative_to=spectrum_dir.parent.parent)
    assert result["path"] == f"{spectrum_dir.parent.name}/stat-spectrum"


def test_synthgen_stats_measures_without_torch_and_points_audio_to_tools(spectrum_dir):
    ok = run_synthgen("stats", spectrum_dir, "--n", "4", "--size", "32", check=True)
    assert ok.stdout.splitlines()[2].startswith("| stat-spectrum |")
    audio = run_synthgen("stats", "--audio", spectrum_dir)
    assert audio.returncode == 2
    assert audio.stderr.strip() == (
        "synthgen: error: --audio needs the log-mel front end (torch): run `python -m tools.analysis.stats "
        "--audio DIR ...` with the training install (pip install 'synthgen[train]')")


def test_stats_imports_neither_torch_nor_matplotlib():
    code = ("import sys, generators.stats, tools.analysis.stats; "
            "print(any(m in sys.modules for m in ('torch', 'matplotlib')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_logmel_image_of_a_real_clip_is_a_unit_range_spectrogram():
    recordings = shared_data("fsdd", "recordings")
    from tools.analysis.logmel_images import logmel_image

    image = logmel_image(sorted(recordings.glob("*.wav"))[0], frames=64)
    assert image.shape == (128, 64)
    assert image.min() == 0.0 and image.max() == 1.0
