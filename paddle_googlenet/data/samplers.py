"""Batch samplers by name (SAMPLERS): PaddleClas's BatchSampler and
DistributedBatchSampler, its RASampler and MultiScaleSampler (with MultiScaleDataset).

    sampler: {name: RASampler, batch_size: 64, shuffle: True, drop_last: True,
              num_repeats: 3}

    dataset: {name: MultiScaleDataset, image_root: ..., cls_label_path: ...,
              transform_ops: [DecodeImage, RandCropImage: {size: 256}, ...]}
    sampler: {name: MultiScaleSampler, scales: [256, 160, 192, 224, 288, 320],
              first_bs: 48, divided_factor: 32, is_training: True}

Both follow the loader's conventions (see loader.py): the epoch the loader sets
orders the shuffle, from ``(seed, epoch)`` with a seed and from the epoch alone
without one (every rank must draw the same order to take disjoint shards of it);
``set_epoch`` counts as for the other samplers; ``skip_batches`` leaves out the
batches a resumed run trained before it stopped.
"""

import itertools
import math
from typing import Any, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np
import paddle

from ..errors import ConfigError
from ..registry import Registry
from ..validators import is_int, positive_int
from .datasets import DATASETS, ImageNetDataset, TransformOps
from .transforms import build_transforms

__all__ = ["SAMPLERS", "Skipping", "EpochBatchSampler", "DistributedBatchSampler",
           "EvalShardBatchSampler", "RASampler", "MultiScaleSampler", "MultiScaleDataset"]

SAMPLERS = Registry("sampler")


class Skipping:
    """Mixin for batch samplers: ``skip_batches(n)`` leaves out the first ``n``
    batches of the next epoch, those a resumed run trained before it stopped."""

    skipped_batches = 0

    def skip_batches(self, count: int) -> None:
        self.skipped_batches = int(count)

    def __iter__(self):
        skip, self.skipped_batches = self.skipped_batches, 0
        return itertools.islice(super().__iter__(), skip, None)


class _SeededBatchSampler(paddle.io.BatchSampler):
    """Batches in an order drawn from ``(seed, epoch)``."""

    def __init__(self, dataset: Any, batch_size: int, shuffle: bool = False,
                 drop_last: bool = False, seed: Optional[int] = None):
        super().__init__(dataset, batch_size=batch_size, drop_last=drop_last)
        self.shuffle, self.seed, self.epoch = shuffle, seed, 0

    def __iter__(self):
        size = len(self.sampler)
        if not self.shuffle:
            order = list(range(size))
        elif self.seed is None:
            order = np.random.permutation(size).tolist()
        else:
            order = np.random.RandomState([self.seed, self.epoch]).permutation(size).tolist()
        stop = size - size % self.batch_size if self.drop_last else size
        for start in range(0, stop, self.batch_size):
            yield order[start:start + self.batch_size]


class EpochBatchSampler(Skipping, _SeededBatchSampler):
    """BatchSampler whose shuffled order is drawn from ``(seed, epoch)``.

    The order comes from an RNG of its own, so it stays the same whatever else
    draws from numpy's global RNG (Paddle's multi-process loader does, to seed its
    workers). Without a seed, it draws from the global RNG as paddle's
    RandomSampler does.
    """

    requested_epoch: Optional[int] = None

    def set_epoch(self, epoch: int) -> None:
        self.epoch = self.requested_epoch = int(epoch)


class DistributedBatchSampler(Skipping, paddle.io.DistributedBatchSampler):
    """paddle's DistributedBatchSampler, remembering epochs given to ``set_epoch``."""

    requested_epoch: Optional[int] = None

    def set_epoch(self, epoch: int) -> None:
        super().set_epoch(int(epoch))
        self.requested_epoch = int(epoch)


