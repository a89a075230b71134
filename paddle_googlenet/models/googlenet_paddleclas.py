"""GoogLeNet as PaddleClas's model zoo and ``paddle.vision.models.GoogLeNet`` build it.

This is the network of PaddleClas's ImageNet weights ``GoogLeNet_pretrained.pdparams``
(top-1 70.7%), which ``paddle.vision`` loads too. It differs from this package's
``GoogLeNet`` in ways its weights depend on:

- convolutions have no bias and no activation of their own; each inception block
  applies one ReLU to its concatenated output, and the stem has no ReLU at all;
- the stride-2 max pools are unpadded (224 -> 112 -> 55 -> 27 -> 13 -> 6);
- dropout scales at inference rather than during training (``downscale_in_infer``);
- the aux heads pool 4a/4d (13x13) to 3x3 and so have 128 * 3 * 3 = 1152 inputs;
  only the first has a ReLU after its hidden layer.

At 1000 classes it has 11,535,736 parameters. Layer names follow PaddleClas's
``GoogLeNetDY`` and paddle.vision's ``GoogLeNet`` (which are the same), so their
state dicts load unchanged. A file keyed by PaddleClas's parameter names instead
(``conv1_weights``, ``inception_ince3a_1x1_weights``, ``out_offset``..., as a
static-graph save writes them) is renamed on loading.
"""

from typing import Dict, Sequence

import paddle
import paddle.nn.functional as F
from paddle import nn

from ..constants import IMAGENET_MEAN, IMAGENET_STD
from .base import Classifier, InputShapeError, check_num_classes, initialise
from .googlenet import INCEPTION_BLOCKS
from .registry import register_model

__all__ = ["GoogLeNetPaddleClas"]

FEATURE_CHANNELS = 1024
_AUX_SIDE = 3  # the aux heads' pooled side at a 224x224 input: their fc takes 128 * 3 * 3


class _Conv(nn.Layer):
    """A convolution without bias or activation, "same" padding (PaddleClas's ConvLayer)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1):
        super().__init__()
        self._conv = nn.Conv2D(in_channels, out_channels, kernel_size, stride=stride,
                               padding=(kernel_size - 1) // 2, bias_attr=False)

    def forward(self, x):
        return self._conv(x)


class _Inception(nn.Layer):
    """Four branches (1x1; 1x1 -> 3x3; 1x1 -> 5x5; 3x3 max pool -> 1x1), concatenated
    and passed through one ReLU."""

    def __init__(self, in_channels: int, c1: int, c3_reduce: int, c3: int, c5_reduce: int,
                 c5: int, proj: int):
        super().__init__()
        self._conv1 = _Conv(in_channels, c1, 1)
        self._conv3r = _Conv(in_channels, c3_reduce, 1)
        self._conv3 = _Conv(c3_reduce, c3, 3)
        self._conv5r = _Conv(in_channels, c5_reduce, 1)
        self._conv5 = _Conv(c5_reduce, c5, 5)
        self._pool = nn.MaxPool2D(3, stride=1, padding=1)
        self._convprj = _Conv(in_channels, proj, 1)

    def forward(self, x):
        return F.relu(paddle.concat([
            self._conv1(x),
            self._conv3(self._conv3r(x)),
            self._conv5(self._conv5r(x)),
            self._convprj(self._pool(x)),
        ], axis=1))


def _sides(side: int) -> Sequence[int]:
    """Sides of the maps after the stem conv and after each of the four stride-2
    pools, for an input side ``side``; stops early at a map too small to pool."""
    sides = [(side - 1) // 2 + 1]  # 7x7 stride 2, padding 3
    for _ in range(4):
        if sides[-1] < 3:
            break
        sides.append((sides[-1] - 3) // 2 + 1)  # 3x3 stride 2, no padding
    return sides


def _aux_side(side: int) -> int:
    """Side of an aux head's fixed 5x5 stride-3 pool output for an input side ``side``."""
    return (_sides(side)[3] - 5) // 3 + 1


# Smallest input side the trunk takes, and the sides the fixed aux pools take.
_MIN_SIDE = next(s for s in range(1, 512) if len(_sides(s)) == 5)
_FIXED_AUX_SIDES = range(min(s for s in range(_MIN_SIDE, 512) if _aux_side(s) == _AUX_SIDE),
                         max(s for s in range(_MIN_SIDE, 512) if _aux_side(s) == _AUX_SIDE) + 1)


