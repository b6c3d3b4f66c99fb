"""An audio classification task: labelled clips and the evaluation splits over them.

Two kinds of protocol, as the datasets publish them:

* k-fold cross-validation (ESC-50: 5 folds, UrbanSound8K: 10, FSDD ``meta_5fold.csv``: 5):
  split i tests fold i and trains on the others; there is no fixed validation set, so the
  probe chooses its hyper-parameters by inner cross-validation on the training folds.
* fixed train / valid / test (Speech Commands V2, NSynth, VoxCeleb1 identification): one split.

A task also knows its published clip length (``clip_seconds``: every clip is cropped from the
start or padded to it before it is embedded, as the EVAR evaluation package does; ``None`` keeps
each clip's own length) and whether it is multi-label (FSD50K, AudioSet: ``Clip.label`` is then a
tuple of labels and the probe reports mAP instead of accuracy).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np


class UserError(ValueError):
    """A user mistake (missing file, bad CSV, unknown option): reported as one line, exit 2."""


@dataclass(frozen=True)
class Clip:
    """One labelled audio file. ``fold`` is a CV fold name (``"1"``...) or a split name
    (``"train"``, ``"valid"``, ``"test"``). ``label`` is a tuple of labels in a multi-label task."""

    path: Path
    label: str | tuple[str, ...]
    fold: str


@dataclass(frozen=True)
class Split:
    """Index arrays into ``Task.clips``; ``valid`` is empty for cross-validated tasks."""

    name: str
    train: tuple[int, ...]
    test: tuple[int, ...]
    valid: tuple[int, ...] = ()


@dataclass(frozen=True)
class Task:
    """clip_seconds: the task's published clip length (``None``: each clip's own length);
    multilabel: labels are tuples, the metric is mAP."""

    name: str
    clips: tuple[Clip, ...]
    splits: tuple[Split, ...]
    clip_seconds: float | None = None
    multilabel: bool = False

    @property
    def metric(self) -> str:
        return "mAP" if self.multilabel else "acc"

    @property
    def classes(self) -> tuple[str, ...]:
        if self.multilabel:
            return tuple(sorted({lab for c in self.clips for lab in c.label}, key=_natural_key))
        return tuple(sorted({c.label for c in self.clips}, key=_natural_key))

    def labels(self) -> np.ndarray:
        """Integer class index per clip (classes sorted naturally: "2" before "10"); for a
        multi-label task the ``(N, classes)`` 0/1 matrix."""
        index = {c: i for i, c in enumerate(self.classes)}
        if self.multilabel:
            out = np.zeros((len(self.clips), len(index)), dtype=np.int64)
            for n, c in enumerate(self.clips):
                out[n, [index[lab] for lab in c.label]] = 1
            return out
        return np.array([index[c.label] for c in self.clips], dtype=np.int64)

    def with_clip_seconds(self, seconds: float | None) -> "Task":
        """The same task with another clip length (``None``: each clip's own)."""
        if seconds is not None and seconds <= 0:
            raise UserError(f"clip length {seconds} s must be > 0")
        return replace(self, clip_seconds=seconds)

    def fingerprint(self) -> str:
        """Hash of the task name, file paths, labels and folds (part of the embedding cache key)."""
        h = hashlib.sha256(self.name.encode())
        for c in self.clips:
            label = "\1".join(c.label) if isinstance(c.label, tuple) else c.label
            h.update(f"\0{c.path}\0{label}\0{c.fold}".encode())
        if self.clip_seconds is not None:
            h.update(f"\0clip_seconds={self.clip_seconds}".encode())
        return h.hexdigest()[:16]

    def without(self, bad: set[int]) -> "Task":
        """The same task with the clips at indices ``bad`` removed (splits re-indexed)."""
        keep = [i for i in range(len(self.clips)) if i not in bad]
        new_index = {old: new for new, old in enumerate(keep)}

        def remap(idx: tuple[int, ...]) -> tuple[int, ...]:
            return tuple(new_index[i] for i in idx if i in new_index)

        return replace(self, clips=tuple(self.clips[i] for i in keep),
                       splits=tuple(Split(s.name, remap(s.train), remap(s.test), remap(s.valid)) for s in self.splits))


def _natural_key(s: str):
    return (0, int(s), "") if s.isdigit() else (1, 0, s)


def cv_task(name: str, clips: list[Clip], clip_seconds: float | None = None, multilabel: bool = False) -> Task:
    """k-fold CV over the distinct ``Clip.fold`` values: split f tests fold f, trains on the rest."""
    if not clips:
        raise UserError(f"task {name}: no audio clips found")
    folds = sorted({c.fold for c in clips}, key=_natural_key)
    if len(folds) < 2:
        raise UserError(f"task {name}: cross-validation needs >= 2 folds, found {folds}")
    splits = tuple(
        Split(name=f"fold{f}",
              train=tuple(i for i, c in enumerate(clips) if c.fold != f),
              test=tuple(i for i, c in enumerate(clips) if c.fold == f))
        for f in folds)
    return Task(name, tuple(clips), splits, clip_seconds, multilabel)


def fixed_split_task(name: str, clips: list[Clip], clip_seconds: float | None = None,
                     multilabel: bool = False) -> Task:
    """One split from ``train`` / ``valid`` / ``test`` fold names."""
    if not clips:
        raise UserError(f"task {name}: no audio clips found")
    idx = {k: tuple(i for i, c in enumerate(clips) if c.fold == k) for k in ("train", "valid", "test")}
    unknown = {c.fold for c in clips} - set(idx)
    if unknown:
        raise UserError(f"task {name}: split names {sorted(unknown)} must be train, valid or test")
    if not idx["train"] or not idx["test"]:
        raise UserError(f"task {name}: needs non-empty train and test splits "
                        f"(found train={len(idx['train'])}, test={len(idx['test'])})")
    return Task(name, tuple(clips), (Split("test", idx["train"], idx["test"], idx["valid"]),), clip_seconds,
                multilabel)


def assign_folds(labels: list[str], k: int) -> list[str]:
    """Deterministic stratified folds "1".."k": within each class, files (in sorted order) are
    dealt round-robin, so every fold gets ~1/k of every class."""
    if k < 2:
        raise UserError(f"folds={k} must be >= 2")
    seen: dict[str, int] = {}
    out = []
    for lab in labels:
        n = seen.get(lab, 0)
        seen[lab] = n + 1
        out.append(str(n % k + 1))
    return out
