"""The contract every registered kind keeps (parametrised over the registry)."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from generators.params import make_params
from generators.registry import list_kinds
from generators.sample import render_sample

SIZE = 64
# Smaller-than-published settings where the defaults only cost time, not behaviour.
FAST = {"fractaldb": ["num_classes=8", "num_points=20000"],
        "deadleaves-textures": ["texture_pool=2", "texture_size=32"],
        "featvis-random": ["steps=2", "net_size=64"],
        "featvis-deadleaves": ["steps=2", "net_size=64"]}


def available_kinds():
    return [pytest.param(kind, id=kind.name,
                         marks=pytest.mark.skip(reason=kind.unavailable_reason())
                         if kind.unavailable_reason() else ())
            for kind in list_kinds()]


@pytest.mark.parametrize("kind", available_kinds())
def test_kind_contract(kind):
    params = make_params(kind.params_type, FAST.get(kind.name, []))
    context = kind.make_context(params) if kind.make_context else None  # once per worker

    def render(kind, seed, index, mode="L"):
        return render_sample(kind, params, seed, index, SIZE, mode, context=context)

    image, meta = render(kind, seed=3, index=1)
    assert image.dtype == np.uint8 and image.shape == (SIZE, SIZE)
    assert image.std() > 0, "constant image"
    again, meta_again = render(kind, seed=3, index=1)
    assert np.array_equal(image, again) and meta == meta_again, "not deterministic"
    other_seed, _ = render(kind, seed=4, index=1)
    other_index, _ = render(kind, seed=3, index=2)
    assert not np.array_equal(image, other_seed)
    assert not np.array_equal(image, other_index)
    rgb, _ = render(kind, seed=3, index=1, mode="RGB")
    assert rgb.shape == (SIZE, SIZE, 3)
    if kind.channels == 1:
        assert all(np.array_equal(rgb[..., c], image) for c in range(3))
    json.dumps(meta)  # the sample's .json must be serialisable
    if kind.has_classes:
        assert meta["class"] == 1 % make_params(kind.params_type, FAST.get(kind.name, [])).num_classes


@pytest.mark.parametrize("kind", list_kinds(), ids=lambda k: k.name)
def test_params_have_help_defaults_and_round_trip(kind):
    params = kind.params_type()
    for f in dataclasses.fields(params):
        assert f.metadata.get("help"), f"{kind.name}.{f.name} has no help text"
    values = json.loads(json.dumps(dataclasses.asdict(params)))
    assert kind.params_type(**values) == params
    with pytest.raises(ValueError, match="unknown parameter"):
        make_params(kind.params_type, ["no_such_parameter=1"])


def test_duplicate_registration_is_an_error():
    from generators.registry import register

    kind = list_kinds()[0]
    with pytest.raises(ValueError, match="registered twice"):
        register(kind)
