"""Upper bounds of every size and count that makes the toolkit allocate memory or processes.

One place for all of them: ``synthgen render``/``preview``/``stats`` options, ``dataset.json``
fields, ``pretrain``'s ``pattern:KIND,size=N`` spec and the input-size, batch, buffer and worker
options of ``pretrain`` and ``finetune`` check values against these
:class:`Bound` objects before anything is allocated, name the bound in the error and show it in
``--help`` (click shows a :meth:`Bound.click_type` range itself; argparse help texts quote
:meth:`Bound.describe`). Products that allocate together (a shard is encoded in memory, a
contact sheet holds every image, ``stats`` keeps every resized image) have a :class:`Budget`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Bound:
    """An integer range ``low .. high`` (both included) for one kind of value."""

    low: int
    high: int

    def describe(self) -> str:
        return f"{self.low}..{self.high}"

    def check(self, value: object, name: str) -> int:
        """``value`` if it is an integer in range, else ``ValueError``: ``NAME VALUE must be an
        integer in LOW..HIGH``."""
        if isinstance(value, bool) or not isinstance(value, int) or not \
                self.low <= value <= self.high:
            raise ValueError(f"{name} {value!r} must be an integer in {self.describe()}")
        return value

    def click_type(self):
        """The click parameter type (click shows the range in ``--help``)."""
        import click

        return click.IntRange(self.low, self.high)


@dataclass(frozen=True)
class Budget:
    """An upper bound on a product of sizes that are allocated together (``what``: its unit)."""

    limit: int
    what: str

    def check(self, amount: int, description: str, advice: str) -> None:
        """``ValueError`` unless ``amount <= limit``: ``DESCRIPTION make AMOUNT WHAT, more than
        the LIMIT allowed; ADVICE``."""
        if amount > self.limit:
            raise ValueError(f"{description} make {amount:,} {self.what}, more than the "
                             f"{self.limit:,} allowed; {advice}")


#: Side of a rendered or stored image (``render --size``, ``dataset.json`` size,
#: ``pattern:KIND,size=N``): 8192² RGB is 200 MB per image.
IMAGE_SIDE = Bound(8, 8192)
#: Images in a dataset: sample keys have 9 digits.
SAMPLES = Bound(1, 10**9)
#: Samples per shard (a shard is encoded in memory before it is written).
SHARD_SIZE = Bound(1, 1_000_000)
#: Shards of a dataset (every reader and the render plan list them all; names have 6 digits).
SHARD_COUNT = Budget(1_000_000, "shards")
#: Worker processes of one render.
WORKERS = Bound(1, 1024)
#: Pixel bytes of one shard's images, held in memory while it is written (4 GiB).
SHARD_BYTES = Budget(1 << 32, "pixel bytes")
#: ``preview``: images on a contact sheet and the side of rendered ones.
PREVIEW_COUNT = Bound(1, 1024)
PREVIEW_SIDE = Bound(8, 1024)
#: Pixels of a contact sheet (and of the images held to make it: ~0.8 GB each in RGB).
SHEET_PIXELS = Budget(1 << 28, "pixels")
#: ``stats``: images sampled (the diversity needs all pairs) and their measuring side.
STATS_N = Bound(2, 4096)
STATS_SIDE = Bound(16, 1024)
#: ``stats``: values of the resized images held at once (float64: 2 GiB).
STATS_VALUES = Budget(1 << 28, "values")
#: ``pretrain`` / ``finetune``: each side of the encoder input (mel bins, frames; a pattern's
#: rows, columns); the attention memory grows with the square of the patches.
INPUT_SIDE = Bound(8, 4096)
#: ``pretrain`` / ``finetune``: inputs per forward batch, and micro-batches per optimizer step.
BATCH = Bound(1, 65536)
#: ``finetune bench``: float32 log-mel values of the random clips it embeds (clips x mel bins x
#: frames; 2**28 values = 1 GiB).
BENCH_VALUES = Budget(1 << 28, "float32 values")
#: ``pretrain``: items in each reader's shuffle buffer (held in memory, undecoded).
SHUFFLE_BUFFER = Bound(1, 1_000_000)
