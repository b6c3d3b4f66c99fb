"""Patterns rendered on the fly (``--data pattern:KIND[,KEY=VALUE...][:WEIGHT]``).

A pattern source is the endless dataset ``synthgen render KIND --seed S`` would write: sample
``i`` is ``generators.sample.render_sample(kind, params, S, i, size, mode)``, drawn from
``SeedSequence(S, spawn_key=(i,))`` with the parameters of class ``i % num_classes`` derived
from ``(S, class)``. Its first ``N`` samples are therefore, image for image, the shards of
``synthgen render KIND --n N --seed S --size SIZE --mode MODE``. Reader ``g`` of ``G``
(``pretrain.data``) renders the indices ``g, g + G, g + 2G, ...``: readers never share a
sample, and together they cover every index.

Class parameters (FractalDB's category search, VisualAtom's classes, shader programs) are
computed once per run, before the DataLoader starts, and travel with the source into the
worker processes; a kind's per-process context (a GL context, a model cache) is built lazily
in each worker.

Spec keys other than the kind's parameters (``synthgen list KIND``):
``seed`` (dataset seed, default 0 like ``synthgen render``), ``size`` (rendered side, default
the encoder input's height; bounded like ``synthgen render --size`` by
``generators.bounds.IMAGE_SIDE``, checked when the spec is parsed, before anything is
rendered) and ``mode`` (``L`` or ``RGB``, default ``L``).
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from generators.bounds import IMAGE_SIDE

PREFIX = "pattern:"
SPEC_KEYS = ("seed", "size", "mode")


@dataclass(frozen=True)
class PatternSpec:
    """What a ``pattern:`` spec asks for (before class parameters are computed).

    kind: registered kind name.
    items: the kind's parameter overrides, ``("key=value", ...)`` as given.
    seed: dataset seed (sample ``i`` draws from ``SeedSequence(seed, spawn_key=(i,))``).
    size: rendered image side, or None for the encoder input's height.
    mode: ``"L"`` or ``"RGB"``.
    """

    kind: str
    items: tuple[str, ...] = ()
    seed: int = 0
    size: int | None = None
    mode: str = "L"


def is_pattern_spec(text: str) -> bool:
    return text.startswith(PREFIX)


def parse_pattern_spec(text: str) -> PatternSpec:
    """``"pattern:fractaldb,num_classes=10,size=64"`` -> :class:`PatternSpec`.

    The weight suffix (``:0.5``) must already be split off. ``ValueError`` (one line) for an
    unknown or unavailable kind, a bad parameter or a bad ``seed``/``size``/``mode``.
    """
    from generators.params import make_params
    from generators.registry import UnavailableKindError, UnknownKindError, get_kind

    body = text[len(PREFIX):] if is_pattern_spec(text) else text
    name, *pairs = [part.strip() for part in body.split(",")]
    if not name:
        raise ValueError(f"--data {text}: expected pattern:KIND[,KEY=VALUE...], e.g. pattern:fractaldb")
    try:
        kind = get_kind(name)
    except (UnknownKindError, UnavailableKindError) as error:
        raise ValueError(f"--data {text}: {error}") from None
    special: dict[str, str] = {}
    items = []
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--data {text}: {pair!r} must look like KEY=VALUE")
        if key.strip() in SPEC_KEYS:
            special[key.strip()] = value.strip()
        else:
            items.append(f"{key.strip()}={value.strip()}")
    try:
        make_params(kind.params_type, items)
    except ValueError as error:
        raise ValueError(f"--data {text}: {error}") from None
    seed, size = special.get("seed", "0"), special.get("size")
    mode = special.get("mode", "L")
    if not seed.isdigit():
        raise ValueError(f"--data {text}: seed={seed!r} must be an integer >= 0")
    if size is not None and not (size.isdigit()
                                 and IMAGE_SIDE.low <= int(size) <= IMAGE_SIDE.high):
        raise ValueError(f"--data {text}: size={size!r} must be an integer >= {IMAGE_SIDE.low} "
                         f"and <= {IMAGE_SIDE.high} (the side of a rendered image)")
    if mode not in ("L", "RGB"):
        raise ValueError(f"--data {text}: mode={mode!r} must be L or RGB")
    return PatternSpec(kind.name, tuple(items), int(seed), int(size) if size else None, mode)


@dataclass
class PatternRenderer:
    """Renders samples of one pattern source by index (picklable; see module docstring).

    ``classes`` holds every class's parameters (None for kinds without classes). The kind and
    its per-process context are looked up lazily, so a copy in a DataLoader worker builds its
    own context (GL contexts and model caches cannot cross processes).
    """

    spec: PatternSpec
    size: int
    classes: list | None = field(default=None, repr=False)
    _state: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def params(self) -> Any:
        from generators.params import make_params

        if "params" not in self._state:
            self._state["params"] = make_params(self.kind.params_type, self.spec.items)
        return self._state["params"]

    @property
    def kind(self):
        from generators.registry import get_kind

        if "kind" not in self._state:
            self._state["kind"] = get_kind(self.spec.kind)
        return self._state["kind"]

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_state"] = {}  # kind, params and context are rebuilt in the receiving process
        return state

    def context(self) -> Any:
        """The kind's context of this process. A forked worker builds its own and keeps the
        inherited one unused: dropping it would run its finaliser, which may stop the parent's
        render service."""
        if self.kind.make_context is None:
            return None
        contexts = self._state.setdefault("contexts", {})
        if os.getpid() not in contexts:
            contexts[os.getpid()] = self.kind.make_context(self.params)
        return contexts[os.getpid()]

    def render(self, index: int) -> np.ndarray:
        """Sample ``index`` as ``synthgen render`` would write it (uint8, ``mode``)."""
        from generators.sample import render_sample
        from generators.seeding import class_of

        class_params = None
        if self.kind.has_classes:
            if self.classes is None:  # never searched per worker or per sample
                raise RuntimeError(f"{self.spec.kind}: class parameters were not computed "
                                   f"before rendering (pretrain.patterns.compute_classes)")
            class_params = self.classes[class_of(index, self.params.num_classes)]
        image, _ = render_sample(self.kind, self.params, self.spec.seed, index, self.size,
                                 self.spec.mode, class_params, self.context())
        return image

    def describe(self) -> dict:
        return {"kind": self.spec.kind, "params": dataclasses.asdict(self.params),
                "seed": self.spec.seed, "size": self.size, "mode": self.spec.mode}


def compute_classes(spec: PatternSpec, processes: int, progress: bool) -> list | None:
    """Every class's parameters of ``spec`` (None for kinds without classes), computed with
    ``processes`` processes exactly as ``synthgen render`` computes them."""
    from generators.params import make_params
    from generators.registry import get_kind
    from generators.render import RenderConfig, sample_all_classes

    kind = get_kind(spec.kind)
    if not kind.has_classes:
        return None
    params = make_params(kind.params_type, spec.items)
    config = RenderConfig(kind=kind.name, params=params, n=params.num_classes, seed=spec.seed)
    # a few classes are faster in this process than in a pool that must start first
    return sample_all_classes(config, min(processes, params.num_classes // 8), progress)
