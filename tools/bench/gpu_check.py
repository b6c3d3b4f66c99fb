"""GPU check of the neural kinds: speed on the GPU and the same distribution as the CPU reference.

For each kind it renders the same ``--n`` samples (same seed, parameters, batches) on the CPU
and on the GPU (``--device cuda``), times the GPU (images/s after a warm-up batch, batched as
in shards) and compares per-image statistics of the two sets: mean and standard deviation of
the pixel values, and the slope of the radially averaged power spectrum of the luminance
(``generators.image_properties.spectrum_slope``). GPU bytes are not expected to equal CPU bytes
(GPU convolutions round differently); the check is that the *distribution* is the same:

* ``|mean_gpu - mean_cpu|`` and ``|std_gpu - std_cpu|`` (averages over the images, 0..255
  scale) within ``--tol-pixel`` (default 2.0);
* ``|slope_gpu - slope_cpu|`` (average over the images) within ``--tol-slope`` (default 0.1);
* for StyleGAN additionally per image: the GPU image of sample ``i`` is the CPU image up to
  rounding (median absolute pixel difference <= 1), since nothing there is chaotic.
  Feature visualisations are optimised by Adam, whose sign-like first steps amplify rounding
  differences, so only their distributions are compared.

Prints one row per kind and a JSON summary (``--json``); exits 0 when every kind passes, 1 when
one fails, 2 with a one-line message when torch sees no GPU.

Example (about 3-6 minutes on one GPU and a few CPU cores, most of it the CPU reference):
    python tools/bench/gpu_check.py --n 32 --size 256 --json gpu_check.json
    python tools/bench/gpu_check.py --kinds featvis-random --n 16 --param featvis-random:steps=128
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from generators.atomic import write_json_atomic
from generators.image_properties import spectrum_slope, to_gray
from generators.params import make_params
from generators.registry import get_kind
from generators.sample import batches, render_samples, sample_class_params
from tools.bench.kind_overrides import kind_overrides

KINDS = ("stylegan-random", "stylegan-highfreq", "stylegan-sparse", "stylegan-oriented",
         "featvis-random", "featvis-deadleaves")


def render_set(name: str, params, n: int, size: int, device: str, seed: int = 0
               ) -> tuple[list[np.ndarray], float]:
    """``n`` RGB samples of ``name`` rendered in shard-style batches on ``device``, and the
    images/s after a warm-up batch (not counted)."""
    kind = get_kind(name)
    context = kind.build_context(params, device)
    # indices < n only use classes < min(num_classes, n)
    classes = [sample_class_params(kind, params, seed, c)
               for c in range(min(params.num_classes, n))] if kind.has_classes else None
    groups = batches(list(range(n)), kind.batch_size(params))
    render_samples(kind, params, seed + 1, groups[0], size, "RGB", classes, context)  # warm-up
    _synchronise(device)
    started = time.perf_counter()
    images = []
    for group in groups:
        images += [image for image, _ in render_samples(kind, params, seed, group, size, "RGB",
                                                        classes, context)]
    _synchronise(device)
    return images, n / (time.perf_counter() - started)


def _synchronise(device: str) -> None:
    if device == "cuda":
        import torch

        torch.cuda.synchronize()


def statistics(images: list[np.ndarray]) -> dict[str, float]:
    """Averages over the images of their pixel mean, pixel sd and luminance spectrum slope."""
    return {
        "mean": float(np.mean([im.mean() for im in images])),
        "std": float(np.mean([im.std() for im in images])),
        "slope": float(np.nanmean([spectrum_slope(to_gray(im)) for im in images])),
    }


def check_kind(name: str, overrides: list[str], n: int, size: int, tol_pixel: float,
               tol_slope: float, device: str = "cuda") -> dict:
    kind = get_kind(name)
    params = make_params(kind.params_type, overrides)
    cpu, cpu_rate = render_set(name, params, n, size, "cpu")
    gpu, gpu_rate = render_set(name, params, n, size, device)
    row = {"kind": name, "n": n, "size": size, "batch_size": kind.batch_size(params),
           "gpu_img_s": gpu_rate, "cpu_img_s": cpu_rate,
           "cpu": statistics(cpu), "gpu": statistics(gpu)}
    row["d_mean"] = abs(row["gpu"]["mean"] - row["cpu"]["mean"])
    row["d_std"] = abs(row["gpu"]["std"] - row["cpu"]["std"])
    row["d_slope"] = abs(row["gpu"]["slope"] - row["cpu"]["slope"])
    row["identical"] = sum(np.array_equal(a, b) for a, b in zip(cpu, gpu))
    ok = row["d_mean"] <= tol_pixel and row["d_std"] <= tol_pixel and row["d_slope"] <= tol_slope
    if name.startswith("stylegan"):
        row["median_abs_diff"] = float(np.median([np.median(np.abs(a.astype(int) - b))
                                                  for a, b in zip(cpu, gpu)]))
        ok = ok and row["median_abs_diff"] <= 1
    row["ok"] = bool(ok)
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kinds", default=",".join(KINDS), help="comma-separated kinds")
    parser.add_argument("--n", type=int, default=32, help="images per kind and device")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--param", action="append", default=[], metavar="KIND:KEY=VALUE",
                        help="override a parameter of one kind (repeatable)")
    parser.add_argument("--tol-pixel", type=float, default=2.0)
    parser.add_argument("--tol-slope", type=float, default=0.1)
    parser.add_argument("--json", help="write the rows to this JSON file")
    parser.add_argument("--device", default="cuda", choices=["cuda", "cpu"],
                        help="device checked against the CPU (cpu: a dry run of this script)")
    args = parser.parse_args(argv)
    import torch

    if args.device == "cuda" and not torch.cuda.is_available():
        print(f"gpu_check: error: torch {torch.__version__} sees no CUDA GPU", file=sys.stderr)
        return 2
    torch.set_num_threads(1)          # the CPU reference as in a render worker
    overrides = kind_overrides(parser, args.param)
    gpu_name = torch.cuda.get_device_name(0) if args.device == "cuda" else "none (dry run on CPU)"
    print(f"GPU: {gpu_name}, torch {torch.__version__}")
    print(f"{'kind':>20} | {'batch':>5} | {'gpu img/s':>9} | {'cpu img/s':>9} | {'d_mean':>6} | "
          f"{'d_std':>6} | {'d_slope':>7} | {'same bytes':>10} | ok")
    rows = []
    for kind_name in args.kinds.split(","):
        row = check_kind(kind_name, overrides.get(kind_name, []), args.n, args.size, args.tol_pixel,
                         args.tol_slope, args.device)
        rows.append(row)
        print(f"{kind_name:>20} | {row['batch_size']:5d} | {row['gpu_img_s']:9.2f} | "
              f"{row['cpu_img_s']:9.2f} | {row['d_mean']:6.2f} | {row['d_std']:6.2f} | "
              f"{row['d_slope']:7.3f} | {row['identical']:4d}/{args.n:<5d} | "
              f"{'yes' if row['ok'] else 'NO'}", flush=True)
    if args.json:
        write_json_atomic(args.json, rows, indent=1)
    return 0 if all(row["ok"] for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
