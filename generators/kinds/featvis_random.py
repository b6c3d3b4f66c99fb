"""Feature visualisations of a random network (Baradad et al., NeurIPS 2021, "Feature vis. Random").

Each image is optimised by gradient ascent (Adam, lr 0.05, lucent's jitter/scale/rotate
transforms, Fourier parameterisation with decorrelated colour) to maximally excite a unit or a
pair of units of the pooled features of a randomly initialised torchvision ResNet, starting
from lucent's random spectrum (``N(0, 0.01^2)``). Reference: ``feature_visualizations/
generate_dataset.py --random-init`` in mbaradad/learning_with_noise (ResNet-50, 128 steps,
256 px, lr 0.05). The defaults here are cheaper (ResNet-18, 16 steps at lr 0.3, 64 px network
input) so that a 105,000-image dataset renders on two CPU cores in hours (not months); the
paper's settings are ``--param network=resnet50 --param steps=128 --param net_size=256
--param learning_rate=0.05``. Details and sources:
:mod:`generators.kinds._featvis`.
"""

from __future__ import annotations

import numpy as np

from generators.kinds._featvis import (FeatVisParams, render_featvis, render_featvis_batch,
                                       sample_unit_class)
from generators.kinds._neural import DEVICES, INSTALL_HINT, make_neural_context
from generators.registry import Kind, register


def render_featvis_random(params: FeatVisParams, rng: np.random.Generator, size: int,
                          class_params: dict, context=None):
    """``(size x size x 3 uint8, info)`` optimised from a random spectrum."""
    return render_featvis(params, rng, size, class_params, context)


def render_featvis_random_batch(params: FeatVisParams, rngs: list, size: int,
                                class_params_list: list[dict], context=None):
    """``[(size x size x 3 uint8, info), ...]`` optimised together from random spectra."""
    return render_featvis_batch(params, rngs, size, class_params_list, context)


register(Kind(name="featvis-random", params_type=FeatVisParams, render=render_featvis_random,
              summary="feature visualisations of a randomly initialised ResNet "
                      "(Baradad et al. 2021)",
              channels=3, sample_class=sample_unit_class, make_context=make_neural_context,
              requires=("torch", "torchvision"), install_hint=INSTALL_HINT,
              render_batch=render_featvis_random_batch, devices=DEVICES))
