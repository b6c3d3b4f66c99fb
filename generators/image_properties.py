"""Image properties that describe a synthetic dataset (numpy, scipy and Pillow only).

Every function takes one image as a ``float64`` array ``(H, W)`` with values in ``[0, 1]``
(use :func:`to_gray` on a uint8 L or RGB image) and returns one number. The properties follow
the ones used to explain why synthetic pre-training data works (Baradad et al. 2021, "Learning
to see by looking at noise": spectrum slope, diversity; Redies et al.: PHOG self-similarity and
edge density of artworks; PNG size as a Kolmogorov-complexity proxy, e.g. Forsythe et al. 2011):

===================  ==========================================================  ===========
name                 definition                                                  range
===================  ==========================================================  ===========
spectrum_slope       slope of log power vs log frequency of the radially         about -4..0
                     averaged power spectrum, fitted between 4 cycles/image
                     and 0.25 cycles/pixel (Hann-windowed, mean removed)
edge_density         share of pixels whose Sobel gradient magnitude exceeds      0..1
                     ``EDGE_THRESHOLD`` (0.1 of the full intensity range)
intensity_entropy    Shannon entropy of the 256-bin intensity histogram, bits    0..8
png_ratio            PNG bytes (zlib level 9) / raw bytes: complexity            ~0..1.1
self_similarity      PHOG self-similarity: mean histogram intersection of the     0..1
                     gradient-orientation histograms of a 4x4 grid of cells
                     with the whole image's histogram (NaN without gradients)
===================  ==========================================================  ===========

A 1/f^2 power-spectrum noise image has slope -2, natural images about -2 (van der Schaaf and
van Hateren 1996), white noise 0. A constant image has edge density 0, entropy 0, tiny PNG ratio.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image
from scipy import ndimage

#: Sobel gradient magnitude (in units of full intensity range per pixel pair, see
#: :func:`gradient`) above which a pixel counts as an edge.
EDGE_THRESHOLD = 0.1
#: Frequencies used by the spectrum fit: from 4 cycles per image to 0.25 cycles per pixel
#: (above that, anti-aliasing and PNG quantisation dominate real images).
SLOPE_LOW_CYCLES_PER_IMAGE = 4.0
SLOPE_HIGH_CYCLES_PER_PIXEL = 0.25
#: PHOG settings (Amirshahi et al. 2012 use 16 bins over 0-180 degrees and levels up to 3).
ORIENTATION_BINS = 16
SELF_SIMILARITY_GRID = 4

PROPERTY_NAMES = ("spectrum_slope", "edge_density", "intensity_entropy", "png_ratio",
                  "self_similarity")


def to_gray(image: np.ndarray) -> np.ndarray:
    """uint8 ``(H, W)`` or ``(H, W, 3)`` -> float64 ``(H, W)`` in [0, 1] (ITU-R 601 luma)."""
    image = np.asarray(image)
    if image.ndim == 3:
        if image.shape[2] != 3:
            raise ValueError(f"image with {image.shape[2]} channels; expected 1 or 3")
        image = image.astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    elif image.ndim != 2:
        raise ValueError(f"image of shape {image.shape}; expected (H, W) or (H, W, 3)")
    return np.asarray(image, dtype=np.float64) / 255.0


def resize_gray(gray: np.ndarray, size: int) -> np.ndarray:
    """Area-resize a [0, 1] image to ``size x size`` so properties compare across datasets."""
    if gray.shape == (size, size):
        return gray
    pil = Image.fromarray(gray.astype(np.float32), mode="F")
    return np.asarray(pil.resize((size, size), Image.Resampling.BOX), dtype=np.float64)


def radial_power_spectrum(gray: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(frequency in cycles/pixel, mean power)`` over integer-radius rings of the 2-D FFT.

    The mean is removed and a 2-D Hann window applied first, so the image border (a jump when
    the image is seen as periodic) does not add a spurious 1/f^2 component.
    """
    h, w = gray.shape
    window = np.outer(np.hanning(h), np.hanning(w))
    power = np.abs(np.fft.fft2((gray - gray.mean()) * window)) ** 2
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.fftfreq(w)[None, :]
    radius = np.sqrt(fy ** 2 + fx ** 2) * min(h, w)  # in cycles per image
    ring = np.rint(radius).astype(np.int64)
    counts = np.bincount(ring.ravel())
    sums = np.bincount(ring.ravel(), weights=power.ravel())
    rings = np.arange(1, min(h, w) // 2 + 1)
    return rings / min(h, w), sums[rings] / np.maximum(counts[rings], 1)


def spectrum_slope(gray: np.ndarray) -> float:
    """Least-squares slope of log10 power vs log10 frequency (see module table); NaN if flat."""
    freq, power = radial_power_spectrum(gray)
    n = min(gray.shape)
    keep = (freq * n >= SLOPE_LOW_CYCLES_PER_IMAGE) & (freq <= SLOPE_HIGH_CYCLES_PER_PIXEL)
    keep &= power > 0
    if keep.sum() < 3 or power[keep].max() <= 1e-20:
        return float("nan")
    slope, _ = np.polyfit(np.log10(freq[keep]), np.log10(power[keep]), 1)
    return float(slope)


def gradient(gray: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sobel derivatives divided by 4, so a unit step between two pixels reads 1 on both sides."""
    gy = ndimage.sobel(gray, axis=0, mode="reflect") / 4.0
    gx = ndimage.sobel(gray, axis=1, mode="reflect") / 4.0
    return gy, gx


def edge_density(gray: np.ndarray, threshold: float = EDGE_THRESHOLD) -> float:
    gy, gx = gradient(gray)
    return float(np.mean(np.hypot(gx, gy) > threshold))


def intensity_entropy(gray: np.ndarray) -> float:
    """Entropy in bits of the 8-bit intensity histogram (0 for a constant image, 8 at most)."""
    levels = np.clip(np.rint(gray * 255), 0, 255).astype(np.int64)
    p = np.bincount(levels.ravel(), minlength=256) / levels.size
    p = p[p > 0]
    return float(-(p * np.log2(p)).sum() + 0.0)


def png_ratio(gray: np.ndarray) -> float:
    """PNG size at zlib level 9 over the raw 8-bit size: ~0 for flat images, ~1 for noise."""
    levels = np.clip(np.rint(gray * 255), 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(levels, mode="L").save(buffer, format="PNG", compress_level=9)
    return buffer.tell() / levels.size


def orientation_histogram(gy: np.ndarray, gx: np.ndarray) -> np.ndarray:
    """Gradient-magnitude-weighted histogram of unsigned orientation (0-180 deg), not normalised."""
    angle = np.mod(np.arctan2(gy, gx), np.pi)
    bins = np.minimum((angle / np.pi * ORIENTATION_BINS).astype(np.int64), ORIENTATION_BINS - 1)
    return np.bincount(bins.ravel(), weights=np.hypot(gx, gy).ravel(), minlength=ORIENTATION_BINS)


def self_similarity(gray: np.ndarray, grid: int = SELF_SIMILARITY_GRID) -> float:
    """PHOG self-similarity (Amirshahi, Koch, Denzler, Redies 2012), one level.

    Mean over the ``grid x grid`` cells of the histogram intersection between the cell's
    normalised orientation histogram and the whole image's. 1 = every cell has the same
    orientation statistics (periodic textures); cells without gradients count as 0;
    NaN when the whole image has no gradient.
    """
    gy, gx = gradient(gray)
    total = orientation_histogram(gy, gx)
    if total.sum() <= 1e-12:
        return float("nan")
    total = total / total.sum()
    h, w = gray.shape
    rows = np.linspace(0, h, grid + 1).astype(int)
    cols = np.linspace(0, w, grid + 1).astype(int)
    scores = []
    for r in range(grid):
        for c in range(grid):
            cell = orientation_histogram(gy[rows[r]:rows[r + 1], cols[c]:cols[c + 1]],
                                         gx[rows[r]:rows[r + 1], cols[c]:cols[c + 1]])
            mass = cell.sum()
            scores.append(np.minimum(cell / mass, total).sum() if mass > 1e-12 else 0.0)
    return float(np.mean(scores))


def image_properties(gray: np.ndarray) -> dict[str, float]:
    """All properties of :data:`PROPERTY_NAMES` for one [0, 1] image."""
    return {"spectrum_slope": spectrum_slope(gray), "edge_density": edge_density(gray),
            "intensity_entropy": intensity_entropy(gray), "png_ratio": png_ratio(gray),
            "self_similarity": self_similarity(gray)}


def thumbnail_descriptor(gray: np.ndarray, side: int = 16) -> np.ndarray:
    """``side x side`` area-averaged thumbnail, flattened ("tiny images", Torralba et al. 2008)."""
    return resize_gray(gray, side).ravel()


def mean_pairwise_distance(descriptors: np.ndarray) -> float:
    """Mean RMS difference over all pairs of rows (0 when all rows are equal); NaN for < 2 rows."""
    x = np.asarray(descriptors, dtype=np.float64)
    if len(x) < 2:
        return float("nan")
    sq = (x ** 2).sum(1)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2 * x @ x.T, 0.0)
    iu = np.triu_indices(len(x), 1)
    return float(np.sqrt(d2[iu] / x.shape[1]).mean())


def diversity(descriptors: np.ndarray, labels: list | None) -> dict[str, float | None]:
    """Diversity of a sample of thumbnails (RMS intensity difference, 0..1).

    ``diversity``: mean pairwise distance over all images. With class labels also
    ``intra_class``: mean over classes (with >= 2 images) of the within-class mean pairwise
    distance, and ``inter_class``: mean pairwise distance between the class-mean thumbnails.
    """
    x = np.asarray(descriptors, dtype=np.float64)
    out: dict[str, float | None] = {"diversity": mean_pairwise_distance(x),
                                    "intra_class": None, "inter_class": None}
    if labels is None or any(label is None for label in labels):
        return out
    labels_arr = np.asarray(labels)
    classes = np.unique(labels_arr)
    intra = [mean_pairwise_distance(x[labels_arr == c]) for c in classes
             if (labels_arr == c).sum() >= 2]
    out["intra_class"] = float(np.mean(intra)) if intra else None
    if len(classes) >= 2:
        out["inter_class"] = mean_pairwise_distance(np.stack([x[labels_arr == c].mean(0)
                                                              for c in classes]))
    return out
