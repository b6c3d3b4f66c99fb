"""Typed, validated parameter dataclasses: declaring fields, checking ranges, CLI overrides.

A kind declares its parameters as a frozen dataclass whose fields use :func:`param`::

    @dataclass(frozen=True)
    class Params:
        num_classes: int = param(1000, "number of classes", low=1, high=100_000)
        alpha: float = param(2.0, "spectrum slope", low=0.5, high=3.5)

        def __post_init__(self):
            check_fields(self)          # types and ranges of every field
            if ...: raise ValueError(...)  # cross-field rules

``synthgen list`` prints the help, default and range of each field; ``--param key=value``
overrides are parsed with :func:`parse_overrides` against the field types.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from dataclasses import field
from typing import Any


def param(default: Any, help: str, *, low: float | None = None, high: float | None = None,
          choices: tuple | None = None) -> Any:
    """A dataclass field with a help text and an inclusive allowed range or a set of choices."""
    return field(default=default,
                 metadata={"help": help, "low": low, "high": high, "choices": choices})


def field_types(params_type: type) -> dict[str, type]:
    """Resolved annotation of every field (``from __future__ import annotations`` safe)."""
    hints = typing.get_type_hints(params_type)
    return {f.name: hints[f.name] for f in dataclasses.fields(params_type)}


def describe_range(f: dataclasses.Field) -> str:
    meta = f.metadata
    if meta.get("choices") is not None:
        return "one of " + ", ".join(str(c) for c in meta["choices"])
    low, high = meta.get("low"), meta.get("high")
    if low is not None and high is not None:
        return f"{low} .. {high}"
    if low is not None:
        return f">= {low}"
    if high is not None:
        return f"<= {high}"
    return "any"


def check_fields(params: Any) -> None:
    """Check every field's type and range; raise ``ValueError`` naming field, value and range."""
    types = field_types(type(params))
    for f in dataclasses.fields(params):
        value = getattr(params, f.name)
        expected = types[f.name]
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            object.__setattr__(params, f.name, float(value))
            value = float(value)
        if expected in (int, float, str, bool) and (
            not isinstance(value, expected) or (expected is not bool and isinstance(value, bool))
        ):
            raise ValueError(f"parameter {f.name}={value!r} must be of type {expected.__name__}")
        if expected is float and not math.isfinite(value):
            raise ValueError(f"parameter {f.name}={value!r} must be a finite number")
        meta = f.metadata
        choices = meta.get("choices")
        if choices is not None and value not in choices:
            raise ValueError(f"parameter {f.name}={value!r} must be {describe_range(f)}")
        low, high = meta.get("low"), meta.get("high")
        if (low is not None and value < low) or (high is not None and value > high):
            raise ValueError(f"parameter {f.name}={value!r} is out of range {describe_range(f)}")


def _parse_value(name: str, text: str, expected: type) -> Any:
    if expected is bool:
        lowered = text.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"parameter {name}={text!r} must be a boolean (true/false)")
    if expected in (int, float):
        try:
            value = expected(text)
        except ValueError:
            raise ValueError(
                f"parameter {name}={text!r} must be {'an integer' if expected is int else 'a number'}"
            ) from None
        if not math.isfinite(value):
            raise ValueError(f"parameter {name}={text!r} must be a finite number")
        return value
    if expected is str:
        return text
    raise ValueError(f"parameter {name} of type {expected} cannot be set from the command line")


def parse_overrides(params_type: type, items: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """Turn ``["key=value", ...]`` into typed keyword arguments for ``params_type``."""
    types = field_types(params_type)
    values: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ValueError(f"--param {item!r} must look like key=value")
        if key not in types:
            known = ", ".join(types) or "none"
            raise ValueError(f"unknown parameter {key!r}; this kind takes: {known}")
        values[key] = _parse_value(key, text, types[key])
    return values


def make_params(params_type: type, items: list[str] | tuple[str, ...] = ()) -> Any:
    """Build validated parameters from ``key=value`` overrides (``ValueError`` if invalid)."""
    try:
        return params_type(**parse_overrides(params_type, items))
    except TypeError as error:  # e.g. a dataclass with a required field
        raise ValueError(str(error)) from None


__all__ = ["param", "check_fields", "parse_overrides", "make_params", "describe_range",
           "field_types"]
