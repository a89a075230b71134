"""GoogLeNet (Inception v1) as ../shared/SPEC.md describes it.

Szegedy et al., "Going deeper with convolutions" (2014), in the form of the
well-known PaddlePaddle reproduction: no LRN, every convolution has a bias and is
followed by a ReLU *layer*, and two auxiliary classifiers hang off inception 4a
and 4d. At 1000 classes the network has 13,378,280 parameters.

Branches and heads are ``nn.Sequential`` containers on purpose: ``paddle.summary``
lists the layers inside a Sequential but not the Sequential itself, so the summary
shows exactly Conv2D, ReLU, MaxPool2D, Inception, AvgPool2D, Flatten, Dropout and
Linear rows in forward order.
"""

import math
from typing import Sequence, Tuple

import paddle
from paddle import nn

from ..errors import UserError

__all__ = ["Inception", "GoogLeNet", "MainHeadOnly", "InputShapeError"]


class InputShapeError(UserError, ValueError):
    """An input tensor the network (or its chosen heads) cannot take."""


def _conv_relu(in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
               padding: int = 0) -> Tuple[nn.Conv2D, nn.ReLU]:
    return (nn.Conv2D(in_channels, out_channels, kernel_size, stride=stride, padding=padding),
            nn.ReLU())


class Inception(nn.Layer):
    """One Inception block: four branches on the same input, concatenated on channels.

    Args:
        input_channels: channels of the block's input.
        p1_channels: output channels of the 1x1 branch.
        p2_channels: ``(reduce, out)`` of the 1x1 -> 3x3 branch.
        p3_channels: ``(reduce, out)`` of the 1x1 -> 5x5 branch.
        p4_channels: output channels of the 3x3 max pool -> 1x1 branch.

    The output has ``p1 + p2[1] + p3[1] + p4`` channels and the input's spatial size.
    """

    def __init__(self, input_channels: int, p1_channels: int, p2_channels: Sequence[int],
                 p3_channels: Sequence[int], p4_channels: int):
        super().__init__()
        self.output_channels = p1_channels + p2_channels[1] + p3_channels[1] + p4_channels
        self.branch1 = nn.Sequential(*_conv_relu(input_channels, p1_channels, 1))
        self.branch2 = nn.Sequential(*_conv_relu(input_channels, p2_channels[0], 1),
                                     *_conv_relu(p2_channels[0], p2_channels[1], 3, padding=1))
        self.branch3 = nn.Sequential(*_conv_relu(input_channels, p3_channels[0], 1),
                                     *_conv_relu(p3_channels[0], p3_channels[1], 5, padding=2))
        self.branch4 = nn.Sequential(nn.MaxPool2D(3, stride=1, padding=1),
                                     *_conv_relu(input_channels, p4_channels, 1))

    def forward(self, x):
        return paddle.concat([self.branch1(x), self.branch2(x), self.branch3(x),
                              self.branch4(x)], axis=1)


