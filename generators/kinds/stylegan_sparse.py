"""StyleGAN-Sparse (Baradad et al., NeurIPS 2021, dataset "StyleGAN Sparse").

StyleGAN2 whose 3x3 filters are re-drawn for every image and layer from a random subset
(``n ~ U{5..40}``) of 40 mean-free 3x3 filters (8 step edges and 8 lines at 22.5 deg steps, 4
point filters, and their negatives), one per input channel, scaled by ``N(0, 1)`` per output
channel; biases ``U(-0.2, 0.2)`` per channel before the ReLU switch many units off (sparse
activations); noise maps are ``1/f^alpha`` noise (``alpha ~ U(0.5, 1.5)``) times a Laplacian
envelope, strength ``U(0, 0.3)``. Reference: ``generate_dataset.py --network_type sparse_new
--bias_range 0.2 --random_configuration chin-chout`` with ``network_randomized_v3.py`` in
mbaradad/learning_with_noise. Details and sources: :mod:`generators.kinds._stylegan`.
"""

from __future__ import annotations

import numpy as np

from generators.kinds._neural import DEVICES, INSTALL_HINT, make_neural_context
from generators.kinds._stylegan import (Variant, WaveletStyleGANParams, render_stylegan,
                                        render_stylegan_batch, sample_network_class)
from generators.registry import Kind, register

VARIANT = Variant(filters="wavelets-subset", noise="pink-envelope", bias_range=0.2)


def render_stylegan_sparse(params: WaveletStyleGANParams, rng: np.random.Generator,
                           size: int, class_params: dict, context=None):
    """``(size x size x 3 uint8, info)``: one image with random biases and sparse noise."""
    return render_stylegan(VARIANT, params, rng, size, class_params, context)


def render_stylegan_sparse_batch(params, rngs: list, size: int, class_params_list: list[dict],
                                 context=None):
    """``[(size x size x 3 uint8, info), ...]``: a batch in one forward pass."""
    return render_stylegan_batch(VARIANT, params, rngs, size, class_params_list, context)


register(Kind(name="stylegan-sparse", params_type=WaveletStyleGANParams,
              render=render_stylegan_sparse,
              summary="random StyleGAN2 with random biases and enveloped noise: sparse "
                      "activations (Baradad et al. 2021)",
              channels=3, sample_class=sample_network_class, make_context=make_neural_context,
              requires=("torch",), install_hint=INSTALL_HINT,
              render_batch=render_stylegan_sparse_batch, devices=DEVICES))
