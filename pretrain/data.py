"""The training stream: disjoint units per rank and worker, seeded shuffle, exact resume.

Every rank ``r`` of ``world`` with DataLoader worker ``w`` of ``W`` is reader
``g = r * W + w`` of ``G = world * W``. In its local epoch ``e`` a reader takes the units
(shards, audio files) ``perm_e[g::G]`` of a permutation seeded by ``(seed, source, e)``, so the
readers of one epoch never share a unit (a source with fewer units than readers is split by
sample instead: reader ``g`` keeps every ``G``-th item). Items pass through a shuffle buffer
seeded by ``(seed, source, e, g)``; with several sources, each item's source is drawn with the
source weights from a stream seeded by ``(seed, g)``. Each reader's stream is infinite
(training is counted in steps), so the DataLoader's round-robin over workers never changes and
batch ``b`` always comes from worker ``b % W``. A pattern source rendered on the fly has no
units: reader ``g`` renders its sample indices ``g, g + G, g + 2G, ...`` (``pretrain.patterns``).

The item at position ``p`` of reader ``g`` is augmented with a generator seeded by
``(seed, g, p)``. The stream is therefore a pure function of ``(seed, rank, world, W)``: resuming
after ``k`` consumed batches skips the first ``ceil((k - w) / W) * batch`` items of worker ``w``
undecoded and continues exactly where the killed run was (the resumed loader's process ``i``
takes over stream ``(i + k) % W``, as its round-robin restarts at process 0).
"""

from __future__ import annotations

import itertools
import math
import time
from typing import Iterator, NamedTuple

import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from pretrain.sources import Source, decode, iter_raw
from pretrain.transforms import Augment, pattern_to_input, spectrogram_to_input

SHUFFLE_TAG, AUGMENT_TAG, MIX_TAG, ORDER_TAG = 0x5F1, 0xA06, 0x313, 0x0D5


def _rng(*key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(key[0], spawn_key=tuple(key[1:])))


def reader_units(units: int, readers: int, reader: int, epoch: int, seed: int, source_index: int):
    """``(unit indices, item stride)`` of ``reader`` in ``epoch``: disjoint unit subsets when
    there are at least as many units as readers, else every unit with a per-item stride."""
    order = _rng(seed, source_index, epoch, ORDER_TAG).permutation(units)
    if units >= readers:
        return order[reader::readers].tolist(), 1
    return order.tolist(), readers


def shuffle_buffer(items: Iterator, size: int, rng: np.random.Generator) -> Iterator:
    """Yield ``items`` shuffled through a buffer of ``size`` (1 = no shuffle)."""
    buffer: list = []
    for item in items:
        if len(buffer) < size:
            buffer.append(item)
            continue
        j = int(rng.integers(size))
        buffer[j], item = item, buffer[j]
        yield item
    rng.shuffle(buffer)
    yield from buffer


def source_items(source: Source, source_index: int, reader: int, readers: int, seed: int,
                 buffer: int) -> Iterator[object]:
    """Infinite stream of raw items of one source for one reader, epoch after epoch (a pattern
    source: the sample indices ``reader, reader + readers, ...``, unshuffled: consecutive
    indices already cycle through the classes and draw independent samples)."""
    if source.kind == "pattern":
        yield from itertools.count(reader, readers)
        return
    for epoch in itertools.count():
        units, stride = reader_units(len(source.units), readers, reader, epoch, seed, source_index)
        raw = iter_raw(source, [source.units[i] for i in units])
        if stride > 1:
            raw = itertools.islice(raw, reader, None, stride)
        yield from shuffle_buffer(raw, buffer, _rng(seed, source_index, epoch, reader, SHUFFLE_TAG))


def mixed_items(sources: list[Source], reader: int, readers: int, seed: int,
                buffer: int) -> Iterator[tuple[int, object]]:
    """Infinite ``(source index, raw item)`` stream drawing sources by weight."""
    streams = [source_items(s, k, reader, readers, seed, buffer) for k, s in enumerate(sources)]
    if len(streams) == 1:
        for raw in streams[0]:
            yield 0, raw
    weights = np.array([s.weight for s in sources], dtype=np.float64)
    weights /= weights.sum()
    choose = _rng(seed, reader, MIX_TAG)
    while True:
        k = int(choose.choice(len(streams), p=weights))
        yield k, next(streams[k])


def batches_before(consumed: int, worker: int, workers: int) -> int:
    """How many of the first ``consumed`` batches came from ``worker`` (round-robin)."""
    return max(0, math.ceil((consumed - worker) / workers))


