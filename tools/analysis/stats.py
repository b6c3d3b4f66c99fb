"""``python -m tools.analysis.stats DIR [DIR ...]``: ``synthgen stats`` plus references from real audio.

The statistics themselves live in :mod:`generators.stats` (torch-free, so ``synthgen stats``
runs on render nodes). This module adds ``--audio DIR``: the log-mel reference computed now
from the audio in DIR through ``pretrain.frontend`` (torch, imported only then, by
:mod:`tools.analysis.logmel_images`).
"""

from __future__ import annotations

import sys
from pathlib import Path

from generators.stats import StatsError, describe_images, logmel_distance, properties_table
from generators.stats import main as stats_main


def compute_reference(audio_dir: str | Path, n: int = 300, seed: int = 0, frames: int = 128) -> dict:
    """Statistics of log-mel spectrogram images of ``n`` clips of ``audio_dir`` (imports torch)."""
    from tools.analysis.logmel_images import sample_logmel_images

    try:
        grays, _ = sample_logmel_images(audio_dir, n, seed, frames)
    except FileNotFoundError as error:
        raise StatsError(str(error)) from None
    result = {"name": f"log-mel {Path(audio_dir).name}", "path": Path(audio_dir).name,
              "kind": "audio", "seed": seed, "size": f"128x{frames}",
              "source": f"{Path(audio_dir).name}: {len(grays)} clips, pretrain.frontend log-mel "
                        f"128 bins, {frames} frames, per-clip min-max"}
    result.update(describe_images(grays, None, None))
    # How far single spectrograms lie from their own mean: the scale of logmel_distance.
    result["logmel_distance"] = logmel_distance(properties_table(grays), result)
    return result


def main(argv: list[str] | None = None) -> int:
    return stats_main(argv, prog="stats", reference_from_audio=compute_reference)


if __name__ == "__main__":
    sys.exit(main())
