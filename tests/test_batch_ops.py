"""Batch operators (Mixup, Cutmix, OpSampler), soft-target losses and train metrics."""

import copy
import os
import warnings

import numpy as np
import paddle
import pytest

from paddle_googlenet.config import load_config
from paddle_googlenet.data import build_dataloader
from paddle_googlenet.data.batch_ops import (CutmixOperator, MixupOperator, OpSampler,
                                             build_batch_transforms, one_hot)
from paddle_googlenet.engine import Engine
from paddle_googlenet.errors import ConfigError
from paddle_googlenet.losses import CELoss, GoogLeNetLoss
from paddle_googlenet.metrics import (GoogLeNetTopkAcc, SoftLabelError, TopkAcc,
                                      build_metrics, metrics_for_soft_targets)
from helpers import read_records
from tiny import ROOT

MIX_CONFIG = os.path.join(ROOT, "tests", "data", "paddleclas_mixup_cutmix.yaml")
OP_SAMPLER = [{"OpSampler": {"MixupOperator": {"alpha": 0.8, "prob": 0.5},
                             "CutmixOperator": {"alpha": 1.0, "prob": 0.5}}}]


def batch(n=6, classes=4, side=8, seed=0):
    rng = np.random.RandomState(seed)
    images = rng.rand(n, 3, side, side).astype(np.float32)
    labels = rng.randint(classes, size=n)
    return images, labels, one_hot(labels, classes)


# ----------------------------------------------------------------------- operators

def test_mixup_blends_images_and_targets_with_one_lam():
    images, labels, targets = batch()
    mixed, soft = MixupOperator(alpha=0.4)(images, targets, np.random.RandomState(5))
    draws = np.random.RandomState(5)
    partner = draws.permutation(len(images))
    lam = draws.beta(0.4, 0.4)
    np.testing.assert_allclose(mixed, lam * images + (1 - lam) * images[partner], rtol=1e-6)
    np.testing.assert_allclose(soft, lam * targets + (1 - lam) * targets[partner], rtol=1e-6)
    assert mixed.dtype == np.float32 and soft.dtype == np.float32
    np.testing.assert_allclose(soft.sum(axis=1), 1.0, rtol=1e-6)


def test_cutmix_pastes_a_box_and_weighs_targets_by_its_area():
    images, labels, targets = batch(side=16)
    original = images.copy()
    mixed, soft = CutmixOperator(alpha=1.0)(images, targets, np.random.RandomState(11))
    np.testing.assert_array_equal(images, original)  # the input is left as it was
    draws = np.random.RandomState(11)
    partner = draws.permutation(len(images))
    lam = draws.beta(1.0, 1.0)
    top, left, bottom, right = CutmixOperator.box(16, 16, lam, draws)
    assert (bottom - top) * (right - left) > 0
    inside = np.zeros((16, 16), bool)
    inside[top:bottom, left:right] = True
    np.testing.assert_array_equal(mixed[:, :, inside], original[partner][:, :, inside])
    np.testing.assert_array_equal(mixed[:, :, ~inside], original[:, :, ~inside])
    kept = 1 - inside.mean()  # lam recomputed from the box
    np.testing.assert_allclose(soft, kept * targets + (1 - kept) * targets[partner], rtol=1e-6)


def test_op_sampler_applies_at_most_one_op_by_prob():
    picked = []
    ops = [lambda x, t, rng: (picked.append("a"), (x, t))[1],
           lambda x, t, rng: (picked.append("b"), (x, t))[1]]
    sampler = OpSampler(ops, [0.5, 0.3])
    rng = np.random.RandomState(0)
    images, _, targets = batch(n=2)
    for _ in range(4000):
        before = len(picked)
        sampler(images, targets, rng)
        assert len(picked) - before <= 1  # never both ops on one batch
    assert abs(picked.count("a") / 4000 - 0.5) < 0.03
    assert abs(picked.count("b") / 4000 - 0.3) < 0.03  # none the other 20% of the time
    assert len(picked) < 4000


