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
import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

#: Longest clip length (``--clip-seconds``, a suite's ``clip_seconds``) in seconds: every clip is
#: padded to it in memory (600 s = 60,000 frames of 128 mel bins = 31 MB per clip).
MAX_CLIP_SECONDS = 600.0


class UserError(ValueError):
    """A user mistake (missing file, bad CSV, unknown option): reported as one line, exit 2."""


def check_clip_seconds(seconds: float) -> float:
    """``seconds`` if it is a clip length in (0, ``MAX_CLIP_SECONDS``], else ``UserError``."""
    if not (isinstance(seconds, (int, float)) and 0 < seconds <= MAX_CLIP_SECONDS):
        raise UserError(f"clip length {seconds} s must be > 0 and <= {MAX_CLIP_SECONDS:g} "
                        f"(each clip is padded to it in memory)")
    return seconds


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
        if seconds is not None:
            check_clip_seconds(seconds)
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
    return check_splits(Task(name, tuple(clips), splits, clip_seconds, multilabel))


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
    return check_splits(Task(name, tuple(clips), (Split("test", idx["train"], idx["test"], idx["valid"]),),
                             clip_seconds, multilabel))


def check_splits(task: Task) -> Task:
    """``task`` itself if its splits are sound, else ``UserError`` (one line naming the file):
    every audio file is listed once (one fold, one label: a file in two folds would be trained
    and tested on, a file under two labels counted wrong in one of them), and in every split
    the training, validation and test clips are disjoint and together cover every clip.
    Files are compared by their normalised absolute path (``a.wav`` = ``./a.wav``)."""
    first: dict[str, int] = {}
    for i, c in enumerate(task.clips):
        key = os.path.normcase(os.path.abspath(c.path))
        j = first.setdefault(key, i)
        if j != i:
            a, b = task.clips[j], c
            raise UserError(f"task {task.name}: audio file {c.path} is listed twice (fold {a.fold!r}, label "
                            f"{_label_text(a.label)!r} and fold {b.fold!r}, label {_label_text(b.label)!r}); "
                            f"each file must be in one fold with one label")
    everything = set(range(len(task.clips)))
    for s in task.splits:
        parts = (set(s.train), set(s.valid), set(s.test))
        if sum(map(len, parts)) != len(set().union(*parts)) or set().union(*parts) != everything:
            raise UserError(f"task {task.name}: split {s.name} does not divide the clips into disjoint "
                            f"train, valid and test sets covering all {len(task.clips)} clips")
    return task


def _label_text(label: str | tuple[str, ...]) -> str:
    return ",".join(label) if isinstance(label, tuple) else label


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
