"""Randomly initialised StyleGAN2 generators (Baradad et al., NeurIPS 2021, datasets "StyleGAN").

Shared by the ``stylegan-*`` kinds. Sources of every number: the paper's code
(mbaradad/learning_with_noise, ``generate_datasets/stylegan/generate_dataset.py`` and its
copies of NVlabs/stylegan2-ada-pytorch ``training/networks.py`` (StyleGAN-Random),
``network_randomized.py`` (High-freq) and ``network_randomized_v3.py`` (Sparse, Oriented)).
The code here is a fresh, compact re-implementation of the *generation* path only.

The synthesis network (StyleGAN2, "skip" architecture, Karras et al. 2020):

* a constant ``C x 4 x 4`` input (``randn``), then one block per resolution 4, 8, ..., R;
  each block above 4 has an up-sampling modulated 3x3 convolution and a plain one, and a
  1x1 "to RGB" layer whose output is added to the up-sampled image of the previous block;
* channels per resolution ``min(channel_base // res, channel_max)`` (paper: 32768, 512; the
  default of ``stylegan-random`` is a quarter of that for CPU speed, the wavelet variants
  default to the paper's widths);
* modulated convolution: styles ``s = A w + 1`` (affine ``A ~ N(0, 1/w_dim)``, bias 1),
  weights ``W * s`` demodulated per output channel (``rsqrt(sum W^2 + 1e-8)``); up-sampling
  is a stride-2 transposed convolution followed by the ``[1, 3, 3, 1]`` FIR low-pass;
  to-RGB layers are not demodulated and use ``s / sqrt(C_in)``;
* after each convolution: ``+ noise``, ``+ bias``, ReLU with gain ``sqrt(2)`` (the paper's
  ``activation='relu'``);
* latents: ``w ~ LeakyReLU_0.2(N(0, I_512))`` drawn independently for each of the
  ``num_ws`` style inputs. The paper's script feeds these straight into the synthesis
  network (the mapping network is not used); ``mapping_layers > 0`` inserts a random
  StyleGAN2 mapping MLP instead (one ``w`` broadcast to every layer, as in StyleGAN2).

Variants (:class:`Variant`), as the paper's script configures them:

* **random** (``--network_type original``): StyleGAN2's own initialisation - Gaussian 3x3
  and 1x1 weights fixed per network, zero biases, and noise strength 0 (StyleGAN2 initialises
  the learned noise strength to zero, so a random network adds no noise).
* **highfreq** (``--network_type random``): every forward pass draws new 3x3 filters from a
  dictionary of 40 small "wavelets" (16 step edges at 22.5 deg steps, 8 line filters and their
  negatives, 4 point/centre-surround filters and their negatives, all ``sign()``-binarised);
  one dictionary filter per *input* channel, times ``N(0, 1)`` per *output* channel; new
  Gaussian to-RGB weights per pass; noise maps ``1/f^alpha`` with ``alpha ~ U(0.5, 1.5)`` and
  strength ``U(0, 0.3)`` per layer and image.
* **sparse** (``--network_type sparse_new --bias_range 0.2 --random_configuration chin-chout``):
  a 40-filter dictionary (8 step edges and 8 lines at 22.5 deg steps, mean-free, not
  binarised, 4 point filters, and all their negatives); per pass and layer a random subset of
  ``n ~ U{5..40}`` filters is used; biases ``U(-0.2, 0.2)`` per channel and pass (with the ReLU
  they switch channels off: sparse activations); noise maps are ``1/f^alpha`` noise times a
  Laplacian envelope (a 4x4 Laplace(0, 1) field up-sampled to the map), normalised to sd 1.
* **oriented**: sparse plus ``--same_noise_map``: one envelope noise map (at twice the image
  resolution, the paper's 512 for 256) area-downsampled to every layer, so the same structure
  drives all scales.

Deliberate differences from the reference (each keeps the published distribution):

* the reference keeps a bank of 100 noise maps per layer per network and picks one per image;
  here every image draws fresh maps (the limit of a large bank);
* the reference re-draws filters once per batch of 2 images; here once per image;
* networks: the reference builds a new network every 400 images (``BS * 200``); here a network
  is a *class* (``num_classes`` networks, default 263 = 105,000 / 400 rounded up), and
  instances of a class share its fixed weights;
* the envelope is up-sampled bicubically (reference: PIL Lanczos); filter dictionaries are
  built with PIL's bilinear rotation as in the reference;
* wavelet layers are evaluated in factorised form: with one filter per input channel and one
  scalar per output channel the weight tensor is rank one, and after demodulation every output
  channel is ``sign(g_o)`` times the same map. Computing that map once is mathematically the
  same convolution and makes the paper's full widths cheap on a CPU.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from generators.params import check_fields, param
from generators.kinds._neural import (NeuralContext, centre_crop, ensure_context, import_torch,
                                      next_power_of_two, paper_colour_norm, tensor)

#: Latent (W) dimensionality of StyleGAN2 and of the paper (``w_dim=512``).
W_DIM = 512
#: Leaky-ReLU slope applied to the Gaussian latents by the paper's script (``nn.LeakyReLU(0.2)``).
W_SLOPE = 0.2
#: ReLU gain of StyleGAN2's ``bias_act`` for 'relu' (``def_gain = sqrt(2)``).
ACT_GAIN = math.sqrt(2.0)
#: StyleGAN2's resampling filter.
FIR = (1.0, 3.0, 3.0, 1.0)


@dataclass(frozen=True)
class Variant:
    """How one StyleGAN kind randomises its network (see the module docstring)."""

    filters: str            # "gaussian" | "wavelets-binary" | "wavelets-subset"
    noise: str              # "none" | "pink" | "pink-envelope" | "shared"
    bias_range: float       # biases U(-b, b) per pass; 0 = zero biases
    noise_max: float = 0.3  # noise strength U(0, noise_max) per layer and image
    alpha_min: float = 0.5  # pink-noise exponent U(alpha_min, alpha_max)
    alpha_max: float = 1.5


@dataclass(frozen=True)
class StyleGANParams:
    """Dataset-level parameters shared by the four ``stylegan-*`` kinds."""

    num_classes: int = param(
        263, "random networks (classes); the paper's script builds a new network every 400 "
             "images, 105,000 / 400 = 263 for the small-scale dataset", low=1, high=10_000_000)
    channel_base: int = param(
        8192, "channels at resolution r are min(channel_base // r, channel_max); paper 32768 "
              "(default a quarter of it: CPU speed, see docs/neural-kinds.md)", low=64, high=65536)
    channel_max: int = param(
        128, "most channels of any layer; paper 512 (default a quarter)", low=1, high=1024)
    mapping_layers: int = param(
        0, "random StyleGAN2 mapping layers; 0 = the paper's script, which feeds "
           "w = LeakyReLU_0.2(N(0, I)) per layer straight into the synthesis network",
        low=0, high=8)
    batch_size: int = param(
        8, "images per forward pass (consecutive samples of a shard; part of what fixes "
           "the bytes, see docs/neural-kinds.md)", low=1, high=256)

    def __post_init__(self):
        check_fields(self)


@dataclass(frozen=True)
class WaveletStyleGANParams(StyleGANParams):
    """Parameters of the wavelet variants (highfreq, sparse, oriented): the paper's widths by
    default, affordable because their convolutions are evaluated in factorised form."""

    channel_base: int = param(
        32768, "channels at resolution r are min(channel_base // r, channel_max); paper 32768",
        low=64, high=65536)
    channel_max: int = param(512, "most channels of any layer; paper 512", low=1, high=1024)


def channels_per_resolution(resolution: int, channel_base: int, channel_max: int) -> dict[int, int]:
    """``{res: min(channel_base // res, channel_max)}`` for res = 4 .. resolution (at least 1)."""
    out, res = {}, 4
    while res <= resolution:
        out[res] = max(1, min(channel_base // res, channel_max))
        res *= 2
    return out


def layer_plan(resolution: int, channel_base: int, channel_max: int):
    """Convolutions ``(c_in, c_out, up, res, w_index)`` and to-RGB layers ``(c_in, res, w_index)``.

    The style indices follow StyleGAN2: block ``res`` reads ``ws[i : i + convs + 1]`` and ``i``
    advances by its number of convolutions, so a block's to-RGB layer shares its ``w`` with the
    next block's first convolution. Returns ``(convs, torgbs, num_ws)``.
    """
    channels = channels_per_resolution(resolution, channel_base, channel_max)
    convs, torgbs, w_index = [], [], 0
    for res, c_out in channels.items():
        if res == 4:
            convs.append((c_out, c_out, 1, res, w_index))
            torgbs.append((c_out, res, w_index + 1))
            w_index += 1
        else:
            c_in = channels[res // 2]
            convs.append((c_in, c_out, 2, res, w_index))
            convs.append((c_out, c_out, 1, res, w_index + 1))
            torgbs.append((c_out, res, w_index + 2))
            w_index += 2
    return convs, torgbs, w_index + 1


def _rotated_crop(pattern: np.ndarray, degrees: float) -> np.ndarray:
    """PIL bilinear rotation of an 11x11 pattern, central 3x3 crop (the reference's recipe)."""
    from PIL import Image

    rotated = np.asarray(Image.fromarray(pattern.astype(np.float32), mode="F")
                         .rotate(degrees, resample=Image.BILINEAR), dtype=np.float64)
    return rotated[4:7, 4:7].copy()


def _point_filters() -> list[np.ndarray]:
    z1 = np.zeros((3, 3)); z1[1, 1] = 1.0                       # a single point
    z2 = -np.ones((3, 3)); z2[1, 1] = 1.0                       # centre-surround
    z3 = np.ones((3, 3)); z3[::2, ::2] = 0.0                    # plus sign
    z4 = np.sign(z3 - 0.5)                                      # plus sign on -1
    return [z1, z2, z3, z4]


def wavelet_bank(kind: str) -> np.ndarray:
    """The 40 3x3 filters of ``network_randomized.py`` ("binary") or ``_v3.py`` ("subset")."""
    edge = np.ones((11, 11)); edge[:, 5] = 0.0; edge[:, 6:] = -1.0
    line = np.ones((11, 11)); line[:, 5] = -1.0
    bank = []
    if kind == "wavelets-binary":
        for i in range(16):                                     # 16 edges over 360 deg
            f = _rotated_crop(edge, i * 360.0 / 16)
            bank.append(np.sign(f - f.mean()))
        for i in range(8):                                      # 8 lines over 180 deg, +-
            f = np.sign(_rotated_crop(line, i * 180.0 / 8))
            bank += [f, -f]
        for f in _point_filters():
            bank += [f, -f]
    elif kind == "wavelets-subset":
        for pattern in (edge, line):                            # 8 + 8 over 180 deg
            for i in range(8):
                f = _rotated_crop(pattern, i * 180.0 / 8)
                bank.append(f - f.mean())
        bank += _point_filters()
        bank += [-f for f in bank]
    else:
        raise ValueError(f"unknown filter dictionary {kind!r}")
    return np.stack(bank).astype(np.float32)


def build_network(variant: Variant, network_seed: int, resolution: int, channel_base: int,
                  channel_max: int, mapping_layers: int, device: str) -> dict:
    """The fixed (per class) tensors of one random network, drawn from ``network_seed``."""
    rng = np.random.default_rng(network_seed)
    convs, torgbs, num_ws = layer_plan(resolution, channel_base, channel_max)
    c4 = convs[0][0]
    net = {
        "convs": convs, "torgbs": torgbs, "num_ws": num_ws,
        "const": tensor(rng.standard_normal((1, c4, 4, 4), dtype=np.float32), device),
        "mapping": [tensor(rng.standard_normal((W_DIM, W_DIM), dtype=np.float32) / math.sqrt(W_DIM),
                           device) for _ in range(mapping_layers)],
        "conv_affine": [], "conv_weight": [], "rgb_affine": [], "rgb_weight": [],
    }
    for c_in, c_out, _up, _res, _w in convs:
        net["conv_affine"].append(tensor(rng.standard_normal((W_DIM, c_in), dtype=np.float32)
                                         / math.sqrt(W_DIM), device))
        if variant.filters == "gaussian":
            net["conv_weight"].append(tensor(rng.standard_normal((c_out, c_in, 3, 3),
                                                                 dtype=np.float32), device))
    for c_in, _res, _w in torgbs:
        net["rgb_affine"].append(tensor(rng.standard_normal((W_DIM, c_in), dtype=np.float32)
                                        / math.sqrt(W_DIM), device))
        if variant.filters == "gaussian":
            net["rgb_weight"].append(tensor(rng.standard_normal((3, c_in), dtype=np.float32),
                                            device))
    if variant.filters != "gaussian":
        net["bank"] = tensor(wavelet_bank(variant.filters), device)
    return net


def pink_noise(rng: np.random.Generator, size: int, alpha: float, envelope: bool) -> np.ndarray:
    """``1/f^alpha`` noise with standard deviation 1, optionally times a Laplacian envelope.

    As the reference: fixed magnitude ``1/r^alpha`` (radial frequency ``r`` scaled so that
    Nyquist is 1), uniform random phase, no DC. One real inverse FFT of the half spectrum
    (``irfft2`` keeps the real part of the self-conjugate bins, so the result is real).
    """
    import scipy.fft

    fy = np.fft.fftfreq(size).astype(np.float32) * 2.0
    fx = np.fft.rfftfreq(size).astype(np.float32) * 2.0
    radius = np.hypot(fy[:, None], fx[None, :])
    radius[0, 0] = 1.0
    magnitude = radius ** np.float32(-alpha)
    magnitude[0, 0] = 0.0
    phase = rng.uniform(0.0, 2.0 * np.pi, magnitude.shape).astype(np.float32)
    noise = scipy.fft.irfft2(magnitude * np.exp(1j * phase).astype(np.complex64), s=(size, size))
    noise -= noise.mean()
    if envelope:
        noise *= laplace_envelope(rng, size)
    return (noise / (noise.std() + 1e-12)).astype(np.float32)


def laplace_envelope(rng: np.random.Generator, size: int) -> np.ndarray:
    """A 4x4 Laplace(0, 1) field up-sampled (bicubic) to ``size x size``."""
    torch = import_torch()
    coarse = torch.from_numpy(rng.laplace(size=(1, 1, 4, 4)).astype(np.float32))
    fine = torch.nn.functional.interpolate(coarse, size=(size, size), mode="bicubic",
                                           align_corners=False)
    return fine[0, 0].numpy()


def _fir_kernel(device: str):
    torch = import_torch()
    f = torch.tensor(FIR, device=device)
    f = f[:, None] * f[None, :]
    return f / f.sum() * 4.0                                   # up-sampling gain up**2


def upsample_image(image, device: str):
    """StyleGAN2's ``upsample2d``: zero insertion and the FIR filter, ``(B, C, H, W) -> 2H``."""
    torch = import_torch()
    channels = image.shape[1]
    kernel = _fir_kernel(device)[None, None].repeat(channels, 1, 1, 1)
    return torch.nn.functional.conv_transpose2d(image, kernel, stride=2, padding=1,
                                                groups=channels)


def _blur(x, device: str):
    """FIR low-pass after a stride-2 transposed 3x3 convolution: ``2H+1 -> 2H``."""
    torch = import_torch()
    channels = x.shape[1]
    kernel = _fir_kernel(device)[None, None].repeat(channels, 1, 1, 1)
    return torch.nn.functional.conv2d(x, kernel, padding=1, groups=channels)


def _grouped_conv(x, weight, up: int, device: str, grouped: bool | None = None):
    """One 3x3 convolution per sample: ``x (B, C_in, H, W)``, ``weight (B, C_out, C_in, 3, 3)``.

    On a GPU as StyleGAN2's fused modulated convolution: the batch is folded into the
    channels and convolved with ``groups=B``. On the CPU grouped convolutions are 1.5-6x
    slower than plain ones (oneDNN), and a plain one over a sample already runs near the
    core's peak, so each sample is convolved alone: its numbers then do not depend on the
    rest of the batch. ``grouped`` overrides the choice (default: grouped off the CPU).
    ``up=2`` is a stride-2 transposed convolution and the FIR low-pass.
    """
    torch = import_torch()
    batch, c_in, height, width = x.shape
    c_out = weight.shape[1]
    if not (device != "cpu" if grouped is None else grouped):
        channels_last = torch.channels_last                  # oneDNN: 1.3-4x faster on CPU
        out = []
        for b in range(batch):
            xb = x[b:b + 1].contiguous(memory_format=channels_last)
            if up == 1:
                out.append(torch.nn.functional.conv2d(xb, weight[b], padding=1))
            else:
                w = weight[b].transpose(0, 1).contiguous(memory_format=channels_last)
                out.append(torch.nn.functional.conv_transpose2d(xb, w, stride=2))
        y = out[0] if batch == 1 else torch.cat(out)         # no copy for a batch of one
        return y if up == 1 else _blur(y, device)
    folded = x.reshape(1, batch * c_in, height, width)
    if up == 1:
        y = torch.nn.functional.conv2d(folded, weight.reshape(batch * c_out, c_in, 3, 3),
                                       padding=1, groups=batch)
    else:
        w = weight.transpose(1, 2).reshape(batch * c_in, c_out, 3, 3)
        y = _blur(torch.nn.functional.conv_transpose2d(folded, w, stride=2, groups=batch),
                  device)
    return y.reshape(batch, c_out, y.shape[2], y.shape[3])


def modulated_conv(x, weight, styles, up: int, device: str):
    """Demodulated 3x3 convolution of ``x (B, C_in, H, W)`` with per-sample weights
    ``weight (B, C_out, C_in, 3, 3)`` (or one ``(C_out, C_in, 3, 3)`` for all) and
    ``styles (B, C_in)``."""
    torch = import_torch()
    if weight.dim() == 4:
        weight = weight[None]
    w = weight * styles[:, None, :, None, None]
    w = w * torch.rsqrt(w.square().sum(dim=(2, 3, 4), keepdim=True) + 1e-8)
    return _grouped_conv(x, w, up, device)


def factorised_conv(x, filters, gains, styles, up: int, device: str):
    """The same demodulated convolution for the rank-one weights ``filters[b, i] * gains[b, o]``.

    ``filters (B, C_in, 3, 3)`` (one dictionary filter per input channel), ``gains (B, C_out)``,
    ``styles (B, C_in)``. Demodulation divides output channel ``o`` by
    ``|gains[o]| * ||filters * styles||``, so every output channel is ``sign(gains[o])`` times
    one map: computed once per sample, then broadcast.
    """
    torch = import_torch()
    w = filters * styles[:, :, None, None]                     # (B, C_in, 3, 3)
    norm = w.square().sum(dim=(1, 2, 3))[:, None]              # (B, 1)
    scale = gains * torch.rsqrt(gains.square() * norm + 1e-8)  # (B, C_out)
    y = _grouped_conv(x, w[:, None], up, device)               # (B, 1, H', W')
    return y * scale[:, :, None, None]                         # (B, C_out, H', W')


def draw_ws(rngs: list, nets: list[dict], device: str):
    """The ``num_ws`` style latents of every image, ``(B, num_ws, 512)``."""
    torch = import_torch()
    num_ws = nets[0]["num_ws"]
    if not nets[0]["mapping"]:
        w = np.stack([rng.standard_normal((num_ws, W_DIM), dtype=np.float32) for rng in rngs])
        return tensor(np.where(w >= 0, w, W_SLOPE * w), device)
    z = tensor(np.stack([rng.standard_normal(W_DIM, dtype=np.float32) for rng in rngs]), device)
    x = z * torch.rsqrt(z.square().mean(dim=1, keepdim=True) + 1e-8)  # normalize_2nd_moment
    for layer in range(len(nets[0]["mapping"])):
        weight = _stack(nets, lambda net: net["mapping"][layer])
        x = torch.nn.functional.leaky_relu(torch.einsum("bi,bio->bo", x, weight),
                                           W_SLOPE) * ACT_GAIN
    return x[:, None, :].expand(len(rngs), num_ws, W_DIM)


def _stack(nets: list[dict], get):
    """One tensor per sample stacked on a new first axis (a broadcast view when all the
    samples of the batch share one network)."""
    torch = import_torch()
    if all(net is nets[0] for net in nets):
        first = get(nets[0])
        return first[None].expand(len(nets), *first.shape)
    return torch.stack([get(net) for net in nets])


def synthesise(variant: Variant, nets: list[dict], rngs: list, resolution: int, device: str):
    """Images ``(B, 3, R, R)`` float32: sample ``b`` of network ``nets[b]`` with the draws of
    ``rngs[b]``. Each sample's stream is read in the same order whatever the batch."""
    torch = import_torch()
    ws = draw_ws(rngs, nets, device)
    shared = None
    if variant.noise == "shared":
        maps = []
        for rng in rngs:
            alpha = rng.uniform(variant.alpha_min, variant.alpha_max)
            maps.append(pink_noise(rng, 2 * resolution, alpha, envelope=True))
        shared = tensor(np.stack(maps), device)[:, None]
    convs = nets[0]["convs"]
    x = nets[0]["const"] if len(nets) == 1 else torch.cat([net["const"] for net in nets])
    image = None
    rgb_index = 0
    for index, (c_in, c_out, up, res, w_index) in enumerate(convs):
        styles = torch.einsum("bw,bwc->bc", ws[:, w_index],
                              _stack(nets, lambda net: net["conv_affine"][index])) + 1.0
        if variant.filters == "gaussian":
            x = modulated_conv(x, _stack(nets, lambda net: net["conv_weight"][index]), styles,
                               up, device)
        else:
            filters, gains = [], []
            for rng, net in zip(rngs, nets):
                filters.append(_draw_filters(rng, variant, net["bank"], c_in, device))
                gains.append(rng.standard_normal(c_out, dtype=np.float32))
            x = factorised_conv(x, torch.stack(filters), tensor(np.stack(gains), device),
                                styles, up, device)
        noise = _draw_noise(rngs, variant, res, shared, device)
        if noise is not None:
            x.add_(noise)
        if variant.bias_range > 0:
            bias = np.stack([rng.uniform(-variant.bias_range, variant.bias_range, c_out)
                             for rng in rngs]).astype(np.float32)
            x.add_(tensor(bias, device)[:, :, None, None])
        x = x.relu_().mul_(ACT_GAIN)                           # in place: these maps are big
        last_of_block = index + 1 == len(convs) or convs[index + 1][2] == 2
        if last_of_block:
            c_rgb, _res, w_rgb = nets[0]["torgbs"][rgb_index]
            affine = _stack(nets, lambda net: net["rgb_affine"][rgb_index])
            styles = (torch.einsum("bw,bwc->bc", ws[:, w_rgb], affine) + 1.0) / math.sqrt(c_rgb)
            if variant.filters == "gaussian":
                weight = _stack(nets, lambda net: net["rgb_weight"][rgb_index])
            else:
                weight = tensor(np.stack([rng.standard_normal((3, c_rgb), dtype=np.float32)
                                          for rng in rngs]), device)
            y = torch.einsum("boi,bihw->bohw", weight * styles[:, None, :], x)
            image = y if image is None else upsample_image(image, device) + y
            rgb_index += 1
    return image.detach().cpu().numpy()


def _draw_filters(rng, variant: Variant, bank, c_in: int, device: str):
    """One dictionary filter per input channel (``wavelets-subset``: from a random subset)."""
    n = bank.shape[0]
    if variant.filters == "wavelets-subset":
        subset = rng.permutation(n)[:rng.integers(5, n + 1)]   # reference: randint(5, n+1)
        choice = subset[rng.integers(0, len(subset), c_in)]
    else:
        choice = rng.integers(0, n, c_in)
    return bank[tensor(choice, "cpu").long().to(device)]


def _draw_noise(rngs: list, variant: Variant, res: int, shared, device: str):
    """Noise maps ``(B, 1, res, res)`` of one layer (``None`` without noise)."""
    if variant.noise == "none":
        return None
    strength = np.array([rng.uniform(0.0, variant.noise_max) for rng in rngs],
                        dtype=np.float32)
    if variant.noise == "shared":
        torch = import_torch()
        down = torch.nn.functional.interpolate(shared, size=(res, res), mode="area")
        return down * tensor(strength, device)[:, None, None, None]
    maps = []
    for rng, s in zip(rngs, strength):
        alpha = rng.uniform(variant.alpha_min, variant.alpha_max)
        maps.append(pink_noise(rng, res, alpha, envelope=variant.noise == "pink-envelope") * s)
    return tensor(np.stack(maps), device)[:, None]


def render_stylegan_batch(variant: Variant, params, rngs: list, size: int,
                          class_params_list: list[dict], context: NeuralContext | None) -> list:
    """``[(size x size x 3 uint8, info), ...]``: one image per ``(rng, class)`` pair, rendered
    as one batch (each sample with its class's network and its own draws)."""
    torch = import_torch()
    context = ensure_context(context)
    resolution = next_power_of_two(size)
    nets = []
    for class_params in class_params_list:
        seed = int(class_params["network_seed"])
        key = (variant, seed, resolution, params.channel_base, params.channel_max,
               params.mapping_layers)
        nets.append(context.cached(key, lambda: build_network(
            variant, seed, resolution, params.channel_base, params.channel_max,
            params.mapping_layers, context.device)))
    # A GPU gets the whole batch in one pass. On the CPU the convolutions of one sample
    # already run near the core's peak and a batch's activation maps overflow the caches, so
    # batches render sample by sample (measured 1.3-1.6x faster than one pass at 128-256 px,
    # docs/neural-kinds.md); each sample's bytes then do not depend on its batch.
    step = len(rngs) if context.device != "cpu" else 1
    out = []
    with torch.inference_mode():
        for first in range(0, len(rngs), step):
            raw = synthesise(variant, nets[first:first + step], rngs[first:first + step],
                             resolution, context.device)
            out += [(np.ascontiguousarray(centre_crop(paper_colour_norm(image, rng), size)),
                     {"resolution": resolution})
                    for image, rng in zip(raw, rngs[first:first + step])]
    return out


def render_stylegan(variant: Variant, params, rng: np.random.Generator, size: int,
                    class_params: dict, context: NeuralContext | None):
    """``(size x size x 3 uint8, info)``: one sample (a batch of one)."""
    return render_stylegan_batch(variant, params, [rng], size, [class_params], context)[0]


def sample_network_class(params, rng: np.random.Generator) -> dict:
    """Class parameters: the seed of the class's random network."""
    return {"network_seed": int(rng.integers(2**63))}
