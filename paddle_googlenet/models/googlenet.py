"""GoogLeNet (Inception v1) as this project specifies it.

Szegedy et al., "Going deeper with convolutions" (2014), in the form of the
well-known PaddlePaddle reproduction: no LRN, every convolution has a bias and is
followed by a ReLU *layer*, and two auxiliary classifiers hang off inception 4a
and 4d. At 1000 classes the network has 13,378,280 parameters.

The trunk's convolutions come from a ``conv_block`` constructor argument, as in
torchvision: the default is a biased convolution and a ReLU layer; ``conv_bn_relu``
(or any callable of the same signature) gives a batch-normalised variant.

Branches and heads are ``nn.Sequential`` containers on purpose: ``paddle.summary``
lists the layers inside a Sequential but not the Sequential itself, so the summary
shows exactly Conv2D, ReLU, MaxPool2D, Inception, AvgPool2D, Flatten, Dropout and
Linear rows in forward order.
"""

import math
from typing import Callable, Sequence, Union

import paddle
from paddle import nn

from ..constants import IMAGENET_MEAN, IMAGENET_STD
from ..errors import ConfigError
from .base import (Classifier, InputShapeError, MainHeadOnly, check_num_classes,
                   initialise, splice)
from .lrn import with_local_response_norms
from .registry import register_model

__all__ = ["Inception", "GoogLeNet", "MainHeadOnly", "InputShapeError", "conv_relu",
           "conv_bn_relu", "CONV_BLOCKS", "INCEPTION_BLOCKS"]


def conv_relu(in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
              padding: int = 0) -> nn.Layer:
    """The default ``conv_block``: a biased convolution followed by a ReLU layer."""
    return nn.Sequential(nn.Conv2D(in_channels, out_channels, kernel_size, stride=stride,
                                   padding=padding),
                         nn.ReLU())


def conv_bn_relu(in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 padding: int = 0) -> nn.Layer:
    """A ``conv_block`` with batch norm: a convolution without bias (the norm's shift
    replaces it), BatchNorm2D and ReLU."""
    return nn.Sequential(nn.Conv2D(in_channels, out_channels, kernel_size, stride=stride,
                                   padding=padding, bias_attr=False),
                         nn.BatchNorm2D(out_channels),
                         nn.ReLU())


# conv_block by name, so that a config can choose one.
CONV_BLOCKS = {"conv_relu": conv_relu, "conv_bn_relu": conv_bn_relu}

ConvBlock = Callable[..., nn.Layer]


def _conv_block(conv_block: Union[str, ConvBlock]) -> ConvBlock:
    if isinstance(conv_block, str):
        if conv_block not in CONV_BLOCKS:
            raise ConfigError(f"conv_block: unknown block {conv_block!r}; valid: "
                              f"{', '.join(CONV_BLOCKS)} (or a callable in Python)")
        return CONV_BLOCKS[conv_block]
    if not callable(conv_block):
        raise ValueError(f"conv_block must be a callable or one of {', '.join(CONV_BLOCKS)}, "
                         f"got {conv_block!r}")
    return conv_block


class Inception(nn.Layer):
    """One Inception block: four branches on the same input, concatenated on channels.

    Args:
        input_channels: channels of the block's input.
        p1_channels: output channels of the 1x1 branch.
        p2_channels: ``(reduce, out)`` of the 1x1 -> 3x3 branch.
        p3_channels: ``(reduce, out)`` of the 1x1 -> 5x5 branch.
        p4_channels: output channels of the 3x3 max pool -> 1x1 branch.
        conv_block: builds each convolution with its activation, called as
            ``conv_block(in_channels, out_channels, kernel_size, stride=, padding=)``.

    The output has ``p1 + p2[1] + p3[1] + p4`` channels and the input's spatial size.
    """

    def __init__(self, input_channels: int, p1_channels: int, p2_channels: Sequence[int],
                 p3_channels: Sequence[int], p4_channels: int,
                 conv_block: ConvBlock = conv_relu):
        super().__init__()
        self.output_channels = p1_channels + p2_channels[1] + p3_channels[1] + p4_channels

        def branch(*blocks):
            return nn.Sequential(*splice(blocks))

        self.branch1 = branch(conv_block(input_channels, p1_channels, 1))
        self.branch2 = branch(conv_block(input_channels, p2_channels[0], 1),
                              conv_block(p2_channels[0], p2_channels[1], 3, padding=1))
        self.branch3 = branch(conv_block(input_channels, p3_channels[0], 1),
                              conv_block(p3_channels[0], p3_channels[1], 5, padding=2))
        self.branch4 = branch(nn.MaxPool2D(3, stride=1, padding=1),
                              conv_block(input_channels, p4_channels, 1))

    def forward(self, x):
        return paddle.concat([self.branch1(x), self.branch2(x), self.branch3(x),
                              self.branch4(x)], axis=1)


