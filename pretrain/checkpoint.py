"""The checkpoint directory (docs/design.md, "Checkpoints"): encoder, config, train state.

``CKPT/encoder.safetensors`` is the timm ``VisionTransformer`` state dict alone (loads with
``timm.create_model(cfg["timm_name"], **cfg["timm_kwargs"])``); ``config.json`` says how to build
it and how inputs were standardised; ``train_state.pt`` holds everything to continue exactly
(full MAE weights, optimizer, step, RNG states as tensors) and loads with ``weights_only=True``.
Every file is written atomically (:mod:`generators.atomic`: a unique temporary name in the
folder, fsync of file and folder, ``os.replace``, the permissions of a new file), so a kill
leaves either the old or the new file, never a truncated one. A training checkpoint
(:func:`save_checkpoint`) writes all three files to their temporaries first and renames them
only when all are on disk: a save that fails (a full disk) leaves the previous checkpoint as it
was and raises :class:`SaveError`.

``encoder.safetensors`` carries its architecture (``timm_name`` and ``timm_kwargs``) in its
header metadata; a ``config.json`` that describes another architecture than its weights were
saved with (``num_heads``, ``img_size``, ... edited by hand, or copied from another run) is
refused by :func:`check_architecture` instead of building a model that reads the weights wrong.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from generators.atomic import AtomicFile, write_bytes_atomic

ENCODER_FILE, CONFIG_FILE, STATE_FILE = "encoder.safetensors", "config.json", "train_state.pt"


class CheckpointError(ValueError):
    """A checkpoint that is missing, corrupt or does not match the requested model."""


class SaveError(OSError):
    """A checkpoint could not be written (full disk, ...); the previous one is unchanged."""


def config_bytes(config: dict) -> bytes:
    """``config.json``'s bytes."""
    return json.dumps(config, indent=1, sort_keys=True).encode()


def write_text(path: Path, text: str) -> None:
    write_bytes_atomic(path, text.encode())


def architecture(config: dict) -> str:
    """The part of a checkpoint config that decides how the weights are read, as canonical JSON."""
    return json.dumps({"timm_name": config.get("timm_name"), "timm_kwargs": config.get("timm_kwargs")},
                      sort_keys=True)


def check_architecture(weights: Path, config: dict) -> str | None:
    """Why ``config`` does not describe the architecture ``weights`` were saved with (``None``
    if it does, or if the file records none: written before the record existed)."""
    from safetensors import safe_open

    with safe_open(str(weights), "pt") as handle:
        text = (handle.metadata() or {}).get("architecture")
    if text is None:
        return None
    try:
        saved = json.loads(text)
    except ValueError:
        saved = None
    if not isinstance(saved, dict) or not isinstance(saved.get("timm_kwargs"), dict):
        return f"{weights} records an unreadable architecture in its header; the file is damaged"
    described = json.loads(architecture(config))
    if saved == described:
        return None
    ours = described["timm_kwargs"] if isinstance(described["timm_kwargs"], dict) else {}
    differ = sorted(k for k in set(saved["timm_kwargs"]) | set(ours) if saved["timm_kwargs"].get(k) != ours.get(k))
    return (f"{weights} was saved with another architecture than its config.json describes "
            f"(differs: {', '.join(differ) or 'timm_name'}); the config.json belongs to other weights")


def _encoder_bytes(encoder: torch.nn.Module, config: dict) -> bytes:
    from safetensors.torch import save

    tensors = {k: v.detach().to("cpu", torch.float32).contiguous() for k, v in encoder.state_dict().items()}
    return save(tensors, metadata={"format": "pt", "architecture": architecture(config)})


def _write_all(folder: Path, writers: dict[str, object]) -> None:
    """Write every ``name -> bytes or writer(handle)`` into ``folder``: all to temporaries
    (flushed, fsync'ed), then all renamed into place. On a failure before the renames every
    temporary is removed and the folder is as it was."""
    folder.mkdir(parents=True, exist_ok=True)
    staged: list[AtomicFile] = []
    try:
        for name, write in writers.items():
            staged.append(AtomicFile(folder / name))
            handle = staged[-1].file
            handle.write(write) if isinstance(write, bytes) else write(handle)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        for target in staged:
            target.discard()
        raise
    for target in staged:
        target.commit()


