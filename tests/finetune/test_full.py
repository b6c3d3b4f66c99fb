import pytest
import torch

from finetune.encoder import random_encoder
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