class Item(NamedTuple):
    """One stream item; the DataLoader collates them into an ``Item`` of batched tensors.

    image: ``(1, H, W)`` float32 input (batched: ``(B, 1, H, W)``).
    source: index of the source it came from (batched: ``(B,)`` int64).
    seconds: time its loader process spent reading/rendering and transforming it (batched:
        ``(B,)`` float64), from which the loader's throughput is estimated.
    """

    image: torch.Tensor
    source: int
    seconds: float


class PretrainStream(IterableDataset):
    """Infinite stream of :class:`Item` (a ``(1, H, W)`` float32 input, its source, its
    loading time) for one rank (see module docstring).

    Args:
        sources: sources with statistics (``pretrain.sources.with_stats``).
        size: ``(H, W)`` encoder input.
        seed: data-order seed.
        rank, world: DDP rank and world size.
        batch_size: per-rank batch size (used to skip ``start_batch`` batches on resume).
        start_batch: batches this rank has already consumed.
        buffer: shuffle-buffer length in items.
        augment: random crop/flip settings for patterns.
    """

    def __init__(self, sources: list[Source], size: tuple[int, int], seed: int, rank: int = 0,
                 world: int = 1, batch_size: int = 1, start_batch: int = 0, buffer: int = 1000,
                 augment: Augment = Augment()):
        super().__init__()
        self.sources, self.size, self.seed = sources, tuple(size), seed
        self.rank, self.world, self.batch_size = rank, world, batch_size
        self.start_batch, self.buffer, self.augment = start_batch, buffer, augment

    def reader(self) -> tuple[int, int, int, int]:
        """``(worker, workers, reader g, readers G)`` of the calling process.

        ``worker`` is the *stream* this process continues: a resumed DataLoader starts its
        round-robin at process 0, but global batch ``start_batch`` belongs to stream
        ``start_batch % W``, so process ``i`` takes stream ``(i + start_batch) % W``.
        """
        info = get_worker_info()
        process, workers = (info.id, info.num_workers) if info is not None else (0, 1)
        worker = (process + self.start_batch) % workers
        return worker, workers, self.rank * workers + worker, self.world * workers

    def raw_items(self) -> Iterator[tuple[int, object]]:
        """This reader's ``(source index, raw item)`` stream from the start (no skip)."""
        _, _, reader, readers = self.reader()
        return mixed_items(self.sources, reader, readers, self.seed, self.buffer)

    def transform(self, source_index: int, raw: object, reader: int,
                  position: int) -> torch.Tensor | None:
        """The input of one raw item; ``None`` for a sample skipped by ``--skip-bad-shards``."""
        source = self.sources[source_index]
        rng = _rng(self.seed, reader, position, AUGMENT_TAG)
        item = decode(source, raw)
        if item is None:
            return None
        if source.kind == "audio":
            return spectrogram_to_input(item, self.size, source.mean, source.std, rng)
        return pattern_to_input(item, self.size, source.mean, source.std, self.augment, rng)

    def __iter__(self) -> Iterator[Item]:
        worker, workers, reader, _ = self.reader()
        skip = batches_before(self.start_batch, worker, workers) * self.batch_size
        items = enumerate(self.raw_items())
        while True:
            began = time.perf_counter()
            try:
                position, (k, raw) = next(items)
            except StopIteration:  # sources are endless; kept for a finite custom source
                return
            if position >= skip:
                image = self.transform(k, raw, reader, position)
                if image is not None:
                    yield Item(image, k, time.perf_counter() - began)


def make_loader(stream: PretrainStream, workers: int) -> DataLoader:
    """Batches of ``stream.batch_size`` from ``workers`` processes (0 = in the training process)."""
    from pretrain.signals import ignore_in_worker  # Ctrl-C / SIGTERM are the main process's

    return DataLoader(stream, batch_size=stream.batch_size, num_workers=workers,
                      prefetch_factor=4 if workers else None, persistent_workers=False,
                      worker_init_fn=ignore_in_worker if workers else None)


def total_items(sources: list[Source]) -> int:
    """Items in one pass over all sources (shard sample counts from sidecars, audio files);
    ``ValueError`` for a pattern source, which is endless."""
    from generators.shards import read_sidecar

    total = 0
    for source in sources:
        if source.kind == "pattern":
            raise ValueError(f"--epochs needs finite data, but --data {source.path} is rendered "
                             f"on the fly without end; give --steps or --minutes")
        if source.kind == "audio":
            total += len(source.units)
        else:
            total += sum(read_sidecar(p).count for p in source.units)
    return total