# (input, p1, (p2 reduce, p2 out), (p3 reduce, p3 out), p4), from the paper's Table 1.
_BLOCKS = {
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


def _max_pool() -> nn.MaxPool2D:
    return nn.MaxPool2D(3, stride=2, padding=1)


def _aux_head(in_channels: int, num_classes: int, dropout: float,
              adaptive_pool: bool) -> nn.Sequential:
    pool = nn.AdaptiveAvgPool2D(4) if adaptive_pool else nn.AvgPool2D(5, stride=3)
    return nn.Sequential(
        ("pool", pool),
        ("conv", nn.Conv2D(in_channels, 128, 1)),  # no ReLU here, as in the spec
        ("flatten", nn.Flatten()),
        ("fc1", nn.Linear(128 * 4 * 4, 1024)),
        ("relu", nn.ReLU()),
        ("dropout", nn.Dropout(dropout)),
        ("fc2", nn.Linear(1024, num_classes)),
    )


class GoogLeNet(nn.Layer):
    """GoogLeNet with two auxiliary classifiers.

    Args:
        num_classes: number of classes of every head.
        aux_logits: build the two auxiliary heads. When False, ``forward`` returns
            the main logits alone.
        dropout: dropout rate before the main classifier (0.4 in the paper).
        aux_dropout: dropout rate in each auxiliary head (0.7 in the paper).
        adaptive_pool: use adaptive average pooling in the heads so that any input
            side from 49 pixels up works (the fixed pools of the paper need 224x224;
            sides 209 to 224 give the same feature sizes and are accepted too). The
            trunk and the parameter count are the same either way.

    ``forward(x)`` takes a float tensor ``[N, 3, H, W]`` and returns, in train and
    eval mode alike, ``(out, out1, out2)``: logits ``[N, num_classes]`` of the main
    head (on inception 5b), of auxiliary head 1 (on 4a) and of auxiliary head 2 (on
    4d). Accuracy and inference use ``out`` only; training weights the three losses
    1.0 / 0.3 / 0.3.
    """

    def __init__(self, num_classes: int = 1000, aux_logits: bool = True,
                 dropout: float = 0.4, aux_dropout: float = 0.7,
                 adaptive_pool: bool = False):
        super().__init__()
        if not isinstance(num_classes, int) or isinstance(num_classes, bool) or num_classes < 1:
            raise ValueError(f"num_classes must be a positive integer, got {num_classes!r}")
        for name, rate in (("dropout", dropout), ("aux_dropout", aux_dropout)):
            if not 0.0 <= float(rate) < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {rate!r}")
        self.num_classes = num_classes
        self.aux_logits = aux_logits
        self.adaptive_pool = adaptive_pool

        self.stem = nn.Sequential(
            *_conv_relu(3, 64, 7, stride=2, padding=3), _max_pool(),
            *_conv_relu(64, 64, 1), *_conv_relu(64, 192, 3, padding=1), _max_pool())
        self.inception3a = Inception(*_BLOCKS["3a"])
        self.inception3b = Inception(*_BLOCKS["3b"])
        self.pool3 = _max_pool()
        self.inception4a = Inception(*_BLOCKS["4a"])
        self.inception4b = Inception(*_BLOCKS["4b"])
        self.inception4c = Inception(*_BLOCKS["4c"])
        self.inception4d = Inception(*_BLOCKS["4d"])
        self.inception4e = Inception(*_BLOCKS["4e"])
        self.pool4 = _max_pool()
        self.inception5a = Inception(*_BLOCKS["5a"])
        self.inception5b = Inception(*_BLOCKS["5b"])
        self.head = nn.Sequential(
            ("pool", nn.AdaptiveAvgPool2D(1) if adaptive_pool else nn.AvgPool2D(7)),
            ("flatten", nn.Flatten()),
            ("dropout", nn.Dropout(dropout)),
            ("fc", nn.Linear(1024, num_classes)),
        )
        if aux_logits:
            self.aux1 = _aux_head(512, num_classes, aux_dropout, adaptive_pool)
            self.aux2 = _aux_head(528, num_classes, aux_dropout, adaptive_pool)
        else:
            self.aux1 = self.aux2 = None
        self._init_weights()

    # Without batch norm, initialisation decides whether training starts at all:
    # He-normal keeps the ReLU trunk's activations at a steady scale (RMS about 3
    # on unit-variance input) through all 22 layers, and classifier weights of
    # std 0.001 keep every head's logits near zero, so each head starts at a loss
    # of about ln(num_classes) rather than several times that.
    def _init_weights(self):
        he_normal = nn.initializer.KaimingNormal(nonlinearity="relu")
        classifier = nn.initializer.Normal(mean=0.0, std=0.001)
        zeros = nn.initializer.Constant(0.0)
        classifiers = {id(layer) for layer in self.classifier_layers()}
        for layer in self.sublayers():
            if isinstance(layer, (nn.Conv2D, nn.Linear)):
                init = classifier if id(layer) in classifiers else he_normal
                init(layer.weight)
                zeros(layer.bias)

    def classifier_layers(self):
        """The final Linear of each head: the layers whose shape depends on num_classes."""
        layers = [self.head.fc]
        if self.aux_logits:
            layers += [self.aux1.fc2, self.aux2.fc2]
        return layers

    def classifier_parameter_names(self):
        """State-dict names of the parameters that depend on num_classes."""
        by_id = {id(p): name for name, p in self.named_parameters()}
        return [by_id[id(p)] for layer in self.classifier_layers() for p in layer.parameters()]

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
        """Run the trunk; return the feature maps of inception 4a, 4d and 5b."""
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

    def forward(self, x):
        x4a, x4d, x5b = self.forward_trunk(x)
        out = self.head(x5b)
        if not self.aux_logits:
            return out
        return out, self.aux1(x4a), self.aux2(x4d)


class MainHeadOnly(nn.Layer):
    """Wrap a GoogLeNet so that ``forward`` returns the main head only.

    The auxiliary heads are never run, so a program traced from this layer (for
    ``paddle.jit.save``) holds neither their operators nor their parameters.

    Args:
        net: the GoogLeNet to wrap (shared, not copied).
        softmax: append a softmax, so the output is class probabilities.
    """

    def __init__(self, net: GoogLeNet, softmax: bool = False):
        super().__init__()
        self.net = net
        self.softmax = softmax

    def forward(self, x):
        _, _, x5b = self.net.forward_trunk(x)
        out = self.net.head(x5b)
        if self.softmax:
            out = nn.functional.softmax(out, axis=-1)
        return out
