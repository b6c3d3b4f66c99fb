"""Tiny shard directories for the pretrain tests, rendered by the real shard renderer.

A test kind (oriented sinusoidal stripes: a learnable pattern) is registered only while
:func:`write_shards` renders, so the registry other tests see is unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from unittest import mock

import numpy as np

from generators.params import param
from generators.registry import Kind, load_builtin_kinds
from generators.render import RenderConfig, render_dataset
from generators.sample import render_sample


@dataclass(frozen=True)
class StripesParams:
    num_classes: int = param(4, "classes (one stripe orientation each)", low=1, high=1000)


def sample_orientation(params: StripesParams, rng: np.random.Generator) -> dict:
    return {"angle": float(rng.uniform(0, np.pi))}


def render_stripes(params: StripesParams, rng: np.random.Generator, size: int,
                   class_params: dict) -> np.ndarray:
    """Stripes at the class's angle with a per-sample frequency and phase."""
    y, x = np.mgrid[0:size, 0:size] / size
    angle = class_params["angle"]
    freq, phase = rng.uniform(2, 6), rng.uniform(0, 2 * np.pi)
    wave = np.sin(2 * np.pi * freq * (x * np.cos(angle) + y * np.sin(angle)) + phase)
    return ((wave + 1) * 127.5).astype(np.uint8)


def stripes_kind(name: str = "stripes") -> Kind:
    return Kind(name=name, params_type=StripesParams, render=render_stripes,
                summary="test stripes", sample_class=sample_orientation)


def pattern(index: int, size: int, seed: int = 0) -> np.ndarray:
    """Sample ``index`` of a stripes dataset of seed ``seed``, as the renderer makes it."""
    return render_sample(stripes_kind(), StripesParams(), seed, index, size, "L")[0]


def write_shards(folder: Path, n: int = 64, shard_size: int = 8, size: int = 32,
                 kind: str = "stripes", seed: int = 0) -> Path:
    """``n`` samples of seed ``seed`` in ``ceil(n / shard_size)`` shards with sidecars and
    ``dataset.json``."""
    # Import the built-in kinds first: imported inside the patch, they would register into the
    # patched dict only, and the registry would stay empty for the tests that run after.
    load_builtin_kinds()
    with mock.patch.dict("generators.registry._KINDS", {kind: stripes_kind(kind)}):
        render_dataset(RenderConfig(kind=kind, params=StripesParams(), n=n, size=size,
                                    shard_size=shard_size, seed=seed), Path(folder), progress=False)
    return Path(folder)


def assert_pretrain_refuses(argv: list[str], out, capsys, message: str) -> None:
    """``python -m pretrain`` (in process) with ``argv`` ends with exit 2 and one line
    ``pretrain: error: ...`` holding ``message``, and writes no training state into ``out``."""
    from pretrain.cli import main

    try:
        code = main(argv)
    except SystemExit as stop:  # argparse's own checks
        code = stop.code
    assert code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("pretrain: error: ") and message in lines[0], lines
    assert not (out / "train_state.pt").exists()
