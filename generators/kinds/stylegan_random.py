"""StyleGAN-Random (Baradad et al., NeurIPS 2021, dataset "StyleGAN Random").

A StyleGAN2 generator with its own random initialisation and nothing else changed: Gaussian
3x3 and to-RGB weights fixed per network, zero biases, no noise (StyleGAN2's learned noise
strength starts at 0), ReLU activations; latents ``w = LeakyReLU_0.2(N(0, I_512))`` per layer.
Reference: ``generate_dataset.py --network_type original`` with NVlabs' ``networks.py`` in
mbaradad/learning_with_noise. Smooth, blurry colour blobs. Details, every number and its
source: :mod:`generators.kinds._stylegan`.
"""

from __future__ import annotations

import numpy as np

from generators.kinds._neural import DEVICES, INSTALL_HINT, make_neural_context
from generators.kinds._stylegan import (StyleGANParams, Variant, render_stylegan,
                                        render_stylegan_batch, sample_network_class)
from generators.registry import Kind, register

VARIANT = Variant(filters="gaussian", noise="none", bias_range=0.0)


def render_stylegan_random(params: StyleGANParams, rng: np.random.Generator, size: int,
                           class_params: dict, context=None):
    """``(size x size x 3 uint8, info)``: one image of the class's random network."""
    return render_stylegan(VARIANT, params, rng, size, class_params, context)


def render_stylegan_random_batch(params, rngs: list, size: int, class_params_list: list[dict],
                                 context=None):
    """``[(size x size x 3 uint8, info), ...]``: a batch in one forward pass."""
    return render_stylegan_batch(VARIANT, params, rngs, size, class_params_list, context)


register(Kind(name="stylegan-random", params_type=StyleGANParams, render=render_stylegan_random,
              summary="randomly initialised StyleGAN2 generator (Baradad et al. 2021)",
              channels=3, sample_class=sample_network_class, make_context=make_neural_context,
              requires=("torch",), install_hint=INSTALL_HINT,
              render_batch=render_stylegan_random_batch, devices=DEVICES))
