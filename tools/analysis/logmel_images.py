"""Log-mel spectrograms of real audio as [0, 1] images, the reference of ``python -m tools.analysis.stats --audio``.

Only this module touches the audio front end, and only when called: it imports
``pretrain.frontend`` (and so torch) lazily, keeping ``tools.analysis.stats`` torch-free at import
(``generators.stats``, the statistics themselves, never imports it).

Each clip goes through the evaluation front end (``pretrain.frontend.load_audio`` with peak
level normalisation, ``log_mel``: 128 mel bins, 10-ms hop) and ``fix_length`` to ``frames``
columns (centre crop; short clips padded with their quietest value), then is min-max scaled to
[0, 1] per clip. Rows are frequency (low first), columns time, as the encoder sees them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

def logmel_image(path: str | Path, frames: int = 128) -> np.ndarray:
    """One clip -> float64 ``(n_mels, frames)`` in [0, 1]."""
    from pretrain.frontend import fix_length, load_audio, log_mel

    spec = fix_length(log_mel(load_audio(path)), frames).numpy().astype(np.float64)
    low, high = spec.min(), spec.max()
    return (spec - low) / (high - low) if high > low else np.zeros_like(spec)


def sample_logmel_images(folder: str | Path, n: int, seed: int, frames: int = 128
                         ) -> tuple[list[np.ndarray], list[str]]:
    """``n`` clips drawn without replacement (seeded) from ``folder``, as images, with names."""
    from pretrain.frontend import audio_files

    files = audio_files(folder)
    rng = np.random.default_rng(seed)
    picks = np.sort(rng.choice(len(files), size=min(n, len(files)), replace=False))
    return [logmel_image(files[i], frames) for i in picks], [files[i].name for i in picks]
