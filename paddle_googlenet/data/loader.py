"""Build a ``paddle.io.DataLoader`` from a PaddleClas ``DataLoader.<Mode>`` section.

    DataLoader:
      Train:
        dataset: {name: ImageNetDataset, image_root: ..., cls_label_path: ...,
                  transform_ops: [...]}
        sampler: {name: DistributedBatchSampler, batch_size: 64, shuffle: True,
                  drop_last: False}
        loader: {num_workers: 4, use_shared_memory: True}

The loader is built with ``batch_sampler=``, so ``paddle.Model.fit`` takes it as is.
For evaluation data (any section but ``Train``) DistributedBatchSampler splits the
images across the ranks without repeating any (EvalShardBatchSampler), so summing
each rank's counts counts every image once.
The training dataset may list ``batch_transform_ops`` (Mixup, Cutmix; see
batch_ops.py): its labels are then soft targets ``[N, num_classes]`` float32, and
``loader.soft_targets`` is True. Besides the two samplers here, ``RASampler`` and
``MultiScaleSampler`` (with ``MultiScaleDataset``) are in samplers.py.
When the transform list ends with NormalizeImage (a ToCHWImage may follow), the
workers stop before it and collate ``uint8`` images as the shorter list leaves them
(HWC), and the loader turns each batch to NCHW and normalizes it where Paddle put
it (the training device): the same float32 numbers, a quarter of the bytes through
worker memory and onto a GPU, and no per-image float work or CHW copy (see
BatchNormalize).
Every ``iter(loader)`` is one epoch, counted by the loader: the epoch orders the
shuffle and, with a seed, seeds the augmentations (see EpochDataLoader). To resume
at epoch ``k``, call ``loader.set_epoch(k)`` or, as PaddleClas engines do,
``loader.batch_sampler.set_epoch(k)`` before the next iteration; to resume in the
middle of it, ``loader.batch_sampler.skip_batches(n)`` as well.

An error reading a sample never escapes inside Paddle's loader thread or a worker
process (see ``defer_errors`` in datasets.py): the epoch stops and the error is
raised in the main process, naming the file.
"""

from typing import Any, Mapping, Optional

import numpy as np
import paddle
from paddle.io.dataloader.collate import default_collate_fn

from ..errors import ConfigError, UserError
from ..image_io import set_opencv_threads
from ..pixels import CHW, HWC, NormalizeImage, look_up, normalize
from ..registry import Registry, check_value
from ..validators import is_int, loader_split
from .batch_ops import BatchTransforms, build_batch_transforms
from .datasets import DATASETS, FAILED_SAMPLE
from .samplers import (SAMPLERS, DistributedBatchSampler, EpochBatchSampler,
                       EvalShardBatchSampler, eval_shard_batch_sampler)
from .transforms import build_transforms

__all__ = ["build_dataloader", "check_dataloader", "BatchNormalize", "EpochDataLoader", "EpochBatchSampler", "DistributedBatchSampler",
           "EvalShardBatchSampler", "SAMPLERS"]

# Sampler arguments build_dataloader fills in; the config gives the others.
_SAMPLER_FILLED = ("dataset", "seed", "distributed")
_LOADER_KEYS = ("num_workers", "use_shared_memory")


