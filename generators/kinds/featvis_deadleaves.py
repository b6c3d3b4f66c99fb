"""Feature visualisations started from dead leaves (after Baradad et al. 2021).

The same optimisation as ``featvis-random`` (random torchvision ResNet, Adam, lucent's
transforms and Fourier parameterisation), but the image starts from a dead-leaves image
(``deadleaves-mixed``: six shape types, painted until covered; colours mapped into
[0.05, 0.95] so the sigmoid parameterisation can represent them with finite values) instead
of lucent's near-grey random spectrum. The optimisation then grows the unit's preferred
texture on top of the leaves' occlusion structure.

Difference from the paper, stated plainly: the paper's "Feature vis. Dead leaves" dataset
visualises the units of a ResNet-50 *trained* with MoCo v2 on dead leaves
(``--checkpoint encoders/large_scale/dead_leaves-mixed/checkpoint_0199.pth.tar``), starting
from random noise. This toolkit ships no trained weights, so the dead-leaves prior enters
through the starting image instead. Details and sources: :mod:`generators.kinds._featvis`.
"""

from __future__ import annotations

import numpy as np

from generators.kinds._deadleaves import SHAPE_NAMES, DeadLeavesParams, render_flat_leaves
from generators.kinds._featvis import (FeatVisParams, render_featvis, render_featvis_batch,
                                       sample_unit_class)
from generators.kinds._neural import DEVICES, INSTALL_HINT, make_neural_context
from generators.registry import Kind, register

#: Dead-leaves colours are mapped into [LOW, HIGH] before inverting the sigmoid (0 and 1
#: would need infinite logits and get no gradient).
LOW, HIGH = 0.05, 0.95


def leaves_start(rng: np.random.Generator, size: int) -> np.ndarray:
    """A ``deadleaves-mixed`` image as float ``(size, size, 3)`` in [LOW, HIGH]."""
    result = render_flat_leaves(DeadLeavesParams(), rng, size, tuple(range(len(SHAPE_NAMES))))
    leaves = result[0] if isinstance(result, tuple) else result
    return LOW + (HIGH - LOW) * leaves.astype(np.float64) / 255.0


def render_featvis_deadleaves(params: FeatVisParams, rng: np.random.Generator, size: int,
                              class_params: dict, context=None):
    """``(size x size x 3 uint8, info)`` optimised from a dead-leaves image."""
    return render_featvis(params, rng, size, class_params, context,
                          start_image=leaves_start(rng, size))


def render_featvis_deadleaves_batch(params: FeatVisParams, rngs: list, size: int,
                                    class_params_list: list[dict], context=None):
    """``[(size x size x 3 uint8, info), ...]`` optimised together from dead-leaves images."""
    return render_featvis_batch(params, rngs, size, class_params_list, context,
                                start_images=[leaves_start(rng, size) for rng in rngs])


register(Kind(name="featvis-deadleaves", params_type=FeatVisParams,
              render=render_featvis_deadleaves,
              summary="feature visualisations of a random ResNet started from dead leaves "
                      "(after Baradad et al. 2021)",
              channels=3, sample_class=sample_unit_class, make_context=make_neural_context,
              requires=("torch", "torchvision"), install_hint=INSTALL_HINT,
              render_batch=render_featvis_deadleaves_batch, devices=DEVICES))
