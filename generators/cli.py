"""The ``synthgen`` command line: list, render, verify, preview.

Every user mistake ends in one line on stderr (``synthgen: error: ...``) and exit code 2;
``verify`` exits 1 when it finds a problem. Heavy imports happen inside the commands so
``--help`` stays fast.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import click

from generators import bounds
from generators.nodes import resolve_nodes

EXIT_USAGE = 2


class UserError(click.ClickException):
    exit_code = EXIT_USAGE


class RenderFailed(click.ClickException):
    """A render that failed for a reason other than the command line (exit 1)."""

    exit_code = 1


class OutPath(click.Path):
    """A ``click.Path`` that refuses an empty value (``Path("")`` would mean the current folder,
    which is what an unset shell variable gives)."""

    def convert(self, value, param, ctx):
        if isinstance(value, str) and not value.strip():
            self.fail("is empty; give a path (an unset shell variable?)", param, ctx)
        return super().convert(value, param, ctx)


def _available_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def check_output_file(path: Path | None, flag: str) -> None:
    """``UserError`` unless ``path`` can be written (:mod:`generators.output_paths`)."""
    from generators import output_paths

    try:
        output_paths.check_output_file(path, flag)
    except output_paths.OutputPathError as error:
        raise UserError(str(error)) from None


def check_out_folder(out: Path, force: bool) -> None:
    """``--out`` must name a folder that is empty, absent or already a synthgen dataset."""
    from generators.shards import DATASET_FILE

    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} exists and is not a directory")
    if force or not out.is_dir() or (out / DATASET_FILE).exists():
        return
    others = sorted(p.name for p in out.iterdir() if not p.name.startswith(f"{DATASET_FILE}.tmp"))
    if others:
        shown = ", ".join(others[:3]) + (", ..." if len(others) > 3 else "")
        raise UserError(f"--out {out} holds {len(others)} other file(s) ({shown}) but no "
                        f"{DATASET_FILE}; choose an empty folder or pass --force to render "
                        f"into it anyway")


def _kind_and_params(kind_name: str, param_items: tuple[str, ...]):
    from generators.params import make_params
    from generators.registry import UnavailableKindError, UnknownKindError, get_kind

    try:
        kind = get_kind(kind_name)
    except (UnknownKindError, UnavailableKindError) as error:
        raise UserError(str(error)) from None
    try:
        params = make_params(kind.params_type, param_items)
    except ValueError as error:
        raise UserError(f"{kind_name}: {error}") from None
    return kind, params


def _resolve_device(kind, device: str) -> str:
    """``--device`` -> ``"cpu"`` or ``"cuda"`` for ``kind`` (a one-line error if impossible)."""
    if device == "cpu":
        return "cpu"
    if "cuda" not in kind.devices:
        if device == "auto":
            return "cpu"
        raise UserError(f"--device cuda: {kind.name} renders on the CPU only (only the "
                        f"torch-based kinds stylegan-* and featvis-* use a GPU)")
    from generators.kinds._neural import pick_device

    try:
        return pick_device(device)
    except ValueError as error:
        raise UserError(str(error)) from None


param_option = click.option(
    "--param", "param_items", multiple=True, metavar="KEY=VALUE",
    help="Override a parameter of the kind (repeatable); see `synthgen list KIND`.")
seed_option = click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
                           help="Dataset seed: the same seed gives byte-identical shards.")
mode_option = click.option("--mode", type=click.Choice(["L", "RGB"]), default="L",
                           show_default=True,
                           help="Image mode: L (grayscale; luminance of RGB kinds) or RGB.")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="synthgen")
def cli() -> None:
    """Render procedural synthetic images into deterministic WebDataset shards.

    \b
    Example:
      synthgen list
      synthgen render fractaldb --n 10000 --size 256 --out data/fractaldb
      synthgen verify data/fractaldb
      synthgen preview data/fractaldb --out fractaldb.png
    """


def _check_kind_size(kind, size: int, flag: str) -> None:
    """``UserError`` when ``kind`` cannot render ``size`` (e.g. the audio kinds' mel bins)."""
    try:
        kind.check_size(size)
    except ValueError as error:
        raise UserError(f"{flag} {size}: {error}") from None


@cli.command("list")
@click.argument("kind_name", required=False, metavar="[KIND]")
def list_command(kind_name: str | None) -> None:
    """List every pattern kind with its parameters, defaults and allowed ranges."""
    import dataclasses

    from generators.params import describe_range
    from generators.registry import broken_kinds, list_kinds

    kinds = list_kinds()
    if kind_name is not None:
        kinds = [k for k in kinds if k.name == kind_name]
        if not kinds:
            raise UserError(f"unknown pattern kind {kind_name!r}; see `synthgen list`")
    for kind in kinds:
        reason = kind.unavailable_reason()
        status = f"  [unavailable: {reason}]" if reason else ""
        classes = "  (class-structured)" if kind.has_classes else ""
        click.echo(f"{kind.name}: {kind.summary}{classes}{status}")
        for f in dataclasses.fields(kind.params_type):
            help_text = f.metadata.get("help", "")
            click.echo(f"    {f.name} = {f.default!r}  [{describe_range(f)}]  {help_text}")
    if kind_name is None:
        for name, reason in sorted(broken_kinds().items()):
            click.echo(f"{name}: [unavailable: {reason}]")


@cli.command()
@click.argument("kind_name", metavar="KIND")
@click.option("--n", "n", type=bounds.SAMPLES.click_type(), required=True,
              help="Number of images in the dataset.")
@click.option("--out", type=OutPath(file_okay=False, path_type=Path), required=True,
              help="Output directory (created; rerun the same command to resume).")
@click.option("--size", type=bounds.IMAGE_SIDE.click_type(), default=256, show_default=True,
              help="Image side in pixels.")
@mode_option
@seed_option
@click.option("--shard-size", type=bounds.SHARD_SIZE.click_type(), default=1000, show_default=True,
              help="Samples per tar shard (a shard is encoded in memory: shard size x size² x "
                   f"channels at most 4 GiB; at most {bounds.SHARD_COUNT.limit:,} shards).")
@click.option("--workers", type=bounds.WORKERS.click_type(), default=None,
              help="Worker processes on this machine [default: available CPUs].")
@click.option("--num-nodes", type=click.IntRange(min=1), default=None,
              help="Machines rendering into one directory [default: SLURM_ARRAY_TASK_COUNT, "
                   "SYNTHGEN_NUM_NODES, else 1].")
@click.option("--node-rank", type=click.IntRange(min=0), default=None,
              help="This machine's rank: renders shards k with k %% num_nodes == rank "
                   "[default: SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN, JOB_COMPLETION_INDEX, else 0; "
                   "a flag wins over the environment].")
@click.option("--png-level", type=click.IntRange(0, 9), default=None,
              help="PNG zlib level [default: 1, 2-3x faster to encode than 6, ~10 % larger].")
@click.option("--device", type=click.Choice(["cpu", "cuda", "auto"]), default="cpu",
              show_default=True,
              help="Where the torch-based kinds (stylegan-*, featvis-*) compute: cpu (the "
                   "reference), cuda, or auto (cuda when torch sees a GPU). GPU shards are "
                   "not byte-identical to CPU shards (docs/neural-kinds.md).")
@param_option
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option("--force", is_flag=True,
              help="Render into a non-empty --out that holds no dataset yet.")
def render(kind_name, n, out, size, mode, seed, shard_size, workers, num_nodes, node_rank,
           png_level, device, param_items, quiet, force) -> None:
    """Render N images of KIND into tar shards in OUT.

    \b
    Shards are {kind}-000000.tar, ... with a {kind}-000000.json sidecar each and OUT/dataset.json.
    A shard appears only when complete; rerunning the same command renders the missing shards
    and every shard whose bytes no longer match its sidecar (so rerunning repairs).
    Example (two machines of a SLURM array, or two invocations with --node-rank 0 and 1):
      synthgen render fractaldb --n 1000000 --out /data/fractaldb --num-nodes 2
    """
    from concurrent.futures.process import BrokenProcessPool

    from generators import output_paths
    from generators.registry import RenderError
    from generators.render import DatasetMismatchError, RenderConfig, render_dataset
    from generators.sample import DEFAULT_PNG_LEVEL

    kind, params = _kind_and_params(kind_name, param_items)
    _check_kind_size(kind, size, "--size")
    try:
        num_nodes, node_rank = resolve_nodes(num_nodes, node_rank)
    except ValueError as error:
        raise UserError(str(error)) from None
    workers = workers or _available_cpus()
    device = _resolve_device(kind, device)
    try:
        bounds.SHARD_BYTES.check(shard_size * size * size * (3 if mode == "RGB" else 1),
                                 f"--shard-size {shard_size} images of {size}x{size} {mode}",
                                 "lower --shard-size")
        bounds.SHARD_COUNT.check(-(-n // shard_size), f"--n {n} in shards of --shard-size "
                                 f"{shard_size}", "raise --shard-size")
    except ValueError as error:
        raise UserError(str(error)) from None
    try:
        output_paths.check_output_folder(out, "--out")
    except output_paths.OutputPathError as error:
        raise UserError(f"cannot write to {error}") from None
    check_out_folder(out, force)
    config = RenderConfig(kind=kind.name, params=params, n=n, seed=seed, size=size, mode=mode,
                          shard_size=shard_size,
                          png_level=DEFAULT_PNG_LEVEL if png_level is None else png_level,
                          device=device)
    try:
        out.mkdir(parents=True, exist_ok=True)
        if not os.access(out, os.W_OK):
            raise PermissionError(f"permission denied: {out}")
    except OSError as error:
        raise UserError(f"cannot write to --out {out}: {error.strerror or error}") from None
    started = time.perf_counter()
    try:
        result = render_dataset(config, out, workers=workers, num_nodes=num_nodes,
                                node_rank=node_rank, progress=not quiet)
    except DatasetMismatchError as error:
        raise UserError(str(error)) from None
    except RenderError as error:
        raise RenderFailed(f"{kind.name}: {error} (finished shards are kept; rerun to resume)") \
            from None
    except BrokenProcessPool as error:
        raise RenderFailed(f"{kind.name}: a worker process died ({error}); finished shards "
                           f"are kept, rerun to resume") from None
    except OSError as error:  # a full disk, a vanished folder: nothing half-written is left
        raise RenderFailed(f"{kind.name}: rendering into {out} failed: "
                           f"{error.strerror or error} (finished shards are kept; rerun to "
                           f"resume, after freeing space if the disk is full)") from None
    seconds = time.perf_counter() - started
    render_seconds = max(seconds - result.get("class_seconds", 0.0), 1e-9)
    rate = result["images"] / render_seconds if result["images"] else 0.0
    classes = (f"class search {result['class_seconds']:.1f} s, "
               if result.get("class_seconds") else "")
    click.echo(f"{kind.name}: rendered {result['rendered']} shards ({result['images']} images; "
               f"{classes}{rate:.1f} images/s rendering), {result['skipped']} already finished "
               f"-> {out}", err=True)


@cli.command()
@click.argument("folder", type=click.Path(path_type=Path))
def verify(folder: Path) -> None:
    """Check every shard of FOLDER against its sidecar (count, sha256) and decode every sample.

    Exits 1 and lists the problems if any shard is missing, truncated or corrupt, holds a sample
    that is not a PNG of the dataset's size and mode, is not a regular file (a FIFO or link is
    never opened), or if the folder holds a shard outside the dataset; leftover temporary files
    are warnings.
    """
    from generators.shards import read_dataset_info
    from generators.verify import verify_report

    try:
        read_dataset_info(folder)
    except (FileNotFoundError, ValueError) as error:
        raise UserError(str(error)) from None
    problems, warnings = verify_report(folder)
    for warning in warnings:
        click.echo(f"WARN {warning}")
    for problem in problems:
        click.echo(f"FAIL {problem}")
    if problems:
        click.echo(f"{folder}: {len(problems)} problem(s)", err=True)
        raise click.exceptions.Exit(1)
    click.echo(f"{folder}: all shards intact" + (f" ({len(warnings)} warning(s))" if warnings else ""))


@cli.command()
@click.argument("source", metavar="KIND|DIR")
@click.option("--out", type=OutPath(dir_okay=False, path_type=Path), required=True,
              help="PNG file to write.")
@click.option("--count", type=bounds.PREVIEW_COUNT.click_type(), default=64, show_default=True,
              help="Images on the sheet (class kinds: one per class); count x side² at most "
                   f"{bounds.SHEET_PIXELS.limit:,} pixels.")
@click.option("--size", type=bounds.PREVIEW_SIDE.click_type(), default=128, show_default=True,
              help="Image side when rendering a KIND.")
@click.option("--audio", "audio_dir", type=OutPath(file_okay=False, path_type=Path), default=None,
              help="Also write the sound behind each image into this folder (audio-* kinds): "
                   "KIND-0000.wav, ... 16 kHz mono 16-bit.")
@click.option("--audio-format", type=click.Choice(["wav", "flac"]), default="wav", show_default=True,
              help="File format of --audio (flac needs the soundfile package).")
@mode_option
@seed_option
@param_option
def preview(source, out, count, size, mode, seed, param_items, audio_dir, audio_format) -> None:
    """Write a contact sheet of KIND (rendered now) or of a shard directory DIR.

    \b
    Example:
      synthgen preview visualatom --out visualatom.png --count 100
      synthgen preview audio-fm --out fm.png --count 16 --audio fm-sounds
    """
    from PIL import Image

    from generators.preview import contact_sheet, preview_kind, save_sheet
    from generators.reader import read_images
    from generators.shards import read_dataset_info

    Image.init()
    if out.suffix.lower() not in Image.registered_extensions():
        raise UserError(f"--out {out}: unknown image extension {out.suffix!r}; use .png, .jpg, "
                        f".webp, ...")
    check_output_file(out, "--out")
    if audio_dir is not None and Path(source).is_dir():
        raise UserError(f"--audio needs a KIND: {source} holds images, not sound")
    if Path(source).is_dir():
        try:
            side = read_dataset_info(source).get("size", bounds.IMAGE_SIDE.high)
            bounds.SHEET_PIXELS.check(count * side * side, f"--count {count} images of "
                                      f"{side}x{side} (the dataset's size)", "lower --count")
            images, labels = read_images(source, count)
        except (FileNotFoundError, ValueError) as error:
            raise UserError(str(error)) from None
    else:
        try:
            bounds.SHEET_PIXELS.check(count * size * size, f"--count {count} images of --size "
                                      f"{size}", "lower --count or --size")
        except ValueError as error:
            raise UserError(str(error)) from None
        kind, params = _kind_and_params(source, param_items)
        _check_kind_size(kind, size, "--size")
        if audio_dir is not None and kind.waveform is None:
            raise UserError(f"--audio: pattern kind {kind.name!r} renders images, not sound; "
                            f"use an audio kind (audio-*)")
        if audio_dir is not None:
            from generators.audio_preview import check_format

            try:
                check_format(audio_format)
            except ValueError as error:
                raise UserError(str(error)) from None
        images, labels = preview_kind(kind.name, params, count, size, seed, mode,
                                      progress=sys.stderr.isatty())
    try:
        save_sheet(contact_sheet(images, labels), out)
    except OSError as error:
        raise UserError(f"cannot write {out}: {error.strerror or error}") from None
    click.echo(f"wrote {out} ({len(images)} images)", err=True)
    if audio_dir is not None:
        from generators.audio_preview import write_waveforms

        try:
            paths = write_waveforms(kind, params, count, size, seed, audio_dir, audio_format)
        except ValueError as error:
            raise UserError(str(error)) from None
        except OSError as error:
            raise UserError(f"cannot write into {audio_dir}: {error.strerror or error}") from None
        click.echo(f"wrote {len(paths)} {audio_format.upper()} files to {audio_dir}", err=True)


@cli.command(context_settings={"ignore_unknown_options": True, "help_option_names": []},
             add_help_option=False)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def stats(args: tuple[str, ...]) -> None:
    """Image-property statistics of shard directories (JSON + markdown table).

    \b
    Torch-free: measured against the stored log-mel reference. `synthgen stats --help` lists
    its options; `python -m tools.analysis.stats --audio DIR` (training install) computes a reference
    from real audio. Example:
      synthgen stats data/fractaldb data/visualatom --n 200 --json stats.json
    """
    from generators.stats import main as stats_main

    raise click.exceptions.Exit(stats_main(list(args)) or 0)


def main(argv: list[str] | None = None) -> int:
    """Console entry point: one-line errors, exit 2 for usage errors; ``SIGTERM`` stops like
    Ctrl-C (workers ended, finished shards kept) with exit code 143."""
    import signal

    received: list[int] = []

    def terminate(signum, frame):
        received.append(signum)
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        code = cli.main(args=argv, prog_name="synthgen", standalone_mode=False)
    except (click.exceptions.Abort, KeyboardInterrupt):
        click.echo("synthgen: terminated" if received else "synthgen: interrupted", err=True)
        return 128 + received[0] if received else 130
    except click.exceptions.NoArgsIsHelpError as error:
        click.echo(error.ctx.get_help())
        return 0
    except click.ClickException as error:
        click.echo(f"synthgen: error: {error.format_message()}", err=True)
        return error.exit_code if error.exit_code else EXIT_USAGE
    except click.exceptions.Exit as exit_:
        return exit_.exit_code
    finally:
        signal.signal(signal.SIGTERM, previous)
    return code if isinstance(code, int) else 0


if __name__ == "__main__":
    sys.exit(main())
