"""Operators on a whole training batch (Mixup, Cutmix), with PaddleClas's names.

A PaddleClas config lists them under the training dataset::

    DataLoader:
      Train:
        dataset:
          batch_transform_ops:
            - OpSampler:
                MixupOperator: {alpha: 0.8, prob: 0.5}
                CutmixOperator: {alpha: 1.0, prob: 0.5}

``build_batch_transforms`` turns that list into a ``BatchTransforms``: the loader
calls it on every collated batch and it returns the images and SOFT targets,
``[N, num_classes]`` float32 rows that sum to 1. Labels are one-hot encoded first
and every operator mixes the rows it is given, so operators can follow each other
and a batch that no operator touched (OpSampler's "none" draw) has one-hot rows:
each batch of an epoch has the same kind of label, one tensor that ``paddle.Model``
passes to the loss. PaddleClas's operators return the same mixture of one-hot rows.

Semantics follow PaddleClas: ``lam ~ Beta(alpha, alpha)`` and a random permutation
of the batch pair each sample with a partner; Mixup blends whole images, Cutmix
pastes the partner's box, whose sides are ``sqrt(1 - lam)`` of the image's and whose
centre is uniform (the box is clipped at the border), and then recomputes ``lam`` as
the share of the image left uncovered. OpSampler applies at most one of its
operators to a batch, each with its ``prob``, and none with the remaining
probability.

Randomness comes from the ``rng`` each call receives: numpy's global RNG
(``np.random``) by default, or the ``np.random.RandomState`` the loader seeds from
``(seed, epoch, batch position)`` so that a seeded run mixes the same batches the
same way whatever ``num_workers`` is (see loader.EpochDataLoader).
"""

from typing import Any, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from ..errors import ConfigError, DataError
from ..validators import is_int, is_number
from ..registry import Registry

__all__ = ["MixupOperator", "CutmixOperator", "OpSampler", "BatchTransforms",
           "BATCH_TRANSFORMS", "build_batch_transforms", "one_hot"]

BATCH_TRANSFORMS = Registry("batch transform op")


def _alpha(value: Any, name: str = "alpha") -> float:
    if not is_number(value) or not value > 0:
        raise ConfigError(f"{name}: the Beta distribution's parameter must be a number above 0, "
                          f"got {value!r}")
    return float(value)


def _build_op(name: str, args: Mapping, where: str):
    if "alpha" in args:
        _alpha(args["alpha"], f"{where}.alpha")  # located at the key, for -o overrides too
    return BATCH_TRANSFORMS.build(name, args, where)


def _float_images(images: np.ndarray) -> np.ndarray:
    """Mixing makes fractional pixels: keep a float batch's dtype, make others float32."""
    return images if np.issubdtype(images.dtype, np.floating) else images.astype(np.float32)


@BATCH_TRANSFORMS.register
class MixupOperator:
    """Blend each image and target with a partner's: ``lam * x + (1 - lam) * x[perm]``."""

    def __init__(self, alpha: float = 1.0):
        self.alpha = _alpha(alpha)

    def __call__(self, images: np.ndarray, targets: np.ndarray,
                 rng=np.random) -> Tuple[np.ndarray, np.ndarray]:
        images = _float_images(images)
        partner = rng.permutation(len(images))
        lam = rng.beta(self.alpha, self.alpha)
        mixed = (lam * images + (1.0 - lam) * images[partner]).astype(images.dtype)
        return mixed, (lam * targets + (1.0 - lam) * targets[partner]).astype(np.float32)


