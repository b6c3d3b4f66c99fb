"""The one learning-rate schedule (pre-training and fine-tuning): warm-up, then cosine."""

import math

import pytest

from pretrain.engine import Schedule, lr_at


def test_linear_warm_up_then_cosine_to_the_floor():
    schedule = Schedule(lr=1.0, warmup_steps=10, total_steps=110, min_lr=0.1)
    assert [lr_at(s, schedule) for s in (0, 4, 9)] == pytest.approx([0.1, 0.5, 1.0])
    assert lr_at(10, schedule) == pytest.approx(1.0)
    assert lr_at(60, schedule) == pytest.approx(0.1 + 0.9 * 0.5)  # half-way: cos(pi/2) = 0
    assert lr_at(35, schedule) == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi / 4)))
    assert lr_at(110, schedule) == pytest.approx(0.1) and lr_at(500, schedule) == pytest.approx(0.1)


def test_fine_tuning_decays_to_zero_and_a_time_bounded_run_stays_at_the_peak():
    fine_tune = Schedule(lr=1.0, warmup_steps=10, total_steps=100)
    assert lr_at(0, fine_tune) == pytest.approx(0.1) and lr_at(9, fine_tune) == pytest.approx(1.0)
    assert 0 < lr_at(99, fine_tune) < 0.001
    no_warm_up = Schedule(lr=2.0, warmup_steps=0, total_steps=4)
    assert [lr_at(s, no_warm_up) for s in range(4)] == pytest.approx([2.0, 1.707107, 1.0, 0.292893])
    open_ended = Schedule(lr=3.0, warmup_steps=2, total_steps=None)
    assert [lr_at(s, open_ended) for s in (0, 1, 2, 10_000)] == [1.5, 3.0, 3.0, 3.0]
