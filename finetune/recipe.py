"""Defaults of the fine-tuning recipe that the command line needs without importing torch
(sources in docs/finetune.md, "Recipe")."""
from __future__ import annotations

#: What the head's input can be (``finetune.classifier.Classifier``): the tokens' pooling, and the
#: norm on the pooled features.
HEAD_POOLINGS = ("mean", "freq")
HEAD_NORMS = ("none", "batch")
#: Optimizer steps per fine-tune (chosen from the validation curves and the longer-budget check in
#: docs/finetune.md, "Is the budget enough?").
DEFAULT_STEPS = 1200
#: FSDD's budget (``finetune.loaders.TASKS``): a fold trains on 1,800 clips, 10 times the
#: instruments' 180, and at 1,200 steps its validation curves still rise (the same section).
FSDD_STEPS = 2400
#: Clips per optimizer step.
DEFAULT_BATCH = 32
#: The rest of the recipe (``finetune.full.FullConfig`` and ``finetune full``'s options): peak lr of
#: the head, AdamW weight decay, layer-wise lr decay, warm-up fraction, stochastic depth of the last
#: block, label smoothing, mixup Beta parameter (0 = off), random crop offsets, the head's pooling
#: and norm (``HEAD_POOLINGS`` / ``HEAD_NORMS``).
RECIPE = {"lr": 5e-4, "weight_decay": 0.05, "layer_decay": 0.75, "warmup": 0.1, "drop_path": 0.1,
          "label_smoothing": 0.1, "mixup": 0.0, "time_shift": True, "head_pooling": "freq", "head_norm": "batch"}
#: The settings a record or progress file written before an option existed was made with.
BEFORE_OPTIONS = {"head_pooling": "mean", "head_norm": "none"}
#: AudioMAE's SpecAugment widths for its 128 x 1024 input, as fractions of the input's sides.
FREQ_MASK_FRACTION = 48 / 128
TIME_MASK_FRACTION = 192 / 1024


def default_masks(n_mels: int, frames: int) -> tuple[int, int]:
    """SpecAugment maximum widths ``(bins, frames)`` for an ``n_mels x frames`` input."""
    return round(FREQ_MASK_FRACTION * n_mels), round(TIME_MASK_FRACTION * frames)


def recipe_settings(n_mels: int, frames: int, *, steps: int = DEFAULT_STEPS, lrs=(RECIPE["lr"],),
                    batch: int = DEFAULT_BATCH, eval_every: int = 0) -> dict:
    """What a ``finetune full`` record keeps of its settings (its ``full`` object, less ``seed``)
    for a run of these options and the rest of the default recipe, at an ``n_mels x frames`` input."""
    freq_mask, time_mask = default_masks(n_mels, frames)
    return {**RECIPE, "lr": [float(lr) for lr in lrs], "batch_size": batch, "steps": steps,
            "eval_every": eval_every, "freq_mask": freq_mask, "time_mask": time_mask}


def with_earlier_defaults(full: dict) -> dict:
    """A record's settings (its ``full`` object) with the options it predates filled in with
    what it was made with (``BEFORE_OPTIONS``), so it compares equal to today's settings."""
    return {**BEFORE_OPTIONS, **full}


def same_settings(full: dict, want: dict, ignore: tuple[str, ...] = ()) -> bool:
    """Whether a record's settings (its ``full`` object, read with :func:`with_earlier_defaults`)
    equal ``want`` on every key of ``want`` but ``ignore``."""
    full = with_earlier_defaults(full)
    return all(full.get(k) == v for k, v in want.items() if k not in ignore)
