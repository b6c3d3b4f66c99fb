"""Random streams of samples and classes (docs/design.md, "Determinism").

Sample ``i`` of a dataset with seed ``s`` draws from
``default_rng(SeedSequence(s, spawn_key=(i,)))``; class ``c`` draws from
``default_rng(SeedSequence(s, spawn_key=(c, CLASS_KEY)))``. Both depend only on the seed and
the index, never on workers, nodes or resumption.
"""

from __future__ import annotations

import numpy as np

#: Second spawn-key entry of class streams, so they never coincide with sample streams.
CLASS_KEY = 0xC1A55


def sample_rng(seed: int, index: int) -> np.random.Generator:
    """The random stream of sample ``index`` of a dataset with ``seed``."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(index,)))


def class_rng(seed: int, class_index: int) -> np.random.Generator:
    """The random stream of class ``class_index``, shared by all its instances."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(class_index, CLASS_KEY)))


def class_of(index: int, num_classes: int) -> int:
    """Classes interleave (sample ``i`` has class ``i % num_classes``): every prefix is balanced."""
    return index % num_classes
