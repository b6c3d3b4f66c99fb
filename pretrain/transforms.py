"""Pattern image -> encoder input: grayscale, crop/tile to the spectrogram shape, normalise.

Patterns are usually square (e.g. 128x128) while the encoder sees ``H x W`` spectrogram-shaped
inputs (128 mel bins x a few hundred frames). Stretching a square to 128x512 would distort every
pattern four-fold, so narrower images are first *tiled* along the width with mirrored copies
(seamless edges), then a random resized crop with the target aspect ratio is taken
(MAE: area 0.2-1, aspect jitter 3/4-4/3, horizontal flip; He et al. 2022 Sec. A.1 use
``RandomResizedCrop(scale=(0.2, 1.0))``; our default area range is ``(0.35, 1.0)``: patterns at
128 px lose too much detail below a third of their area). All randomness comes from the ``rng``
argument, so an augmentation is a pure function of the sample's position in the stream.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image


@dataclass(frozen=True)
class Augment:
    """Random crop settings.

    scale: range of the crop's area as a share of the (tiled) source, each in (0, 1].
    ratio_jitter: the crop's aspect is the target's times a log-uniform factor in
        ``[1/ratio_jitter, ratio_jitter]`` (MAE: 4/3).
    flip: flip horizontally with probability 1/2.
    """

    scale: tuple[float, float] = (0.35, 1.0)
    ratio_jitter: float = 4.0 / 3.0
    flip: bool = True


NO_AUGMENT = Augment(scale=(1.0, 1.0), ratio_jitter=1.0, flip=False)


def to_gray(image: np.ndarray) -> np.ndarray:
    """uint8 ``HxW`` or ``HxWx3`` -> uint8 ``HxW`` (ITU-R 601 luma, as the shard renderer)."""
    if image.ndim == 2:
        return image
    if image.ndim == 3 and image.shape[2] in (3, 4):
        return np.asarray(Image.fromarray(image[:, :, :3], "RGB").convert("L"))
    raise ValueError(f"image of shape {image.shape} is neither grayscale nor RGB")


def tile_to_aspect(image: np.ndarray, aspect: float) -> np.ndarray:
    """Repeat ``image`` along its width (alternately mirrored) until ``w/h >= aspect / 1.5``.

    A 128x128 pattern for a 128x512 target becomes 128x384 or wider; square targets leave it
    unchanged. Mirroring keeps the seams continuous.
    """
    h, w = image.shape
    copies = max(1, math.ceil(aspect / 1.5 * h / w))
    if copies == 1:
        return image
    tiles = [image if k % 2 == 0 else image[:, ::-1] for k in range(copies)]
    return np.concatenate(tiles, axis=1)


def random_crop_box(h: int, w: int, aspect: float, augment: Augment,
                    rng: np.random.Generator) -> tuple[int, int, int, int]:
    """``(top, left, height, width)`` of a crop with area share in ``augment.scale`` and
    width/height close to ``aspect``, clipped to fit inside ``h x w``."""
    area = h * w * rng.uniform(*augment.scale)
    jitter = math.log(augment.ratio_jitter)
    ratio = aspect * math.exp(rng.uniform(-jitter, jitter))
    crop_w = min(w, max(1, round(math.sqrt(area * ratio))))
    crop_h = min(h, max(1, round(math.sqrt(area / ratio))))
    top = int(rng.integers(0, h - crop_h + 1))
    left = int(rng.integers(0, w - crop_w + 1))
    return top, left, crop_h, crop_w


def pattern_to_input(image: np.ndarray, size: tuple[int, int], mean: float, std: float,
                     augment: Augment, rng: np.random.Generator) -> torch.Tensor:
    """uint8 pattern -> float32 ``(1, H, W)`` standardised with the dataset ``mean``/``std``
    (statistics of pixel values scaled to [0, 1])."""
    height, width = size
    gray = tile_to_aspect(to_gray(image), width / height)
    top, left, crop_h, crop_w = random_crop_box(*gray.shape, width / height, augment, rng)
    crop = Image.fromarray(np.ascontiguousarray(gray[top:top + crop_h, left:left + crop_w]))
    if crop.size != (width, height):
        crop = crop.resize((width, height), Image.BILINEAR)
    pixels = np.asarray(crop, dtype=np.float32) * (1.0 / 255.0)
    if augment.flip and rng.random() < 0.5:
        pixels = pixels[:, ::-1]
    pixels = (pixels - np.float32(mean)) / np.float32(std)
    return torch.from_numpy(np.ascontiguousarray(pixels)).unsqueeze(0)


def spectrogram_to_input(spec: torch.Tensor, size: tuple[int, int], mean: float, std: float,
                         rng: np.random.Generator) -> torch.Tensor:
    """Log-mel ``(n_mels, T)`` -> ``(1, H, W)``: random ``W``-frame crop (pad if shorter),
    mel axis resized to ``H`` if it differs, standardised with the audio ``mean``/``std``."""
    from pretrain.frontend import fix_length

    height, width = size
    spec = fix_length(spec, width, random_crop=True, rng=rng)
    if spec.shape[0] != height:
        spec = torch.nn.functional.interpolate(spec[None, None], size=(height, width),
                                               mode="bilinear", align_corners=False)[0, 0]
    return ((spec - mean) / std).to(torch.float32).unsqueeze(0)
