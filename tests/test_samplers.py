"""RASampler and MultiScaleSampler (with MultiScaleDataset), built as PaddleClas spells them."""

import collections
import copy
import os

import numpy as np
import paddle
import pytest

from paddle_googlenet.data import MultiScaleDataset, build_dataloader
from paddle_googlenet.data.samplers import EvalShardBatchSampler, MultiScaleSampler, RASampler
from paddle_googlenet.errors import ConfigError
from paddle_googlenet.models import build_model
from paddle_googlenet.models.googlenet import InputShapeError

PIPELINE = [{"DecodeImage": {"to_rgb": True, "channel_first": False}},
            {"RandCropImage": {"size": 64, "scale": [0.5, 1.0]}},
            {"RandFlipImage": {"flip_code": 1}},
            {"NormalizeImage": {"scale": "1.0/255.0", "order": ""}}]


class Sized(paddle.io.Dataset):
    def __init__(self, size):
        self.size = size

    def __len__(self):
        return self.size


def all_indices(sampler):
    return [i for batch in sampler for i in batch]


# ----------------------------------------------------------------------- RASampler

def test_ra_sampler_repeats_each_index_across_replicas():
    size, repeats, replicas = 12, 3, 3
    samplers = [RASampler(Sized(size), batch_size=2, shuffle=True, num_repeats=repeats,
                          num_replicas=replicas, rank=rank, seed=1) for rank in range(replicas)]
    shares = [all_indices(s) for s in samplers]
    assert [len(share) for share in shares] == [size // replicas] * replicas
    assert [len(s) for s in samplers] == [2] * replicas
    taken = [i for share in shares for i in share]
    assert len(set(taken)) == len(taken)  # each repeat its own index: its own augmentation
    counts = collections.Counter(i % size for i in taken)
    assert set(counts.values()) == {repeats}  # an epoch: len(dataset) samples, in threes
    for image in counts:  # the repeats of an image go to different replicas
        assert len({r for r, share in enumerate(shares) for i in share if i % size == image}) == 3


def test_ra_sampler_is_deterministic_per_epoch():
    def epoch(seed, number):
        sampler = RASampler(Sized(20), batch_size=4, shuffle=True, seed=seed, distributed=False)
        sampler.set_epoch(number)
        return all_indices(sampler)

    assert epoch(3, 0) == epoch(3, 0)
    assert epoch(3, 0) != epoch(3, 1)
    assert epoch(3, 0) != epoch(4, 0)
    one = all_indices(RASampler(Sized(20), batch_size=4, num_repeats=2, distributed=False))
    assert one[:4] == [0, 20, 1, 21]  # unshuffled: image i, then its repeat i + len


@pytest.mark.parametrize("size, drop_last, batches", [(300, True, 4), (300, False, 4),
                                                      (10, False, 3), (10, True, 2)])
def test_ra_sampler_takes_about_one_dataset_per_epoch(size, drop_last, batches):
    sampler = RASampler(Sized(size), batch_size=64 if size > 256 else 4, drop_last=drop_last,
                        distributed=False)
    assert len(sampler) == batches == len(list(sampler))
    assert len(all_indices(sampler)) <= (256 if size > 256 else size)


def ra_cfg(data, **sampler):
    return {"dataset": {"name": "ImageNetDataset", "image_root": data,
                        "cls_label_path": os.path.join(data, "train_list.txt"),
                        "transform_ops": copy.deepcopy(PIPELINE)},
            "sampler": {"name": "RASampler", "batch_size": 3, "shuffle": True,
                        "drop_last": True, **sampler}}


def test_ra_sampler_from_config_augments_repeats_differently_and_resumes(tiny_data):
    loader = build_dataloader(ra_cfg(tiny_data, num_repeats=3), seed=5)
    assert isinstance(loader.batch_sampler, RASampler) and loader.batch_sampler.num_repeats == 3
    epoch = [(images.numpy(), labels.numpy()) for images, labels in loader]
    assert len(epoch) == 4
    images, labels = epoch[0]
    assert len(set(labels.tolist())) == 1  # one image, three times
    assert not np.array_equal(images[0], images[1])  # ... augmented three ways

    resumed = build_dataloader(ra_cfg(tiny_data, num_repeats=3), seed=5)
    resumed.batch_sampler.set_epoch(0)
    resumed.batch_sampler.skip_batches(2)
    rest = [(i.numpy(), l.numpy()) for i, l in resumed]
    assert len(rest) == 2
    for (a, la), (b, lb) in zip(epoch[2:], rest):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(la, lb)

    with pytest.raises(ConfigError, match=r"^DataLoader\.Train\.sampler: .*num_repeats must be "
                                          r"a positive integer, got 0"):
        build_dataloader(ra_cfg(tiny_data, num_repeats=0))


# ---------------------------------------------------------------- MultiScaleSampler

def test_multi_scale_batches_share_one_size_from_scales():
    sampler = MultiScaleSampler(Sized(50), scales=[64, 96, [128, 64]], first_bs=6,
                                divided_factor=32, seed=0, distributed=False)
    sizes = {(64, 64): 6, (96, 96): int(6 * 64 * 64 / (96 * 96)), (128, 64): 3}
    assert sampler.image_sizes == sorted(sizes)
    seen = set()
    batches = list(sampler)
    assert len(batches) == len(sampler)
    for batch in batches:
        shapes = {(w, h) for w, h, _ in batch}
        assert len(shapes) == 1
        shape = shapes.pop()
        assert len(batch) == sizes[shape]
        seen.add(shape)
    assert len(seen) > 1
    assert {i for batch in batches for _, _, i in batch} == set(range(50))
    again = MultiScaleSampler(Sized(50), scales=[64, 96, [128, 64]], first_bs=6, seed=0,
                              distributed=False)
    assert list(again) == batches
    again.skip_batches(2)  # a resumed epoch leaves out what it trained
    assert list(again) == batches[2:]
    again.set_epoch(1)
    assert list(again) != batches and len(list(again)) == len(batches)


def test_multi_scale_rounds_sides_and_has_one_size_when_not_training():
    sampler = MultiScaleSampler(Sized(10), scales=[100, 70], first_bs=4, divided_factor=32,
                                distributed=False)
    assert sampler.image_sizes == [(64, 64), (96, 96)]
    evaluation = MultiScaleSampler(Sized(10), scales=[100, 70], first_bs=4, is_training=False,
                                   shuffle=False, distributed=False)
    assert [len(b) for b in evaluation] == [4, 4, 4]
    assert {(w, h) for b in evaluation for w, h, _ in b} == {(100, 100)}
    with pytest.raises(ConfigError, match="scales: \\[16, 16\\] is smaller than divided_factor"):
        MultiScaleSampler(Sized(10), scales=[16], first_bs=4, distributed=False)


def multi_scale_cfg(data, scales):
    return {"dataset": {"name": "MultiScaleDataset", "image_root": data,
                        "cls_label_path": os.path.join(data, "train_list.txt"),
                        "transform_ops": copy.deepcopy(PIPELINE)},
            "sampler": {"name": "MultiScaleSampler", "scales": scales, "first_bs": 4,
                        "divided_factor": 32, "is_training": True}}


def test_multi_scale_dataset_reads_each_batch_at_its_size(tiny_data):
    loader = build_dataloader(multi_scale_cfg(tiny_data, [64, [96, 64]]), seed=0)
    assert isinstance(loader.dataset, MultiScaleDataset)
    shapes = set()
    for images, labels in loader:
        shapes.add(tuple(images.shape[2:]))
        assert images.shape[0] == labels.shape[0]
    assert shapes == {(64, 64), (64, 96)}  # [N, C, H, W] of (w, h) = (96, 64)
    assert loader.dataset[0][0].shape == (3, 64, 64)  # a plain index: the list as written

    cfg = multi_scale_cfg(tiny_data, [64])
    cfg["dataset"]["transform_ops"] = [PIPELINE[0], PIPELINE[3]]
    with pytest.raises(ConfigError, match=r"^DataLoader\.Train\.dataset: transform_ops must "
                                          r"list one of RandCropImage"):
        build_dataloader(cfg)


@pytest.mark.slow
def test_a_scale_the_network_cannot_take_is_its_shape_error(tiny_data):
    loader = build_dataloader(multi_scale_cfg(tiny_data, [64]), seed=0)
    images, _ = next(iter(loader))
    network = build_model({"name": "GoogLeNet", "class_num": 6})  # fixed pools: 224 only
    with pytest.raises(InputShapeError, match="fixed-pool heads.*adaptive_pool=True"):
        network(images)


@pytest.mark.slow
def test_startup_check_tries_every_scale_the_sampler_can_ask_for(tiny_data):
    from types import SimpleNamespace

    from paddle_googlenet.engine.components import check_input_size

    network = build_model({"name": "GoogLeNet", "class_num": 6})  # fixed pools: 209-224
    cfg = multi_scale_cfg(tiny_data, [224, 320])
    cfg["dataset"]["transform_ops"][1]["RandCropImage"]["size"] = 224
    loader = build_dataloader(cfg, seed=0)
    assert loader.dataset[0][0].shape == (3, 224, 224)  # what the list alone would give
    parts = SimpleNamespace(network=network, loaders=lambda: [("Train", loader)])
    with pytest.raises(InputShapeError, match=r"^DataLoader\.Train\.sampler\.scales \(images "
                                              r"of shape \[3, 320, 320\]\): .*fixed-pool heads"):
        check_input_size(parts)

    fits = build_dataloader(multi_scale_cfg(tiny_data, [224, [224, 192]]), seed=0)
    assert fits.batch_sampler.image_sizes == [(224, 192), (224, 224)]
    adaptive = build_model({"name": "GoogLeNet", "class_num": 6, "adaptive_pool": True})
    loaders = [("Train", loader), ("Eval", fits)]
    check_input_size(SimpleNamespace(network=adaptive, loaders=lambda: loaders))


def test_every_sampler_reads_the_launchers_ranks_alike(monkeypatch):
    # Rank 3 of 4 as Paddle's launcher sets it. Paddle caches get_world_size() on first
    # use; the samplers read the environment afresh, as DistributedBatchSampler does.
    monkeypatch.setattr(paddle.distributed.parallel, "_global_parallel_env", None)
    paddle.distributed.get_world_size()  # caches one process
    monkeypatch.setenv("PADDLE_TRAINERS_NUM", "4")
    monkeypatch.setenv("PADDLE_TRAINER_ID", "3")
    data = Sized(16)
    shards = {
        "DistributedBatchSampler": paddle.io.DistributedBatchSampler(data, batch_size=2),
        "EvalShardBatchSampler": EvalShardBatchSampler(data, batch_size=2),
        "RASampler": RASampler(data, batch_size=2, num_repeats=1),
        "MultiScaleSampler": MultiScaleSampler(data, scales=[64], first_bs=2,
                                               is_training=False, shuffle=False)}
    ranks = {name: (s.nranks, s.local_rank) for name, s in shards.items()}
    assert set(ranks.values()) == {(4, 3)}, ranks
    assert all_indices(shards["EvalShardBatchSampler"]) == [3, 7, 11, 15]
    monkeypatch.setenv("PADDLE_TRAINERS_NUM", "1")
    monkeypatch.setenv("PADDLE_TRAINER_ID", "0")
    assert (RASampler(data, batch_size=2, distributed=False).nranks,
            EvalShardBatchSampler(data, batch_size=2).nranks) == (1, 1)
