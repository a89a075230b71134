"""Losses in PaddleClas's config form, shaped for ``paddle.Model``.

``paddle.Model`` calls the loss with every network output and then the label:
``loss(out, out1, out2, label)`` for GoogLeNet. ``CombinedLoss`` takes that call,
hands each configured loss the tuple of outputs and the label, and returns the
weighted sum, as PaddleClas's ``Loss.Train: [{GoogLeNetLoss: {weight: 1.0}}]`` means.
"""

from typing import List, Optional, Sequence

import paddle
import paddle.nn.functional as F
from paddle import nn

from ..errors import ConfigError
from ..validators import is_number
from ..registry import Registry

__all__ = ["CELoss", "GoogLeNetLoss", "CombinedLoss", "LOSSES", "build_loss"]

LOSSES = Registry("loss")


def _is_soft(label) -> bool:
    """A float label of shape ``[N, C]`` is a soft target (batch operators make them)."""
    return label.ndim == 2 and label.shape[-1] > 1 and paddle.is_floating_point(label)


def _cross_entropy(logits, label, epsilon: Optional[float]):
    """Mean cross-entropy against an integer label (``[N]`` or ``[N, 1]``) or a soft
    target ``[N, C]``, whose rows are class probabilities (Mixup and Cutmix's
    mixtures of one-hot rows): ``-sum(target * log_softmax(logits))``.

    With ``epsilon``, the one-hot row of an integer label, or the soft target itself,
    becomes ``(1 - epsilon) * target + epsilon / C``, as PaddleClas's CELoss smooths
    both. (PaddleClas's CELoss without epsilon passes a soft label through a softmax
    first, for distillation, where the label is a teacher's logits; here a soft
    label is a distribution already and is used as it is.)
    """
    if _is_soft(label):
        if label.shape[-1] != logits.shape[-1]:
            raise ConfigError(f"soft targets have {label.shape[-1]} classes but the network "
                              f"outputs {logits.shape[-1]}; the loader's num_classes must be "
                              f"Arch.class_num")
        soft = F.label_smooth(label, epsilon=epsilon) if epsilon else label
        return F.cross_entropy(logits, soft.astype(logits.dtype), soft_label=True)
    if label.ndim == 1:
        label = label.unsqueeze(-1)
    if not epsilon:
        return F.cross_entropy(logits, label)
    # Label smoothing: the target keeps 1 - epsilon, the rest is spread evenly.
    one_hot = F.one_hot(label.squeeze(-1), logits.shape[-1])
    soft = F.label_smooth(one_hot, epsilon=epsilon)
    return F.cross_entropy(logits, soft, soft_label=True)


def _check_epsilon(epsilon):
    if epsilon is not None and not 0.0 <= epsilon < 1.0:
        raise ValueError(f"epsilon (label smoothing) must be in [0, 1), got {epsilon}")


@LOSSES.register
class CELoss(nn.Layer):
    """Cross-entropy of the main output, with optional label smoothing ``epsilon``;
    the label is an integer class or a soft target (see ``_cross_entropy``)."""

    needs_aux = False

    def __init__(self, epsilon: Optional[float] = None):
        super().__init__()
        _check_epsilon(epsilon)
        self.epsilon = epsilon

    def forward(self, outputs: Sequence, label):
        return _cross_entropy(outputs[0], label, self.epsilon)


@LOSSES.register
class GoogLeNetLoss(nn.Layer):
    """The paper's objective: ``CE(out) + aux_weight * (CE(out1) + CE(out2))``.

    Unlike PaddleClas's GoogLeNetLoss (integer labels only, no smoothing), it takes
    soft targets and ``epsilon`` as CELoss does, for every head.
    """

    needs_aux = True

    def __init__(self, epsilon: Optional[float] = None, aux_weight: float = 0.3):
        super().__init__()
        _check_epsilon(epsilon)
        self.epsilon = epsilon
        self.aux_weight = aux_weight

    def forward(self, outputs: Sequence, label):
        if len(outputs) != 3:
            raise ValueError(f"GoogLeNetLoss needs the network's three outputs (out, out1, "
                             f"out2), got {len(outputs)}; build the model with aux_logits "
                             f"true, or use CELoss")
        main, aux1, aux2 = (_cross_entropy(o, label, self.epsilon) for o in outputs)
        return main + self.aux_weight * (aux1 + aux2)


class CombinedLoss(nn.Layer):
    """The weighted sum of several losses; called as ``loss(*outputs, label)``."""

    def __init__(self, losses: List[nn.Layer], weights: List[float]):
        super().__init__()
        self.losses = nn.LayerList(losses)
        self.weights = list(weights)
        self.needs_aux = any(getattr(loss, "needs_aux", False) for loss in losses)

    def forward(self, *args):
        outputs, label = args[:-1], args[-1]
        total = 0.0
        for loss, weight in zip(self.losses, self.weights):
            total = total + weight * loss(outputs, label)
        return total


def build_loss(entries, where: str = "Loss.Train") -> CombinedLoss:
    """Build ``[{Name: {weight: w, **args}}, ...]`` into a CombinedLoss."""
    if not entries:
        raise ConfigError(f"{where}: no loss given; e.g. '- GoogLeNetLoss: {{weight: 1.0}}'")
    losses, weights = [], []
    for i, entry in enumerate(entries):
        (name, args), = entry.items()
        args = dict(args or {})
        weight = args.pop("weight", 1.0)
        if not is_number(weight):
            raise ConfigError(f"{where}.{i}.{name}.weight: expected a number, got {weight!r}")
        losses.append(LOSSES.build(name, args, f"{where}.{i}.{name}"))
        weights.append(float(weight))
    return CombinedLoss(losses, weights)
