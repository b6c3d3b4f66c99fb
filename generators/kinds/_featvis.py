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

    ``spectrum (3, size, size//2+1, 2)`` real/imaginary; returns ``(1, 3, size, size)``.
    """
    torch = import_torch()
    complex_spectrum = torch.view_as_complex(spectrum * scale[None, :, :, None])
    image = torch.fft.irfft2(complex_spectrum, s=(size, size), norm="ortho") / MAGIC
    image = torch.einsum("chw,dc->dhw", image, decorrelate)
    return torch.sigmoid(image)[None]


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


def optimise(model, units: list[int], start_spectrum: np.ndarray, rng: np.random.Generator,
             size: int, steps: int, net_size: int, learning_rate: float,
             device: str) -> np.ndarray:
    """Gradient ascent on the mean of ``units`` of the pooled features; ``(size, size, 3)``
    float image in (0, 1)."""
    torch = import_torch()
    spectrum = tensor(start_spectrum, device).requires_grad_(True)
    scale = tensor(spectrum_scale(size), device)
    decorrelate = tensor(COLOR_DECORRELATE, device)
    mean = torch.tensor(IMAGENET_MEAN, device=device)[None, :, None, None]
    std = torch.tensor(IMAGENET_STD, device=device)[None, :, None, None]
    optimiser = torch.optim.Adam([spectrum], lr=learning_rate)
    index = torch.tensor(units, device=device)
    for _ in range(steps):
        optimiser.zero_grad()
        image = spectrum_to_image(spectrum, scale, size, decorrelate)
        padded = torch.nn.functional.pad(image, [PAD] * 4, value=0.5)
        grid = random_warp(rng, size, net_size, device)
        warped = torch.nn.functional.grid_sample(padded, grid, mode="bilinear",
                                                 padding_mode="border", align_corners=False)
        features = model(((warped - mean) / std).contiguous(memory_format=torch.channels_last))
        loss = -features[0, index].mean()
        loss.backward()
        optimiser.step()
    with torch.no_grad():
        final = spectrum_to_image(spectrum, scale, size, decorrelate)
    return final[0].permute(1, 2, 0).cpu().numpy()


def render_featvis(params, rng: np.random.Generator, size: int, class_params: dict,
                   context: NeuralContext | None, start_image: np.ndarray | None = None):
    """``(size x size x 3 uint8, info)``. ``start_image`` (float (size, size, 3) in (0, 1))
    replaces lucent's random spectrum initialisation when given."""
    torch = import_torch()
    context = ensure_context(context)
    key = ("featvis", params.network, params.network_seed)
    model = context.cached(key, lambda: build_network(params.network, params.network_seed,
                                                      context.device))
    units = [int(u) for u in class_params["units"]]
    if start_image is None:
        shape = (3, size, size // 2 + 1, 2)
        start = (rng.standard_normal(shape) * INIT_SD).astype(np.float32)
    else:
        start = image_to_spectrum(start_image.astype(np.float64), size)
    with torch.enable_grad():
        image = optimise(model, units, start, rng, size, params.steps, params.net_size,
                         params.learning_rate, context.device)
    return (np.clip(image, 0.0, 1.0) * 255.0).astype(np.uint8), {"units": units}


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
    units_per_class: int = param(
        2, "distinct units maximised together; paper: pairs for 98 % of its images", low=1,
        high=16)
    network_seed: int = param(
        0, "seed of the dataset's one random network", low=0, high=2**63 - 1)

    def __post_init__(self):
        check_fields(self)