def test_op_sampler_built_from_config_mixes_or_leaves_batches():
    transform = build_batch_transforms(
        [{"OpSampler": {"MixupOperator": {"alpha": 0.8, "prob": 0.4}}}], 4)
    images, labels, _ = batch()
    kinds = set()
    for seed in range(40):
        out, soft = transform(images, labels, np.random.RandomState(seed))
        assert soft.shape == (6, 4) and soft.dtype == np.float32
        kinds.add(bool(np.array_equal(soft, one_hot(labels, 4))))
    assert kinds == {True, False}  # some batches left alone, some mixed


@pytest.mark.parametrize("ops, message", [
    ([{"MixupOperater": {"alpha": 0.2}}],
     r"batch_transform_ops\.0: unknown batch transform op 'MixupOperater' "
     r"\(did you mean 'MixupOperator'\?\)"),
    ([{"MixupOperator": {"alpha": 0}}],
     r"batch_transform_ops\.0\.MixupOperator\.alpha: .* above 0, got 0"),
    ([{"CutmixOperator": {"alpha": "big"}}],
     r"batch_transform_ops\.0\.CutmixOperator\.alpha: .* number above 0, got 'big'"),
    ([{"MixupOperator": {"beta": 1}}],
     r"batch_transform_ops\.0\.MixupOperator\.beta: MixupOperator has no such argument"),
    ([{"OpSampler": {"MixupOperator": {"alpha": 0.8, "prob": 1.5}}}],
     r"batch_transform_ops\.0\.OpSampler\.MixupOperator\.prob: expected a probability"),
    ([{"OpSampler": {"MixupOperator": {"alpha": 0.8}}}],
     r"batch_transform_ops\.0\.OpSampler\.MixupOperator\.prob: required"),
    ([{"OpSampler": {"MixupOperator": {"prob": 0.7}, "CutmixOperator": {"prob": 0.6}}}],
     r"batch_transform_ops\.0\.OpSampler: the probs add up to 1\.3"),
    ([{"OpSampler": {"CutMixOperator": {"prob": 0.5}}}],
     r"OpSampler: unknown batch transform op 'CutMixOperator' \(did you mean 'CutmixOperator'"),
    ([{"OpSampler": {"MixupOperator": {"alpha": -1, "prob": 0.5}}}],
     r"batch_transform_ops\.0\.OpSampler\.MixupOperator\.alpha: .* above 0"),
    ("MixupOperator", r"batch_transform_ops: expected a list of one-key mappings"),
])
def test_bad_batch_ops_are_located_config_errors(ops, message):
    with pytest.raises(ConfigError, match=message):
        build_batch_transforms(ops, 4, where="DataLoader.Train.dataset.batch_transform_ops")


# -------------------------------------------------------------------------- loader

def mix_loader_cfg(data, **dataset):
    return {"dataset": {"name": "ImageNetDataset", "image_root": data,
                        "cls_label_path": os.path.join(data, "train_list.txt"),
                        "transform_ops": [{"DecodeImage": None}, {"RandCropImage": {"size": 56}},
                                          {"NormalizeImage": {"order": ""}}],
                        "batch_transform_ops": copy.deepcopy(OP_SAMPLER), **dataset},
            "sampler": {"name": "BatchSampler", "batch_size": 4, "shuffle": True}}


def epoch_of(loader):
    return [(images.numpy(), labels.numpy()) for images, labels in loader]


def test_loader_yields_soft_targets_reproducibly(tiny_data):
    loader = build_dataloader(mix_loader_cfg(tiny_data), seed=2, num_classes=6)
    assert loader.soft_targets
    first = epoch_of(loader)
    images, targets = first[0]
    assert images.shape == (4, 3, 56, 56) and targets.shape == (4, 6)
    assert targets.dtype == np.float32
    np.testing.assert_allclose(targets.sum(axis=1), 1.0, rtol=1e-6)
    assert any(not np.isin(t, [0.0, 1.0]).all() for _, t in first)  # batches were mixed

    again = build_dataloader(mix_loader_cfg(tiny_data), seed=2, num_classes=6)
    for (a_img, a_t), (b_img, b_t) in zip(first, epoch_of(again)):
        np.testing.assert_array_equal(a_img, b_img)
        np.testing.assert_array_equal(a_t, b_t)

    # A resumed epoch mixes its remaining batches as the uninterrupted one did.
    resumed = build_dataloader(mix_loader_cfg(tiny_data), seed=2, num_classes=6)
    resumed.batch_sampler.set_epoch(0)
    resumed.batch_sampler.skip_batches(1)
    for (a_img, a_t), (b_img, b_t) in zip(first[1:], epoch_of(resumed)):
        np.testing.assert_array_equal(a_img, b_img)
        np.testing.assert_array_equal(a_t, b_t)


