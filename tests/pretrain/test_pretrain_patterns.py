"""Patterns rendered on the fly: the stream equals the shards, readers are disjoint, classes are
computed once, specs are validated."""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path

import numpy as np
import pytest
import torch

from generators.params import make_params
from generators.reader import finished_shards, iter_samples
from generators.registry import get_kind
from generators.render import RenderConfig, render_dataset
from pretrain.data import PretrainStream, make_loader
from pretrain.patterns import PatternSpec, PatternRenderer, compute_classes, parse_pattern_spec
from pretrain.sources import data_source, pattern_source, with_stats
from pretrain.transforms import NO_AUGMENT

SIZE, N, SEED = 32, 12, 3
#: cheap kinds of three families (one with a class search)
SPECS = {"fractaldb": ["num_classes=4"], "deadleaves-squares": [], "stat-spectrum": []}


def ready(spec: str) -> "Source":  # noqa: F821
    """A pattern source with its classes computed, standardised to identity (mean 0, std 1)."""
    source = pattern_source(spec, SIZE)
    source.pattern.classes = compute_classes(source.pattern.spec, 1, progress=False)
    return with_stats(source, 0.0, 1.0)


def spec_of(kind: str) -> str:
    return ",".join([f"pattern:{kind}", *SPECS[kind], f"seed={SEED}"])


@pytest.fixture(scope="module", params=sorted(SPECS))
def rendered(request, tmp_path_factory) -> tuple[str, list[np.ndarray]]:
    """``synthgen render KIND --n N --seed SEED --size SIZE`` and its decoded images."""
    kind = request.param
    out = tmp_path_factory.mktemp(kind)
    params = make_params(get_kind(kind).params_type, SPECS[kind])
    render_dataset(RenderConfig(kind, params, n=N, seed=SEED, size=SIZE, shard_size=5), out,
                   workers=1, progress=False)
    images = [sample["image"] for sample in iter_samples(finished_shards(out))]
    assert len(images) == N
    return kind, images


def to_bytes(batch: torch.Tensor) -> list[bytes]:
    """Inputs standardised with mean 0, std 1 and no augmentation -> the uint8 pixels."""
    pixels = torch.round(batch[:, 0] * 255).to(torch.uint8).numpy()
    return [p.tobytes() for p in pixels]


def test_stream_equals_the_shards(rendered):
    kind, images = rendered
    source = ready(spec_of(kind))
    stream = PretrainStream([source], (SIZE, SIZE), seed=0, augment=NO_AUGMENT)
    indices = [raw for _, raw in itertools.islice(stream.raw_items(), N)]
    assert indices == list(range(N)), "one reader renders every index in order"
    for i in indices:
        assert np.array_equal(source.pattern.render(i), images[i]), f"{kind} sample {i}"
    inputs = torch.stack([stream.transform(0, i, 0, i) for i in indices])
    assert to_bytes(inputs) == [image.tobytes() for image in images]


def test_ranks_and_workers_render_disjoint_samples(rendered):
    """2 ranks x 2 DataLoader workers: every shard sample exactly once, none twice."""
    kind, images = rendered
    source = ready(spec_of(kind))
    index_of = {image.tobytes(): i for i, image in enumerate(images)}
    assert len(index_of) == N, "the test needs distinct images"
    seen: list[list[int]] = []
    for rank in range(2):
        stream = PretrainStream([source], (SIZE, SIZE), seed=0, rank=rank, world=2, batch_size=3,
                                augment=NO_AUGMENT)
        batches = itertools.islice(iter(make_loader(stream, 2)), 2)
        seen.append([index_of[b] for batch in batches for b in to_bytes(batch[0])])
    # reader g = rank * 2 + worker renders g, g + 4, g + 8
    assert seen[0] == [0, 4, 8, 1, 5, 9] and seen[1] == [2, 6, 10, 3, 7, 11]


