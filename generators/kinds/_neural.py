"""Shared pieces of the neural pattern kinds (``stylegan-*``, ``featvis-*``).

torch is imported lazily, inside functions only: ``import generators`` and ``synthgen list``
must work on a base install without torch (the registry then lists these kinds as needing
``pip install 'synthgen[train]'``).

What lives here:

* :func:`import_torch` - the lazy import;
* :class:`NeuralContext` - the per-worker object built by ``Kind.make_context``: one torch
  thread per worker (two workers on two cores must not oversubscribe), the device (``cpu`` by
  default, ``cuda`` on request: ``synthgen render --device``) and a small bounded cache of
  per-class networks;
* :func:`tensor` - numpy draws handed to torch (all randomness comes from the numpy streams);
* :func:`paper_colour_norm` - the per-channel colour normalisation of the StyleGAN datasets.

Determinism: on CPU with one thread the same seed gives the same bytes. On a GPU the
convolutions differ in the last bits from the CPU ones, so GPU-rendered shards are not
byte-identical to CPU-rendered ones; the context asks torch for deterministic GPU algorithms
so that one GPU model and torch version repeats its own bytes (docs/neural-kinds.md).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Callable

import numpy as np

#: Install hint shown for these kinds when torch is missing.
INSTALL_HINT = "pip install 'synthgen[train]'"

#: Per-class networks kept per worker. The framework interleaves classes (sample i has class
#: i % num_classes), so with hundreds of classes a cache hit is rare anyway; networks are
#: cheap to rebuild from their seed (milliseconds at the default widths), and a bound keeps a
#: worker's memory small whatever num_classes is.
CACHE_SIZE = 16


def import_torch():
    """``torch``, imported on first use (never at module import time)."""
    import torch

    return torch


def pick_device(device: str = "cpu") -> str:
    """``cpu`` -> ``"cpu"``; ``auto`` -> ``"cuda"`` when torch sees a GPU, else ``"cpu"``;
    ``cuda`` -> ``"cuda"``, or ``ValueError`` with a one-line reason when there is none."""
    if device == "cpu":
        return "cpu"
    torch = import_torch()
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"--device cuda: torch {torch.__version__} sees no CUDA GPU "
                             f"(torch.cuda.is_available() is False); use --device cpu or auto")
        return "cuda"
    raise ValueError(f"device {device!r} must be one of cpu, cuda, auto")


class NeuralContext:
    """Per-worker state: device, thread setting and a bounded cache of per-class objects.

    Built once per worker process by ``Kind.make_context(params)``. Setting torch to one
    intra-op thread is deliberate: the shard renderer already runs one process per core.
    """

    def __init__(self, device: str = "cpu", threads: int = 1, cache_size: int = CACHE_SIZE):
        torch = import_torch()
        if threads > 0:
            torch.set_num_threads(threads)
        self.device = pick_device(device)
        if self.device == "cuda":
            # the same GPU and torch version repeat their bytes (no autotuned algorithms)
            torch.backends.cudnn.benchmark = False
            torch.backends.cudnn.deterministic = True
        self.cache_size = cache_size
        self._cache: OrderedDict[Any, Any] = OrderedDict()

    def cached(self, key: Any, build: Callable[[], Any]) -> Any:
        """``build()`` once per ``key`` (least recently used entries are dropped)."""
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        value = build()
        self._cache[key] = value
        if len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return value


def make_neural_context(params: Any, device: str = "cpu") -> NeuralContext:
    """``Kind.make_context`` of every neural kind."""
    return NeuralContext(device=device)


#: Devices the neural kinds render on (``Kind.devices``).
DEVICES = ("cpu", "cuda")


def ensure_context(context: NeuralContext | None) -> NeuralContext:
    """Callers outside the shard renderer may pass no context; make a CPU one then."""
    return context if context is not None else NeuralContext(device="cpu", threads=0)


def tensor(array: np.ndarray, device: str):
    """A float32 numpy array as a torch tensor on ``device``.

    Every random number of these kinds is drawn from the sample's (or class's) numpy stream
    and only then handed to torch, so the draws are the same on any device and any torch
    version (docs/design.md, "Determinism").
    """
    torch = import_torch()
    return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32)).to(device)


#: Per-channel (mean, sd) of the target mean and of the target standard deviation of the
#: StyleGAN datasets' colour normalisation, RGB order. Source: ``tensor_to_uint8_norm`` in
#: ``generate_datasets/stylegan/generate_dataset.py`` of mbaradad/learning_with_noise
#: (e.g. red mean ~ N(0.483, 0.145), red sd ~ N(0.219, 0.063)).
COLOUR_MEAN = ((0.483, 0.145), (0.455, 0.142), (0.401, 0.161))
COLOUR_STD = ((0.219, 0.063), (0.213, 0.062), (0.213, 0.069))


def paper_colour_norm(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Float ``(3, H, W)`` -> uint8 ``(H, W, 3)`` with the paper's random colour statistics.

    Each channel is standardised, then given a mean and standard deviation drawn per image
    from the normals in :data:`COLOUR_MEAN` / :data:`COLOUR_STD` (a negative draw of the
    standard deviation, probability ~3e-4, inverts the channel, as in the reference), clipped
    to [0, 1] and scaled to 0..255.
    """
    out = np.empty(image.shape[1:] + (3,), dtype=np.uint8)
    for c in range(3):
        mean = rng.normal() * COLOUR_MEAN[c][1] + COLOUR_MEAN[c][0]
        std = rng.normal() * COLOUR_STD[c][1] + COLOUR_STD[c][0]
        x = image[c].astype(np.float64)
        x = (x - x.mean()) / (x.std() + 1e-12)
        # truncation, not rounding, as the reference's astype('uint8')
        out[..., c] = (np.clip(x * std + mean, 0.0, 1.0) * 255.0).astype(np.uint8)
    return out


def next_power_of_two(size: int) -> int:
    """Smallest power of two >= ``size`` (StyleGAN resolutions are powers of two)."""
    return 1 << max(2, int(size - 1).bit_length())


def centre_crop(image: np.ndarray, size: int) -> np.ndarray:
    """Central ``size x size`` window of an ``(H, W, ...)`` array."""
    top = (image.shape[0] - size) // 2
    left = (image.shape[1] - size) // 2
    return image[top:top + size, left:left + size]
