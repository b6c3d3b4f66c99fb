"""The checkpoint directory (docs/design.md, "Checkpoints"): encoder, config, train state.

``CKPT/encoder.safetensors`` is the timm ``VisionTransformer`` state dict alone (loads with
``timm.create_model(cfg["timm_name"], **cfg["timm_kwargs"])``); ``config.json`` says how to build
it and how inputs were standardised; ``train_state.pt`` holds everything to continue exactly
(full MAE weights, optimizer, step, RNG states as tensors) and loads with ``weights_only=True``.
Every file is written atomically (:mod:`generators.atomic`: a unique temporary name in the
folder, fsync of file and folder, ``os.replace``, the permissions of a new file), so a kill
leaves either the old or the new file, never a truncated one.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from generators.atomic import atomic_open, atomic_path, write_bytes_atomic

ENCODER_FILE, CONFIG_FILE, STATE_FILE = "encoder.safetensors", "config.json", "train_state.pt"


class CheckpointError(ValueError):
    """A checkpoint that is missing, corrupt or does not match the requested model."""


def write_json(path: Path, data: dict) -> None:
    write_text(path, json.dumps(data, indent=1, sort_keys=True))


def write_text(path: Path, text: str) -> None:
    write_bytes_atomic(path, text.encode())


def save_encoder(folder: Path, encoder: torch.nn.Module, config: dict) -> None:
    """Write ``encoder.safetensors`` then ``config.json`` into ``folder`` (created)."""
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().to("cpu", torch.float32).contiguous() for k, v in encoder.state_dict().items()}
    with atomic_path(folder / ENCODER_FILE) as tmp:  # safetensors writes by file name
        save_file(tensors, str(tmp), metadata={"format": "pt"})
    write_json(folder / CONFIG_FILE, config)


def save_state(folder: Path, state: dict) -> None:
    """Write ``train_state.pt`` (plain tensors and Python types only)."""
    with atomic_open(folder / STATE_FILE) as handle:
        torch.save(state, handle)


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
