"""Linear probe: the standard frozen-feature protocol.

For every split: ``StandardScaler`` fit on the training clips only, then multinomial logistic
regression (scikit-learn, lbfgs) whose inverse regularisation ``C`` is chosen from ``CS`` by
validation accuracy -- on the split's validation set when the task has one, otherwise by inner
cross-validation (3 folds) on the training clips grouped by their original folds (so inner validation
never mixes clips of one fold, as the outer protocol does not). The chosen ``C`` is refit on all
training clips and scored on the test clips. Accuracy is reported as mean +- std over splits.

Multi-label tasks (FSD50K, AudioSet; labels ``(N, classes)`` 0/1): one-vs-rest logistic
regressions, and the metric -- for choosing ``C`` and for the test -- is mAP, the mean over
classes (with at least one positive test clip) of scikit-learn's ``average_precision_score`` of
the decision scores.

scikit-learn's lbfgs ran ~20x slower with default BLAS threads than with one on a 2-core
machine, so fitting runs under ``threadpoolctl`` limited to one thread.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np

from finetune.task import Task, UserError

CS = (0.001, 0.01, 0.1, 1.0, 10.0)


@dataclass(frozen=True)
class ProbeResult:
    split_acc: tuple[float, ...]
    split_c: tuple[float, ...]

    @property
    def mean(self) -> float:
        return float(np.mean(self.split_acc))

    @property
    def std(self) -> float:
        return float(np.std(self.split_acc))


def mean_average_precision(y_true: np.ndarray, scores: np.ndarray) -> float:
    """mAP of ``(N, C)`` scores against ``(N, C)`` 0/1 labels: the mean of the per-class average
    precision over classes with at least one positive clip (others are undefined)."""
    from sklearn.metrics import average_precision_score

    present = y_true.sum(axis=0) > 0
    if not present.any():
        raise ValueError("mAP needs at least one positive label")
    return float(np.mean([average_precision_score(y_true[:, k], scores[:, k]) for k in np.flatnonzero(present)]))


def _multilabel_scores(cs, a, y_tr, b, y_te, max_iter: int) -> list[float]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier

    out = []
    for c in cs:
        clf = OneVsRestClassifier(LogisticRegression(solver="lbfgs", max_iter=max_iter, C=c)).fit(a, y_tr)
        out.append(mean_average_precision(y_te, clf.decision_function(b)))
    return out


def _path_scores(cs, x_tr, y_tr, x_te, y_te, max_iter: int) -> list[float]:
    """Accuracy (multi-label ``y``: mAP) on ``(x_te, y_te)`` for each ``C`` in ascending ``cs``;
    scaler fit on ``x_tr``.

    The fits run along the regularisation path with ``warm_start`` (each C starts from the
    previous solution), which gives the same optimum with ~20 % fewer lbfgs iterations.
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(x_tr)
    a, b = scaler.transform(x_tr), scaler.transform(x_te)
    if y_tr.ndim == 2:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            return _multilabel_scores(cs, a, y_tr, b, y_te, max_iter)
    clf = LogisticRegression(solver="lbfgs", max_iter=max_iter, warm_start=True)
    scores = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for c in cs:
            clf.set_params(C=c).fit(a, y_tr)
            scores.append(float((clf.predict(b) == y_te).mean()))
    return scores


def choose_c(x, y, groups, x_val=None, y_val=None, cs=CS, inner_folds: int = 3, max_iter: int = 1000) -> float:
    """``C`` with the best validation accuracy or mAP (ties -> the smaller, more regularised ``C``)."""
    cs = sorted(cs)
    if x_val is not None and len(x_val):
        scores = _path_scores(cs, x, y, x_val, y_val, max_iter)
    else:
        from sklearn.model_selection import GroupKFold, KFold, StratifiedKFold

        if y.ndim == 2:  # multi-label: no stratification
            cv = KFold(n_splits=inner_folds, shuffle=True, random_state=0).split(x)
        elif len(set(groups)) >= 2:
            cv = GroupKFold(n_splits=min(inner_folds, len(set(groups)))).split(x, y, groups)
        else:
            cv = StratifiedKFold(n_splits=max(2, min(inner_folds, int(np.bincount(y).min()))),
                                 shuffle=True, random_state=0).split(x, y)
        scores = np.mean([_path_scores(cs, x[a], y[a], x[b], y[b], max_iter) for a, b in cv], axis=0)
    return float(cs[int(np.argmax(scores))])


def linear_probe(task: Task, features: dict[str, np.ndarray] | np.ndarray, *, cs=CS, inner_folds: int = 3,
                 max_iter: int = 1000, report: Callable[[str], None] | None = None) -> ProbeResult:
    """Probe ``features`` (one ``(N, F)`` array for all splits, or one per split name);
    ``report`` gets one line per fitted split."""
    from threadpoolctl import threadpool_limits

    y = task.labels()
    folds = np.array([c.fold for c in task.clips])
    accs, chosen = [], []
    with threadpool_limits(limits=1):
        for split in task.splits:
            x = features[split.name] if isinstance(features, dict) else features
            tr, te, va = (np.array(split.train), np.array(split.test), np.array(split.valid, dtype=np.int64))
            try:
                with warnings.catch_warnings():  # a class too small for CV fails just below
                    warnings.filterwarnings("ignore", message="The least populated class")
                    c = choose_c(x[tr], y[tr], folds[tr], x[va] if len(va) else None,
                                 y[va] if len(va) else None, cs, inner_folds, max_iter)
                accs.append(_path_scores([c], x[tr], y[tr], x[te], y[te], max_iter)[0])
            except ValueError as exc:  # sklearn: too few clips of a class to fit or to cross-validate
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                raise UserError(f"task {task.name}, split {split.name}: cannot fit the probe on "
                                f"{len(tr)} training clips ({first}); every class needs clips in "
                                f"several training folds") from None
            chosen.append(c)
            if report:
                report(f"fit {task.name} {split.name} ({len(chosen)}/{len(task.splits)}): C={c:g}, "
                       f"{task.metric} {100 * accs[-1]:.1f} %")
    return ProbeResult(tuple(accs), tuple(chosen))
