"""Helpers for the finetune tests: tiny generated audio files and checkpoints."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf


def tone(freq: float, sr: int = 8000, seconds: float = 0.3, noise: float = 0.0, seed: int = 0,
         channels: int = 1) -> np.ndarray:
    t = np.arange(int(sr * seconds)) / sr
    x = 0.5 * np.sin(2 * np.pi * freq * t) + noise * np.random.default_rng(seed).standard_normal(t.size)
    return np.repeat(x[:, None], channels, axis=1) if channels > 1 else x


def write_wav(path: Path, freq: float = 440.0, sr: int = 8000, seconds: float = 0.3, **kw) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), tone(freq, sr, seconds, **kw).astype(np.float32), sr)
    return path


def save_checkpoint(folder: Path, preset: str = "test-micro", img_size=(64, 32), seed: int = 0) -> Path:
    """A checkpoint folder in the ``pretrain`` layout (encoder.safetensors + config.json)."""
    import json

    import torch
    from safetensors.torch import save_file

    from pretrain.model import build_encoder, timm_kwargs

    name, kwargs = timm_kwargs(preset, img_size)
    enc = build_encoder(preset, img_size, seed=seed)
    folder.mkdir(parents=True, exist_ok=True)
    save_file({k: v.detach().float().contiguous() for k, v in enc.state_dict().items()},
              str(folder / "encoder.safetensors"))
    (folder / "config.json").write_text(json.dumps({"timm_name": name, "timm_kwargs": kwargs, "preset": preset,
                                                    "input": {"height": img_size[0], "width": img_size[1]}}))
    return folder
