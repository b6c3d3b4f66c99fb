"""``synthgen stats DIR [DIR ...]``: image properties of shard datasets, as JSON and markdown.

For each shard directory a seeded sample of N images is read (only the shards that hold
sampled images are opened), converted to luma, area-resized to ``--size`` (default 128, the
encoder input side) and measured with :mod:`generators.image_properties`. Per dataset it reports the
mean and std of every property, diversity (mean pairwise RMS distance of 16x16 thumbnails;
intra-/inter-class for class-structured kinds) and ``logmel_distance``: how far the images are
from log-mel spectrograms of real audio in these statistics — per image, the RMS over
properties of ``(value - reference mean) / reference std``, averaged over the sample (0 = as
spectrogram-like as the average spectrogram; ~1 = typical spread of real spectrograms).

The reference is ``generators/logmel_reference.json`` (FSDD, see ``docs/analysis.md`` for the
command that made it). Computing a reference from audio needs the log-mel front end (torch):
``python -m tools.analysis.stats --audio DIR`` does that with this module's :func:`main` and a
``reference_from_audio`` function. This module imports only numpy, scipy and Pillow, so
``synthgen stats`` works on a base (render-node) install.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from typing import Callable
from pathlib import Path

import numpy as np

from generators.atomic import write_bytes_atomic, write_json_atomic
from generators.bounds import STATS_N, STATS_SIDE, STATS_VALUES
from generators.image_properties import (PROPERTY_NAMES, diversity, image_properties,
                                         resize_gray, thumbnail_descriptor, to_gray)
from generators.output_paths import check_output_file

DEFAULT_REFERENCE = Path(__file__).with_name("logmel_reference.json")
DEFAULT_N = 256
DEFAULT_SIZE = 128


class StatsError(ValueError):
    """A user mistake (missing folder, no shards, bad reference file): one line."""


def check_sizes(n: int, size: int) -> None:
    """``StatsError`` unless ``n`` images of ``size``² fit the bounds (checked before reading)."""
    try:
        STATS_N.check(n, "--n")
        STATS_SIDE.check(size, "--size")
        STATS_VALUES.check(n * size * size, f"--n {n} images of --size {size}",
                           "lower --n or --size")
    except ValueError as error:
        raise StatsError(str(error)) from None


def sample_dataset(folder: str | Path, n: int, seed: int, convert=None
                   ) -> tuple[list[np.ndarray], list, int]:
    """``(images, labels, dataset size)``: ``n`` samples drawn without replacement (seeded)
    from the finished shards of ``folder``, in index order. ``convert(image)``, if given, is
    applied to each image as it is decoded (so only the converted images are held)."""
    from generators.reader import decode_sample, finished_shards, iter_raw_samples
    from generators.shards import read_sidecar

    try:
        shards = finished_shards(folder)
    except (FileNotFoundError, ValueError) as error:
        raise StatsError(str(error)) from None
    counts = [read_sidecar(s).count for s in shards]
    total = int(sum(counts))
    picks = np.sort(np.random.default_rng(seed).choice(total, size=min(n, total), replace=False))
    starts = np.concatenate([[0], np.cumsum(counts)])
    images, labels = [], []
    for k, shard in enumerate(shards):
        wanted = set((picks[(picks >= starts[k]) & (picks < starts[k + 1])] - starts[k]).tolist())
        if not wanted:
            continue
        try:
            for position, raw in enumerate(iter_raw_samples([shard])):
                if position in wanted:
                    sample = decode_sample(raw)
                    images.append(convert(sample["image"]) if convert else sample["image"])
                    labels.append(sample["cls"])
        except ValueError as error:  # a damaged shard (ShardError) or an undecodable sample
            raise StatsError(str(error)) from None
    return images, labels, total


def properties_table(grays: list[np.ndarray]) -> dict[str, np.ndarray]:
    """``{property: values over images}`` (NaN where a property is undefined)."""
    rows = [image_properties(g) for g in grays]
    return {p: np.array([r[p] for r in rows], dtype=np.float64) for p in PROPERTY_NAMES}


def summarise_properties(values: dict[str, np.ndarray]) -> dict[str, dict]:
    out = {}
    for p, v in values.items():
        ok = v[np.isfinite(v)]
        out[p] = {"mean": float(ok.mean()) if len(ok) else None,
                  "std": float(ok.std()) if len(ok) else None, "n": int(len(ok))}
    return out


def logmel_distance(values: dict[str, np.ndarray], reference: dict) -> float | None:
    """Mean over images of the RMS over properties of z-scores against the reference."""
    ref = reference["properties"]
    z = []
    for p in PROPERTY_NAMES:
        if p in ref and ref[p]["std"]:
            z.append((values[p] - ref[p]["mean"]) / ref[p]["std"])
    if not z:
        return None
    z = np.stack(z, axis=1)
    per_image = np.sqrt(np.nanmean(z ** 2, axis=1))
    per_image = per_image[np.isfinite(per_image)]
    return float(per_image.mean()) if len(per_image) else None


def describe_images(grays: list[np.ndarray], labels: list | None,
                    reference: dict | None) -> dict:
    """Properties, diversity and distance to the reference for already loaded [0, 1] images."""
    values = properties_table(grays)
    result = {"n_sampled": len(grays), "properties": summarise_properties(values)}
    result.update(diversity(np.stack([thumbnail_descriptor(g) for g in grays]), labels))
    result["logmel_distance"] = logmel_distance(values, reference) if reference else None
    return result


def load_reference(path: str | Path = DEFAULT_REFERENCE) -> dict:
    try:
        reference = json.loads(Path(path).read_text())
        reference["properties"]
    except (OSError, ValueError, KeyError, TypeError):
        raise StatsError(f"reference {path} is not a readable stats JSON with 'properties'") from None
    return reference


def compute_stats(folder: str | Path, n: int = DEFAULT_N, seed: int = 0, size: int = DEFAULT_SIZE,
                  reference: dict | None = None, name: str | None = None,
                  relative_to: str | Path | None = None) -> dict:
    """Statistics of one shard directory (see the module docstring); JSON-able dict.

    ``reference`` defaults to the stored FSDD log-mel reference
    (``generators/logmel_reference.json``). ``path`` in the result is ``folder`` as given, or
    relative to ``relative_to`` (a report's work folder), so a stored result names no
    machine's absolute path.
    """
    check_sizes(n, size)
    from generators.shards import read_dataset_info

    folder = Path(folder)
    if not folder.is_dir():
        raise StatsError(f"dataset folder {folder} "
                         f"{'is a file, not a folder' if folder.exists() else 'does not exist'}")
    reference = reference if reference is not None else load_reference()
    grays, labels, total = sample_dataset(folder, n, seed,
                                          convert=lambda image: resize_gray(to_gray(image), size))
    info = read_dataset_info(folder)
    path = os.path.relpath(folder, relative_to) if relative_to is not None else str(folder)
    result = {"name": name or folder.name, "path": path, "kind": info.get("kind"),
              "dataset_size": total, "seed": seed, "size": size,
              "reference": reference.get("source")}
    result.update(describe_images(grays, labels if labels and labels[0] is not None else None,
                                  reference))
    return result


def _fmt(value, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.{digits}f}"


def markdown_table(rows: list[dict]) -> str:
    """One row per dataset: property means (± std), diversity and log-mel distance."""
    head = ["dataset", *PROPERTY_NAMES, "diversity", "intra_class", "inter_class", "logmel_distance"]
    lines = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
    for row in rows:
        cells = [row["name"]]
        for p in PROPERTY_NAMES:
            s = row["properties"][p]
            cells.append(f"{_fmt(s['mean'])} ± {_fmt(s['std'], 2)}" if s["mean"] is not None else "–")
        cells += [_fmt(row.get(k)) for k in ("diversity", "intra_class", "inter_class",
                                             "logmel_distance")]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


#: ``reference_from_audio(folder, seed=...) -> reference dict`` (``tools.analysis.stats``: torch).
AudioReference = Callable[..., dict]


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports a bad argument in one line (no usage dump) and exits 2."""

    error_prefix = "synthgen: error:"

    def error(self, message: str):
        self.exit(2, f"{self.error_prefix} {message} (see --help)\n")


def get_parser(prog: str = "synthgen stats", error_prefix: str = "synthgen: error:"
               ) -> argparse.ArgumentParser:
    p = OneLineParser(
        prog=prog,
        description="Image properties of synthgen shard datasets (JSON + markdown table).",
        epilog=f"examples:\n  {prog} shards/fractaldb shards/stat-spectrum --json s.json --md s.md\n"
               "  python -m tools.analysis.stats --audio data/fsdd/recordings --write-reference ref.json",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.error_prefix = error_prefix
    p.add_argument("folders", nargs="*", metavar="DIR", help="shard directories")
    p.add_argument("--n", type=int, default=DEFAULT_N,
                   help=f"images sampled per dataset, {STATS_N.describe()} (default {DEFAULT_N}; "
                        f"--n x --size² at most {STATS_VALUES.limit:,})")
    p.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")
    p.add_argument("--size", type=int, default=DEFAULT_SIZE,
                   help=f"side images are resized to before measuring, {STATS_SIDE.describe()} "
                        f"(default {DEFAULT_SIZE})")
    p.add_argument("--audio", metavar="DIR", help="compute the log-mel reference from this audio "
                   "folder instead of the stored one (needs the training install: "
                   "python -m tools.analysis.stats --audio DIR)")
    p.add_argument("--reference", metavar="JSON", default=str(DEFAULT_REFERENCE),
                   help="stored reference stats (default generators/logmel_reference.json)")
    p.add_argument("--write-reference", metavar="JSON", help="with --audio: save the reference here")
    p.add_argument("--json", metavar="FILE", help="write the results as JSON here")
    p.add_argument("--md", metavar="FILE", help="write the markdown table here (default: stdout)")
    return p


def main(argv: list[str] | None = None, prog: str = "synthgen",
         reference_from_audio: AudioReference | None = None) -> int:
    """Run the command; errors are one line ``{prog}: error: ...`` and exit code 2.

    Without ``reference_from_audio`` (the torch-free ``synthgen stats``), ``--audio`` is an
    error that points to ``python -m tools.analysis.stats``.
    """
    args = get_parser(f"{prog} stats" if prog == "synthgen" else f"python -m tools.analysis.{prog}",
                      f"{prog}: error:").parse_args(argv)
    try:
        check_sizes(args.n, args.size)
        for flag in ("--json", "--md", "--write-reference"):
            check_output_file(getattr(args, flag[2:].replace("-", "_")), flag)
        if args.write_reference and not args.audio:
            raise StatsError("--write-reference needs --audio DIR")
        if not args.folders and not args.audio:
            raise StatsError("give at least one shard directory DIR (or --audio DIR)")
        if args.audio:
            if reference_from_audio is None:
                raise StatsError("--audio needs the log-mel front end (torch): run "
                                 "`python -m tools.analysis.stats --audio DIR ...` with the training "
                                 "install (pip install 'synthgen[train]')")
            if not Path(args.audio).is_dir():
                raise StatsError(f"--audio {args.audio} is not a folder")
            reference = reference_from_audio(args.audio, seed=args.seed)
            if args.write_reference:
                write_json_atomic(args.write_reference, reference, indent=1)
        else:
            reference = load_reference(args.reference)
        rows = [compute_stats(f, args.n, args.seed, args.size, reference) for f in args.folders]
        if args.audio:
            rows.append(reference)
        if args.json:
            write_json_atomic(args.json, rows, indent=1)
        table = markdown_table(rows)
        if args.md:
            write_bytes_atomic(args.md, table.encode())
        else:
            print(table, end="")
    except (StatsError, OSError, ValueError) as error:  # ValueError: a bad dataset.json
        print(f"{prog}: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