def paddleclas_parameter_names() -> Dict[str, str]:
    """PaddleClas's parameter name -> state-dict key, for every parameter at any
    class count (PaddleClas names them through ``ParamAttr(name=...)``)."""
    names = {}

    def conv(paddleclas_name, key):
        names[f"{paddleclas_name}_weights"] = f"{key}._conv.weight"

    def linear(paddleclas_name, key):
        names[f"{paddleclas_name}_weights"] = f"{key}.weight"
        names[f"{paddleclas_name}_offset"] = f"{key}.bias"

    conv("conv1", "_conv")
    conv("conv2_1x1", "_conv_1")
    conv("conv2_3x3", "_conv_2")
    branches = {"1x1": "_conv1", "3x3_reduce": "_conv3r", "3x3": "_conv3",
                "5x5_reduce": "_conv5r", "5x5": "_conv5", "3x3_proj": "_convprj"}
    for block in INCEPTION_BLOCKS:
        for suffix, attribute in branches.items():
            conv(f"inception_ince{block}_{suffix}", f"_ince{block}.{attribute}")
    linear("out", "_fc_out")
    for i in (1, 2):
        conv(f"conv_o{i}", f"_conv_o{i}")
        linear(f"fc_o{i}", f"_fc_o{i}")
        linear(f"out{i}", f"_out{i}")
    return names


@register_model(input_size=(3, 224, 224), mean=IMAGENET_MEAN, std=IMAGENET_STD,
                summary="PaddleClas's / paddle.vision's GoogLeNet, loads their weights "
                        "(11,535,736 parameters at 1000 classes)")
