"""The kinds ``shaders`` and ``shaders-random``: class draws, replacement, reproduction, shards."""

import json

import numpy as np
import pytest

from generators.params import make_params
from generators.registry import RenderError, get_kind
from generators.sample import render_sample, sample_class_params
from shaders.classes import sample_random_class
from shaders.grammar import GrammarConfig, generate_program
from shaders.renderer import ShaderError
from shaders.reproduce import render_from_meta
from shaders.service import RenderService
from tests.shaders.programs import ENDLESS


@pytest.fixture(scope="module")
def service():
    with RenderService(timeout_s=60) as instance:
        yield instance


def test_rejected_candidates_are_replaced_deterministically_and_counted():
    verdicts = iter(["near-constant", "compile error: x", None])
    chosen = sample_random_class(np.random.default_rng(9), GrammarConfig(),
                                 lambda source, uniforms: next(verdicts), time_range=10.0)
    stream = np.random.default_rng(9)
    third = [generate_program(stream) for _ in range(3)][2]
    assert chosen.rejections == 2
    assert chosen.source == third.source and chosen.cost == third.cost


@pytest.mark.parametrize("name", ["shaders", "shaders-random"])
def test_classes_depend_only_on_seed_and_index(name):
    kind = get_kind(name)
    params = make_params(kind.params_type, ["num_classes=4"])
    a = sample_class_params(kind, params, seed=5, class_index=2)
    assert a == sample_class_params(kind, params, seed=5, class_index=2)
    assert a != sample_class_params(kind, params, seed=5, class_index=3)
    assert a != sample_class_params(kind, params, seed=6, class_index=2)


@pytest.mark.parametrize("name", ["shaders", "shaders-random"])
def test_sample_is_reproducible_from_its_json_alone(name, service):
    kind = get_kind(name)
    params = make_params(kind.params_type, ["num_classes=3"])
    image, meta = render_sample(kind, params, 1, 4, 48, "RGB", context=service)
    meta = json.loads(json.dumps(meta, default=lambda o: o.__dict__))  # as stored in the shard
    assert meta["class"] == 1 and 0 <= meta["time"] <= params.time_range
    assert np.array_equal(render_from_meta(meta, 48, service), image)
    # Instances of one class differ (time and seed), like frames of one program.
    other, other_meta = render_sample(kind, params, 1, 7, 48, "RGB", context=service)
    assert other_meta["class"] == 1 and not np.array_equal(other, image)


def test_random_program_sources_are_stored_with_every_sample(service):
    kind = get_kind("shaders-random")
    params = make_params(kind.params_type, ["num_classes=2"])
    _, meta = render_sample(kind, params, 0, 1, 16, "L", context=service)
    source = meta["class_params"]["source"]
    assert source.startswith("#version 330") and "void main()" in source
    assert meta["class_params"]["rejections"] >= 0


def test_a_render_over_the_time_limit_fails_clearly():
    kind = get_kind("shaders-random")
    params = make_params(kind.params_type, ["num_classes=1", "timeout_s=1"])
    stuck = {"source": ENDLESS, "program": "x", "cost": 0.0, "rejections": 0}
    with RenderService(timeout_s=1) as slow:
        with pytest.raises(RenderError, match="time limit of 1.*timeout_s") as error:
            kind.render(params, np.random.default_rng(0), 96, stuck, context=slow)
    # the shaders package's own error stays below generators: the kind translates it
    assert not isinstance(error.value, ShaderError)


def test_a_class_check_over_the_time_limit_fails_clearly():
    from generators.kinds._shadercalls import class_check

    with RenderService(timeout_s=1) as slow:
        with pytest.raises(RenderError, match="shaders-random class check: .*time limit of 1"):
            class_check(slow, ENDLESS, 96, {"u_time": 1.0}, "shaders-random")


def test_unknown_family_is_a_one_line_error():
    with pytest.raises(ValueError, match="families='plasma,nope'.*unknown family 'nope'"):
        make_params(get_kind("shaders").params_type, ["families=plasma,nope"])


def test_family_subset():
    kind = get_kind("shaders")
    params = make_params(kind.params_type, ["num_classes=3", "families=plasma,moire"])
    for c in range(3):
        assert sample_class_params(kind, params, 0, c).family in ("plasma", "moire")


def test_shards_with_two_workers_record_rejections(tmp_path):
    from generators.reader import finished_shards, iter_samples
    from generators.render import RenderConfig, render_dataset

    kind = get_kind("shaders-random")
    params = make_params(kind.params_type, ["num_classes=3"])
    config = RenderConfig(kind="shaders-random", params=params, n=6, seed=2, size=32,
                          mode="RGB", shard_size=3)
    render_dataset(config, tmp_path, workers=2, progress=False)
    description = json.loads((tmp_path / "dataset.json").read_text())
    assert description["class_stats"]["rejections"] >= 0
    samples = list(iter_samples(finished_shards(tmp_path)))
    assert [s["index"] for s in samples] == list(range(6))
    for sample in samples[:2]:
        assert np.array_equal(render_from_meta(sample["meta"], 32), sample["image"])
