"""StyleGAN-High-freq (Baradad et al., NeurIPS 2021, dataset "StyleGAN High-freq").

StyleGAN2 whose 3x3 filters are re-drawn for every image from a dictionary of 40 binarised
3x3 "wavelets" (16 step edges at 22.5 deg steps, 8 lines and 4 point/centre-surround filters
with their negatives), one per input channel, scaled by ``N(0, 1)`` per output channel;
Gaussian to-RGB weights re-drawn per image; ``1/f^alpha`` noise maps (``alpha ~ U(0.5, 1.5)``)
added with strength ``U(0, 0.3)`` in every layer. The small filters and the noise put much
more power at high spatial frequencies than StyleGAN-Random. Reference: ``generate_dataset.py
--network_type random`` with ``network_randomized.py`` in mbaradad/learning_with_noise.
Details and sources: :mod:`generators.kinds._stylegan`.
"""

from __future__ import annotations

import numpy as np

from generators.kinds._neural import DEVICES, INSTALL_HINT, make_neural_context
from generators.kinds._stylegan import (Variant, WaveletStyleGANParams, render_stylegan,
                                        render_stylegan_batch, sample_network_class)
from generators.registry import Kind, register

VARIANT = Variant(filters="wavelets-binary", noise="pink", bias_range=0.0)


def render_stylegan_highfreq(params: WaveletStyleGANParams, rng: np.random.Generator,
                             size: int, class_params: dict, context=None):
    """``(size x size x 3 uint8, info)``: one image with freshly drawn wavelet filters."""
    return render_stylegan(VARIANT, params, rng, size, class_params, context)


def render_stylegan_highfreq_batch(params, rngs: list, size: int, class_params_list: list[dict],
                                   context=None):
    """``[(size x size x 3 uint8, info), ...]``: a batch in one forward pass."""
    return render_stylegan_batch(VARIANT, params, rngs, size, class_params_list, context)


register(Kind(name="stylegan-highfreq", params_type=WaveletStyleGANParams,
              render=render_stylegan_highfreq,
              summary="random StyleGAN2 with wavelet filters and 1/f noise maps "
                      "(Baradad et al. 2021)",
              channels=3, sample_class=sample_network_class, make_context=make_neural_context,
              requires=("torch",), install_hint=INSTALL_HINT,
              render_batch=render_stylegan_highfreq_batch, devices=DEVICES))
