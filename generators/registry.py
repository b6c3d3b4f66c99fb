"""The registry of pattern kinds: a name -> :class:`Kind` dict filled by ``register``.

A kind is one module under ``generators/kinds/`` that ends with ``register(Kind(...))``.
Modules are imported by :func:`load_builtin_kinds`; a module whose import fails is listed as
unavailable with the reason instead of taking the whole CLI down, and a kind whose optional
dependency (``requires``) is missing is listed as unavailable with an install hint.

The render contract (docs/design.md, "Render contract"):

* ``render(params, rng, size)`` for kinds without classes, or
  ``render(params, rng, size, class_params)`` for kinds with ``sample_class``;
  kinds with ``make_context`` also get ``context=`` (one per worker process, reused).
* It returns a ``uint8`` array, ``(size, size)`` or ``(size, size, 3)``, or a tuple
  ``(array, info)`` where ``info`` is a small JSON-able dict stored in the sample's ``.json``.
* ``sample_class(params, rng)`` derives a class's parameters from a class random stream; the
  result must be a JSON-able dict or dataclass (stored with every sample of that class).
* Kinds that are much faster on many samples at once (convolutional networks) may also give
  ``render_batch(params, rngs, size[, class_params_list], context=...)``: one call renders a
  list of samples, each from its own random stream, and returns a list of results as
  ``render`` would. Such kinds have an ``int`` field ``batch_size`` in ``params_type``; the
  shard renderer cuts each shard's render order into consecutive groups of ``batch_size``
  (:func:`generators.sample.batches`), so a batch is a pure function of the shard, never of
  workers, nodes or resumption. ``render`` stays the one-sample function (a batch of one).
* Kinds that compute with torch may take ``devices=("cpu", "cuda")``; their ``make_context``
  then also gets ``device=`` (``"cpu"`` or ``"cuda"``), see :meth:`Kind.build_context`.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import pkgutil
from dataclasses import dataclass
from typing import Any, Callable

_KINDS: dict[str, "Kind"] = {}
_BROKEN: dict[str, str] = {}


@dataclass(frozen=True)
class Kind:
    """One registered pattern kind.

    Args:
        name: stable name used on the command line and in shard file names (no dots).
        params_type: frozen dataclass of dataset-level parameters with published defaults.
        render: the pure render function (see module docstring).
        summary: one line for ``synthgen list``.
        channels: native channels of ``render``'s output (1 = grayscale, 3 = RGB).
        sample_class: ``(params, rng) -> class parameters`` for class-structured kinds; such
            kinds must have an ``int`` field ``num_classes`` in ``params_type``.
        make_context: ``(params) -> object`` built once per worker process and passed to
            ``render`` as ``context=`` (a GL context, a model cache, ...).
        requires: importable module names the kind needs beyond the base install.
        install_hint: how to get ``requires`` (shown when they are missing).
        class_stats: names of integer fields of the class parameters that are summed over
            all classes and written to ``dataset.json`` (e.g. rejected candidates).
        render_batch: the batched render function (see module docstring); such kinds need an
            ``int`` field ``batch_size`` in ``params_type``.
        devices: devices the kind can compute on; more than ``("cpu",)`` needs a
            ``make_context`` that accepts ``device=``.
        waveform: for kinds that synthesise sound and store its log-mel (the ``audio-*``
            kinds): ``(params, rng, size) -> (samples, info)``, the waveform behind the image
            that ``render`` makes from the same random stream (``synthgen preview --audio``).
        sample_rate: the rate of ``waveform``'s samples in Hz.
        max_size: the largest image side the kind renders (None: any); ``synthgen render`` and
            ``preview`` and ``pattern:`` sources refuse a larger ``size`` before rendering.
        size_reason: why sizes above ``max_size`` are refused (in the error message).
    """

    name: str
    params_type: type
    render: Callable[..., Any]
    summary: str
    channels: int = 1
    sample_class: Callable[..., Any] | None = None
    make_context: Callable[..., Any] | None = None
    requires: tuple[str, ...] = ()
    install_hint: str = ""
    class_stats: tuple[str, ...] = ()
    render_batch: Callable[..., Any] | None = None
    devices: tuple[str, ...] = ("cpu",)
    waveform: Callable[..., Any] | None = None
    sample_rate: int = 16000
    max_size: int | None = None
    size_reason: str = ""

    @property
    def has_classes(self) -> bool:
        return self.sample_class is not None

    def batch_size(self, params: Any) -> int:
        """Samples per ``render_batch`` call (1 for kinds without one)."""
        return int(params.batch_size) if self.render_batch is not None else 1

    def check_size(self, size: int) -> None:
        """``ValueError`` naming the size and the limit when the kind cannot render ``size``."""
        if self.max_size is not None and size > self.max_size:
            reason = f" ({self.size_reason})" if self.size_reason else ""
            raise ValueError(f"pattern kind {self.name!r} renders sizes up to {self.max_size}"
                             f"{reason}; size {size} is too large")

    def build_context(self, params: Any, device: str = "cpu") -> Any:
        """The per-process context (``None`` without ``make_context``) on ``device``."""
        if device not in self.devices:
            raise ValueError(f"pattern kind {self.name!r} cannot render on {device!r}; it "
                             f"runs on {', '.join(self.devices)}")
        if self.make_context is None:
            return None
        if self.devices == ("cpu",):
            return self.make_context(params)
        return self.make_context(params, device=device)

    def missing_requirements(self) -> list[str]:
        return [m for m in self.requires if importlib.util.find_spec(m) is None]

    def unavailable_reason(self) -> str | None:
        missing = self.missing_requirements()
        if not missing:
            return None
        hint = f"; {self.install_hint}" if self.install_hint else ""
        return f"needs {', '.join(missing)}{hint}"


class UnknownKindError(KeyError):
    """Raised for a kind name that is not registered; ``str()`` is a one-line message."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class UnavailableKindError(RuntimeError):
    """Raised for a registered kind whose optional dependency is missing."""