# (input, p1, (p2 reduce, p2 out), (p3 reduce, p3 out), p4), from the paper's Table 1:
# the channels of every Inception block, for this network and GoogLeNetPaddleClas.
INCEPTION_BLOCKS = {
    "3a": (192, 64, (96, 128), (16, 32), 32),
    "3b": (256, 128, (128, 192), (32, 96), 64),
    "4a": (480, 192, (96, 208), (16, 48), 64),
    "4b": (512, 160, (112, 224), (24, 64), 64),
    "4c": (512, 128, (128, 256), (24, 64), 64),
    "4d": (512, 112, (144, 288), (32, 64), 64),
    "4e": (528, 256, (160, 320), (32, 128), 128),
    "5a": (832, 256, (160, 320), (32, 128), 128),
    "5b": (832, 384, (192, 384), (48, 128), 128),
}

# Side of the feature maps the fixed-pool heads were designed for (224x224 input).
_FIXED_INPUT = 224
_FIXED_4X_SIDE = 14  # after three stride-2 stages and the stem: ceil(side / 16)
_FIXED_5X_SIDE = 7   # ceil(side / 32)
# Adaptive aux heads pool 4a/4d to 4x4; below that they would invent pixels.
_ADAPTIVE_MIN_INPUT = 49  # smallest side with ceil(side / 16) >= 4
FEATURE_CHANNELS = 1024  # of inception 5b


def _max_pool() -> nn.MaxPool2D:
    return nn.MaxPool2D(3, stride=2, padding=1)


def _aux_head(in_channels: int, num_classes: int, dropout: float,
              adaptive_pool: bool) -> nn.Sequential:
    pool = nn.AdaptiveAvgPool2D(4) if adaptive_pool else nn.AvgPool2D(5, stride=3)
    return nn.Sequential(
        ("pool", pool),
        ("conv", nn.Conv2D(in_channels, 128, 1)),  # no ReLU after it
        ("flatten", nn.Flatten()),
        ("fc1", nn.Linear(128 * 4 * 4, 1024)),
        ("relu", nn.ReLU()),
        ("dropout", nn.Dropout(dropout)),
        ("fc2", nn.Linear(1024, num_classes)),
    )


@register_model(input_size=(3, _FIXED_INPUT, _FIXED_INPUT), mean=IMAGENET_MEAN,
                std=IMAGENET_STD,
                summary="GoogLeNet with a ReLU after every convolution and biased "
                        "convolutions (13,378,280 parameters at 1000 classes)")
