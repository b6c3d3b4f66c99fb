"""The degeneracy check: is a rendered image (nearly) constant?

A program whose image is flat carries no pattern to learn from; both shader kinds reject
such candidates and draw a replacement. The thresholds are ours, chosen on renders of the
library at 64x64: the flattest accepted families have a luma standard deviation of ~10 (of
255), while broken candidates (a field clamped to 0 or 1 everywhere) have < 3.
"""

from __future__ import annotations

import numpy as np

#: An image whose every channel has a standard deviation below this (of 255) is flat.
MIN_STD = 4.0
#: An image where more than this fraction of pixels lie within +-3 of the median luma is flat.
MAX_FLAT_FRACTION = 0.9


def degeneracy(image: np.ndarray) -> str | None:
    """Why ``image`` (uint8, HxW or HxWx3) is degenerate, or ``None`` if it is not."""
    pixels = image.reshape(image.shape[0] * image.shape[1], -1).astype(np.float32)
    std = float(pixels.std(axis=0).max())
    if std < MIN_STD:
        return f"near-constant (largest channel standard deviation {std:.2f} < {MIN_STD})"
    luma = pixels @ np.array([0.299, 0.587, 0.114], np.float32) if pixels.shape[1] == 3 \
        else pixels[:, 0]
    flat = float(np.mean(np.abs(luma - np.median(luma)) <= 3.0))
    if flat > MAX_FLAT_FRACTION:
        return f"mostly flat ({flat:.1%} of pixels within 3 of the median luma)"
    return None
