from pathlib import Path

import numpy as np
import pytest

from finetune.probe import choose_c, linear_probe
from finetune.task import Clip, cv_task, fixed_split_task


def _toy_task(n_per_class: int, n_classes: int, n_folds: int) -> "Task":
    clips = [Clip(Path(f"{k}_{i}.wav"), str(k), str(i % n_folds + 1))
             for k in range(n_classes) for i in range(n_per_class)]
    return cv_task("toy", clips)


def test_separable_task_reaches_high_accuracy():
    task = _toy_task(40, 4, 5)
    rng = np.random.default_rng(0)
    y = task.labels()
    x = rng.standard_normal((len(y), 16)) + 4.0 * np.eye(4, 16)[y]  # class means 5.7 sigma apart
    result = linear_probe(task, x)
    assert len(result.split_acc) == 5
    assert result.mean > 0.95


def test_random_labels_stay_near_chance():
    # Features carry no label information: any accuracy well above 1/4 would mean a leak
    # (e.g. a scaler or C chosen with test clips, or test clips in training).
    task = _toy_task(60, 4, 5)
    x = np.random.default_rng(1).standard_normal((len(task.clips), 32))
    result = linear_probe(task, x)
    assert 0.12 < result.mean < 0.38


def test_features_that_identify_the_fold_do_not_leak():
    # One feature encodes the fold; labels are random. The probe never sees a test fold in
    # training, so fold identity cannot be turned into label accuracy.
    task = _toy_task(50, 2, 5)
    rng = np.random.default_rng(2)
    folds = np.array([int(c.fold) for c in task.clips])
    x = np.stack([folds, rng.standard_normal(len(folds))], axis=1).astype(float)
    labels = rng.integers(0, 2, len(folds))
    clips = [Clip(c.path, str(l), c.fold) for c, l in zip(task.clips, labels)]
    assert linear_probe(cv_task("toy", clips), x).mean < 0.65


def test_per_split_features_are_used_per_split():
    task = _toy_task(20, 2, 2)
    y = task.labels()
    good = np.eye(2)[y] * 5 + np.random.default_rng(0).standard_normal((len(y), 2))
    noise = np.random.default_rng(1).standard_normal((len(y), 2))
    result = linear_probe(task, {"fold1": good, "fold2": noise})
    assert result.split_acc[0] > 0.95 and result.split_acc[1] < 0.8


def test_validation_set_chooses_c():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 30)
    x = rng.standard_normal((60, 50)) + 0.8 * np.eye(2, 50)[y]
    c = choose_c(x[:40], y[:40], np.zeros(40), x[40:], y[40:])
    assert c in (0.001, 0.01, 0.1, 1.0, 10.0)
    clips = [Clip(Path(f"{i}.wav"), str(l), "train" if i < 40 else "valid" if i < 50 else "test")
             for i, l in enumerate(y[rng.permutation(60)])]
    assert len(linear_probe(fixed_split_task("t", clips), x).split_acc) == 1


def test_map_matches_scikit_learn_and_multilabel_probe():
    from sklearn.metrics import average_precision_score

    from finetune.probe import mean_average_precision

    y = np.array([[1, 0, 0], [0, 1, 0], [1, 1, 0], [0, 0, 0]])
    s = np.array([[0.9, 0.2, 0.1], [0.3, 0.8, 0.5], [0.4, 0.7, 0.2], [0.5, 0.1, 0.3]])
    want = (average_precision_score(y[:, 0], s[:, 0]) + average_precision_score(y[:, 1], s[:, 1])) / 2
    assert mean_average_precision(y, s) == pytest.approx(want)  # class 2 has no positive: left out
    assert mean_average_precision(y, s) == pytest.approx((5 / 6 + 1.0) / 2)
    # multi-label probe: tags readable from the features -> high mAP; reported per split
    rng = np.random.default_rng(0)
    tags = rng.integers(0, 2, (120, 4))
    x = tags * 3.0 + rng.standard_normal((120, 4))
    clips = [Clip(Path(f"{i}.wav"), tuple(str(k) for k in np.flatnonzero(t)), "train" if i < 90 else "test")
             for i, t in enumerate(tags)]
    task = fixed_split_task("ml", clips, multilabel=True)
    result = linear_probe(task, x)
    assert len(result.split_acc) == 1 and result.mean > 0.9
    noise = linear_probe(task, rng.standard_normal((120, 4)))
    assert noise.mean < 0.75