class EvalShardBatchSampler(Skipping, paddle.io.BatchSampler):
    """The evaluation images split across the ranks, each image in exactly one shard.

    paddle's DistributedBatchSampler repeats images so that every rank gets as many;
    an evaluation that sums over the ranks would count those twice. Here rank ``r``
    takes every ``nranks``-th image from position ``r`` on, so shards differ by at most
    one image and a rank may have one batch fewer than another: an evaluation must not
    exchange data per batch, only its sums at the end (``splits_across_ranks`` says
    whether there is anything to sum). With ``shuffle`` the order is drawn from the
    epoch alone, as DistributedBatchSampler's is.
    """

    requested_epoch: Optional[int] = None

    def __init__(self, dataset: Any, batch_size: int, shuffle: bool = False,
                 drop_last: bool = False, num_replicas: Optional[int] = None,
                 rank: Optional[int] = None, distributed: Optional[bool] = None):
        super().__init__(dataset, batch_size=batch_size, drop_last=drop_last)
        self.dataset = dataset
        replicas, this_rank = _shard(distributed)
        self.nranks = replicas if num_replicas is None else num_replicas
        self.local_rank = this_rank if rank is None else rank
        self.shuffle, self.epoch = shuffle, 0
        self.num_samples = len(range(self.local_rank, len(dataset), self.nranks))

    @property
    def splits_across_ranks(self) -> bool:
        return self.nranks > 1

    def set_epoch(self, epoch: int) -> None:
        self.epoch = self.requested_epoch = int(epoch)

    def __iter__(self):
        size = len(self.dataset)
        order = (np.random.RandomState(self.epoch).permutation(size) if self.shuffle
                 else np.arange(size))
        mine = [int(i) for i in order[self.local_rank::self.nranks]]
        stop = len(mine) - len(mine) % self.batch_size if self.drop_last else len(mine)
        for start in range(0, stop, self.batch_size):
            yield mine[start:start + self.batch_size]

    def __len__(self) -> int:
        if self.drop_last:
            return self.num_samples // self.batch_size
        return -(-self.num_samples // self.batch_size)


def eval_shard_batch_sampler(dataset: Any, batch_size: int, shuffle: bool = False,
                              drop_last: bool = False, seed: Optional[int] = None,
                              distributed: Optional[bool] = None) -> EvalShardBatchSampler:
    """What DistributedBatchSampler becomes for evaluation data: shards without repeats."""
    return EvalShardBatchSampler(dataset, batch_size=batch_size, shuffle=shuffle,
                                 drop_last=drop_last, distributed=distributed)


@SAMPLERS.register(name="DistributedBatchSampler")
def _distributed_batch_sampler(dataset: Any, batch_size: int, shuffle: bool = False,
                               drop_last: bool = False, seed: Optional[int] = None,
                               distributed: Optional[bool] = None) -> DistributedBatchSampler:
    """Shards across the ranks of ``paddle.distributed`` unless ``distributed`` is False.

    ``seed`` is not used: the order depends on the epoch alone (see EpochDataLoader).
    """
    shard = {"num_replicas": 1, "rank": 0} if distributed is False else {}
    return DistributedBatchSampler(dataset, batch_size=batch_size, shuffle=shuffle,
                                   drop_last=drop_last, **shard)


@SAMPLERS.register(name="BatchSampler")
def _batch_sampler(dataset: Any, batch_size: int, shuffle: bool = False, drop_last: bool = False,
                   seed: Optional[int] = None,
                   distributed: Optional[bool] = None) -> EpochBatchSampler:
    """The whole dataset in this process, whatever ``distributed`` says."""
    return EpochBatchSampler(dataset, batch_size=batch_size, shuffle=shuffle, drop_last=drop_last,
                             seed=seed)


def _shard(distributed: Optional[bool]) -> Tuple[int, int]:
    """``(num_replicas, rank)``: paddle.distributed's, or one replica when not distributed.

    Read from a fresh ``ParallelEnv`` (the launcher's environment), as Paddle's
    DistributedBatchSampler reads them, so every sampler here shards alike.
    """
    if distributed is False:
        return 1, 0
    ranks = paddle.distributed.ParallelEnv()
    return ranks.world_size, ranks.rank


def _epoch_rng(seed: Optional[int], epoch: int) -> np.random.RandomState:
    return np.random.RandomState([seed, epoch] if seed is not None else [epoch])


class _RepeatedAugmentation(paddle.io.DistributedBatchSampler):
    """Repeated augmentation (DeiT's sampler, as PaddleClas has it).

    Each index of the shuffled order appears ``num_repeats`` times in a row; the
    list is padded to a multiple of the replica count and dealt out round-robin,
    so the repeats of an image land on different replicas (or, with one, in the
    same batch), each augmented differently. An epoch still takes about one
    dataset's worth of samples: each replica takes ``len(dataset) //
    num_replicas`` of its share, rounded down to a multiple of 256 images in all
    as DeiT does when the dataset has at least 256 (PaddleClas rounds small
    datasets down to nothing).

    A repeat ``r`` of image ``i`` is yielded as index ``i + r * len(dataset)``:
    this package's datasets read it as sample ``i``, augmented from a seed of its
    own, so with a seed the repeats are not copies of one another.

    ``num_replicas`` and ``rank`` default to paddle.distributed's (one replica when
    the loader is not distributed).
    """

    requested_epoch: Optional[int] = None

    def __init__(self, dataset: Any, batch_size: int, shuffle: bool = False,
                 drop_last: bool = False, num_repeats: int = 3,
                 num_replicas: Optional[int] = None, rank: Optional[int] = None,
                 seed: Optional[int] = None, distributed: Optional[bool] = None):
        replicas, this_rank = _shard(distributed)
        num_replicas = replicas if num_replicas is None else positive_int(num_replicas,
                                                                        "num_replicas")
        rank = this_rank if rank is None else rank
        if not is_int(rank) or not 0 <= rank < num_replicas:
            raise ConfigError(f"rank must be an integer in [0, {num_replicas}), got {rank!r}")
        super().__init__(dataset, batch_size=batch_size, num_replicas=num_replicas, rank=rank,
                         shuffle=shuffle, drop_last=drop_last)
        self.num_repeats = positive_int(num_repeats, "num_repeats")
        self.seed = seed
        size = len(dataset)
        self.num_samples = int(math.ceil(size * self.num_repeats / self.nranks))
        self.total_size = self.num_samples * self.nranks
        self.selected_samples = (size // 256 * 256 if size >= 256 else size) // self.nranks
        if self.selected_samples < 1:
            raise ConfigError(f"RASampler: {size} images cannot be shared among "
                              f"{self.nranks} replicas")

    def set_epoch(self, epoch: int) -> None:
        self.epoch = self.requested_epoch = int(epoch)

    def __iter__(self) -> Iterator[List[int]]:
        size = len(self.dataset)
        order = (_epoch_rng(self.seed, self.epoch).permutation(size) if self.shuffle
                 else np.arange(size))
        repeated = [int(i) + r * size for i in order for r in range(self.num_repeats)]
        repeated += repeated[:self.total_size - len(repeated)]
        mine = repeated[self.local_rank:self.total_size:self.nranks][:self.selected_samples]
        stop = (len(mine) - len(mine) % self.batch_size) if self.drop_last else len(mine)
        for start in range(0, stop, self.batch_size):
            yield mine[start:start + self.batch_size]

    def __len__(self) -> int:
        if self.drop_last:
            return self.selected_samples // self.batch_size
        return (self.selected_samples + self.batch_size - 1) // self.batch_size


@SAMPLERS.register(name="RASampler")
class RASampler(Skipping, _RepeatedAugmentation):
    __doc__ = _RepeatedAugmentation.__doc__


Scale = Union[int, Sequence[int]]


class _MultiScaleBatches(paddle.io.Sampler):
    """Batches of one image size each, the size drawn from ``scales``.

    Yields batches of ``(width, height, index)`` tuples, which ``MultiScaleDataset``
    reads at that size. A scale is a side or a ``[width, height]`` pair. In
    training, sides are rounded down to multiples of ``divided_factor``, and a
    batch of size ``(w, h)`` holds ``first_bs * w0 * h0 / (w * h)`` images (at
    least 1), ``(w0, h0)`` being the first scale: every batch has about as many
    pixels. Otherwise every batch has the first scale and ``first_bs`` images.

    As in PaddleClas, which scale each batch of an epoch gets is planned once, so
    every epoch has the same number of batches (the LR schedule counts on it);
    each replica's share, ``ceil(len(dataset) / num_replicas)`` images, is covered
    and the last batch is filled up from the start of the share. Here the plan
    comes from the seed (every replica plans alike) and each epoch, when
    ``shuffle`` is true, shuffles the images and the order of the planned batches.
    """

    requested_epoch: Optional[int] = None

    def __init__(self, dataset: Any, scales: List[Scale], first_bs: int,
                 divided_factor: int = 32, is_training: bool = True, shuffle: bool = True,
                 seed: Optional[int] = None, distributed: Optional[bool] = None):
        super().__init__(dataset)
        self.dataset = dataset
        sizes = self._sizes(scales)
        first_bs = positive_int(first_bs, "first_bs")
        divided_factor = positive_int(divided_factor, "divided_factor")
        base_w, base_h = sizes[0]
        if is_training:
            rounded = [(w // divided_factor * divided_factor, h // divided_factor * divided_factor)
                       for w, h in sizes]
            small = [s for s, r in zip(sizes, rounded) if min(r) < 1]
            if small:
                raise ConfigError(f"scales: {list(small[0])} is smaller than divided_factor "
                                  f"{divided_factor}, so it rounds down to nothing")
            self.batch_shapes = [(w, h, int(max(1, base_w * base_h * first_bs / (w * h))))
                                 for w, h in rounded]
        else:
            self.batch_shapes = [(base_w, base_h, first_bs)]
        self.shuffle, self.seed, self.epoch = shuffle, seed, 0
        self.nranks, self.local_rank = _shard(distributed)
        self.per_replica = int(math.ceil(len(dataset) / self.nranks))
        planner = np.random.RandomState(seed if seed is not None else 0)
        self.plan, covered = [], 0
        while covered < self.per_replica:
            shape = self.batch_shapes[planner.randint(len(self.batch_shapes))]
            self.plan.append(shape)
            covered += shape[2]

    @staticmethod
    def _sizes(scales: Any) -> List[Tuple[int, int]]:
        if not isinstance(scales, (list, tuple)) or not scales:
            raise ConfigError(f"scales must be a list of sides or [width, height] pairs, "
                              f"got {scales!r}")
        sizes = []
        for i, scale in enumerate(scales):
            if isinstance(scale, (list, tuple)) and len(scale) == 2:
                sizes.append((positive_int(scale[0], f"scales[{i}][0]"),
                              positive_int(scale[1], f"scales[{i}][1]")))
            else:
                side = positive_int(scale, f"scales[{i}]")
                sizes.append((side, side))
        return sizes

    @property
    def image_sizes(self) -> List[Tuple[int, int]]:
        """The ``(width, height)`` sizes batches can have."""
        return sorted({(w, h) for w, h, _ in self.batch_shapes})

    def set_epoch(self, epoch: int) -> None:
        self.epoch = self.requested_epoch = int(epoch)

    def __iter__(self) -> Iterator[List[Tuple[int, int, int]]]:
        size = len(self.dataset)
        if self.shuffle:
            rng = _epoch_rng(self.seed, self.epoch)
            order, plan_order = rng.permutation(size), rng.permutation(len(self.plan))
        else:
            order, plan_order = np.arange(size), np.arange(len(self.plan))
        mine = [int(i) for i in order[self.local_rank::self.nranks]]
        start = 0
        for position in plan_order:
            width, height, batch_size = self.plan[position]
            indices = mine[start:start + batch_size]
            indices += mine[:batch_size - len(indices)]  # the last batch, filled up
            start += batch_size
            yield [(width, height, index) for index in indices]

    def __len__(self) -> int:
        return len(self.plan)


@SAMPLERS.register(name="MultiScaleSampler")
class MultiScaleSampler(Skipping, _MultiScaleBatches):
    __doc__ = _MultiScaleBatches.__doc__


_RESIZING_OPS = ("RandCropImage", "ResizeImage", "CropImage")


@DATASETS.register
class MultiScaleDataset(ImageNetDataset):
    """An ImageNetDataset whose items can also be ``(width, height, index)``.

    Such an item is sample ``index`` with the size of every RandCropImage,
    ResizeImage and CropImage of ``transform_ops`` set to ``[width, height]``
    (ResizeImage's ``resize_short`` dropped), as PaddleClas does; the other
    arguments of those operators are kept. A plain index uses the list as written.
    Arguments as ImageNetDataset's; ``transform_ops`` must be the list form and hold
    at least one of those operators.
    """

    takes_op_list = True  # build_dataloader passes transform_ops as the config lists them

    def __init__(self, image_root: Any, cls_label_path: Any, transform_ops: TransformOps = None,
                 delimiter: Optional[str] = None, class_num: Optional[int] = None,
                 skip_bad_images: bool = False):
        if not isinstance(transform_ops, (list, tuple)) or not any(
                isinstance(entry, dict) and set(entry) & set(_RESIZING_OPS)
                for entry in transform_ops):
            raise ConfigError(f"transform_ops must list one of {', '.join(_RESIZING_OPS)}: "
                              f"MultiScaleDataset sets its size to each batch's scale")
        self.op_list = [dict(entry) for entry in transform_ops]
        super().__init__(image_root, cls_label_path, transform_ops=self.op_list,
                         delimiter=delimiter, class_num=class_num,
                         skip_bad_images=skip_bad_images)
        self.pipelines = {None: self.transform}

    def defer_normalize(self) -> None:
        """Each batch scale has a pipeline of its own: every one normalizes its images."""
        return None

    def pipeline(self, width: int, height: int):
        """The transform pipeline that makes ``width`` x ``height`` images."""
        key = (int(width), int(height))
        if key not in self.pipelines:
            ops = []
            for entry in self.op_list:
                (name, args), = entry.items()
                if name in _RESIZING_OPS:
                    args = {k: v for k, v in (args or {}).items()
                            if k not in ("size", "resize_short")}
                    args["size"] = list(key)
                ops.append({name: args})
            self.pipelines[key] = build_transforms(ops, where="transform_ops")
        return self.pipelines[key]

    def __getitem__(self, item):
        if isinstance(item, (tuple, list)):
            width, height, index = item
            self.transform = self.pipeline(width, height)
        else:
            index = item
            self.transform = self.pipelines[None]
        return super().__getitem__(index)
