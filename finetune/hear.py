"""HEAR 2021 common API (Turian et al. 2022, hearbenchmark.com) for ``pretrain`` checkpoints.

    import finetune.hear as hear_module
    model = hear_module.load_model("runs/fractaldb-s0")          # a checkpoint folder
    scene = hear_module.get_scene_embeddings(audio, model)       # (n_sounds, D)
    emb, ts = hear_module.get_timestamp_embeddings(audio, model) # (n_sounds, T, D), (n_sounds, T) ms

``audio`` is a float tensor ``(n_sounds, n_samples)`` at ``model.sample_rate`` (16 kHz) in
[-1, 1]. Each sound -> log-mel (``pretrain.frontend``) -> chunks of the checkpoint's input
width (128 frames = 1.28 s for the CPU preset; the last chunk padded with the sound's minimum)
-> encoder. Timestamp embeddings: the patch tokens of each time column averaged over frequency
(one embedding per patch width = 16 frames = 160 ms, timestamped at the column centre in ms).
Scene embeddings: the mean of the timestamp embeddings over time. Both have the encoder width D.

Input normalisation: the ``config.json`` entry ``audio_norm`` = ``{"mean": m, "std": s}`` when
present (log-mel statistics of an audio training set); otherwise each sound is standardised with
its own log-mel mean/std, since the HEAR API gives no training statistics at embedding time.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

from finetune.encoder import Encoder, load_checkpoint, random_encoder
from pretrain.frontend import FrontendConfig, fix_length, log_mel


class HearModel(nn.Module):
    """The frozen encoder with the attributes the HEAR API requires."""

    def __init__(self, encoder: Encoder, audio_norm: tuple[float, float] | None = None,
                 frontend: FrontendConfig = FrontendConfig()):
        super().__init__()
        self.encoder = encoder.model
        self.height, self.width = encoder.height, encoder.width
        self.patch_w = encoder.patch_size[1]
        self.frontend = frontend
        self.audio_norm = audio_norm
        self.sample_rate = frontend.sample_rate
        self.scene_embedding_size = encoder.dim
        self.timestamp_embedding_size = encoder.dim


def load_model(model_file_path: str = "", preset: str = "cpu-tiny") -> HearModel:
    """``model_file_path``: a checkpoint folder (or its ``config.json`` / ``encoder.safetensors``);
    ``""`` or ``"random"``: the untrained ``preset`` encoder (128 x 128 input)."""
    if model_file_path in ("", "random"):
        return HearModel(random_encoder(preset, 128, 128, seed=0))
    path = Path(model_file_path)
    folder = path.parent if path.is_file() else path
    cfg = json.loads((folder / "config.json").read_text()) if (folder / "config.json").is_file() else {}
    height = int(cfg.get("timm_kwargs", {}).get("img_size", [128, 128])[0])
    encoder = load_checkpoint(folder, height)
    norm = cfg.get("audio_norm")
    return HearModel(encoder, (float(norm["mean"]), float(norm["std"])) if norm else None,
                     FrontendConfig(n_mels=height))


def _check_audio(audio: torch.Tensor) -> torch.Tensor:
    if not isinstance(audio, torch.Tensor) or audio.ndim != 2:
        raise ValueError(f"audio must be a (n_sounds, n_samples) tensor, got {getattr(audio, 'shape', type(audio))}")
    return audio.detach().to("cpu", torch.float32)


@torch.inference_mode()
def get_timestamp_embeddings(audio: torch.Tensor, model: HearModel) -> tuple[torch.Tensor, torch.Tensor]:
    """``(n_sounds, T, D)`` embeddings and ``(n_sounds, T)`` timestamps in milliseconds."""
    audio = _check_audio(audio)
    specs = [log_mel(a, model.frontend) for a in audio]  # each (n_mels, F), same F for all
    n_frames = specs[0].shape[1]
    n_chunks = -(-n_frames // model.width)
    n_cols = -(-n_frames // model.patch_w)  # time columns that cover real audio
    chunks = []
    for s in specs:
        mean, std = model.audio_norm or (float(s.mean()), float(s.std().clamp_min(1e-6)))
        padded = fix_length(s, n_chunks * model.width)
        chunks.append(((padded - mean) / std).reshape(s.shape[0], n_chunks, model.width).permute(1, 0, 2))
    x = torch.cat(chunks).unsqueeze(1)  # (n_sounds * n_chunks, 1, n_mels, width)
    tokens = model.encoder.forward_features(x)[:, model.encoder.num_prefix_tokens:]  # (B, N, D)
    grid_w = model.width // model.patch_w
    grid_h = tokens.shape[1] // grid_w  # row-major token order: (frequency rows, time columns)
    cols = tokens.reshape(len(x), grid_h, grid_w, -1).mean(dim=1)  # (B, grid_w, D)
    emb = cols.reshape(len(audio), n_chunks * grid_w, -1)[:, :n_cols]
    hop_ms = 1000.0 * model.frontend.hop_length / model.frontend.sample_rate
    ts = (torch.arange(n_cols, dtype=torch.float32) * model.patch_w + model.patch_w / 2) * hop_ms
    return emb.contiguous(), ts.expand(len(audio), -1).contiguous()


def get_scene_embeddings(audio: torch.Tensor, model: HearModel) -> torch.Tensor:
    """``(n_sounds, D)``: the time average of the timestamp embeddings."""
    emb, _ = get_timestamp_embeddings(audio, model)
    return emb.mean(dim=1)
