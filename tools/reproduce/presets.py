"""Presets of ``python -m tools.reproduce``: which kinds, how many images, what budget.

Budgets are per pre-training run (one kind, one seed). ``minutes`` is wall time of training
(``python -m pretrain --minutes``; on a shared machine the number of steps then depends on the
load, the report states the steps reached); ``steps`` fixes the optimizer steps instead (same
images for every kind, fairer on a loaded machine). Measured reference speed of the cpu-tiny MAE
on an idle 2-core CPU: ~105-112 images/s at 128x128 (batch 32-64, 2 threads; on a shared machine
less, see docs/pretrain.md, "Benchmark"), so 15 minutes are ~100k images.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

#: The five families of the comparison: fractals, contours, dead leaves, statistical noise, shaders.
CORE_KINDS = ("fractaldb", "visualatom", "deadleaves-squares", "stat-spectrum", "shaders")
#: Fewer classes than the published 1000 for CPU datasets of a few thousand images, so every
#: class still has several instances (FractalDB/VisualAtom/shaders are class-structured).
CPU_KIND_PARAMS = {"fractaldb": ("num_classes=100",), "visualatom": ("num_classes=100",),
                   "shaders": ("num_classes=100",)}


@dataclass(frozen=True)
class Preset:
    """One reproduction set-up.

    Attributes:
        name, description: shown in the report.
        kinds: pattern kinds to render and pre-train on (registered names).
        n_images: images rendered per kind; size: their side in pixels; kind_params: per-kind
            ``KEY=VALUE`` overrides (``synthgen render --param``).
        model: ``pretrain --preset``; input_size: ``HxW`` (mel bins x frames), also the
            evaluation input (``finetune --n-mels H --frames W``).
        batch_size: pre-training images per step.
        minutes / steps: pre-training budget per run (exactly one of them).
        piece_minutes: at most this long per ``pretrain`` invocation (the CPU lock is held per
            piece; ``--resume`` continues).
        seeds: pre-training seeds per kind (results are grouped by kind).
        audio: real-audio pre-training baseline folder, relative to the data root (None = none).
        tasks: ``(task, root relative to the data root)`` evaluated with the linear probe;
            task ``fsdd-mini`` is a small folder task built from FSDD (CLIPS_PER_LABEL per digit).
        stats_n: images sampled per dataset by ``generators.stats``.
        probe_norm: ``finetune linear --norm``: ``split`` (input statistics from each split's
            training clips: one embedding pass per split) or ``all`` (over all clips, one pass:
            ~k times faster, the same unsupervised statistics for every encoder).
        threads / render_workers / device: compute settings.
    """

    name: str
    description: str
    kinds: tuple[str, ...]
    n_images: int
    size: int
    model: str
    input_size: str
    batch_size: int
    minutes: float | None = None
    steps: int | None = None
    piece_minutes: float = 8.0
    seeds: tuple[int, ...] = (0,)
    kind_params: dict = field(default_factory=dict)
    audio: str | None = "fsdd/recordings"
    tasks: tuple[tuple[str, str], ...] = (("fsdd", "fsdd"),)
    stats_n: int = 256
    probe_norm: str = "split"
    threads: int = 2
    render_workers: int = 2
    device: str = "cpu"

    def __post_init__(self):
        if (self.minutes is None) == (self.steps is None):
            raise ValueError(f"preset {self.name}: give exactly one of minutes and steps")

    def budget_text(self) -> str:
        return (f"{self.minutes:g} minutes" if self.minutes is not None else f"{self.steps} steps") + \
            f" of pre-training per run (batch {self.batch_size}, {self.model}, input {self.input_size}); " \
            f"linear probe with --norm {self.probe_norm}"


#: Clips per digit in the ``fsdd-mini`` task of the smoke preset.
CLIPS_PER_LABEL = 6

PRESETS = {
    "smoke": Preset(
        name="smoke", description="end-to-end check in about a minute: tiny data, a 2-block "
        "encoder, 4 steps, a 60-clip FSDD subset; the numbers mean nothing",
        kinds=("fractaldb", "stat-spectrum"), n_images=32, size=64, model="test-micro",
        input_size="64x64", batch_size=8, steps=4, kind_params={"fractaldb": ("num_classes=4",)},
        audio="fsdd-mini", tasks=(("fsdd-mini", "fsdd-mini"),), stats_n=16, render_workers=1,
        probe_norm="all"),
    "cpu-small": Preset(
        name="cpu-small", description="the five pattern families on a 2-core CPU, ~3.5 minutes "
        "of pre-training each (about 40 minutes in all on an idle machine)",
        kinds=CORE_KINDS, n_images=2000, size=128, model="cpu-tiny", input_size="128x128",
        batch_size=64, minutes=3.5, kind_params=CPU_KIND_PARAMS, probe_norm="all"),
    "cpu": Preset(
        name="cpu", description="the five pattern families on a 2-core CPU, 15 minutes of "
        "pre-training each (about 2 hours on an idle machine)",
        kinds=CORE_KINDS, n_images=10000, size=128, model="cpu-tiny", input_size="128x128",
        batch_size=64, minutes=15, kind_params=CPU_KIND_PARAMS),
    "gpu-paper": Preset(
        name="gpu-paper", description="paper-scale: ViT-Base/16 AudioMAE-shaped input, 1M "
        "images per kind at 256 px, one GPU per run",
        kinds=CORE_KINDS + ("deadleaves-mixed", "stat-wmm", "stat-spectrum-color-wmm",
                            "shaders-random", "stylegan-oriented"),
        n_images=1_000_000, size=256, model="vit-base-audio", input_size="128x1024",
        batch_size=128, steps=60_000, piece_minutes=24 * 60, seeds=(0, 1, 2),
        audio="audioset/audio", tasks=(("esc50", "ESC-50-master"), ("fsdd", "fsdd")),
        stats_n=1000, threads=8, render_workers=16, device="cuda"),
}


def get_preset(name: str, **overrides) -> Preset:
    """Preset ``name`` with non-None ``overrides`` applied; ``ValueError`` naming the known ones."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; expected one of {', '.join(PRESETS)}")
    changes = {k: v for k, v in overrides.items() if v is not None}
    if "minutes" in changes:
        changes["steps"] = None
    elif "steps" in changes:
        changes["minutes"] = None
    return replace(PRESETS[name], **changes)
