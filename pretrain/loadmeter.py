"""Does the data loader keep up? Per-source counts, time waiting for data, loader throughput.

The training loop times each ``next(batches)`` (time the training process *waited* for data)
and reads from each batch the seconds its loader process spent producing every item (reading or
rendering, then transforming; :class:`pretrain.data.Item`). Over a log window this gives

* ``images_per_s``: images consumed by training (all ranks), the pace of the optimiser;
* ``loader_images_per_s``: what the loader processes could produce working without pause,
  ``items / item-seconds x processes`` (summed over ranks) -- its capacity;
* ``data_wait``: the share of the window's wall time the training process waited for a batch.

When ``data_wait`` exceeds :data:`WAIT_WARNING` after the first window (which includes the
workers' start-up), the run warns once: training is starved and needs more ``--workers`` (or
shards rendered beforehand). Per-source image counts are cumulative over the run, resumption
included, and summed over ranks.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.distributed as dist

#: share of wall time spent waiting for data above which the run warns (once)
WAIT_WARNING = 0.10


def _all_sum(values: list[float], world: int) -> list[float]:
    if world == 1:
        return list(values)
    tensor = torch.tensor(values, dtype=torch.float64)
    dist.all_reduce(tensor)
    return tensor.tolist()


@dataclass
class LoadMeter:
    """Counters of one rank (see module docstring).

    sources: number of data sources.
    processes: loader processes of this rank (DataLoader workers; 0 = in the training process).
    world: DDP world size.
    counts: images per source over all ranks before this invocation (from the checkpoint).
    """

    sources: int
    processes: int = 0
    world: int = 1
    counts: list[int] = field(default_factory=list)
    _local: list[int] = field(default_factory=list, repr=False)
    _window: list[float] = field(default_factory=list, repr=False)
    _warned: bool = field(default=False, repr=False)
    _windows: int = field(default=0, repr=False)

    def __post_init__(self):
        self.counts = list(self.counts) or [0] * self.sources
        if len(self.counts) != self.sources:
            raise ValueError(f"{len(self.counts)} per-source counts for {self.sources} sources")
        self._local = [0] * self.sources
        self._window = [0.0, 0.0, 0.0]  # waited seconds, item-seconds, items

    def add(self, batch, waited: float) -> torch.Tensor:
        """Record one batch (an ``Item`` of tensors, or a bare image tensor) that took
        ``waited`` seconds to arrive; returns its images."""
        self._window[0] += waited
        if isinstance(batch, torch.Tensor):
            self._local[0] += batch.shape[0]
            return batch
        images, sources, seconds = batch
        for k, n in enumerate(torch.bincount(sources, minlength=self.sources).tolist()):
            self._local[k] += n
        self._window[1] += float(seconds.sum())
        self._window[2] += images.shape[0]
        return images

    def totals(self) -> list[int]:
        """Images per source over all ranks so far (collective: every rank must call it)."""
        local = _all_sum([float(v) for v in self._local], self.world)
        return [int(round(a + b)) for a, b in zip(self.counts, local)]

    def window(self, seconds: float) -> dict:
        """Log fields of the window that lasted ``seconds`` (collective), then start a new one."""
        waited, busy, items = _all_sum(self._window, self.world)
        self._window = [0.0, 0.0, 0.0]
        self._windows += 1
        record = {"data_wait": waited / self.world / max(seconds, 1e-9), "source_images": self.totals()}
        if items and busy > 0:
            record["loader_images_per_s"] = items / busy * max(1, self.processes) * self.world
        return record

    def warning(self, record: dict) -> str | None:
        """A one-time warning when training waits for data (not in the start-up window)."""
        if self._warned or self._windows < 2 or record["data_wait"] <= WAIT_WARNING:
            return None
        self._warned = True
        loader = record.get("loader_images_per_s")
        pace = f"the loader makes ~{loader:.0f} images/s, " if loader else ""
        wanted = record["images_per_s"] / max(1.0 - record["data_wait"], 1e-3)
        return (f"pretrain: warning: training waited for data {100 * record['data_wait']:.0f}% of the "
                f"time ({pace}training could consume ~{wanted:.0f} images/s; {self.processes} "
                f"loader worker(s) per rank): raise --workers, or render shards first")
