import numpy as np
import pytest
import torch

from finetune.encoder import random_encoder
from finetune.augment import batch_width, soft_targets, train_view
from finetune.classifier import narrow_features
from finetune.full import Classifier, FullConfig, param_groups, spec_augment
from finetune.task import UserError


def test_layer_wise_lr_decay_groups():
    model = Classifier(random_encoder("test-micro", 64, 32).model.requires_grad_(True), 5)
    groups = param_groups(model, lr=1.0, weight_decay=0.05, layer_decay=0.5)
    by_id = {id(p): g for g in groups for p in g["params"]}
    depth = len(model.encoder.blocks)  # 2
    assert by_id[id(model.head.weight)]["lr"] == 1.0 and by_id[id(model.head.weight)]["weight_decay"] == 0.05
    assert by_id[id(model.head.bias)]["weight_decay"] == 0.0
    assert by_id[id(model.encoder.blocks[1].mlp.fc1.weight)]["lr"] == 0.5
    assert by_id[id(model.encoder.blocks[0].mlp.fc1.weight)]["lr"] == 0.25
    assert by_id[id(model.encoder.patch_embed.proj.weight)]["lr"] == 0.5 ** (depth + 1)
    assert model(torch.randn(2, 1, 64, 32)).shape == (2, 5)


def test_spec_augment_masks_whole_bands():
    x = torch.ones(4, 1, 16, 20)
    y = spec_augment(x, 8, 10, torch.Generator().manual_seed(0))
    assert y.shape == x.shape and (y == 0).any() and torch.all(x == 1)
    for b in range(4):  # zeros form whole rows and/or whole columns
        zero = y[b, 0] == 0
        assert torch.equal(zero, zero.all(1, keepdim=True) | zero.all(0, keepdim=True))
    with pytest.raises(UserError, match="layer_decay=1.5"):
        FullConfig(layer_decay=1.5)


def test_validation_is_carved_from_training_folds_never_the_test_fold():
    from pathlib import Path

    from finetune.full import carve_validation
    from finetune.task import Clip, cv_task, fixed_split_task

    task = cv_task("t", [Clip(Path(f"{i}.wav"), str(i % 2), str(i % 5 + 1)) for i in range(50)])
    for split in task.splits:
        carved = carve_validation(task, split)
        test_fold = split.name.removeprefix("fold")
        val_folds = {task.clips[i].fold for i in carved.valid}
        assert val_folds == {str(int(test_fold) % 5 + 1)}  # the next fold, cyclically
        assert carved.test == split.test and not set(carved.valid) & set(carved.train)
        assert sorted(carved.train + carved.valid) == sorted(split.train)
    fixed = fixed_split_task("f", [Clip(Path(f"{i}.wav"), str(i % 2), "test" if i < 10 else "train")
                                   for i in range(50)])
    carved = carve_validation(fixed, fixed.splits[0])
    assert len(carved.valid) == 4 and {fixed.clips[i].label for i in carved.valid} == {"0", "1"}
    assert not set(carved.valid) & set(fixed.splits[0].test)


def test_narrow_input_is_the_full_forward_at_full_width_and_a_column_prefix_below():
    enc = random_encoder("test-micro", 64, 64).model.eval()
    x = torch.randn(2, 1, 64, 64)
    with torch.no_grad():
        assert torch.allclose(narrow_features(enc, x), enc.forward_features(x), atol=1e-6)
        narrow = narrow_features(enc, x[..., :32])  # 2 of 4 patch columns
        assert narrow.shape == (2, 1 + 4 * 2, enc.embed_dim)
        # the same as a full-width input whose last columns cannot be attended to
        mask = torch.ones(1 + 16, dtype=torch.bool)
        grid = torch.arange(16).reshape(4, 4)
        mask[1:] = (grid % 4 < 2).reshape(-1)
        t = enc.patch_embed(x)
        t = enc._pos_embed(t)[:, mask]
        assert torch.allclose(narrow, enc.norm(enc.blocks(t)), atol=1e-5)
    with pytest.raises(ValueError, match="does not fit"):
        narrow_features(enc, torch.randn(1, 1, 64, 80))