def save_encoder(folder: Path, encoder: torch.nn.Module, config: dict) -> None:
    """Write ``encoder.safetensors`` and ``config.json`` into ``folder`` (created), both or neither."""
    _write_all(folder, {ENCODER_FILE: _encoder_bytes(encoder, config), CONFIG_FILE: config_bytes(config)})


def save_checkpoint(folder: Path, encoder: torch.nn.Module, config: dict, state: dict) -> None:
    """``encoder.safetensors``, ``config.json`` and ``train_state.pt`` (plain tensors and Python
    types only) of one step, all three or none; ``SaveError`` (the cause in one line) when they
    cannot be written, the previous checkpoint unchanged."""
    try:
        _write_all(folder, {ENCODER_FILE: _encoder_bytes(encoder, config), CONFIG_FILE: config_bytes(config),
                            STATE_FILE: lambda handle: torch.save(state, handle)})
    except OSError as error:
        raise SaveError(error.errno, error.strerror or str(error)) from None


def read_config(folder: Path) -> dict:
    path = Path(folder) / CONFIG_FILE
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise CheckpointError(f"{path} not found: not a checkpoint directory") from None
    except ValueError as error:
        raise CheckpointError(f"{path} is corrupt (not JSON: {error})") from None


def load_state(folder: Path) -> dict:
    """``train_state.pt`` with ``weights_only=True``; ``CheckpointError`` if unreadable."""
    path = Path(folder) / STATE_FILE
    if not path.is_file():
        raise CheckpointError(f"{path} not found: nothing to resume")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # pickle/zip errors of a truncated or foreign file
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise CheckpointError(f"{path} is corrupt or not a train state ({first})") from None
    missing = ({"model", "optimizer", "step", "images_seen", "rng"} - set(state)
               if isinstance(state, dict) else {"model"})
    if missing:
        raise CheckpointError(f"{path} is not a train state (missing {sorted(missing)})")
    return state


def load_encoder(folder: str | Path) -> tuple[torch.nn.Module, dict]:
    """Build the timm encoder of a checkpoint directory and load its weights (strict).

    Returns ``(encoder, config)``; ``CheckpointError`` names the file for a corrupt or
    mismatched checkpoint.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from pretrain.model import check_timm_config, create_encoder

    folder = Path(folder)
    config = read_config(folder)
    if not isinstance(config, dict) or "timm_name" not in config or "timm_kwargs" not in config:
        raise CheckpointError(f"{folder / CONFIG_FILE} does not describe a timm model "
                              f"(needs timm_name and timm_kwargs)")
    try:
        check_timm_config(config["timm_name"], config["timm_kwargs"])
    except ValueError as error:
        raise CheckpointError(f"{folder / CONFIG_FILE}: {error}") from None
    try:
        encoder = create_encoder(config["timm_name"], config["timm_kwargs"])
    except (KeyError, TypeError, RuntimeError, ValueError) as error:
        raise CheckpointError(f"{folder / CONFIG_FILE} does not describe a timm model ({error})") from None
    path = folder / ENCODER_FILE
    try:
        tensors = load_file(str(path))
    except FileNotFoundError:
        raise CheckpointError(f"{path} not found") from None
    except (SafetensorError, OSError, ValueError) as error:
        raise CheckpointError(f"{path} is corrupt ({error})") from None
    problem = check_architecture(path, config)
    if problem:
        raise CheckpointError(problem)
    try:
        encoder.load_state_dict(tensors, strict=True)
    except RuntimeError as error:
        raise CheckpointError(f"{path} does not match {config['timm_name']} "
                              f"{config['timm_kwargs']}: {str(error).splitlines()[0]}") from None
    return encoder, config


def rng_state() -> dict:
    """Global torch RNG states as tensors (``weights_only``-loadable)."""
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