class GoogLeNet(Classifier):
    """GoogLeNet with two auxiliary classifiers.

    Args:
        num_classes: number of classes of every head. 0 builds no classifier and no
            auxiliary heads: ``forward`` returns the pooled 1024-d features.
        aux_logits: build the two auxiliary heads (when there are classes). When
            False, ``forward`` returns the main logits alone.
        dropout: dropout rate before the main classifier (0.4 in the paper).
        aux_dropout: dropout rate in each auxiliary head (0.7 in the paper).
        adaptive_pool: use adaptive average pooling in the heads so that any input
            side from 49 pixels up works (the fixed pools of the paper need 224x224;
            sides 209 to 224 give the same feature sizes and are accepted too). The
            trunk and the parameter count are the same either way.
        conv_block: builds each convolution of the trunk (stem and inception
            branches) with its activation, called as ``conv_block(in_channels,
            out_channels, kernel_size, stride=, padding=)`` and returning a layer (an
            ``nn.Sequential`` is spliced into its parent, so the default keeps the
            parameter names ``branch1.0.weight``...). Default ``conv_relu``;
            ``conv_bn_relu`` adds batch norm. The names ``"conv_relu"`` and
            ``"conv_bn_relu"`` work too (for configs). The auxiliary heads' 1x1
            convolutions stay plain biased convolutions without activation.
        lrn: add the paper's two local response normalisations to the stem (Figure
            3; see ``models/lrn.py``). They have no parameters: the weights of one
            network load into the other.

    Every convolution and Linear layer is initialised by type (see ``initialise``),
    so a ``conv_block`` may use convolutions without bias and norm layers.
    """

    head_prefixes = ("head.fc.", "aux1.", "aux2.")

    def __init__(self, num_classes: int = 1000, aux_logits: bool = True,
                 dropout: float = 0.4, aux_dropout: float = 0.7,
                 adaptive_pool: bool = False,
                 conv_block: Union[str, ConvBlock] = conv_relu, lrn: bool = False):
        super().__init__()
        self._set_head_options(num_classes, aux_logits, dropout, aux_dropout, adaptive_pool)
        block = _conv_block(conv_block)

        stem = [block(3, 64, 7, stride=2, padding=3), _max_pool(),
                block(64, 64, 1), block(64, 192, 3, padding=1), _max_pool()]
        if not isinstance(lrn, bool):
            raise ValueError(f"lrn must be true or false, got {lrn!r}")
        self.lrn = lrn
        self.stem = nn.Sequential(*splice(with_local_response_norms(stem) if lrn else stem))
        for name in ("3a", "3b", "4a", "4b", "4c", "4d", "4e", "5a", "5b"):
            setattr(self, f"inception{name}",
                    Inception(*INCEPTION_BLOCKS[name], conv_block=block))
            if name in ("3b", "4e"):
                setattr(self, f"pool{name[0]}", _max_pool())
        self.head = self._main_head()
        self.aux1 = self._aux_head(512) if self.aux_logits else None
        self.aux2 = self._aux_head(528) if self.aux_logits else None
        initialise([self], self.classifier_layers())

    def _main_head(self) -> nn.Sequential:
        pool = nn.AdaptiveAvgPool2D(1) if self.adaptive_pool else nn.AvgPool2D(7)
        layers = [("pool", pool), ("flatten", nn.Flatten())]
        if self.num_classes:
            layers += [("dropout", nn.Dropout(self.dropout_rate)),
                       ("fc", nn.Linear(FEATURE_CHANNELS, self.num_classes))]
        return nn.Sequential(*layers)

    def _aux_head(self, in_channels: int) -> nn.Sequential:
        return _aux_head(in_channels, self.num_classes, self.aux_dropout_rate,
                         self.adaptive_pool)

    def classifier_layers(self):
        """The final Linear of each head: the layers whose shape depends on num_classes."""
        layers = [self.head.fc] if self.num_classes else []
        if self.aux_logits:
            layers += [self.aux1.fc2, self.aux2.fc2]
        return layers

    def reset_classifier(self, num_classes: int):
        """Give every head a classifier for ``num_classes`` classes, initialised as at
        construction; the rest of the aux heads (conv, fc1) is kept. 0 removes the
        classifiers and the aux heads; going back from 0 builds fresh aux heads if the
        network was built with ``aux_logits``."""
        check_num_classes(num_classes)
        self.num_classes = num_classes
        self.aux_logits = self._wants_aux and num_classes > 0
        fresh = []
        if num_classes and "fc" in self.head._sub_layers:
            self.head.fc = nn.Linear(FEATURE_CHANNELS, num_classes)
        else:
            self.head = self._main_head()
        fresh.append(self.head)
        for name, channels in (("aux1", 512), ("aux2", 528)):
            aux = getattr(self, name)
            if not self.aux_logits:
                setattr(self, name, None)
            elif aux is None:
                setattr(self, name, self._aux_head(channels))
                fresh.append(getattr(self, name))
            else:
                aux.fc2 = nn.Linear(1024, num_classes)
                fresh.append(aux.fc2)
        initialise(fresh, self.classifier_layers())

    def check_input(self, x):
        """Raise InputShapeError unless ``x`` is ``[N, 3, H, W]`` that the heads can take."""
        shape = list(x.shape)
        if len(shape) != 4 or shape[1] != 3:
            raise InputShapeError(
                f"GoogLeNet expects a float tensor of shape [N, 3, H, W]; got shape {shape}")
        sides = [s for s in shape[2:] if s is not None and s > 0]  # -1/None: unknown when traced
        if self.adaptive_pool:
            small = [s for s in sides if s < _ADAPTIVE_MIN_INPUT]
            if small:
                raise InputShapeError(
                    f"GoogLeNet with adaptive heads expects [N, 3, H, W] with H and W of at "
                    f"least {_ADAPTIVE_MIN_INPUT}; got shape {shape}")
        else:
            need_4x = self.aux_logits
            bad = [s for s in sides
                   if math.ceil(s / 32) != _FIXED_5X_SIDE
                   or (need_4x and math.ceil(s / 16) != _FIXED_4X_SIDE)]
            if bad:
                raise InputShapeError(
                    f"GoogLeNet with fixed-pool heads expects [N, 3, {_FIXED_INPUT}, "
                    f"{_FIXED_INPUT}] (sides 209 to 224 work alike); got shape {shape}. "
                    f"Build it with adaptive_pool=True for other input sizes.")

    def forward_trunk(self, x):
        """Check ``x`` and run the trunk; return the feature maps of inception 4a, 4d
        and 5b (what the aux heads and the main head take)."""
        self.check_input(x)
        x = self.stem(x)
        x = self.inception3a(x)
        x = self.inception3b(x)
        x = self.pool3(x)
        x4a = self.inception4a(x)
        x = self.inception4b(x4a)
        x = self.inception4c(x)
        x4d = self.inception4d(x)
        x = self.inception4e(x4d)
        x = self.pool4(x)
        x = self.inception5a(x)
        x5b = self.inception5b(x)
        return x4a, x4d, x5b

    def forward_features(self, x):
        """The inception 5b feature map, ``[N, 1024, 7, 7]`` for a 224x224 input."""
        return self.forward_trunk(x)[2]

    def forward_head(self, features, pre_logits: bool = False):
        """The main head on the 5b map: logits ``[N, num_classes]``, or the pooled
        ``[N, 1024]`` features with ``pre_logits`` or when ``num_classes`` is 0."""
        x = self.head.flatten(self.head.pool(features))
        if pre_logits or not self.num_classes:
            return x
        return self.head.fc(self.head.dropout(x))

    def forward(self, x):
        """Classify a float tensor ``[N, 3, H, W]`` (normalised RGB, 224x224 unless
        built with ``adaptive_pool``).

        Returns, in train and eval mode alike:

        - ``(out, out1, out2)`` with the auxiliary heads: logits ``[N, num_classes]``
          of the main head (on inception 5b), of auxiliary head 1 (on 4a) and of
          auxiliary head 2 (on 4d). Accuracy and inference use ``out`` only;
          training weights the three losses 1.0 / 0.3 / 0.3.
        - ``out`` alone when built with ``aux_logits=False``.
        - the pooled features ``[N, 1024]`` when built with ``num_classes=0``.
        """
        x4a, x4d, x5b = self.forward_trunk(x)
        out = self.forward_head(x5b)
        if not self.aux_logits:
            return out
        return out, self.aux1(x4a), self.aux2(x4d)