class BatchNormalize:
    """A transform list's final NormalizeImage, run on whole batches: NHWC (``layout``
    'hwc', what the shorter list usually ends in) or NCHW in, NCHW float32 out.

    Each image gets exactly the float32 numbers the per-image operator gives. On a
    GPU the ``uint8`` batch is copied there (a quarter of the bytes), turned to NCHW
    and normalized by Paddle. On the CPU, where Paddle's broadcasting arithmetic is
    slow at this, each channel of a ``uint8`` batch is looked up in NormalizeImage's
    table of the 256 levels (``cv2.LUT``, a fraction of the time; see
    docs/benchmarks.md) and written straight into its NCHW plane.
    """

    def __init__(self, normalize: NormalizeImage, layout: str = CHW):
        if layout not in (HWC, CHW):
            raise ValueError(f"layout must be {HWC!r} or {CHW!r}, got {layout!r}")
        self.channel_axis = 3 if layout == HWC else 1
        self.scale = normalize.scale
        self.mean = normalize.mean.reshape(1, 3, 1, 1)
        self.std = normalize.std.reshape(1, 3, 1, 1)
        self.table = normalize.table
        self._constants = {}  # place -> (mean, std) tensors

    def image_shape(self, item_shape) -> list:
        """The CHW shape a batch's image has after this step, from a dataset item's."""
        item_shape = list(item_shape)
        return [item_shape[2], *item_shape[:2]] if self.channel_axis == 3 else item_shape

    def __call__(self, images) -> paddle.Tensor:
        if paddle.get_device().startswith("gpu"):
            return self._on_device(images if isinstance(images, paddle.Tensor)
                                   else paddle.to_tensor(np.asarray(images)))
        array = _array(images)
        if array.dtype == np.uint8:
            return paddle.to_tensor(look_up(array, self.table, self.channel_axis, 1))
        if self.channel_axis == 3:
            array = array.transpose(0, 3, 1, 2)
        return paddle.to_tensor(normalize(array, self.scale, self.mean, self.std))

    def _on_device(self, images: paddle.Tensor) -> paddle.Tensor:
        if not images.place.is_gpu_place():
            images = images.cuda()
        if self.channel_axis == 3:
            images = images.transpose([0, 3, 1, 2])
        key = str(images.place)
        if key not in self._constants:
            self._constants[key] = (paddle.to_tensor(self.mean, place=images.place),
                                    paddle.to_tensor(self.std, place=images.place))
        mean, std = self._constants[key]
        return (images.astype("float32") * self.scale - mean) / std


def set_up_worker(worker_id: int) -> None:
    """A loader worker process's settings: one OpenCV thread, as in the main process
    (``engine.process``); the workers are where decoding runs in parallel."""
    set_opencv_threads()


