"""Shared test helpers: the repository root, the real-audio data root, running the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


def data_root() -> Path:
    """The data root of the real-audio tests: ``$SYNTHGEN_DATA`` where set (as for the product's
    commands), else the ``shared/data`` folder beside the repository."""
    env = os.environ.get("SYNTHGEN_DATA", "")
    return Path(env).expanduser() if env else SHARED / "data"


def shared_data(*parts: str) -> Path:
    """A path under the data root (:func:`data_root`) or a skip with the reason."""
    path = data_root().joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is absent: set SYNTHGEN_DATA to the folder holding fsdd/ and "
                    f"instruments/ to run this test (see README, 'Data')")
    return path


def run_synthgen(*args: str, check: bool = False, **kwargs) -> subprocess.CompletedProcess:
    """Run the ``synthgen`` CLI in a fresh interpreter (as a user would)."""
    result = subprocess.run([sys.executable, "-m", "generators.cli", *map(str, args)],
                            capture_output=True, text=True, **kwargs)
    if check and result.returncode != 0:
        raise AssertionError(f"synthgen {' '.join(map(str, args))} failed:\n{result.stderr}")
    return result