def test_training_views_shift_short_clips_and_crop_long_ones():
    rng = np.random.default_rng(0)
    short = torch.arange(10.0).reshape(1, 10) + 5
    views = [train_view(short, 16, True, rng) for _ in range(20)]
    starts = {int(torch.nonzero(v[0] == 14)[0]) - 9 for v in views}  # the last frame locates the clip
    assert len(starts) > 3 and all(v.shape == (1, 16) and v.min() == 5 for v in views)  # padded with the minimum
    assert torch.equal(train_view(short, 16, False, rng)[0, :10], short[0])  # no shift: from the start
    long = torch.arange(40.0).reshape(1, 40)
    crops = {int(train_view(long, 16, True, rng)[0, 0]) for _ in range(20)}
    assert len(crops) > 3 and max(crops) <= 24
    assert batch_width([10, 30], 64, 16) == 32 and batch_width([100], 64, 16) == 64 and batch_width([16], 64, 16) == 16
    t = soft_targets(torch.tensor([1, 0]), 4, 0.1)
    assert torch.allclose(t.sum(1), torch.ones(2)) and abs(float(t[0, 1]) - 0.925) < 1e-6


def _toy_mels(n_per_class=12, folds=4):
    from pathlib import Path

    from finetune.features import LogMels
    from finetune.task import Clip, cv_task

    g = torch.Generator().manual_seed(0)
    clips, specs = [], []
    for i in range(2 * n_per_class):
        label = i % 2
        clips.append(Clip(Path(f"{i}.wav"), str(label), str(i // 2 % folds + 1)))
        spec = torch.randn(64, 20 + 7 * (i % 5), generator=g)
        spec[(32 if label else 0):(32 if label else 0) + 16] += 3.0  # a band: high or low
        specs.append(spec)
    return LogMels(cv_task("toy", clips), specs, [])


def test_test_split_is_evaluated_once_at_the_chosen_state_after_all_training(monkeypatch):
    import finetune.full as full

    mels = _toy_mels()
    split = mels.task.splits[0]
    calls = []
    real = full.clip_logits

    def spy(model, specs, index, *args):
        calls.append(tuple(index))
        return real(model, specs, index, *args)

    monkeypatch.setattr(full, "clip_logits", spy)
    cfg = FullConfig(steps=12, eval_every=4, batch_size=8, lr=2e-3, seed=0, freq_mask=8, time_mask=4)
    make = lambda: random_encoder("test-micro", 64, 32)
    rec = full.finetune_split(make, mels, split, 32, cfg, lambda m: None, lrs=(2e-3, 5e-4))
    test = tuple(split.test)
    assert calls.count(test) == 2 and calls[-2:] == [test, test]  # chosen state, then the last step
    assert all(c != test for c in calls[:-2]) and len(calls) == 2 * 3 + 2  # 3 validation points per lr
    curve = rec["curves"][f"{rec['lr']:g}"]
    assert [p["step"] for p in curve] == [4, 8, 12] and rec["valid_acc"] == max(p["valid"] for p in curve)
    again = full.finetune_split(make, mels, split, 32, cfg, lambda m: None, lrs=(2e-3, 5e-4))
    assert {k: again[k] for k in ("acc", "last_acc", "curves", "lr", "step")} == \
        {k: rec[k] for k in ("acc", "last_acc", "curves", "lr", "step")}  # the same seed, the same run


def test_config_refuses_out_of_range_recipe_values():
    for bad, match in (({"steps": 0}, "steps=0"), ({"drop_path": 1.0}, "drop_path=1.0"),
                       ({"label_smoothing": -0.1}, "label_smoothing=-0.1"), ({"warmup": 1.0}, "warmup=1.0"),
                       ({"lr": float("nan")}, "lr=nan"), ({"eval_every": -1}, "eval_every=-1")):
        with pytest.raises(UserError, match=match):
            FullConfig(**bad)