def test_workers_use_the_classes_computed_before_they_start():
    source = ready("pattern:fractaldb,num_classes=2,size=32")
    other = compute_classes(PatternSpec("fractaldb", ("num_classes=2",), seed=99), 1, False)
    swapped = dataclasses.replace(source, pattern=PatternRenderer(source.pattern.spec, SIZE, other))
    stream = PretrainStream([swapped], (SIZE, SIZE), seed=0, batch_size=4, augment=NO_AUGMENT)
    batch = next(iter(make_loader(stream, 1)))[0]
    from generators.sample import render_sample

    kind, params = get_kind("fractaldb"), make_params(get_kind("fractaldb").params_type, ["num_classes=2"])
    expected = [render_sample(kind, params, 0, i, SIZE, "L", other[i % 2])[0].tobytes() for i in range(4)]
    assert to_bytes(batch) == expected, "the worker rendered with the classes it was given"
    assert to_bytes(batch) != [source.pattern.render(i).tobytes() for i in range(4)]
    with pytest.raises(RuntimeError, match="class parameters were not computed"):
        PatternRenderer(source.pattern.spec, SIZE).render(0)


def test_context_kinds_render_in_workers():
    """A kind with a per-process context (random shader programs: an OpenGL renderer) renders
    in a forked worker, which builds its own context, the same images as this process."""
    pytest.importorskip("moderngl")
    source = ready("pattern:shaders-random,num_classes=2,size=32")
    try:
        expected = [source.pattern.render(i).tobytes() for i in range(2)]
    except Exception as error:  # no EGL driver on this machine
        pytest.skip(f"no headless OpenGL context: {error}")
    stream = PretrainStream([source], (SIZE, SIZE), seed=0, batch_size=2, augment=NO_AUGMENT)
    batch = next(iter(make_loader(stream, 1)))[0]
    assert to_bytes(batch) == expected


def test_parse_pattern_spec():
    spec = parse_pattern_spec("pattern:fractaldb,num_classes=10,seed=4,size=64,mode=RGB")
    assert spec == PatternSpec("fractaldb", ("num_classes=10",), seed=4, size=64, mode="RGB")
    assert parse_pattern_spec("pattern:stat-spectrum") == PatternSpec("stat-spectrum")
    source = data_source("pattern:deadleaves-squares,seed=2:0.25", 128)
    assert (source.kind, source.path, source.weight) == ("pattern", "pattern:deadleaves-squares,seed=2", 0.25)
    assert source.pattern.size == 128 and source.units == ()


@pytest.mark.parametrize("spec, message", [
    ("pattern:", "expected pattern:KIND"),
    ("pattern:nope", "unknown pattern kind 'nope'"),
    ("pattern:fractaldb,num_classes=0", "num_classes=0 is out of range"),
    ("pattern:fractaldb,bogus=1", "unknown parameter 'bogus'"),
    ("pattern:fractaldb,num_classes", "'num_classes' must look like KEY=VALUE"),
    ("pattern:stat-spectrum,size=4", "size='4' must be an integer >= 8"),
    ("pattern:stat-spectrum,seed=-1", "seed='-1' must be an integer >= 0"),
    ("pattern:stat-spectrum,mode=CMYK", "mode='CMYK' must be L or RGB"),
])
def test_bad_pattern_specs(spec, message):
    with pytest.raises(ValueError, match=None) as error:
        parse_pattern_spec(spec)
    assert message in str(error.value) and str(error.value).startswith(f"--data {spec}")


# --- mixtures ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def shards(tmp_path_factory) -> Path:
    from tests.pretrain.shardkit import write_shards

    return write_shards(tmp_path_factory.mktemp("shards") / "stripes", n=64, shard_size=8, size=32)


