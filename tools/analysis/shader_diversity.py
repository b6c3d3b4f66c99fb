"""How diverse are the shader kinds? Mean pairwise distance of simple image descriptors.

Renders instance 0 of every class of ``shaders-random`` (grammar programs), of ``shaders``
(library families x parameter draws) and one image per library family, then describes each
image by

* the power-spectrum slope (least-squares slope of log radially averaged power vs. log
  frequency, 2 .. size/2 cycles per image; natural images are near -2),
* the edge density (fraction of pixels whose luma gradient exceeds 0.05 per pixel),
* the luma standard deviation and the colourfulness (Hasler & Suesstrunk 2003),
* a colour histogram (8 bins per channel).

It prints, per set, the mean pairwise distance of each descriptor (absolute difference;
Hellinger distance for histograms) and of all of them together (Euclidean distance of the
scalar descriptors standardised over the pooled sets, plus the Hellinger distance). Sets of
different sizes are compared fairly by also averaging over random subsets the size of the
smallest set.

Example:
    python tools/analysis/shader_diversity.py --classes 1000 --size 128
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from generators.atomic import write_json_atomic

SCALARS = ("spectrum_slope", "edge_density", "luma_std", "colourfulness")


def describe(image: np.ndarray) -> dict:
    """Descriptors of one RGB uint8 image (see the module docstring)."""
    rgb = image.astype(np.float64) / 255.0
    luma = rgb @ np.array([0.299, 0.587, 0.114])
    size = luma.shape[0]
    window = np.outer(np.hanning(size), np.hanning(size))
    power = np.abs(np.fft.fftshift(np.fft.fft2((luma - luma.mean()) * window))) ** 2
    y, x = np.indices(power.shape) - size // 2
    radius = np.hypot(x, y).astype(int)
    counts = np.bincount(radius.ravel())
    radial = np.bincount(radius.ravel(), power.ravel()) / np.maximum(counts, 1)
    freqs = np.arange(2, size // 2)
    slope = np.polyfit(np.log(freqs), np.log(radial[freqs] + 1e-12), 1)[0]
    gy, gx = np.gradient(luma)
    edges = float(np.mean(np.hypot(gx, gy) > 0.05))
    rg = rgb[..., 0] - rgb[..., 1]
    yb = 0.5 * (rgb[..., 0] + rgb[..., 1]) - rgb[..., 2]
    colourful = float(np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean()))
    hist = np.concatenate([np.histogram(image[..., c], bins=8, range=(0, 256))[0]
                           for c in range(3)]).astype(np.float64)
    hist /= hist.sum()
    return {"spectrum_slope": float(slope), "edge_density": edges, "luma_std": float(luma.std()),
            "colourfulness": colourful, "histogram": hist}


def mean_pairwise(matrix: np.ndarray) -> float:
    """Mean Euclidean distance over all pairs of rows."""
    squared = (matrix ** 2).sum(1)
    d2 = np.maximum(squared[:, None] + squared[None, :] - 2 * matrix @ matrix.T, 0.0)
    n = len(matrix)
    return float(np.sqrt(d2)[np.triu_indices(n, 1)].mean())


def diversity(sets: dict[str, list[dict]], subset: int, rng: np.random.Generator) -> dict:
    pooled = [d for descs in sets.values() for d in descs]
    scale = {k: np.std([d[k] for d in pooled]) or 1.0 for k in SCALARS}
    report = {}
    for name, descs in sets.items():
        scalars = np.array([[d[k] / scale[k] for k in SCALARS] for d in descs])
        hists = np.sqrt(np.array([d["histogram"] for d in descs])) / np.sqrt(2 * 3)
        combined = np.hstack([scalars, hists])
        row = {"images": len(descs)}
        for i, key in enumerate(SCALARS):
            row[key] = mean_pairwise(scalars[:, i:i + 1] * scale[key])
        row["histogram_hellinger"] = mean_pairwise(hists)
        row["combined"] = mean_pairwise(combined)
        if len(descs) > subset:
            draws = [mean_pairwise(combined[rng.choice(len(descs), subset, replace=False)])
                     for _ in range(200)]
            row[f"combined_subsets_of_{subset}"] = [float(np.percentile(draws, q)) for q in (5, 50, 95)]
        report[name] = row
    return report


def render_classes(kind_name: str, overrides: list[str], count: int, size: int, seed: int,
                   service) -> list[np.ndarray]:
    from generators.params import make_params
    from generators.registry import get_kind
    from generators.sample import render_sample

    kind = get_kind(kind_name)
    params = make_params(kind.params_type, [f"num_classes={count}", *overrides])
    return [render_sample(kind, params, seed, c, size, "RGB", context=service)[0]
            for c in range(count)]


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--classes", type=int, default=1000, help="classes per kind")
    parser.add_argument("--size", type=int, default=128, help="image side in pixels")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", help="also write the report to this file")
    args = parser.parse_args(argv)

    from shaders.library import family_names
    from shaders.service import RenderService

    started = time.perf_counter()
    images: dict[str, list[np.ndarray]] = {}
    with RenderService(timeout_s=120) as service:
        images["shaders-random classes"] = render_classes("shaders-random", [], args.classes,
                                                          args.size, args.seed, service)
        images["shaders classes"] = render_classes("shaders", [], args.classes, args.size,
                                                   args.seed, service)
        images["library families"] = [
            render_classes("shaders", [f"families={name}"], 1, args.size, args.seed, service)[0]
            for name in family_names()]
    sets = {name: [describe(im) for im in ims] for name, ims in images.items()}
    subset = min(len(s) for s in sets.values())
    report = diversity(sets, subset, np.random.default_rng(args.seed))
    report["seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps(report, indent=1))
    if args.json:
        write_json_atomic(args.json, report, indent=1)
    return report


if __name__ == "__main__":
    main()