class EpochDataLoader(paddle.io.DataLoader):
    """A DataLoader that counts epochs and makes each one reproducible from a seed.

    Each ``iter()`` runs epoch ``self.epoch`` and then increments it. The next epoch
    can be chosen with ``loader.set_epoch(epoch)`` or, as PaddleClas engines do,
    ``loader.batch_sampler.set_epoch(epoch)``. At the start of an epoch the batch
    sampler's ``epoch`` is set (it orders the shuffle), and, when ``seed`` is not
    None:

    * the dataset's ``sample_seed`` is set to ``(seed, epoch)`` so that each sample
      is augmented from a seed of its own (see datasets._ImageSamples), the same
      whatever ``num_workers`` is;
    * numpy's global RNG is seeded from ``(seed, epoch)`` in the main process, which
      also fixes the base seed Paddle derives each worker process's seed from.

    DistributedBatchSampler's order depends on the epoch alone, as Paddle made it:
    every rank must draw the same permutation to take disjoint shards of it.

    An error reading a sample, in a worker process or not, is raised in the main
    process when the batch holding it is due (see ``defer_errors`` in datasets.py);
    with ``skip_bad_images``, ``dataset.bad_images`` lists the files the current
    (or last) epoch skipped.

    ``normalize`` (a BatchNormalize) makes each batch's images float32 in the main
    process, for datasets whose pipeline leaves that last step to the loader.

    ``batch_transform`` (a batch_ops.BatchTransforms) is applied to each collated
    batch in the main process, in order: with a seed its draws come from a
    ``np.random.RandomState`` seeded from ``(seed, epoch, batch position)``, so a
    resumed epoch mixes its remaining batches as the uninterrupted one did. (Not
    the global RNG: with ``num_workers`` 0 Paddle's loader thread reseeds that for
    every sample while the main thread works.) Without a seed it draws from
    ``np.random``.
    """

    def __init__(self, dataset: Any, batch_sampler: Any, seed: Optional[int] = None,
                 where: str = "DataLoader", batch_transform: Optional[BatchTransforms] = None,
                 normalize: Optional[BatchNormalize] = None, **kwargs: Any):
        kwargs.setdefault("worker_init_fn", set_up_worker)
        super().__init__(dataset, batch_sampler=batch_sampler, collate_fn=_collate, **kwargs)
        self.normalize = normalize
        self.seed = seed
        self.where = where  # the config section, for messages
        self.epoch = 0
        self.batch_transform = batch_transform

    @property
    def soft_targets(self) -> bool:
        """Whether labels are soft targets ``[N, num_classes]`` (batch operators mix them)."""
        return self.batch_transform is not None

    def set_epoch(self, epoch: int) -> None:
        """Make the next iteration epoch ``epoch`` (e.g. when resuming training)."""
        self.epoch = int(epoch)

    def __iter__(self):
        requested = getattr(self.batch_sampler, "requested_epoch", None)
        if requested is not None:  # the engine called batch_sampler.set_epoch()
            self.epoch = requested
            self.batch_sampler.requested_epoch = None
        epoch = self.epoch
        self.epoch += 1
        if hasattr(self.batch_sampler, "epoch"):
            self.batch_sampler.epoch = epoch
        if self.seed is not None:
            np.random.seed([self.seed, epoch])
            if hasattr(self.dataset, "sample_seed"):
                # Set before super().__iter__() starts the workers, which copy the dataset.
                self.dataset.sample_seed = (self.seed, epoch)
        if self.num_workers > 0:
            # Before the workers fork: a forked child that resizes the thread pool its
            # parent had running deadlocks in OpenCV, so the parent goes to one thread
            # first and the workers inherit it (set_up_worker then finds it set).
            set_opencv_threads()
        # Read before super().__iter__() starts the batch sampler, which resets it.
        first_position = getattr(self.batch_sampler, "skipped_batches", 0)
        if not hasattr(self.dataset, "raise_deferred_error"):
            batches = super().__iter__()
        else:
            self.dataset.skipped.clear()  # bad_images counts this epoch's
            self.dataset.defer_errors = True
            batches = self._checked(super().__iter__())
        if self.normalize is not None:
            return self._normalized(batches)
        if self.batch_transform is None:
            return batches
        return self._transformed(batches, epoch, first_position)

    def _normalized(self, batches):
        try:
            for images, labels in batches:
                yield [self.normalize(images), labels]
        finally:
            close = getattr(batches, "close", None)
            if close:
                close()

    def _transformed(self, batches, epoch: int, first_position: int):
        """Apply the batch operators to each ``[images, labels]`` batch."""
        try:
            for position, (images, labels) in enumerate(batches, start=first_position):
                rng = (np.random if self.seed is None
                       else np.random.RandomState([self.seed, epoch, position]))
                images, targets = self.batch_transform(_array(images), _array(labels), rng)
                yield [paddle.to_tensor(images), paddle.to_tensor(targets)]
        finally:
            close = getattr(batches, "close", None)
            if close:
                close()

    def _checked(self, batches):
        """Yield the epoch's batches, raising here the first error a sample met."""
        try:
            for batch in batches:
                try:
                    self.dataset.raise_deferred_error()  # before the batch is used
                except UserError as err:
                    raise type(err)(f"{self.where}.dataset: {err}") from err
                yield batch
        finally:
            self.dataset.defer_errors = False
            # Paddle's own clean-up of its thread and workers; left to the garbage
            # collector, it would wait as long as the thread holds the iterator.
            shut_down = getattr(batches, "_try_shutdown_all", None)
            if shut_down:
                shut_down()


def _array(value) -> np.ndarray:
    return value.numpy() if isinstance(value, paddle.Tensor) else np.asarray(value)


def _collate(batch):
    """Paddle's default collate; a placeholder when a sample failed (its error is
    raised in the main process before the batch is used)."""
    if any(sample is FAILED_SAMPLE for sample in batch):
        return [np.zeros([1], np.float32), np.zeros([1], np.int64)]
    return default_collate_fn(batch)


def _section(cfg: Any, key: str, where: str, valid_keys=None) -> Mapping:
    value = cfg.get(key)
    if value is None:
        value = {}
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}.{key} must be a mapping, got {value!r}")
    if valid_keys is not None:
        unknown = [k for k in value if k not in valid_keys]
        if unknown:
            raise ConfigError(f"{where}.{key}: unknown key {unknown[0]!r}; valid keys: "
                              f"{', '.join(valid_keys)}")
    return value