def mixture(shards: Path, seed: int, weights=(0.7, 0.3)) -> PretrainStream:
    sources = [ready("pattern:deadleaves-squares,size=32"), with_stats(data_source(str(shards), SIZE))]
    sources = [dataclasses.replace(s, weight=w) for s, w in zip(sources, weights)]
    return PretrainStream(sources, (SIZE, SIZE), seed=seed, buffer=4)


def test_mixture_proportions_and_order_follow_the_seed(shards):
    draws = 2000
    picks = [k for k, _ in itertools.islice(mixture(shards, seed=1).raw_items(), draws)]
    share = picks.count(0) / draws
    sigma = (0.7 * 0.3 / draws) ** 0.5
    assert abs(share - 0.7) < 4 * sigma, share
    first = list(itertools.islice(mixture(shards, seed=1).raw_items(), 300))
    again = list(itertools.islice(mixture(shards, seed=1).raw_items(), 300))
    other = list(itertools.islice(mixture(shards, seed=2).raw_items(), 300))
    keyed = lambda items: [(k, raw if k == 0 else raw["__key__"]) for k, raw in items]  # noqa: E731
    assert keyed(first) == keyed(again) and keyed(first) != keyed(other)
    patterns = [raw for k, raw in first if k == 0]
    assert patterns == list(range(len(patterns))), "the pattern source keeps its own index order"
    equal = [k for k, _ in itertools.islice(mixture(shards, seed=1, weights=(1, 1)).raw_items(), draws)]
    assert abs(equal.count(0) / draws - 0.5) < 4 * (0.25 / draws) ** 0.5


# --- training runs ----------------------------------------------------------------------------

BASE = ["--preset", "test-micro", "--input-size", "32x32", "--batch-size", "8", "--no-progress",
        "--threads", "1", "--recon-every", "0", "--log-every", "2", "--seed", "7"]


def records(out: Path) -> list[dict]:
    import json

    return [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]


def test_mixed_run_resumes_exactly_and_logs_per_source_counts(shards, tmp_path):
    import json

    from safetensors.torch import load_file

    from pretrain.cli import main

    args = ["--data", "pattern:deadleaves-squares", "--data", str(shards), "--data-weights", "0.7,0.3",
            *BASE, "--workers", "2", "--steps", "8", "--save-every", "4", "--lr", "1e-3", "--log-every", "1"]
    assert main([*args, "--out", str(tmp_path / "full")]) == 0
    assert main([*args, "--out", str(tmp_path / "split"), "--stop-after-steps", "3"]) == 0
    assert main([*args, "--out", str(tmp_path / "split"), "--resume"]) == 0
    full = load_file(str(tmp_path / "full" / "encoder.safetensors"))
    split = load_file(str(tmp_path / "split" / "encoder.safetensors"))
    assert all(torch.equal(full[k], split[k]) for k in full), "bitwise equal after resume"
    logged, resumed = records(tmp_path / "full"), records(tmp_path / "split")
    assert [r["loss"] for r in logged] == [r["loss"] for r in resumed]
    assert [r["source_images"] for r in logged] == [r["source_images"] for r in resumed]
    last = logged[-1]
    assert sum(last["source_images"]) == last["images_seen"] == 64 and last["source_images"][0] > 32
    assert all(r["loader_images_per_s"] > 0 and 0 <= r["data_wait"] <= 1 for r in logged)
    config = json.loads((tmp_path / "full" / "config.json").read_text())
    assert config["source_images"] == last["source_images"]
    assert [d["kind"] for d in config["data"]] == ["pattern", "shards"]
    assert [d["weight"] for d in config["data"]] == [0.7, 0.3]
    assert config["data"][0]["pattern"]["kind"] == "deadleaves-squares"
    assert config["data"][0]["pattern"]["size"] == 32 and config["data"][0]["pattern"]["seed"] == 0