@BATCH_TRANSFORMS.register
class CutmixOperator:
    """Paste a box of each partner image; targets mix by the box's share of the area."""

    def __init__(self, alpha: float = 0.2):
        self.alpha = _alpha(alpha)

    @staticmethod
    def box(height: int, width: int, lam: float, rng=np.random) -> Tuple[int, int, int, int]:
        """``(top, left, bottom, right)`` of a box covering about ``1 - lam`` of the image."""
        cut = np.sqrt(1.0 - lam)
        cut_h, cut_w = int(height * cut), int(width * cut)
        centre_y, centre_x = rng.randint(height), rng.randint(width)
        top, bottom = np.clip([centre_y - cut_h // 2, centre_y + cut_h // 2], 0, height)
        left, right = np.clip([centre_x - cut_w // 2, centre_x + cut_w // 2], 0, width)
        return int(top), int(left), int(bottom), int(right)

    def __call__(self, images: np.ndarray, targets: np.ndarray,
                 rng=np.random) -> Tuple[np.ndarray, np.ndarray]:
        images = np.array(images)  # a copy: the pasted boxes must come from the original
        partner = rng.permutation(len(images))
        lam = rng.beta(self.alpha, self.alpha)
        height, width = images.shape[-2:]
        top, left, bottom, right = self.box(height, width, lam, rng)
        images[:, :, top:bottom, left:right] = images[partner, :, top:bottom, left:right]
        lam = 1.0 - (bottom - top) * (right - left) / float(height * width)
        return images, (lam * targets + (1.0 - lam) * targets[partner]).astype(np.float32)


@BATCH_TRANSFORMS.register
class OpSampler:
    """Apply at most one of ``ops`` to a batch: op ``i`` with probability ``probs[i]``,
    none with ``1 - sum(probs)``. Built from the config by ``build_batch_transforms``."""

    def __init__(self, ops: Sequence[Any] = (), probs: Sequence[float] = ()):
        self.ops = list(ops)
        self.probs = [float(p) for p in probs]

    def __call__(self, images: np.ndarray, targets: np.ndarray,
                 rng=np.random) -> Tuple[np.ndarray, np.ndarray]:
        draw = rng.random_sample()
        for op, prob in zip(self.ops, self.probs):
            if draw < prob:
                return op(images, targets, rng)
            draw -= prob
        return images, targets


def one_hot(labels: np.ndarray, num_classes: int) -> np.ndarray:
    """``[N]`` integer labels -> ``[N, num_classes]`` float32 rows."""
    labels = np.asarray(labels).reshape(-1).astype(np.int64)
    beyond = labels[(labels < 0) | (labels >= num_classes)]
    if beyond.size:
        raise DataError(f"label {int(beyond[0])} is not in [0, {num_classes}) (the number of "
                        f"classes, Arch.class_num)")
    targets = np.zeros((labels.size, num_classes), dtype=np.float32)
    targets[np.arange(labels.size), labels] = 1.0  # not np.eye: that fills C x C per batch
    return targets


class BatchTransforms:
    """Integer labels to soft targets, then each operator in turn."""

    def __init__(self, ops: Sequence[Any], num_classes: int):
        self.ops = list(ops)
        self.num_classes = num_classes

    def __call__(self, images: np.ndarray, labels: np.ndarray,
                 rng=np.random) -> Tuple[np.ndarray, np.ndarray]:
        targets = one_hot(labels, self.num_classes)
        for op in self.ops:
            images, targets = op(images, targets, rng)
        return images, targets

    def __repr__(self) -> str:
        return f"BatchTransforms([{', '.join(type(op).__name__ for op in self.ops)}])"


def _entries(op_list: Any, where: str) -> List[Tuple[str, str, Mapping]]:
    """``(where, name, arguments)`` of each one-key mapping of a PaddleClas op list."""
    if not isinstance(op_list, (list, tuple)) or not op_list:
        raise ConfigError(f"{where}: expected a list of one-key mappings like "
                          f"'- MixupOperator: {{alpha: 0.2}}', got {op_list!r}")
    entries = []
    for index, entry in enumerate(op_list):
        if not isinstance(entry, Mapping) or len(entry) != 1:
            raise ConfigError(f"{where}.{index}: expected one mapping 'Name: {{args}}', "
                              f"got {entry!r}")
        (name, args), = entry.items()
        at = f"{where}.{index}.{name}"
        BATCH_TRANSFORMS.get(name, f"{where}.{index}")
        if args is not None and not isinstance(args, Mapping):
            raise ConfigError(f"{at}: arguments must be a mapping, got {args!r}")
        entries.append((at, name, dict(args or {})))
    return entries


def _op_sampler(choices: Mapping, where: str) -> OpSampler:
    """OpSampler's ``{OpName: {prob: p, **arguments}, ...}`` -> an OpSampler."""
    if not choices:
        raise ConfigError(f"{where}: give the operators to choose from, e.g. "
                          f"'MixupOperator: {{alpha: 0.8, prob: 0.5}}'")
    ops, probs = [], []
    for name, args in choices.items():
        at = f"{where}.{name}"
        BATCH_TRANSFORMS.get(name, where)  # an unknown name: the closest valid one
        if name == "OpSampler":
            valid = [n for n in BATCH_TRANSFORMS.names() if n != "OpSampler"]
            raise ConfigError(f"{at}: an OpSampler cannot hold another; valid: "
                              f"{', '.join(valid)}")
        if not isinstance(args, Mapping) or "prob" not in args:
            raise ConfigError(f"{at}.prob: required; the probability of applying {name} to a "
                              f"batch, e.g. '{name}: {{prob: 0.5}}'")
        args = dict(args)
        prob = args.pop("prob")
        if not is_number(prob) or not 0 <= prob <= 1:
            raise ConfigError(f"{at}.prob: expected a probability in [0, 1], got {prob!r}")
        ops.append(_build_op(name, args, at))
        probs.append(float(prob))
    if sum(probs) > 1 + 1e-9:
        raise ConfigError(f"{where}: the probs add up to {sum(probs):g}; at most one operator "
                          f"is applied to a batch, so they must add up to at most 1")
    return OpSampler(ops, probs)


def build_batch_transforms(op_list: Sequence[Mapping[str, Any]], num_classes: Optional[int],
                           where: str = "batch_transform_ops") -> BatchTransforms:
    """Build PaddleClas's ``batch_transform_ops`` list into a ``BatchTransforms``.

    ``num_classes`` (``Arch.class_num``) sets the width of the soft targets. Raises
    ConfigError, located at ``where.<index>.<Name>``, for an unknown operator (with
    the closest valid name), a bad ``alpha`` or ``prob``, or missing ``num_classes``.
    """
    if not is_int(num_classes) or num_classes < 1:
        raise ConfigError(f"{where}: batch operators make soft targets over every class, so "
                          f"they need the number of classes (Arch.class_num); got "
                          f"{num_classes!r}")
    ops = []
    for at, name, args in _entries(op_list, where):
        ops.append(_op_sampler(args, at) if name == "OpSampler"
                   else _build_op(name, args, at))
    return BatchTransforms(ops, num_classes)
