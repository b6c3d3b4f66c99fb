"""Shared fixtures of the finetune tests."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.finetune.fixtures import write_wav


@pytest.fixture
def tone_folder(tmp_path: Path) -> Path:
    """``root/low/*.wav`` (300 Hz) and ``root/high/*.wav`` (2.5 kHz), 10 noisy clips each."""
    root = tmp_path / "tones"
    for label, freq in (("low", 300.0), ("high", 2500.0)):
        for i in range(10):
            write_wav(root / label / f"{label}{i:02d}.wav", freq * (1 + 0.02 * i), seconds=0.4, noise=0.05, seed=i)
    return root