def test_loader_checks_batch_ops_placement_and_class_count(tiny_data):
    cfg = mix_loader_cfg(tiny_data)
    with pytest.raises(ConfigError, match=r"^DataLoader\.Eval\.dataset\.batch_transform_ops: "
                                          r"only the training data"):
        build_dataloader(cfg, num_classes=6, where="DataLoader.Eval", training=False)
    with pytest.raises(ConfigError, match=r"batch_transform_ops: .*number of classes "
                                          r"\(Arch\.class_num\)"):
        build_dataloader(cfg)
    cfg["dataset"]["batch_transform_ops"] = [{"OpSampler": {"Mixup": {"prob": 0.5}}}]
    with pytest.raises(ConfigError, match=r"^DataLoader\.Train\.dataset\.batch_transform_ops"
                                          r"\.0\.OpSampler: unknown .*'Mixup'"):
        build_dataloader(cfg, num_classes=6)
    del cfg["dataset"]["batch_transform_ops"]
    plain = build_dataloader(cfg, num_classes=6)
    assert not plain.soft_targets
    assert epoch_of(plain)[0][1].dtype == np.int64


# -------------------------------------------------------------------------- losses

def log_softmax(x):
    x = x - x.max(axis=1, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=1, keepdims=True))


def hand_ce(logits, targets):
    return float(np.mean(-(targets * log_softmax(logits)).sum(axis=1)))


def mixup_lam(draws, side):
    return draws.beta(0.8, 0.8)


def cutmix_lam(draws, side):
    top, left, bottom, right = CutmixOperator.box(side, side, draws.beta(1.0, 1.0), draws)
    return 1 - (bottom - top) * (right - left) / side ** 2


@pytest.mark.parametrize("op, lam_of", [(MixupOperator(alpha=0.8), mixup_lam),
                                        (CutmixOperator(alpha=1.0), cutmix_lam)])
def test_soft_target_loss_equals_hand_computed(op, lam_of):
    images, labels, targets = batch(n=5, classes=4)
    _, soft = op(images, targets, np.random.RandomState(3))
    draws = np.random.RandomState(3)  # the same draws, by hand
    partner = draws.permutation(5)
    lam = lam_of(draws, 8)
    logits = np.random.RandomState(9).randn(5, 4).astype(np.float32)
    loss = float(CELoss()([paddle.to_tensor(logits)], paddle.to_tensor(soft)))
    # lam * CE(label) + (1 - lam) * CE(partner's label), as PaddleClas's MixCELoss had it.
    per_sample = -log_softmax(logits)
    expected = np.mean(lam * per_sample[np.arange(5), labels]
                       + (1 - lam) * per_sample[np.arange(5), labels[partner]])
    np.testing.assert_allclose(loss, expected, rtol=1e-5)

    smoothed = float(CELoss(epsilon=0.1)([paddle.to_tensor(logits)], paddle.to_tensor(soft)))
    np.testing.assert_allclose(smoothed, hand_ce(logits, 0.9 * soft + 0.1 / 4), rtol=1e-5)

    aux = [np.random.RandomState(s).randn(5, 4).astype(np.float32) for s in (1, 2)]
    for epsilon, target in ((None, soft), (0.2, 0.8 * soft + 0.2 / 4)):
        total = float(GoogLeNetLoss(epsilon=epsilon)(
            [paddle.to_tensor(o) for o in (logits, *aux)], paddle.to_tensor(soft)))
        expected = hand_ce(logits, target) + 0.3 * sum(hand_ce(a, target) for a in aux)
        np.testing.assert_allclose(total, expected, rtol=1e-5)


def test_hard_labels_still_score_as_before():
    logits = np.random.RandomState(4).randn(3, 5).astype(np.float32)
    labels = np.array([0, 3, 4])
    hard = float(CELoss()([paddle.to_tensor(logits)], paddle.to_tensor(labels)))
    np.testing.assert_allclose(hard, hand_ce(logits, one_hot(labels, 5)), rtol=1e-5)


