"""``--param KIND:KEY=VALUE`` for commands that run several kinds (benchmarks, GPU check)."""
from __future__ import annotations

import argparse


def kind_overrides(parser: argparse.ArgumentParser, items: list[str]) -> dict[str, list[str]]:
    """Group ``KIND:KEY=VALUE`` items by kind (``{kind: ["KEY=VALUE", ...]}``); a malformed item
    ends the command through ``parser.error`` with one line naming it."""
    overrides: dict[str, list[str]] = {}
    for item in items:
        kind_name, sep, rest = item.partition(":")
        if not sep:
            parser.error(f"--param {item!r} must look like KIND:KEY=VALUE")
        overrides.setdefault(kind_name, []).append(rest)
    return overrides
