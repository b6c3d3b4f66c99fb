"""StyleGAN-Oriented (Baradad et al., NeurIPS 2021, dataset "StyleGAN Oriented").

StyleGAN-Sparse (random subsets of oriented 3x3 edge and line filters, biases
``U(-0.2, 0.2)``) with ``--same_noise_map``: one Laplacian-enveloped ``1/f^alpha`` noise map at
twice the image resolution is area-downsampled and added (strength ``U(0, 0.3)`` per layer) at
every scale, so one structure is elongated consistently through all layers: long oriented
streaks and ridges. Reference: ``generate_dataset.py --network_type sparse_new --bias_range 0.2
--random_configuration chin-chout --same_noise_map`` (the README's command for "p) StyleGAN
Oriented") in mbaradad/learning_with_noise. Details and sources: :mod:`generators.kinds._stylegan`.
"""

from __future__ import annotations

import numpy as np

from generators.kinds._neural import DEVICES, INSTALL_HINT, make_neural_context
from generators.kinds._stylegan import (Variant, WaveletStyleGANParams, render_stylegan,
                                        render_stylegan_batch, sample_network_class)
from generators.registry import Kind, register

VARIANT = Variant(filters="wavelets-subset", noise="shared", bias_range=0.2)


def render_stylegan_oriented(params: WaveletStyleGANParams, rng: np.random.Generator,
                             size: int, class_params: dict, context=None):
    """``(size x size x 3 uint8, info)``: one image with one noise map shared by all scales."""
    return render_stylegan(VARIANT, params, rng, size, class_params, context)


def render_stylegan_oriented_batch(params, rngs: list, size: int, class_params_list: list[dict],
                                   context=None):
    """``[(size x size x 3 uint8, info), ...]``: a batch in one forward pass."""
    return render_stylegan_batch(VARIANT, params, rngs, size, class_params_list, context)


register(Kind(name="stylegan-oriented", params_type=WaveletStyleGANParams,
              render=render_stylegan_oriented,
              summary="random StyleGAN2 with oriented filters and one noise map for all "
                      "scales (Baradad et al. 2021)",
              channels=3, sample_class=sample_network_class, make_context=make_neural_context,
              requires=("torch",), install_hint=INSTALL_HINT,
              render_batch=render_stylegan_oriented_batch, devices=DEVICES))