def test_starved_training_warns(tmp_path, capsys):
    """In-process rendering (no workers) makes training wait for every batch: one warning."""
    from pretrain.cli import main

    assert main(["--data", "pattern:stat-spectrum,size=64", *BASE, "--workers", "0", "--steps", "6",
                 "--out", str(tmp_path / "run")]) == 0
    err = capsys.readouterr().err
    assert err.count("pretrain: warning: training waited for data") == 1, err
    assert "raise --workers" in err
    assert all(r["data_wait"] > 0.1 for r in records(tmp_path / "run")[1:])


@pytest.mark.parametrize("extra, message", [
    (["--data", "pattern:stat-spectrum", "--epochs", "1"], "--epochs needs finite data, but --data "
                                                           "pattern:stat-spectrum is rendered on the fly"),
    (["--data", "pattern:nope", "--steps", "1"], "--data pattern:nope: unknown pattern kind 'nope'"),
    (["--data", "pattern:stat-spectrum", "--data-weights", "1,2", "--steps", "1"],
     "--data-weights has 2 weights for 1 --data sources"),
    (["--data", "pattern:stat-spectrum:2", "--data-weights", "1", "--steps", "1"],
     "--data pattern:stat-spectrum:2 has a :WEIGHT and --data-weights is given"),
    (["--data", "pattern:stat-spectrum", "--data-weights", "0.5,x", "--steps", "1"],
     "data weights '0.5,x' must be numbers > 0"),
])
def test_bad_on_the_fly_arguments(tmp_path, capsys, extra, message):
    from tests.pretrain.shardkit import assert_pretrain_refuses

    assert_pretrain_refuses([*extra, *BASE, "--out", str(tmp_path / "x")], tmp_path / "x", capsys, message)


def test_load_meter_reports_and_warns_once():
    from pretrain.data import Item
    from pretrain.loadmeter import LoadMeter

    meter = LoadMeter(2, processes=2, counts=[5, 1])
    batch = Item(torch.zeros(4, 1, 8, 8), torch.tensor([0, 1, 1, 1]), torch.tensor([0.1, 0.1, 0.1, 0.1],
                                                                                      dtype=torch.float64))
    assert meter.add(batch, waited=0.5).shape == (4, 1, 8, 8)
    record = meter.window(seconds=1.0)
    assert record["source_images"] == [6, 4] and record["data_wait"] == pytest.approx(0.5)
    assert record["loader_images_per_s"] == pytest.approx(4 / 0.4 * 2)
    record["images_per_s"] = 4.0
    assert meter.warning(record) is None, "no warning in the start-up window"
    meter.add(batch, waited=0.5)
    record = {**meter.window(seconds=1.0), "images_per_s": 4.0}
    text = meter.warning(record)
    assert text.startswith("pretrain: warning: training waited for data 50% of the time")
    assert "the loader makes ~20 images/s, training could consume ~8 images/s" in text
    meter.add(batch, waited=0.9)
    assert meter.warning({**meter.window(seconds=1.0), "images_per_s": 4.0}) is None, "warns once"
    assert meter.totals() == [5 + 3, 1 + 9]


def test_default_workers(monkeypatch):
    from pretrain import train

    monkeypatch.setattr(train, "available_cpus", lambda: 16)
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    assert train.default_workers(torch.device("cpu"), None) == 1
    assert train.default_workers(torch.device("cuda"), None) == 7, "8 CPUs per rank, one trains"
    assert train.default_workers(torch.device("cuda"), {"train": {"workers": 3}}) == 3, "resume keeps"
    monkeypatch.setattr(train, "available_cpus", lambda: 1)
    assert train.default_workers(torch.device("cuda"), None) == 1


def test_resume_without_workers_keeps_the_runs_own(shards, tmp_path):
    import json

    from pretrain.cli import main

    args = ["--data", str(shards), *BASE, "--steps", "4", "--out", str(tmp_path / "run")]
    assert main([*args, "--workers", "2", "--stop-after-steps", "2"]) == 0
    assert main([*args, "--resume"]) == 0
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["step"] == 4 and config["train"]["workers"] == 2
