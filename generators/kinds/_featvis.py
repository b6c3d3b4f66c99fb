"""Feature visualisations of a random CNN (Baradad et al., NeurIPS 2021, "Feature vis." datasets).

Shared by ``featvis-random`` and ``featvis-deadleaves``. An image is optimised by gradient
ascent so that it maximally excites one unit (or a pair of units) of a convolutional network's
pooled features. Sources: ``generate_datasets/feature_visualizations/generate_dataset.py`` and
its copy of lucent (``vis/grad_ascent/lucent/{render,transform,objectives}.py``) in
mbaradad/learning_with_noise; lucent/lucid for the image parameterisation.

The paper's settings (reproduced by ``network=resnet50 steps=128 net_size=256
learning_rate=0.05``; the defaults are cheaper, see :class:`FeatVisParams` and
docs/neural-kinds.md):

* network: torchvision ResNet-50 with its default random initialisation, eval mode (batch
  norm with running mean 0 / variance 1); objective: the mean over the batch of the selected
  channels of ``avgpool`` (2,048 units); image ``i`` maximises unit ``i`` for the first 2,048
  images and then pairs ``(i, j)``, ``i < j``, in order (``generate_sorted_k_of_n``), so 98 %
  of the 105,000 objectives are pairs of units;
* parameterisation (lucent ``param.image(256, fft=True, sd=0.01)``): a real/imaginary
  spectrum initialised ``N(0, 0.01^2)``, scaled by ``1 / max(f, 1/size)`` (``decay_power=1``),
  inverse real FFT (``norm='ortho'``), divided by lucent's "magic" 4.0, colour-decorrelated
  with lucid's ``color_correlation_svd_sqrt`` (normalised by its largest column norm), sigmoid;
* optimiser Adam, learning rate 0.05, 128 steps (``--n-iters 128``);
* transforms per step (lucent ``standard_transforms``): pad 12 px with 0.5, jitter by 0..7 px,
  scale by one of ``1 + (i - 5) / 50`` (0.9 .. 1.1), rotate by one of -10..10 degrees (0 five
  extra times), jitter by 0..3 px; then ImageNet normalisation (mean 0.485/0.456/0.406, sd
  0.229/0.224/0.225) and bilinear resizing to the network input size (256).

Here the four geometric transforms are composed into one affine warp (``grid_sample``,
bilinear, border value 0.5 from the padding), and the random choices come from the sample's
numpy stream. The result is the sigmoid image after the last step, as uint8 RGB.

The network is one random network for the whole dataset (seeded by ``network_seed``, as the
paper uses one random ResNet-50); a class is one objective: ``units_per_class`` distinct
units drawn from the class's random stream (default 2, the paper's common case).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from generators.params import check_fields, param
from generators.kinds._neural import NeuralContext, ensure_context, import_torch, tensor

#: lucid's square root of the ImageNet colour covariance (``color_correlation_svd_sqrt``).
COLOR_SQRT = np.array([[0.26, 0.09, 0.02],
                       [0.27, 0.00, -0.05],
                       [0.27, -0.09, 0.03]], dtype=np.float32)
COLOR_DECORRELATE = COLOR_SQRT / np.max(np.linalg.norm(COLOR_SQRT, axis=0))
#: lucent's ``fft_image``: the image is divided by this constant ("reduces saturation").
MAGIC = 4.0
#: ImageNet normalisation of torchvision models.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
#: lucent standard transforms (see module docstring).
PAD = 12
JITTER_1, JITTER_2 = 8, 4
SCALES = tuple(1 + (i - 5) / 50.0 for i in range(11))
ANGLES = tuple(range(-10, 11)) + (0,) * 5
#: Adam learning rate (the paper's; default of ``learning_rate`` differs) and spectrum
#: initialisation of lucent's ``render_vis``.
PAPER_LEARNING_RATE = 0.05
INIT_SD = 0.01
#: Widths of the pooled features of the supported networks (units a class may select).
FEATURES = {"resnet18": 512, "resnet50": 2048}


def build_network(name: str, seed: int, device: str):
    """A torchvision ResNet with its default random initialisation from ``seed`` (eval mode,
    gradients off for the weights); the classifier is dropped (features are the avgpool)."""
    torch = import_torch()
    import torchvision

    with torch.random.fork_rng(devices=[]):                   # leave the global RNG alone
        torch.manual_seed(seed)
        model = getattr(torchvision.models, name)(weights=None)
    model.fc = torch.nn.Identity()
    # channels-last lets oneDNN run the convolutions (about 2x faster on CPU than the
    # default layout, which falls back to im2col for this small batch)
    model.eval().to(device, memory_format=torch.channels_last)
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def spectrum_scale(size: int):
    """``1 / max(f, 1/size)`` on the rfft2 grid (lucent ``decay_power=1``)."""
    fy = np.fft.fftfreq(size)[:, None]
    fx = np.fft.rfftfreq(size)[None, :]
    return (1.0 / np.maximum(np.hypot(fy, fx), 1.0 / size)).astype(np.float32)


def spectrum_to_image(spectrum, scale, size: int, decorrelate):
    """Lucent's image function: scaled spectrum -> ortho irfft / 4 -> colour mixing -> sigmoid.

    ``spectrum (B, 3, size, size//2+1, 2)`` real/imaginary; returns ``(B, 3, size, size)``.
    """
    torch = import_torch()
    complex_spectrum = torch.view_as_complex(spectrum * scale[:, :, None])
    image = torch.fft.irfft2(complex_spectrum, s=(size, size), norm="ortho") / MAGIC
    # colour mixing as three multiply-adds (an einsum/bmm with K=3 is 5-10x slower on CPU)
    mixed = torch.stack([sum(image[:, c] * decorrelate[d, c] for c in range(3))
                         for d in range(3)], dim=1)
    return torch.sigmoid(mixed)


def image_to_spectrum(image: np.ndarray, size: int) -> np.ndarray:
    """Inverse of :func:`spectrum_to_image` for an image in (0, 1): the starting spectrum
    that reproduces ``image (size, size, 3)`` exactly."""
    logits = np.log(image) - np.log1p(-image)                  # inverse sigmoid
    mixed = logits.reshape(-1, 3) @ np.linalg.inv(COLOR_DECORRELATE.T.astype(np.float64))
    spatial = mixed.reshape(size, size, 3).transpose(2, 0, 1) * MAGIC
    spectrum = np.fft.rfft2(spatial, norm="ortho") / spectrum_scale(size)[None]
    return np.stack([spectrum.real, spectrum.imag], axis=-1).astype(np.float32)


def random_warp(rng: np.random.Generator, size: int, out_size: int, device: str):
    """One draw of lucent's standard transforms as an affine sampling grid.

    Pad by 12, translate by U{0..7}, scale, rotate, translate by U{0..3} (pixels of the padded
    image), resample to ``out_size`` - in ``grid_sample``'s normalised coordinates.
    """
    torch = import_torch()
    padded = size + 2 * PAD
    shift = rng.integers(0, JITTER_1, 2) + rng.integers(0, JITTER_2, 2)
    scale = SCALES[rng.integers(len(SCALES))]
    angle = math.radians(ANGLES[rng.integers(len(ANGLES))])
    cos, sin = math.cos(angle) / scale, math.sin(angle) / scale
    tx, ty = -2.0 * shift / padded                              # output pixel -> input pixel
    theta = torch.tensor([[cos, -sin, tx], [sin, cos, ty]], dtype=torch.float32)[None]
    return torch.nn.functional.affine_grid(theta, [1, 3, out_size, out_size],
                                           align_corners=False).to(device)


def unit_weights(units: list[list[int]], num_features: int) -> np.ndarray:
    """``(B, num_features)``: ``1 / len(units[b])`` at the units of image ``b``, else 0, so
    ``(features * weights).sum(1)`` is each image's mean over its units."""
    weights = np.zeros((len(units), num_features), dtype=np.float32)
    for b, selected in enumerate(units):
        weights[b, selected] = 1.0 / len(selected)
    return weights


def optimise(model, weights: np.ndarray, start_spectra: np.ndarray, rngs: list, size: int,
             steps: int, net_size: int, learning_rate: float, device: str) -> np.ndarray:
    """Gradient ascent of a batch: image ``b`` maximises its weighted pooled features
    ``weights[b]`` (:func:`unit_weights`), with its own warps drawn from ``rngs[b]``.
    Returns ``(B, size, size, 3)`` float images in (0, 1).

    The batch's loss is the sum of the images' losses, so each image's gradient is its own
    (the network is in eval mode: no statistic crosses the batch), and Adam updates every
    element from its own gradient: the images are optimised independently, in one pass.

    On the CPU only the network sees the batch as one tensor: each image's spectrum is its
    own leaf tensor and its parameterisation (FFT, colour, sigmoid, warp; all at ``size``)
    runs image by image - measured, the batched form of these memory-bound steps was about
    twice as slow per image (a batch of 256 px spectra and images overflows the caches), and
    per-image leaves spare the backward pass a full-size gradient per slice. On a GPU the
    whole batch is one leaf (few large kernels).
    """
    torch = import_torch()
    chunk = 1 if device == "cpu" else max(1, len(start_spectra))
    spectra = [tensor(start_spectra[i:i + chunk], device).requires_grad_(True)
               for i in range(0, len(start_spectra), chunk)]
    weights = tensor(weights, device)
    constants = _constants(size, device)
    # the fused kernel updates each element from its own gradient, as the plain one does,
    # in one pass over the parameters instead of about ten
    optimiser = torch.optim.Adam(spectra, lr=learning_rate,
                                 fused=device in ("cpu", "cuda"))
    for _ in range(steps):
        optimiser.zero_grad()
        batch_loss(model, spectra, weights, rngs, size, net_size, device,
                   constants).backward()
        optimiser.step()
    with torch.no_grad():
        final = [spectrum_to_image(spectrum, constants["scale"], size, constants["decorrelate"])
                 for spectrum in spectra]
    return torch.cat(final).permute(0, 2, 3, 1).cpu().numpy()


def _constants(size: int, device: str) -> dict:
    """Tensors every step uses (built once per batch, not once per step)."""
    torch = import_torch()
    return {"scale": tensor(spectrum_scale(size), device),
            "decorrelate": tensor(COLOR_DECORRELATE, device),
            "mean": torch.tensor(IMAGENET_MEAN, device=device)[None, :, None, None],
            "std": torch.tensor(IMAGENET_STD, device=device)[None, :, None, None]}


def batch_loss(model, spectra: list, weights, rngs: list, size: int, net_size: int,
               device: str, constants: dict | None = None):
    """One step's loss: minus the sum over the batch of each image's weighted pooled features,
    each image seen through its own random warp (drawn from ``rngs[b]``, in batch order).
    ``spectra``: the batch's spectra in order, as consecutive chunks ``(k, 3, size,
    size//2+1, 2)`` (one image per chunk on the CPU, see :func:`optimise`)."""
    torch = import_torch()
    constants = constants or _constants(size, device)
    warped, first = [], 0
    for spectrum in spectra:
        count = spectrum.shape[0]
        image = spectrum_to_image(spectrum, constants["scale"], size, constants["decorrelate"])
        padded = torch.nn.functional.pad(image, [PAD] * 4, value=0.5)
        grid = torch.cat([random_warp(rng, size, net_size, device)
                          for rng in rngs[first:first + count]])
        warped.append(torch.nn.functional.grid_sample(
            padded, grid, mode="bilinear", padding_mode="border", align_corners=False))
        first += count
    batch = warped[0] if len(warped) == 1 else torch.cat(warped)
    normalised = (batch - constants["mean"]) / constants["std"]
    features = model(normalised.contiguous(memory_format=torch.channels_last))
    return -(features * weights).sum()


def random_start(rng: np.random.Generator, size: int) -> np.ndarray:
    """Lucent's random spectrum initialisation ``N(0, 0.01^2)``, ``(3, size, size//2+1, 2)``."""
    return (rng.standard_normal((3, size, size // 2 + 1, 2)) * INIT_SD).astype(np.float32)


def render_featvis_batch(params, rngs: list, size: int, class_params_list: list[dict],
                         context: NeuralContext | None, start_images: list | None = None
                         ) -> list:
    """``[(size x size x 3 uint8, info), ...]`` optimised together in one batch.
    ``start_images`` (float (size, size, 3) in (0, 1), one per sample) replace lucent's random
    spectrum initialisation when given."""
    torch = import_torch()
    context = ensure_context(context)
    key = ("featvis", params.network, params.network_seed)
    model = context.cached(key, lambda: build_network(params.network, params.network_seed,
                                                      context.device))
    units = [[int(u) for u in class_params["units"]] for class_params in class_params_list]
    if start_images is None:
        starts = np.stack([random_start(rng, size) for rng in rngs])
    else:
        starts = np.stack([image_to_spectrum(image.astype(np.float64), size)
                           for image in start_images])
    with torch.enable_grad():
        images = optimise(model, unit_weights(units, FEATURES[params.network]), starts, rngs,
                          size, params.steps, params.net_size, params.learning_rate,
                          context.device)
    return [((np.clip(image, 0.0, 1.0) * 255.0).astype(np.uint8), {"units": selected})
            for image, selected in zip(images, units)]


def render_featvis(params, rng: np.random.Generator, size: int, class_params: dict,
                   context: NeuralContext | None, start_image: np.ndarray | None = None):
    """``(size x size x 3 uint8, info)``: one sample (a batch of one)."""
    return render_featvis_batch(params, [rng], size, [class_params], context,
                                None if start_image is None else [start_image])[0]


def sample_unit_class(params, rng: np.random.Generator) -> dict:
    """Class parameters: the units (channels of the pooled features) the class maximises.

    The paper enumerates objectives (every unit alone, then pairs) and renders each once; of
    its 105,000 images 2,048 use one unit and the rest a pair. Class parameters here come from
    the class's random stream only, so a class draws ``units_per_class`` distinct units.
    """
    num_units = FEATURES[params.network]
    units = np.sort(rng.choice(num_units, size=params.units_per_class, replace=False))
    return {"units": [int(u) for u in units]}


@dataclass(frozen=True)
class FeatVisParams:
    """Dataset-level parameters of the ``featvis-*`` kinds (paper values in each help text)."""

    num_classes: int = param(
        105_000, "objectives (classes); the paper renders 105,000 images, each maximising its "
                 "own unit or pair of units", low=1, high=100_000_000)
    network: str = param(
        "resnet18", "random torchvision network; paper resnet50 (about 4x the cost)",
        choices=tuple(FEATURES))
    steps: int = param(16, "Adam steps per image; paper 128", low=1, high=4096)
    net_size: int = param(
        64, "network input resolution (the image is resampled to it each step); paper 256",
        low=32, high=1024)
    learning_rate: float = param(
        0.3, "Adam learning rate; paper 0.05 with 128 steps (default 6x, so that 16 steps "
             "reach about the paper's contrast)", low=1e-4, high=10.0)
    batch_size: int = param(
        16, "images optimised together (consecutive samples of a shard; part of what fixes "
            "the bytes, see docs/neural-kinds.md)", low=1, high=1024)
    units_per_class: int = param(
        2, "distinct units maximised together; paper: pairs for 98 % of its images", low=1,
        high=16)
    network_seed: int = param(
        0, "seed of the dataset's one random network", low=0, high=2**63 - 1)

    def __post_init__(self):
        check_fields(self)
