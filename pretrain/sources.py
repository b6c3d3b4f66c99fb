"""Training sources: shard directories (``--data DIR[:weight]``), patterns rendered on the fly
(``--data pattern:KIND[,KEY=VALUE...][:weight]``, :mod:`pretrain.patterns`) and audio folders
(``--audio``).

A source is a list of *units* (shard tars, or wav files) that the stream splits between ranks
and loader workers, a way to read raw items from a unit, and the statistics used to
standardise its inputs. Raw items stay undecoded until they are used, so skipping on resume and
shuffling are cheap. A pattern source has no units: its raw items are sample indices, rendered
when they are decoded.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from pretrain.frontend import AUDIO_SUFFIXES, audio_files
from pretrain.patterns import PatternRenderer, is_pattern_spec, parse_pattern_spec


@dataclass(frozen=True)
class Source:
    """One training source.

    kind: ``"shards"`` (synthgen shard directory), ``"pattern"`` (rendered on the fly) or
        ``"audio"`` (folder of audio files).
    path: the directory (or ``pattern:`` spec) given on the command line.
    weight: relative sampling weight (> 0) when several sources are mixed.
    units: shard tars or audio files, sorted (empty for patterns).
    mean, std: input statistics (pixels in [0, 1] for patterns, log-mel values for audio).
    pattern: the renderer of a pattern source (with its class parameters once computed).
    """

    kind: str
    path: str
    weight: float
    units: tuple[str, ...] = field(repr=False)
    mean: float = 0.0
    std: float = 1.0
    pattern: PatternRenderer | None = field(default=None, repr=False)
    skip_log: str | None = None  # --skip-bad-shards: damaged shards are skipped and listed here

    def describe(self) -> dict:
        described = {"kind": self.kind, "path": self.path, "weight": self.weight,
                     "units": len(self.units), "mean": self.mean, "std": self.std}
        if self.pattern is not None:
            described["pattern"] = self.pattern.describe()
        return described


#: Largest sampling weight of a source: weights are normalised by their sum, which must stay a
#: finite number (``1e308`` twice would overflow to inf and every probability to NaN).
MAX_WEIGHT = 1e6


def weight_ok(weight: float) -> bool:
    """A sampling weight in (0, ``MAX_WEIGHT``] (NaN and inf are not)."""
    return 0 < weight <= MAX_WEIGHT


def parse_spec(spec: str) -> tuple[str, float]:
    """``"DIR"`` or ``"DIR:0.5"`` -> ``(DIR, weight)``; ``ValueError`` for a bad weight."""
    path, sep, tail = spec.rpartition(":")
    if not sep or "/" in tail:
        return spec, 1.0
    try:
        weight = float(tail)
    except ValueError:
        return spec, 1.0  # a colon inside the path, no weight
    if not weight_ok(weight):
        raise ValueError(f"weight {tail!r} in {spec!r} must be a number > 0 and <= {MAX_WEIGHT:g}")
    return path, weight


def shard_source(spec: str) -> Source:
    """A shard directory; ``ValueError`` (one line) if it holds no finished shard."""
    from generators.reader import finished_shards
    from generators.shards import read_dataset_info

    path, weight = parse_spec(spec)
    try:
        shards = finished_shards(path)
        expected = read_dataset_info(path)["num_shards"]
    except (FileNotFoundError, ValueError) as error:
        raise ValueError(f"--data {path}: {error}") from None
    if len(shards) < expected:  # a render may still be running on other nodes
        import sys

        print(f"pretrain: warning: --data {path}: only {len(shards)} of {expected} shards are "
              f"finished; training uses these (config.json records the count under data.units)",
              file=sys.stderr)
    return Source("shards", path, weight, tuple(str(p) for p in shards))


def pattern_source(spec: str, default_size: int) -> Source:
    """A kind rendered on the fly (class parameters not yet computed: see
    :func:`pretrain.patterns.compute_classes`); ``ValueError`` (one line) for a bad spec."""
    from generators.registry import get_kind

    path, weight = parse_spec(spec)
    parsed = parse_pattern_spec(path)
    size = parsed.size or default_size
    try:
        get_kind(parsed.kind).check_size(size)
    except ValueError as error:
        raise ValueError(f"--data {path}: {error}") from None
    return Source("pattern", path, weight, (), pattern=PatternRenderer(parsed, size))


def data_source(spec: str, default_size: int) -> Source:
    """``--data`` value: a ``pattern:`` spec or a shard directory."""
    return pattern_source(spec, default_size) if is_pattern_spec(spec) else shard_source(spec)


def audio_source(spec: str) -> Source:
    """A folder searched recursively for audio files; ``ValueError`` if it has none."""
    path, weight = parse_spec(spec)
    folder = Path(path)
    if not folder.is_dir():
        raise ValueError(f"--audio {path}: not a directory")
    try:
        files = audio_files(folder)
    except FileNotFoundError:
        raise ValueError(f"--audio {path}: no {'/'.join(AUDIO_SUFFIXES)} files found") from None
    return Source("audio", path, weight, tuple(str(p) for p in files))


def iter_raw(source: Source, units: list[str]) -> Iterator[object]:
    """Undecoded items of ``units`` in order: raw shard sample dicts, or audio file paths."""
    if source.kind == "audio":
        yield from units
        return
    from generators.reader import iter_raw_samples
    from generators.shards import ShardError

    if source.skip_log is None:
        yield from iter_raw_samples(units)
        return
    for unit in units:
        try:
            yield from iter_raw_samples([unit])
        except ShardError as error:
            record_skipped(source.skip_log, unit, str(error))


def record_skipped(log: str, unit: str, message: str) -> None:
    """Report a skipped shard on stderr and append it to ``log`` (one JSON line, one write, so
    DataLoader workers may append concurrently)."""
    import json
    import os
    import sys

    print(f"pretrain: warning: skipped {message}", file=sys.stderr)
    line = json.dumps({"shard": unit, "error": message}) + "\n"
    os.makedirs(os.path.dirname(log) or ".", exist_ok=True)
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def skipped_shards(log: str | Path) -> list[dict]:
    """Distinct shards recorded in a skip log (first error of each), in the order skipped."""
    import json

    seen: dict[str, dict] = {}
    try:
        lines = Path(log).read_text().splitlines()
    except FileNotFoundError:
        return []
    for line in lines:
        try:
            record = json.loads(line)
            seen.setdefault(record["shard"], record)
        except (ValueError, KeyError, TypeError):
            continue  # a torn line of a killed worker
    return list(seen.values())


def decode(source: Source, raw: object):
    """Raw item -> uint8 pattern image (shards, patterns) or ``(n_mels, T)`` log-mel tensor (audio).

    A shard sample that does not decode is a ``ShardError`` naming the shard and the sample;
    with ``--skip-bad-shards`` it is reported and recorded like a skipped shard instead, and
    ``None`` is returned (the caller drops the item)."""
    if source.kind == "pattern":
        return source.pattern.render(raw)
    if source.kind == "audio":
        from pretrain.frontend import load_audio, log_mel

        return log_mel(load_audio(raw))
    from generators.reader import decode_sample
    from generators.shards import ShardError

    try:
        return decode_sample(raw)["image"]
    except ShardError as error:
        if source.skip_log is None:
            raise
        record_skipped(source.skip_log, raw["__url__"], str(error))
        return None


def estimate_stats(source: Source, limit: int = 256, units: int = 16) -> tuple[float, float]:
    """Mean and std of the source's values over up to ``limit`` items from up to ``units`` units
    spread evenly over the source (patterns: grayscale pixels scaled to [0, 1]; a pattern source
    renders its samples ``0 .. limit // 4 - 1``)."""
    from pretrain.transforms import to_gray

    if source.kind == "pattern":
        return pixel_stats(to_gray(source.pattern.render(i)) for i in range(max(1, limit // 4)))
    picks = np.linspace(0, len(source.units) - 1, num=min(units, len(source.units))).round().astype(int)
    per_unit = max(1, limit // len(picks))
    total = total_sq = count = 0.0
    for k in dict.fromkeys(picks.tolist()):
        for n, raw in enumerate(iter_raw(source, [source.units[k]])):
            if n >= per_unit:
                break
            item = decode(source, raw)
            if item is None:  # skipped (--skip-bad-shards)
                continue
            values = (np.asarray(item, dtype=np.float64) if source.kind == "audio"
                      else to_gray(item).astype(np.float64) / 255.0)
            total += values.sum()
            total_sq += (values ** 2).sum()
            count += values.size
    return _mean_std(total, total_sq, count)


def pixel_stats(images) -> tuple[float, float]:
    """Mean and std of uint8 grayscale ``images`` scaled to [0, 1]."""
    total = total_sq = count = 0.0
    for image in images:
        values = image.astype(np.float64) / 255.0
        total += values.sum()
        total_sq += (values ** 2).sum()
        count += values.size
    return _mean_std(total, total_sq, count)


def _mean_std(total: float, total_sq: float, count: float) -> tuple[float, float]:
    mean = total / count
    std = max(float(np.sqrt(max(total_sq / count - mean ** 2, 0.0))), 1e-6)
    return float(mean), std


def with_stats(source: Source, mean: float | None = None, std: float | None = None) -> Source:
    """The source with statistics: the given ones (resume), or estimated from a sample."""
    if mean is None or std is None:
        mean, std = estimate_stats(source)
    return dataclasses.replace(source, mean=float(mean), std=float(std))
