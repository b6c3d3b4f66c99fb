"""Shared test helpers: the repository root, the shared data folder, running the CLI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


def shared_data(*parts: str) -> Path:
    """A path under ``../shared/data`` or a skip with the reason (absent on a user's clone)."""
    path = SHARED.joinpath("data", *parts)
    if not path.exists():
        pytest.skip(f"{path} is absent: real data lives in ../shared/data next to the repository "
                    f"(see README, 'Data')")
    return path


def run_synthgen(*args: str, check: bool = False, **kwargs) -> subprocess.CompletedProcess:
    """Run the ``synthgen`` CLI in a fresh interpreter (as a user would)."""
    result = subprocess.run([sys.executable, "-m", "generators.cli", *map(str, args)],
                            capture_output=True, text=True, **kwargs)
    if check and result.returncode != 0:
        raise AssertionError(f"synthgen {' '.join(map(str, args))} failed:\n{result.stderr}")
    return result