def _named(cfg: Mapping, registry: Registry, where: str):
    """``(name, arguments)`` of a ``{name: ..., **arguments}`` section, the name checked."""
    kwargs = dict(cfg)
    name = kwargs.pop("name", None)
    registry.get(name, f"{where}.name")
    return name, kwargs


def _dataset_arguments(cfg: Mapping, where: str, num_classes: Optional[int], training: bool):
    """``(name, arguments, BatchTransforms or None)`` of a dataset section, every name
    and argument checked and the transform_ops built, without reading any file."""
    name, kwargs = _named(cfg, DATASETS, where)
    batch_ops = kwargs.pop("batch_transform_ops", None)
    DATASETS.check_kwargs(name, kwargs, where)  # before the ops, as the config lists them
    batch_transform = None
    if batch_ops is not None:
        if not training:
            raise ConfigError(f"{where}.batch_transform_ops: only the training data takes batch "
                              f"operators (DataLoader.Train); evaluation scores the images as "
                              f"they are")
        batch_transform = build_batch_transforms(batch_ops, num_classes,
                                                 where=f"{where}.batch_transform_ops")
    if kwargs.get("transform_ops") is not None:
        ops = build_transforms(kwargs["transform_ops"], where=f"{where}.transform_ops")
        # A dataset that rebuilds the list with other sizes (MultiScaleDataset) takes it as is.
        if not getattr(DATASETS.get(name, where), "takes_op_list", False):
            kwargs["transform_ops"] = ops
    return name, kwargs, batch_transform


def _loader_settings(loader_cfg: Mapping[str, Any], seed: Optional[int], where: str) -> dict:
    """The sampler's name and arguments, batch size, workers and shared memory of a
    section, checked (cheap checks, before any list file is read)."""
    loader_split(loader_cfg, where)  # the section's form, as the config check sees it
    if seed is not None and (not is_int(seed) or not 0 <= seed < 2 ** 32):
        raise ConfigError(f"seed must be an integer in [0, 2**32) or None, got {seed!r}")
    sampler_cfg = _section(loader_cfg, "sampler", where)
    workers_cfg = _section(loader_cfg, "loader", where, _LOADER_KEYS)
    sampler_at, loader_at = f"{where}.sampler", f"{where}.loader"
    sampler_name, sampler_kwargs = _named(sampler_cfg, SAMPLERS, sampler_at)
    SAMPLERS.check_kwargs(sampler_name, sampler_kwargs, sampler_at,
                          dict.fromkeys(_SAMPLER_FILLED))
    batch_size = sampler_kwargs.get("batch_size", sampler_kwargs.get("first_bs"))
    if batch_size < 1:
        name = "batch_size" if "batch_size" in sampler_kwargs else "first_bs"
        raise ConfigError(f"{sampler_at}.{name} must be a positive integer, got {batch_size!r}")
    num_workers = workers_cfg.get("num_workers", 0)
    if not is_int(num_workers) or num_workers < 0:
        raise ConfigError(f"{loader_at}.num_workers must be an integer >= 0, got {num_workers!r}")
    use_shared_memory = workers_cfg.get("use_shared_memory", True)
    check_value(use_shared_memory, bool, f"{loader_at}.use_shared_memory")
    return {"sampler_name": sampler_name, "sampler_kwargs": sampler_kwargs,
            "batch_size": batch_size, "num_workers": num_workers,
            "use_shared_memory": use_shared_memory}


def check_dataloader(loader_cfg: Mapping[str, Any], seed: Optional[int] = None,
                     where: str = "DataLoader.Train", num_classes: Optional[int] = None,
                     training: bool = True):
    """Every check of ``build_dataloader`` that reads no file: names, arguments,
    operators and sampler settings. Run before anything is written (the demo set)."""
    _loader_settings(loader_cfg, seed, where)
    _dataset_arguments(_section(loader_cfg, "dataset", where), f"{where}.dataset",
                       num_classes, training)


