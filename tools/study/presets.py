"""Presets of the unit-based studies of ``python -m tools.reproduce`` (``cpu-study``, ``cpu-recipe``,
``cpu-finetune``).

A study is a list of *units*; a unit is one encoder evaluated on every task: render (shared by
the seeds of a kind) -> pre-train -> ``python -m finetune suite`` (``python -m finetune full`` for
the tasks fine-tuned end to end), ending with one append of its evaluation rows to
``REPORT/results.jsonl``. That file is small and meant to be committed: a
rerun on any machine skips the units whose rows are in it (see :mod:`tools.study`).

The 17 datasets of the synthetic-pattern audio study carry the letters a-q. a-n are the 14
small-scale datasets of Baradad et al. (NeurIPS 2021: dead leaves, statistical models, random
StyleGAN, feature visualisations), over which the study's Fig. 3 correlates image properties
with audio accuracy; o-q are the formula-driven and procedural datasets (FractalDB, VisualAtom,
shader programs).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from finetune.recipe import DEFAULT_BATCH

#: Letter of every dataset of the study, in the order of its figures.
LETTERS = {
    "deadleaves-squares": "a", "deadleaves-oriented": "b", "deadleaves-mixed": "c",
    "deadleaves-textures": "d", "stat-spectrum": "e", "stat-wmm": "f", "stat-spectrum-color": "g",
    "stat-spectrum-color-wmm": "h", "stylegan-random": "i", "stylegan-highfreq": "j",
    "stylegan-sparse": "k", "stylegan-oriented": "l", "featvis-random": "m",
    "featvis-deadleaves": "n", "fractaldb": "o", "visualatom": "p", "shaders-random": "q",
}
#: The 14 small-scale datasets a-n (the set the study's Fig. 3 correlates over).
SMALL_KINDS = tuple(k for k, letter in LETTERS.items() if letter <= "n")
STUDY_KINDS = tuple(LETTERS)
#: The audio-native kinds r-x (synthesised sounds stored as log-mels, ``generators.kinds.audio_*``),
#: measured beside the 17 image datasets (see ``StudyPreset.audio_kinds``).
AUDIO_LETTERS = {"audio-harmonic": "r", "audio-fm": "s", "audio-waveform": "t", "audio-noise": "u",
                 "audio-chirp": "v", "audio-modal": "w", "audio-mix": "x"}
AUDIO_KINDS = tuple(AUDIO_LETTERS)

#: Images rendered for kinds slower than ~30 images/s per core at 128 px (the neural kinds);
#: every other kind gets the preset's ``n_images``. The budget is optimizer steps, the same for
#: every kind, so these datasets are seen for more epochs (the report states how many).
NEURAL_N = {"stylegan-random": 20_000, "stylegan-highfreq": 20_000, "stylegan-sparse": 20_000,
            "stylegan-oriented": 20_000, "featvis-random": 5_000, "featvis-deadleaves": 5_000}
#: ``shaders-random`` with 100 programs: the class count its on-the-fly speed was measured at.
STUDY_KIND_PARAMS = {"shaders-random": ("num_classes=100",)}


#: How a study task evaluates an encoder: the linear-probe suite or end-to-end fine-tuning.
PROTOCOLS = ("probe", "finetune")


def input_hw(size: str) -> tuple[int, int]:
    """``(height, width)`` of an ``HxW`` input size (``"128x128"``); ValueError otherwise."""
    h, sep, w = size.partition("x")
    if not (sep and h.isdigit() and w.isdigit()):
        raise ValueError(f"input size {size!r} is not HxW")
    return int(h), int(w)


@dataclass(frozen=True)
class StudyTask:
    """One evaluation task of a study: table label, loader (``finetune --task``), root relative
    to the data root, optional fold count, optional pooling (``finetune --pooling``; the suite's
    default ``freq`` when None). One clip set probed with two poolings is two tasks; the embedding
    cache serves both from one pass of the encoder.

    ``protocol``: ``probe`` (``python -m finetune suite``, a linear probe) or ``finetune``
    (``python -m finetune full`` with the preset's fine-tuning settings, ``StudyPreset.ft_*``);
    ``probe_task``: for a fine-tuned task, the task of the probe study (``StudyPreset.probe_results``)
    on the same clips, whose rows give each encoder's own linear probe beside its fine-tune."""

    name: str
    loader: str
    root: str
    folds: int | None = None
    pooling: str | None = None
    protocol: str = "probe"
    probe_task: str | None = None

    def __post_init__(self):
        if self.protocol not in PROTOCOLS:
            raise ValueError(f"task {self.name}: protocol must be one of {', '.join(PROTOCOLS)}, "
                             f"not {self.protocol!r}")


#: The real-audio tasks of the studies: records of ``finetune.loaders.TASKS`` read from the folder
#: of the same name under the data root.
AUDIO_TASKS = (StudyTask("fsdd", "fsdd", "fsdd"), StudyTask("instruments", "instruments", "instruments"))
#: The audio tasks probed with mean pooling too: at 1300 steps FractalDB pre-training is below
#: step0 under the default freq pooling and well above it under mean pooling (docs/evaluation.md),
#: so the recipe search measures both.
AUDIO_TASKS_TWO_POOLINGS = AUDIO_TASKS + (StudyTask("fsdd-mean", "fsdd", "fsdd", pooling="mean"),
                                          StudyTask("instruments-mean", "instruments", "instruments",
                                                    pooling="mean"))
#: The real-audio tasks fine-tuned end to end (``python -m finetune full``), each beside the probe
#: task of the same clips.
FINETUNE_TASKS = (StudyTask("fsdd-ft", "fsdd", "fsdd", protocol="finetune", probe_task="fsdd"),
                  StudyTask("instruments-ft", "instruments", "instruments", protocol="finetune",
                            probe_task="instruments"))
#: The order in which the cpu-finetune units run (the rest of its units follow in the plan's
#: order): the headline comparison first (step0 against FractalDB, then VisualAtom, the two worst
#: probe kinds and the real-audio MAE), then the extra seeds, then the other kinds of a-n.
FINETUNE_PRIORITY = ("step0-s0", "fractaldb-s0", "visualatom-s0", "stat-wmm-s0", "deadleaves-squares-s0",
                     "audio-fsdd-s0", "step0-s1", "step0-s2", "fractaldb-s1", "fractaldb-s2")


@dataclass(frozen=True)
class StudyPreset:
    """One study set-up (see the module docstring for units and the results file).

    Attributes:
        name, description: shown in the report and ``--help``.
        mode: ``study`` (one budget, every kind) or ``recipe`` (a grid of steps x input shapes).
        kinds: pattern kinds, in report order.
        n_images / kind_n: images rendered per kind (default / per-kind override); size: side in px.
        kind_params: per-kind ``KEY=VALUE`` render overrides.
        model, batch_size, lr: the MAE (``pretrain --preset``), images per step, peak lr.
        steps: optimizer steps per run (the recipe grid: several).
        input_sizes: ``HxW`` encoder inputs (the recipe grid: several; wider than tall = the
            pattern tiled along the width by ``pretrain``'s transform).
        audio_kinds: audio-native pattern kinds (``audio-*``) run after every unit of ``kinds``,
            first seeds only, and shown beside ``kinds`` in the accuracy, ranking, property and
            audio-kind sections; never among the extremes (no extra seeds), the correlations or
            the paper comparison, which stay over ``kinds``, so adding them changes no unit of
            ``kinds`` and no number of those sections.
        seeds: first seeds of every kind; step0_seeds: seeds of the untrained encoder
            (``random:SEED``, identical to the ``step0/`` of a run with that seed).
        extra_seeds, extremes: more seeds for the ``extremes`` best and worst kinds (by the mean
            accuracy over the tasks of their first seed), planned once every kind has its first
            seed in the results.
        audio: real-audio pre-training folders (relative to the data root); leaky_tasks: the tasks
            whose clips that audio contains (marked leaky in the report).
        logmel: evaluate the ``logmel-stats`` baseline.
        tasks: the evaluation tasks; probe_norm: ``finetune --norm``.
        threads, workers: torch threads and loader workers per training; render_workers;
            save_every: steps between checkpoints (what a kill costs at most);
            piece_steps: steps per ``pretrain`` invocation (CPU time is counted per piece).
        stats_n: images per dataset measured by ``generators.stats``.
        seed_kinds: more seeds of named kinds, planned from the start (``{"fractaldb": (1, 2)}``),
            beside or instead of the extremes rule.
        priority: unit names run first, in this order; the other units follow in the plan's order.
        ft_steps, ft_lrs, ft_batch, ft_eval_every: the fine-tuning of the ``finetune`` tasks
            (``finetune full --steps``, ``--lr`` grid, ``--batch-size``, ``--eval-every``);
            ``ft_steps`` None: each task's default budget (:meth:`task_steps`).
        probe_results: a probe study's results file, relative to this study's report folder
            (e.g. ``../report-cpu-study/results.jsonl``): its rows give ``logmel-stats`` and every
            encoder's own linear probe beside the fine-tuned tasks, and its ``stats/`` folder the
            image properties (the kinds are rendered the same way, so they are not measured again).
    """

    name: str
    description: str
    mode: str
    kinds: tuple[str, ...]
    n_images: int
    size: int
    model: str
    batch_size: int
    lr: float | None
    steps: tuple[int, ...]
    input_sizes: tuple[str, ...]
    seeds: tuple[int, ...] = (0,)
    audio_kinds: tuple[str, ...] = ()
    step0_seeds: tuple[int, ...] = (0, 1, 2)
    extra_seeds: tuple[int, ...] = (1, 2)
    extremes: int = 2
    kind_n: dict = field(default_factory=dict)
    kind_params: dict = field(default_factory=dict)
    audio: tuple[str, ...] = ()
    leaky_tasks: tuple[str, ...] = ()
    logmel: bool = True
    tasks: tuple[StudyTask, ...] = AUDIO_TASKS
    probe_norm: str = "all"
    threads: int = 1
    workers: int = 1
    render_workers: int = 1
    save_every: int = 50
    piece_steps: int = 200
    stats_n: int = 256
    device: str = "cpu"
    seed_kinds: dict = field(default_factory=dict)
    priority: tuple[str, ...] = ()
    ft_steps: int | None = None
    ft_lrs: tuple[float, ...] = (5e-4,)
    ft_batch: int = DEFAULT_BATCH
    ft_eval_every: int = 0
    probe_results: str = ""

    def __post_init__(self):
        if self.mode not in ("study", "recipe"):
            raise ValueError(f"preset {self.name}: mode must be study or recipe, not {self.mode!r}")
        if (self.ft_steps is not None and self.ft_steps < 1) or self.ft_batch < 1 or self.ft_eval_every < 0:
            raise ValueError(f"preset {self.name}: ft_steps {self.ft_steps} and ft_batch {self.ft_batch} must "
                             f"be >= 1, ft_eval_every {self.ft_eval_every} >= 0")
        if not self.ft_lrs or not all(0 < lr < 1 for lr in self.ft_lrs):
            raise ValueError(f"preset {self.name}: ft_lrs {self.ft_lrs} must be learning rates in (0, 1)")
        unknown = [k for k in self.seed_kinds if k not in self.kinds]
        if unknown:
            raise ValueError(f"preset {self.name}: seed_kinds names {', '.join(unknown)}, not among its kinds")
        if not self.steps or any(s <= 0 for s in self.steps):
            raise ValueError(f"preset {self.name}: steps must be positive, got {self.steps}")
        for shape in self.input_sizes:
            try:
                input_hw(shape)
            except ValueError:
                raise ValueError(f"preset {self.name}: input size {shape!r} is not HxW") from None

    def images(self, kind: str) -> int:
        return int(self.kind_n.get(kind, self.n_images))

    def epochs(self, kind: str, steps: int) -> float:
        """Passes over ``kind``'s rendered images in a run of ``steps`` optimizer steps."""
        return steps * self.batch_size / self.images(kind)

    def letter(self, kind: str) -> str:
        return LETTERS.get(kind) or AUDIO_LETTERS.get(kind, "")

    @property
    def all_kinds(self) -> tuple[str, ...]:
        """``kinds`` then ``audio_kinds``: every pattern kind of the study, in report order."""
        return self.kinds + tuple(k for k in self.audio_kinds if k not in self.kinds)

    def task_steps(self, task: StudyTask) -> int:
        """The fine-tuning budget of ``task`` in optimizer steps: ``ft_steps``, else the default
        of its loader (``finetune.loaders.TASKS``: FSDD's is longer, ``finetune.recipe.FSDD_STEPS``)."""
        from finetune.loaders import TASKS

        return self.ft_steps or TASKS[task.loader].ft_steps

    def tasks_of(self, protocol: str) -> tuple[StudyTask, ...]:
        """The tasks evaluated with ``protocol`` (``probe`` or ``finetune``)."""
        return tuple(t for t in self.tasks if t.protocol == protocol)


STUDY_PRESETS = {
    "cpu-study": StudyPreset(
        name="cpu-study", mode="study",
        description="all 17 datasets a-q at one budget on a 2-core CPU: 128 px, cpu-tiny MAE, "
        "1300 steps x 64, lr 5e-4, one seed per kind, three for step0 and the two best and two "
        "worst kinds; linear probe suite on FSDD and instruments with freq and mean pooling, logmel-stats, "
        "real-audio MAE; beside them the 7 audio-native kinds r-x (synthesised sounds as log-mels), one "
        "seed each",
        kinds=STUDY_KINDS, audio_kinds=AUDIO_KINDS, n_images=100_000, kind_n=NEURAL_N, kind_params=STUDY_KIND_PARAMS,
        size=128, model="cpu-tiny", batch_size=64, lr=5e-4, steps=(1300,), input_sizes=("128x128",),
        audio=("fsdd/recordings",), leaky_tasks=("fsdd", "fsdd-mean"), tasks=AUDIO_TASKS_TWO_POOLINGS),
    "cpu-recipe": StudyPreset(
        name="cpu-recipe", mode="recipe",
        description="the recipe search: FractalDB and stat-spectrum, seeds 0-2, 1k/3k/10k steps x "
        "128x128 / 128x512 input, each against step0 of the same seed and shape; probed with freq "
        "and with mean pooling (tasks named -mean)",
        kinds=("fractaldb", "stat-spectrum"), n_images=100_000, size=128, model="cpu-tiny",
        batch_size=64, lr=5e-4, steps=(1000, 3000, 10000), input_sizes=("128x128", "128x512"),
        seeds=(0, 1, 2), extremes=0, extra_seeds=(), tasks=AUDIO_TASKS_TWO_POOLINGS),
    "cpu-finetune": StudyPreset(
        name="cpu-finetune", mode="study",
        description="the cpu-study's encoders (the same pre-training, so the same checkpoints) fine-tuned "
        "end to end on FSDD and instruments, 5 folds: step0 and FractalDB with 3 seeds, VisualAtom, "
        "stat-wmm, deadleaves-squares, the real-audio MAE, then the rest of a-n at one seed; "
        "logmel-stats and each encoder's own linear probe from the cpu-study's results",
        kinds=SMALL_KINDS + ("fractaldb", "visualatom"), n_images=100_000, kind_n=NEURAL_N, size=128,
        model="cpu-tiny", batch_size=64, lr=5e-4, steps=(1300,), input_sizes=("128x128",),
        step0_seeds=(0, 1, 2), extremes=0, extra_seeds=(), seed_kinds={"fractaldb": (1, 2)},
        priority=FINETUNE_PRIORITY, audio=("fsdd/recordings",), leaky_tasks=("fsdd-ft",), logmel=False,
        tasks=FINETUNE_TASKS, probe_results="../report-cpu-study/results.jsonl"),
    "study-smoke": StudyPreset(
        name="study-smoke", mode="study",
        description="end-to-end check of the study machinery in about a minute: two kinds, 32 "
        "images, a 2-block encoder, 4 steps; the numbers mean nothing",
        kinds=("stat-spectrum", "fractaldb"), n_images=32, size=64, model="test-micro",
        batch_size=8, lr=None, steps=(4,), input_sizes=("64x64",), step0_seeds=(0, 1),
        extra_seeds=(1,), extremes=1, kind_params={"fractaldb": ("num_classes=4",)},
        audio=("fsdd-mini",), leaky_tasks=("fsdd-mini",),
        tasks=(StudyTask("fsdd-mini", "folder", "fsdd-mini", folds=2),), stats_n=16,
        save_every=2, piece_steps=2),
    "finetune-smoke": StudyPreset(
        name="finetune-smoke", mode="study",
        description="end-to-end check of a fine-tuning study in about a minute: one kind, a 2-block "
        "encoder, 4 pre-training and 5 fine-tuning steps; the numbers mean nothing",
        kinds=("stat-spectrum",), n_images=32, size=64, model="test-micro", batch_size=8, lr=None,
        steps=(4,), input_sizes=("64x64",), step0_seeds=(0,), extremes=0, extra_seeds=(),
        seed_kinds={"stat-spectrum": (1,)}, priority=("stat-spectrum-s1",), logmel=False,
        tasks=(StudyTask("fsdd-mini-ft", "folder", "fsdd-mini", folds=2, protocol="finetune",
                         probe_task="fsdd-mini"),), ft_steps=5, ft_batch=8, ft_eval_every=1,
        stats_n=16, save_every=2, piece_steps=2),
}


def get_study_preset(name: str, **overrides) -> StudyPreset:
    """Preset ``name`` with the non-None ``overrides`` applied."""
    if name not in STUDY_PRESETS:
        raise ValueError(f"unknown study preset {name!r}; expected one of {', '.join(STUDY_PRESETS)}")
    return replace(STUDY_PRESETS[name], **{k: v for k, v in overrides.items() if v is not None})