def test_soft_targets_of_the_wrong_width_are_refused():
    with pytest.raises(ConfigError, match="soft targets have 3 classes but the network outputs 5"):
        CELoss()([paddle.zeros([2, 5])], paddle.full([2, 3], 1 / 3))


# ------------------------------------------------------------------------- metrics

def test_accuracy_is_left_out_with_soft_targets():
    metrics = [TopkAcc(topk=[1]), GoogLeNetTopkAcc(topk=[1, 2])]
    kept, warning = metrics_for_soft_targets(metrics, soft_targets=True)
    assert kept == [] and "TopkAcc, GoogLeNetTopkAcc" in warning
    assert "batch_transform_ops" in warning
    assert metrics_for_soft_targets(metrics, soft_targets=False) == (metrics, None)
    with pytest.warns(UserWarning, match="left out of the training metrics: TopkAcc"):
        assert build_metrics([{"TopkAcc": {"topk": [1]}}], 6, "Metric.Train",
                             soft_targets=True) == []
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(build_metrics([{"TopkAcc": {"topk": [1]}}], 6, "Metric.Train")) == 1


def test_topk_acc_refuses_soft_labels():
    metric = TopkAcc(topk=[1])
    with pytest.raises(SoftLabelError, match=r"cannot score soft targets .*\[2, 3\].*Metric\.Train"):
        metric.compute(paddle.zeros([2, 3]), paddle.full([2, 3], 1 / 3))
    hits = metric.compute(paddle.to_tensor([[0.0, 1.0, 0.0]]), paddle.to_tensor([[1]]))
    assert metric.update(hits.numpy()) == [1.0]


# ---------------------------------------------------------------------- end to end

@pytest.mark.slow
def test_paddleclas_mixup_cutmix_config_trains_one_epoch(tiny_data, tmp_path):
    overrides = [f"Global.output_dir={tmp_path}"]
    for split, listing in (("Train", "train_list.txt"), ("Eval", "val_list.txt")):
        overrides += [f"DataLoader.{split}.dataset.image_root={tiny_data}",
                      f"DataLoader.{split}.dataset.cls_label_path={tiny_data}/{listing}"]
    config = load_config(MIX_CONFIG, overrides)
    with pytest.warns(UserWarning, match="left out of the training metrics: TopkAcc"):
        engine = Engine(config)
    assert engine.train_loader.soft_targets
    engine.train()
    records = read_records(os.path.join(str(tmp_path), "GoogLeNet"))
    assert len(records) == 1 and np.isfinite(records[0]["train_loss"])
    assert np.isfinite(records[0]["eval_loss"]) and records[0]["eval_images"] == 6
    # Evaluation scores Metric.Eval on hard labels, so a best model is still chosen.
    assert "train_top1" not in records[0] and 0.0 <= records[0]["eval_top1"] <= 1.0
    assert os.path.isfile(os.path.join(str(tmp_path), "GoogLeNet", "best_model",
                                       "model.pdparams"))


def test_int8_calibration_and_agreement_images_leave_batch_operators_out(tiny_data):
    """export's dataset_images reads DataLoader.Train as deployment prepares images:
    no Mixup or Cutmix, hard labels (a Mixup config used to fail there for want of
    a class count)."""
    from paddle_googlenet.export import dataset_images
    from tiny import DEFAULT_CONFIG

    overrides = []
    for split, listing in (("Train", "train_list.txt"), ("Eval", "val_list.txt")):
        overrides += [f"DataLoader.{split}.dataset.image_root={tiny_data}",
                      f"DataLoader.{split}.dataset.cls_label_path={tiny_data}/{listing}"]
    config = load_config(MIX_CONFIG, overrides)
    assert config["DataLoader"]["Train"]["dataset"]["batch_transform_ops"]
    config["Infer"] = load_config(DEFAULT_CONFIG)["Infer"]
    images, labels = dataset_images(config, "Train", limit=4)
    assert images.shape[0] == labels.shape[0] >= 4 and labels.ndim == 1
    assert labels.dtype.kind == "i" and set(labels) <= set(range(6))
