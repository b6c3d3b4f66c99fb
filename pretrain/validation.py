"""Validation while pre-training: fixed held-back batches scored every ``--val-every`` steps.

* ``val_loss``: ``--val-size`` items of the training sources that training never sees, chosen
  once. A pattern source rendered on the fly gives its sample indices from :data:`HELD_BACK`
  (2**40) on, far beyond any index a run reaches; a shard or audio source gives its last units
  (shards, audio files, in sorted order) until they hold ``--val-size`` items, and trains on
  the others. With several sources the batch takes items from each in turn.
* ``val_audio_loss`` (``--val-audio DIR``): ``--val-size`` clips of DIR, spread evenly over its
  sorted files, as log-mels standardised with the folder's own statistics: how far the encoder
  trained on synthetic data is from audio while it trains.

Both batches are built once, before the first step, and scored on rank 0 with the same masks
every time (:func:`pretrain.engine.mask_noise` with a fixed key) under ``no_grad``. Scoring draws
from no global random stream and leaves the weights and the optimizer alone, so a run trains the
same with validation as without it, apart from the held-back units of a shard or audio source
(which is why ``--val-size`` must match on ``--resume``).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from pretrain.sources import Source, audio_source, decode, iter_raw, with_stats
from pretrain.transforms import NO_AUGMENT, pattern_to_input, spectrogram_to_input

#: First sample index of a pattern source's validation items (training renders 0, 1, 2, ...).
HELD_BACK = 2 ** 40
#: Spawn-key tags of the validation masks and crops (apart from every training stream's).
VAL_TAG, AUDIO_TAG = 0x7A1, 0xA7D


def unit_items(source: Source, unit: str) -> int:
    """Items in one unit: the sample count of a shard (its sidecar), 1 for an audio file."""
    if source.kind == "audio":
        return 1
    from generators.shards import read_sidecar

    return read_sidecar(unit).count


def hold_back(sources: list[Source], size: int) -> tuple[list[Source], list[tuple[int, object]]]:
    """``(training sources, validation items)``: the sources without their held-back units and
    ``size`` ``(source index, raw item)`` pairs taken from each source in turn (see the module
    docstring); ``ValueError`` when a source would keep no unit for training."""
    share = [size // len(sources) + (k < size % len(sources)) for k in range(len(sources))]
    train, per_source = [], []
    for source, want in zip(sources, share):
        if source.kind == "pattern":
            train.append(source)
            per_source.append(list(range(HELD_BACK, HELD_BACK + want)))
            continue
        held, count = 0, 0
        while count < want and held < len(source.units):
            held += 1
            count += unit_items(source, source.units[-held])
        if want and held >= len(source.units):
            raise ValueError(f"--val-size {size}: {source.kind} source {source.path} has {len(source.units)} "
                             f"unit(s); holding back {want} items for validation would leave none to train on")
        kept = source.units[:len(source.units) - held]
        train.append(dataclasses.replace(source, units=kept))
        raws = iter_raw(source, list(source.units[len(kept):])) if held else iter(())
        per_source.append([raw for _, raw in zip(range(want), raws)])
    items = []
    for turn in range(max(share, default=0)):
        items += [(k, raws[turn]) for k, raws in enumerate(per_source) if turn < len(raws)]
    return train, items


def _rng(seed: int, *key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))


def source_batch(sources: list[Source], items: list[tuple[int, object]], input_size: tuple[int, int],
                 seed: int) -> torch.Tensor:
    """The held-back items as one ``(B, 1, H, W)`` batch: patterns without augmentation, audio
    with a seeded crop (the same every time)."""
    images = []
    for j, (k, raw) in enumerate(items):
        source = sources[k]
        item = decode(source, raw)
        if item is None:  # a damaged sample skipped by --skip-bad-shards
            continue
        if source.kind == "audio":
            images.append(spectrogram_to_input(item, input_size, source.mean, source.std, _rng(seed, j, VAL_TAG)))
        else:
            images.append(pattern_to_input(item, input_size, source.mean, source.std, NO_AUGMENT,
                                           _rng(seed, j, VAL_TAG)))
    if not images:
        raise ValueError("the held-back validation items decode to no image")
    return torch.stack(images)


def audio_batch(folder: str, size: int, input_size: tuple[int, int], seed: int) -> torch.Tensor:
    """``size`` clips of ``folder`` (evenly spread over its sorted files) as log-mel inputs
    standardised with the folder's statistics; ``ValueError`` (one line) for a folder without audio."""
    source = with_stats(audio_source(folder))
    picks = np.linspace(0, len(source.units) - 1, num=min(size, len(source.units))).round().astype(int)
    items = [(0, source.units[i]) for i in dict.fromkeys(picks.tolist())]
    return source_batch([source], items, input_size, seed + AUDIO_TAG)


def score(mae: torch.nn.Module, batch: torch.Tensor, seed: int, device: torch.device,
          chunk: int = 64) -> float:
    """Mean MAE loss of ``batch`` with fixed masks (the same at every call), weights unchanged."""
    from pretrain.engine import mask_noise

    was_training = mae.training
    mae.eval()
    total = 0.0
    with torch.no_grad():
        for start in range(0, batch.shape[0], chunk):
            images = batch[start:start + chunk].to(device)
            noise = mask_noise(seed, VAL_TAG, start, 0, images.shape[0], mae.num_patches).to(device)
            loss, _, _ = mae(images, noise)
            total += float(loss) * images.shape[0]
    mae.train(was_training)
    return total / batch.shape[0]
