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


def test_train_one_steps_are_the_recipe_written_out():
    """``train_one`` (through ``train_step``, ``batch_order``, ``build_model``) ends at the very
    weights of the recipe's loop written out here step by step: batch order with leftovers,
    crop with time shift, standardisation, SpecAugment, label smoothing, mixup, the warm-up +
    cosine lr per layer group, AdamW. The factored step changes no result."""
    import finetune.full as full
    from finetune.augment import mixup
    from finetune.chunks import fit_standardizer
    from pretrain.engine import Schedule, lr_at

    mels = _toy_mels()
    split = full.carve_validation(mels.task, mels.task.splits[0])  # 12 training clips
    cfg = FullConfig(steps=5, eval_every=100, batch_size=5, lr=2e-3, seed=2, freq_mask=8, time_mask=4, mixup=0.4)
    make = lambda: random_encoder("test-micro", 64, 32)
    run = full.train_one(make, mels, split, 32, cfg, fit_standardizer(mels.specs, split.train, "chunks", 32),
                         lambda m: None)

    y = torch.as_tensor(mels.task.labels())
    torch.manual_seed(cfg.seed)
    rng, gen = np.random.default_rng(cfg.seed), torch.Generator().manual_seed(cfg.seed)
    norm = fit_standardizer(mels.specs, split.train, "chunks", 32)
    assert (cfg.head_pooling, cfg.head_norm) == ("freq", "batch")  # the default head
    model = Classifier(make().model.requires_grad_(True), 2, cfg.drop_path, pooling="freq", head_norm="batch")
    model.encoder.pos_embed.requires_grad_(False)
    opt = torch.optim.AdamW(param_groups(model, cfg.lr, cfg.weight_decay, cfg.layer_decay), betas=(0.9, 0.999))
    schedule = Schedule(cfg.lr, int(cfg.warmup * cfg.steps), cfg.steps)
    train = np.array(split.train)
    order, pos = rng.permutation(train), 0
    model.train()
    for step in range(cfg.steps):
        if pos + cfg.batch_size > len(order):
            order, pos = np.concatenate([order[pos:], rng.permutation(train)]), 0
        idx = order[pos:pos + cfg.batch_size]
        pos += cfg.batch_size
        width = batch_width([mels.specs[i].shape[-1] for i in idx], 32, 16)
        x = torch.stack([train_view(mels.specs[i], width, True, rng) for i in idx])
        x = spec_augment(norm(x).unsqueeze(1), cfg.freq_mask, cfg.time_mask, gen)
        x, target = mixup(x, soft_targets(y[idx], 2, cfg.label_smoothing), cfg.mixup, rng)
        for g in opt.param_groups:
            g["lr"] = lr_at(step, schedule) * g["lr_scale"]
        loss = torch.nn.functional.cross_entropy(model(x), target)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    state = model.state_dict()
    assert state.keys() == run.last_state.keys()
    for key, value in state.items():
        assert torch.equal(value, run.last_state[key]), key
    assert [p["step"] for p in run.curve] == [5]


def test_non_finite_training_loss_is_one_line_naming_split_lr_and_step():
    import finetune.full as full
    from finetune.chunks import fit_standardizer

    mels = _toy_mels()
    split = full.carve_validation(mels.task, mels.task.splits[0])
    mels.specs[split.train[0]][0, 0] = float("nan")  # the standardiser's mean is NaN: every input is
    cfg = FullConfig(steps=3, batch_size=4, lr=2e-3, seed=0, freq_mask=8, time_mask=4)
    with pytest.raises(UserError, match=r"^fold1 lr 0.002 step 1: the training loss is nan \(non-finite"):
        full.train_one(lambda: random_encoder("test-micro", 64, 32), mels, split, 32, cfg,
                       fit_standardizer(mels.specs, split.train, "chunks", 32), lambda m: None)


def test_freq_pooling_keeps_each_frequency_row_and_chunks_pool_as_the_whole_clip():
    from finetune.full import clip_logits
    from pretrain.frontend import Standardizer

    enc = random_encoder("test-micro", 64, 32).model.eval()
    model = Classifier(enc, 3, pooling="freq", head_norm="batch").eval()
    rows, dim = enc.patch_embed.grid_size[0], enc.embed_dim
    assert model.head.in_features == rows * dim and isinstance(model.head_norm, torch.nn.BatchNorm1d)
    assert not list(model.head_norm.parameters())  # no affine: nothing for the optimizer
    tokens = torch.randn(2, rows * 3, dim)  # 3 patch columns, row-major
    pooled = model.pool(tokens)
    assert torch.allclose(pooled.reshape(2, rows, dim)[:, 1], tokens[:, 3:6].mean(dim=1))
    sums, count = model.pool_sums(tokens)
    assert count == 3 and torch.allclose(sums / count, pooled)
    # a clip wider than the encoder: its chunks' sums add up to the mean over all its columns
    with torch.no_grad():
        model.head.weight.normal_()
    spec = torch.randn(64, 48)  # 32 + 16 frames: a full chunk and a narrow one
    logits = clip_logits(model, [spec], [0], Standardizer(0.0, 1.0), 32, 4)
    with torch.no_grad():
        both = torch.cat([model.tokens(spec[None, None, :, :32]), model.tokens(spec[None, None, :, 32:])], dim=1)
        per_row = torch.cat([both[:, :rows * 2].reshape(1, rows, 2, dim),
                             both[:, rows * 2:].reshape(1, rows, 1, dim)], dim=2).mean(dim=2).flatten(1)
        assert torch.allclose(logits, model.classify(per_row), atol=1e-5)
    # the mean head is the mean of all tokens, as before
    mean = Classifier(random_encoder("test-micro", 64, 32).model, 3)
    assert mean.head.in_features == dim and torch.equal(mean.pool(tokens), tokens.mean(dim=1))
    with pytest.raises(ValueError, match="pooling='max' must be one of mean, freq"):
        Classifier(enc, 3, pooling="max")
    with pytest.raises(UserError, match="head_norm='layer' must be one of none, batch"):
        FullConfig(head_norm="layer")
    with pytest.raises(UserError, match="head_norm='batch' needs batch_size >= 2, not 1"):
        FullConfig(head_norm="batch", batch_size=1)


def test_progress_keys_of_the_mean_head_are_those_written_before_the_head_options():
    import hashlib
    import json
    from dataclasses import asdict
    from types import SimpleNamespace

    from finetune.full import state_key

    enc = SimpleNamespace(fingerprint="enc")
    mels = SimpleNamespace(task=SimpleNamespace(fingerprint=lambda: "task"), digest=lambda: "mels")
    cfg = FullConfig(steps=12, head_pooling="mean", head_norm="none")  # every run's head before the options
    before = {k: v for k, v in asdict(cfg).items() if k not in ("head_pooling", "head_norm")}
    blob = json.dumps({"enc": "enc", "task": "task", "mels": "mels", "frames": 32, "cfg": before, "lrs": [5e-4],
                       "split": "fold1", "v": 3}, sort_keys=True)
    assert state_key(enc, mels, 32, cfg, None, "fold1") == hashlib.sha256(blob.encode()).hexdigest()[:16]
    keys = {state_key(enc, mels, 32, FullConfig(steps=12, head_pooling=p, head_norm=n), None, "fold1")
            for p in ("mean", "freq") for n in ("none", "batch")}
    assert len(keys) == 4
