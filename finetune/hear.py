"""HEAR 2021 common API (Turian et al. 2022, hearbenchmark.com) for ``pretrain`` checkpoints.

    import finetune.hear as hear_module
    model = hear_module.load_model("runs/fractaldb-s0")          # a checkpoint folder
    scene = hear_module.get_scene_embeddings(audio, model)       # (n_sounds, D)
    emb, ts = hear_module.get_timestamp_embeddings(audio, model) # (n_sounds, T, D), (n_sounds, T) ms

``audio`` is a float tensor ``(n_sounds, n_samples)`` at ``model.sample_rate`` (16 kHz) in
[-1, 1]. Each sound -> log-mel (``pretrain.frontend``) -> the whole sound in chunks of the
checkpoint's input width (``finetune.chunks``: the last chunk padded, padding-only patch columns
dropped) -> encoder -> patch tokens of the last block on the (frequency, time) grid.

Scene embeddings: the linear probe's default pooling, ``freq`` -- per time column the F
frequency tokens side by side (F*D values), averaged over the sound's columns; identical to the
probe's embedding of the same sound with the same input normalisation.
Timestamp embeddings: the same F*D layout for one patch column (16 frames = 160 ms wide) at a
regular hop of 40 ms (``HOP_FRAMES`` = 4 frames): the encoder runs on the sound shifted by 0, 4,
8 and 12 frames, so the columns of the four passes interleave. Timestamps are the column
centres in ms (75, 115, 155, ... for 10-ms frames), one per hop that starts inside the sound.

Input normalisation: the ``config.json`` entry ``audio_norm`` = ``{"mean": m, "std": s}`` when
present (log-mel statistics of an audio training set; finite numbers with ``s > 0``, else
``load_model`` raises ``UserError``); otherwise each sound is standardised with its own log-mel
mean/std, since the HEAR API gives no training statistics at embedding time. Audio holding NaN or
inf samples is refused (``ValueError`` naming the sound) instead of giving NaN embeddings.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import torch
from torch import nn

from finetune.chunks import embed_clips, pooled, split_chunks
from finetune.encoder import Encoder, load_checkpoint, random_encoder
from finetune.task import UserError
from pretrain.frontend import FrontendConfig, Standardizer, log_mel

HOP_FRAMES = 4  # timestamp hop in log-mel frames (40 ms)


class HearModel(nn.Module):
    """The frozen encoder with the attributes the HEAR API requires."""

    def __init__(self, encoder: Encoder, audio_norm: tuple[float, float] | None = None,
                 frontend: FrontendConfig = FrontendConfig()):
        super().__init__()
        self.encoder = encoder.model
        self.spec = encoder  # shapes, patch size; shares the module above
        self.frontend = frontend
        self.audio_norm = audio_norm
        self.sample_rate = frontend.sample_rate
        self.scene_embedding_size = encoder.grid[0] * encoder.dim
        self.timestamp_embedding_size = encoder.grid[0] * encoder.dim


def load_model(model_file_path: str = "", preset: str = "cpu-tiny") -> HearModel:
    """``model_file_path``: a checkpoint folder (or its ``config.json`` / ``encoder.safetensors``);
    ``""`` or ``"random"``: the untrained ``preset`` encoder (128 x 128 input)."""
    if model_file_path in ("", "random"):
        return HearModel(random_encoder(preset, 128, 128, seed=0))
    path = Path(model_file_path)
    folder = path.parent if path.is_file() else path
    cfg_path = folder / "config.json"
    if not cfg_path.is_file():
        raise UserError(f"checkpoint file {cfg_path} does not exist")
    try:
        cfg = json.loads(cfg_path.read_bytes().decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise UserError(f"{cfg_path}: not valid JSON ({type(exc).__name__})") from None
    kwargs = cfg.get("timm_kwargs") if isinstance(cfg, dict) else None
    size = kwargs.get("img_size", [128, 128]) if isinstance(kwargs, dict) else None
    if not (isinstance(size, list) and len(size) == 2
            and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in size)):
        raise UserError(f"{cfg_path}: not a checkpoint config (an object whose timm_kwargs.img_size is "
                        f"[height, width] in positive integers)")
    encoder = load_checkpoint(folder, size[0])
    return HearModel(encoder, _audio_norm(cfg.get("audio_norm"), cfg_path), FrontendConfig(n_mels=size[0]))


def _audio_norm(norm, cfg_path: Path) -> tuple[float, float] | None:
    """``config.json``'s ``audio_norm`` as ``(mean, std)``; ``UserError`` unless both are finite
    numbers and ``std > 0`` (a zero or NaN std would make every embedding non-finite)."""
    if norm is None:
        return None
    values = [norm.get(k) for k in ("mean", "std")] if isinstance(norm, dict) else [None, None]
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in values) \
            or not values[1] > 0:
        raise UserError(f"{cfg_path}: audio_norm {norm!r} must be {{\"mean\": M, \"std\": S}} with finite "
                        f"numbers and S > 0")
    return float(values[0]), float(values[1])


def _check_audio(audio: torch.Tensor) -> torch.Tensor:
    if not isinstance(audio, torch.Tensor) or audio.ndim != 2:
        raise ValueError(f"audio must be a (n_sounds, n_samples) tensor, got {getattr(audio, 'shape', type(audio))}")
    audio = audio.detach().to("cpu", torch.float32)
    if not torch.isfinite(audio).all():
        bad = int((~torch.isfinite(audio)).any(dim=1).nonzero()[0])
        raise ValueError(f"audio sound {bad} holds non-finite samples (NaN or inf)")
    return audio


def _specs(audio: torch.Tensor, model: HearModel) -> list[tuple[torch.Tensor, Standardizer]]:
    out = []
    for a in _check_audio(audio):
        s = log_mel(a, model.frontend)
        norm = Standardizer(*model.audio_norm) if model.audio_norm else Standardizer.fit(s)
        out.append((s, norm))
    return out


@torch.inference_mode()
def get_timestamp_embeddings(audio: torch.Tensor, model: HearModel) -> tuple[torch.Tensor, torch.Tensor]:
    """``(n_sounds, T, F*D)`` float32 embeddings and ``(n_sounds, T)`` timestamps in ms, one
    every ``HOP_FRAMES`` frames (40 ms)."""
    enc = model.spec
    n_f, n_t = enc.grid
    pw, width = enc.patch_size[1], enc.width
    shifts = pw // HOP_FRAMES
    specs = _specs(audio, model)
    n_frames = specs[0][0].shape[1]
    n_stamps = -(-n_frames // HOP_FRAMES)  # hops that start inside the sound
    device = next(model.encoder.parameters()).device
    out = torch.zeros(len(specs), n_stamps, n_f * enc.dim)
    for i, (s, norm) in enumerate(specs):
        for k in range(shifts):
            if k * HOP_FRAMES >= n_frames:
                break
            chunks, _ = split_chunks(norm(s[:, k * HOP_FRAMES:]), width, pw)
            tokens = model.encoder.forward_features(chunks.unsqueeze(1).to(device))
            tokens = tokens[:, model.encoder.num_prefix_tokens:].float().cpu()  # (C, F*T, D)
            cols = tokens.reshape(len(chunks), n_f, n_t, -1).permute(0, 2, 1, 3).reshape(len(chunks) * n_t, -1)
            stamps = torch.arange(k, n_stamps, shifts)  # stamp m = shifts * column + k
            out[i, stamps] = cols[:len(stamps)]
    hop_ms = 1000.0 * model.frontend.hop_length / model.frontend.sample_rate
    ts = (torch.arange(n_stamps, dtype=torch.float32) * HOP_FRAMES + (pw - 1) / 2) * hop_ms
    return out, ts.expand(len(specs), -1).contiguous()


@torch.inference_mode()
def get_scene_embeddings(audio: torch.Tensor, model: HearModel) -> torch.Tensor:
    """``(n_sounds, F*D)`` float32: the probe's ``freq`` pooling of the last block over the
    whole sound."""
    enc = model.spec
    out = []
    for s, norm in _specs(audio, model):
        stored, _ = embed_clips(enc, [s], norm, "chunks", report=lambda m: None)
        out.append(pooled(stored, enc.grid[0], enc.dim, (enc.depth,), "freq"))
    return torch.from_numpy(np.concatenate(out)).float()