class GoogLeNetPaddleClas(Classifier):
    """GoogLeNet laid out as PaddleClas and paddle.vision build it (see the module).

    Args:
        num_classes: number of classes of every head; 0 builds no classifier and no
            aux heads, and ``forward`` returns the pooled 1024-d features.
        aux_logits: build the two auxiliary heads (when there are classes).
        dropout: dropout rate before the main classifier (0.4).
        aux_dropout: dropout rate in each auxiliary head (0.7).
        adaptive_pool: pool the aux heads adaptively to 3x3, so inputs other than
            about 224x224 work (the main head pools adaptively anyway).

    ``forward(x)`` returns ``(out, out1, out2)`` (main head, aux head on 4a, aux head
    on 4d), ``out`` alone with ``aux_logits=False``, pooled features with
    ``num_classes=0``.
    """

    head_prefixes = ("_fc_out.", "_conv_o1.", "_fc_o1.", "_out1.",
                     "_conv_o2.", "_fc_o2.", "_out2.")

    def __init__(self, num_classes: int = 1000, aux_logits: bool = True,
                 dropout: float = 0.4, aux_dropout: float = 0.7,
                 adaptive_pool: bool = False):
        super().__init__()
        self._set_head_options(num_classes, aux_logits, dropout, aux_dropout, adaptive_pool)

        self._conv = _Conv(3, 64, 7, stride=2)
        self._pool = nn.MaxPool2D(3, stride=2)  # shared by all four stride-2 stages
        self._conv_1 = _Conv(64, 64, 1)
        self._conv_2 = _Conv(64, 192, 3)
        for name, (inputs, p1, p2, p3, p4) in INCEPTION_BLOCKS.items():
            setattr(self, f"_ince{name}", _Inception(inputs, p1, *p2, *p3, p4))
        self._pool_5 = nn.AdaptiveAvgPool2D(1)
        self._build_heads()
        initialise([self], self.classifier_layers())

    def _aux_pool(self):
        return nn.AdaptiveAvgPool2D(_AUX_SIDE) if self.adaptive_pool else nn.AvgPool2D(5, stride=3)

    def _build_heads(self):
        """Main classifier and aux heads for ``self.num_classes`` (none for 0)."""
        c = self.num_classes
        self._drop = nn.Dropout(self.dropout_rate, mode="downscale_in_infer") if c else None
        self._fc_out = nn.Linear(FEATURE_CHANNELS, c) if c else None
        aux = self.aux_logits
        for i, in_channels in ((1, 512), (2, 528)):
            setattr(self, f"_pool_o{i}", self._aux_pool() if aux else None)
            setattr(self, f"_conv_o{i}", _Conv(in_channels, 128, 1) if aux else None)
            setattr(self, f"_fc_o{i}", nn.Linear(128 * _AUX_SIDE ** 2, 1024) if aux else None)
            setattr(self, f"_drop_o{i}",
                    nn.Dropout(self.aux_dropout_rate, mode="downscale_in_infer") if aux else None)
            setattr(self, f"_out{i}", nn.Linear(1024, c) if aux else None)

    def translate_state_dict(self, state: dict) -> dict:
        """``state`` as is when keyed like this network; renamed when keyed by
        PaddleClas's parameter names (every key known, none of this network's)."""
        renames = paddleclas_parameter_names()
        if state and all(k in renames for k in state):
            return {renames[k]: v for k, v in state.items()}
        return state

    def classifier_layers(self):
        """The final Linear of each head: the layers whose shape depends on num_classes."""
        layers = [self._fc_out] if self.num_classes else []
        if self.aux_logits:
            layers += [self._out1, self._out2]
        return layers

    def reset_classifier(self, num_classes: int):
        """Give every head a classifier for ``num_classes`` classes, initialised as at
        construction; the rest of existing aux heads is kept. 0 removes the
        classifiers and the aux heads."""
        check_num_classes(num_classes)
        had_aux = self.aux_logits
        self.num_classes = num_classes
        self.aux_logits = self._wants_aux and num_classes > 0
        if not num_classes or not had_aux or not self.aux_logits:
            self._build_heads()
            fresh = [layer for layer in (self._fc_out, self._conv_o1, self._fc_o1, self._out1,
                                         self._conv_o2, self._fc_o2, self._out2) if layer]
        else:
            self._drop = nn.Dropout(self.dropout_rate, mode="downscale_in_infer")
            self._fc_out = nn.Linear(FEATURE_CHANNELS, num_classes)
            self._out1 = nn.Linear(1024, num_classes)
            self._out2 = nn.Linear(1024, num_classes)
            fresh = [self._fc_out, self._out1, self._out2]
        initialise(fresh, self.classifier_layers())

    def check_input(self, x):
        """Raise InputShapeError unless ``x`` is ``[N, 3, H, W]`` that the heads can take."""
        shape = list(x.shape)
        if len(shape) != 4 or shape[1] != 3:
            raise InputShapeError(f"GoogLeNetPaddleClas expects a float tensor of shape "
                                  f"[N, 3, H, W]; got shape {shape}")
        for side in (s for s in shape[2:] if s is not None and s > 0):
            sides = _sides(side)
            if len(sides) < 5:
                raise InputShapeError(f"GoogLeNetPaddleClas needs H and W of at least "
                                      f"{_MIN_SIDE} (four unpadded stride-2 pools); got "
                                      f"shape {shape}")
            if self.aux_logits and not self.adaptive_pool and side not in _FIXED_AUX_SIDES:
                raise InputShapeError(
                    f"GoogLeNetPaddleClas's aux heads expect [N, 3, 224, 224] (sides "
                    f"{_FIXED_AUX_SIDES.start} to {_FIXED_AUX_SIDES.stop - 1} work alike); got "
                    f"shape {shape}. Build it with adaptive_pool=True, or aux_logits=False, "
                    f"for other input sizes.")

    def _trunk(self, x):
        self.check_input(x)
        x = self._pool(self._conv(x))
        x = self._pool(self._conv_2(self._conv_1(x)))
        x = self._pool(self._ince3b(self._ince3a(x)))
        x4a = self._ince4a(x)
        x4d = self._ince4d(self._ince4c(self._ince4b(x4a)))
        x = self._pool(self._ince4e(x4d))
        x5b = self._ince5b(self._ince5a(x))
        return x4a, x4d, x5b

    def forward_features(self, x):
        """The inception 5b feature map, ``[N, 1024, 6, 6]`` for a 224x224 input."""
        return self._trunk(x)[2]

    def forward_head(self, features, pre_logits: bool = False):
        """Logits ``[N, num_classes]`` of the main head, or the pooled ``[N, 1024]``
        features with ``pre_logits`` or when ``num_classes`` is 0."""
        x = paddle.flatten(self._pool_5(features), start_axis=1)
        if pre_logits or not self.num_classes:
            return x
        return self._fc_out(self._drop(x))

    def _aux(self, i: int, x):
        x = getattr(self, f"_conv_o{i}")(getattr(self, f"_pool_o{i}")(x))
        x = getattr(self, f"_fc_o{i}")(paddle.flatten(x, start_axis=1))
        if i == 1:  # PaddleClas's second aux head has no ReLU here; its weights expect that
            x = F.relu(x)
        return getattr(self, f"_out{i}")(getattr(self, f"_drop_o{i}")(x))

    def forward(self, x):
        """Classify a float tensor ``[N, 3, H, W]`` (normalised RGB, 224x224 unless
        built with ``adaptive_pool`` or without aux heads).

        Returns ``(out, out1, out2)``: logits ``[N, num_classes]`` of the main head,
        of the aux head on 4a and of the aux head on 4d; ``out`` alone when built
        with ``aux_logits=False``; the pooled features ``[N, 1024]`` when built with
        ``num_classes=0``.
        """
        x4a, x4d, x5b = self._trunk(x)
        out = self.forward_head(x5b)
        if not self.aux_logits:
            return out
        return out, self._aux(1, x4a), self._aux(2, x4d)