class RenderError(RuntimeError):
    """A render that cannot succeed as configured (a program over its time limit, a class
    search that finds nothing, ...). The CLI reports its message in one line (exit 1); the
    shards finished before it are kept, so a rerun resumes."""


def register(kind: Kind) -> Kind:
    """Add ``kind`` to the registry; a second kind with the same name is an error."""
    if kind.name in _KINDS:
        raise ValueError(f"pattern kind {kind.name!r} is registered twice")
    if "." in kind.name or "/" in kind.name:
        raise ValueError(f"pattern kind name {kind.name!r} must not contain '.' or '/'")
    if not dataclasses.is_dataclass(kind.params_type):
        raise TypeError(f"{kind.name}: params_type must be a dataclass")
    if kind.sample_class is not None and "num_classes" not in {
        f.name for f in dataclasses.fields(kind.params_type)
    }:
        raise TypeError(f"{kind.name}: a kind with classes needs a 'num_classes' parameter")
    if kind.render_batch is not None and "batch_size" not in {
        f.name for f in dataclasses.fields(kind.params_type)
    }:
        raise TypeError(f"{kind.name}: a kind with render_batch needs a 'batch_size' parameter")
    if len(kind.devices) > 1 and kind.make_context is None:
        raise TypeError(f"{kind.name}: a kind with devices {kind.devices} needs make_context")
    _KINDS[kind.name] = kind
    return kind


#: The package whose modules are the built-in kinds. Found by name at run time, like any
#: plugin: the kinds import this module (to register), this module imports none of them.
KINDS_PACKAGE = "generators.kinds"


def load_builtin_kinds() -> None:
    """Import every module of ``generators.kinds`` once (each registers its kind)."""
    package = importlib.import_module(KINDS_PACKAGE)
    for info in pkgutil.iter_modules(package.__path__):
        if info.name.startswith("_"):
            continue
        module_name = f"{package.__name__}.{info.name}"
        try:
            importlib.import_module(module_name)
        except Exception as error:  # a broken plugin must not take the CLI down
            _BROKEN[info.name.replace("_", "-")] = f"import of {module_name} failed: {error}"


def list_kinds() -> list[Kind]:
    """All registered kinds, sorted by name."""
    load_builtin_kinds()
    return [_KINDS[name] for name in sorted(_KINDS)]


def broken_kinds() -> dict[str, str]:
    """Modules under ``generators.kinds`` that failed to import: name -> reason."""
    load_builtin_kinds()
    return dict(_BROKEN)


def get_kind(name: str, *, check_available: bool = True) -> Kind:
    """Look up a kind by name.

    Raises:
        UnknownKindError: no kind of that name (the message lists the known names).
        UnavailableKindError: the kind needs a dependency that is not installed.
    """
    load_builtin_kinds()
    if name not in _KINDS:
        if name in _BROKEN:
            raise UnavailableKindError(f"pattern kind {name!r} is unavailable: {_BROKEN[name]}")
        known = ", ".join(sorted(_KINDS)) or "none"
        raise UnknownKindError(f"unknown pattern kind {name!r}; known kinds: {known}")
    kind = _KINDS[name]
    reason = kind.unavailable_reason() if check_available else None
    if reason:
        raise UnavailableKindError(f"pattern kind {name!r} is unavailable: {reason}")
    return kind