def build_dataloader(loader_cfg: Mapping[str, Any], seed: Optional[int] = None,
                     distributed: Optional[bool] = None,
                     where: str = "DataLoader.Train",
                     num_classes: Optional[int] = None,
                     training: bool = True) -> EpochDataLoader:
    """Build the dataset, batch sampler and DataLoader of one config section.

    Args:
        loader_cfg: mapping with ``dataset`` (``name`` from ``DATASETS`` plus that
            dataset's arguments), ``sampler`` (``name`` from ``SAMPLERS``,
            'DistributedBatchSampler' or 'BatchSampler', plus ``batch_size``,
            ``shuffle`` and ``drop_last``, both default False) and optionally ``loader``
            (``num_workers``, default 0, and ``use_shared_memory``, default True).
        seed: makes shuffling and augmentation reproducible (see EpochDataLoader);
            a non-negative integer below 2**32, or None.
        distributed: DistributedBatchSampler shards across the ranks of
            ``paddle.distributed`` when True or None (with one process it has one
            shard: the whole dataset); False keeps the whole dataset in this process.
            BatchSampler never shards.
        where: config path of the section, used in error messages.
        num_classes: the number of classes (``Arch.class_num``); batch operators
            need it for the width of their soft targets.
        training: the section is training data. Only training data may list
            ``dataset.batch_transform_ops``; for evaluation data (False)
            DistributedBatchSampler becomes an EvalShardBatchSampler (each image in
            one shard, none repeated) and other samplers give every process the
            whole set.

    Returns an ``EpochDataLoader`` (a ``paddle.io.DataLoader``); its
    ``batch_sampler`` is the sampler built here. Batches are ``[images, labels]``:
    images ``[N, C, H, W]`` as the pipeline makes them, labels ``[N]`` int64, or,
    with ``batch_transform_ops``, soft targets ``[N, num_classes]`` float32.
    """
    settings = _loader_settings(loader_cfg, seed, where)
    sampler_name, sampler_kwargs = settings["sampler_name"], settings["sampler_kwargs"]
    batch_size = settings["batch_size"]
    dataset_at, sampler_at = f"{where}.dataset", f"{where}.sampler"
    name, kwargs, batch_transform = _dataset_arguments(
        _section(loader_cfg, "dataset", where), dataset_at, num_classes, training=training)
    dataset = DATASETS.build(name, kwargs, dataset_at)

    if training:
        sampler = SAMPLERS.build(sampler_name, sampler_kwargs, sampler_at, dataset=dataset,
                                 seed=seed, distributed=distributed)
    elif sampler_name == "DistributedBatchSampler":
        sampler = eval_shard_batch_sampler(dataset, seed=seed, distributed=distributed,
                                            **sampler_kwargs)
    else:
        # Only DistributedBatchSampler splits evaluation data; any other sampler (one
        # that repeats or pads to share images out) gives each process the whole set.
        sampler = SAMPLERS.build(sampler_name, sampler_kwargs, sampler_at, dataset=dataset,
                                 seed=seed, distributed=False)
    per_process = getattr(sampler, "selected_samples", None)  # RASampler's share
    if per_process is None:
        per_process = (sampler.num_samples
                       if isinstance(sampler, (paddle.io.DistributedBatchSampler,
                                               EvalShardBatchSampler)) else len(dataset))
    drop_last = getattr(sampler, "drop_last", False)
    if drop_last and batch_size > per_process:
        raise ConfigError(f"{sampler_at}.batch_size {batch_size} is larger than the "
                          f"{per_process} samples this process gets from the dataset "
                          f"({len(dataset)} in all), and drop_last is true, so there would be "
                          f"no batch at all; lower batch_size or set drop_last false")
    normalize = None
    if batch_transform is None:  # batch operators mix normalized images on the host
        final_normalize = getattr(dataset, "defer_normalize", lambda: None)()
        normalize = final_normalize and BatchNormalize(final_normalize, dataset.item_layout)
    return EpochDataLoader(dataset, sampler, seed=seed, where=where,
                           batch_transform=batch_transform, normalize=normalize,
                           num_workers=settings["num_workers"],
                           use_shared_memory=settings["use_shared_memory"], return_list=True)


