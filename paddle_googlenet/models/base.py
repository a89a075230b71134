"""What every architecture of this package provides.

The engine, the command-line tools, the weights loader and ``MainHeadOnly`` use a
network only through this interface, so a new architecture is one file that
subclasses ``Classifier`` and registers itself (see ``registry.py``).
"""

from typing import List, Sequence, Tuple

from paddle import nn

from ..errors import UserError
from ..validators import is_int

__all__ = ["Classifier", "InputShapeError", "MainHeadOnly", "check_num_classes"]


class InputShapeError(UserError, ValueError):
    """An input tensor the network (or its chosen heads) cannot take."""


def check_num_classes(num_classes) -> int:
    """``num_classes`` if it is a non-negative integer (0: no classifier), else ValueError."""
    if not is_int(num_classes) or num_classes < 0:
        raise ValueError(f"num_classes must be a non-negative integer (0 builds no "
                         f"classifier), got {num_classes!r}")
    return num_classes


class Classifier(nn.Layer):
    """An image classifier with a main head and optional auxiliary heads.

    Attributes every subclass sets in its constructor:

        num_classes: classes of every head; 0 when the network has no classifier and
            ``forward`` returns pooled features.
        aux_logits: whether the auxiliary heads exist (always False when
            ``num_classes`` is 0).

    Class attribute:

        head_prefixes: state-dict key prefixes of every parameter that belongs to a
            head (main classifier and auxiliary heads). A weights file may lack them,
            or hold them for a network built without heads; the loader treats them
            by its ``heads`` policy instead of as a file of another network.

    ``forward(x)`` returns the main logits alone when there are no auxiliary heads,
    else a tuple ``(out, aux_out, ...)`` whose first item is the main logits.
    """

    head_prefixes: Tuple[str, ...] = ()

    def _set_head_options(self, num_classes: int, aux_logits: bool, dropout: float,
                          aux_dropout: float, adaptive_pool: bool) -> None:
        """Check and keep the constructor options every GoogLeNet-style network shares."""
        check_num_classes(num_classes)
        for name, rate in (("dropout", dropout), ("aux_dropout", aux_dropout)):
            if not 0.0 <= float(rate) < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {rate!r}")
        self.num_classes = num_classes
        self.adaptive_pool = adaptive_pool
        self.dropout_rate = dropout
        self.aux_dropout_rate = aux_dropout
        # Aux heads exist whenever there are classes to classify and they were asked for.
        self._wants_aux = bool(aux_logits)
        self.aux_logits = self._wants_aux and num_classes > 0

    def check_input(self, x) -> None:
        """Raise ``InputShapeError`` unless the network can take ``x`` (a tensor
        ``[N, C, H, W]``; sides of -1 or None, unknown while tracing, pass)."""
        raise NotImplementedError

    def forward_features(self, x):
        """The last feature map of the trunk, before any pooling: ``[N, C, h, w]``.
        Checks ``x`` with ``check_input`` first."""
        raise NotImplementedError

    def forward_head(self, features, pre_logits: bool = False):
        """The main head on ``forward_features``' output: logits ``[N, num_classes]``,
        or the pooled features ``[N, C]`` with ``pre_logits`` or ``num_classes`` 0."""
        raise NotImplementedError

    def classifier_layers(self) -> List[nn.Layer]:
        """The final Linear of each head: the layers whose shape depends on num_classes."""
        raise NotImplementedError

    def reset_classifier(self, num_classes: int) -> None:
        """Replace every head's classifier by a freshly initialised one for
        ``num_classes`` classes; 0 removes the classifiers and the auxiliary heads."""
        raise NotImplementedError

    def classifier_parameter_names(self) -> List[str]:
        """State-dict names of the parameters that depend on num_classes."""
        by_id = {id(p): name for name, p in self.named_parameters()}
        return [by_id[id(p)] for layer in self.classifier_layers() for p in layer.parameters()]

    def translate_state_dict(self, state: dict) -> dict:
        """``state`` with its keys renamed to this network's, for weights files that
        name parameters another way (the default: ``state`` unchanged)."""
        return state

    def is_head_parameter(self, name: str) -> bool:
        """Whether the state-dict key ``name`` belongs to a head (see ``head_prefixes``)."""
        return name.startswith(tuple(self.head_prefixes))


class MainHeadOnly(nn.Layer):
    """Wrap a ``Classifier`` so that ``forward`` returns the main head only.

    The auxiliary heads are never run, so a program traced from this layer (for
    ``paddle.jit.save``) holds neither their operators nor their parameters.

    Args:
        net: the network to wrap (shared, not copied).
        softmax: append a softmax, so the output is class probabilities.
    """

    def __init__(self, net: Classifier, softmax: bool = False):
        super().__init__()
        self.net = net
        self.softmax = softmax

    def forward(self, x):
        out = self.net.forward_head(self.net.forward_features(x))
        if self.softmax:
            out = nn.functional.softmax(out, axis=-1)
        return out


def splice(blocks: Sequence[nn.Layer]) -> List[nn.Layer]:
    """The layers of ``blocks`` with every ``nn.Sequential`` replaced by its children,
    so a block built as ``Sequential(conv, relu)`` keeps the parameter names of a
    container that holds conv and relu directly (``branch1.0.weight``)."""
    layers = []
    for block in blocks:
        layers.extend(block.children() if isinstance(block, nn.Sequential) else [block])
    return layers


# Norm layers start as the identity: scale 1, shift 0.
_NORM_LAYERS = (nn.BatchNorm, nn.BatchNorm1D, nn.BatchNorm2D, nn.BatchNorm3D,
                nn.SyncBatchNorm, nn.GroupNorm, nn.LayerNorm)


def initialise(layers: Sequence[nn.Layer], classifiers: Sequence[nn.Layer] = ()):
    """Initialise ``layers`` and all their sublayers by type.

    Without batch norm, initialisation decides whether training starts at all:
    He-normal keeps a ReLU trunk's activations at a steady scale through all its
    layers, and classifier weights of std 0.001 keep every head's logits near zero,
    so each head starts at a loss of about ln(num_classes) rather than several times
    that. Convolutions and Linear layers get He-normal weights (``classifiers``:
    std 0.001) and zero biases where they have one; norm layers start as the identity.
    """
    he_normal = nn.initializer.KaimingNormal(nonlinearity="relu")
    classifier = nn.initializer.Normal(mean=0.0, std=0.001)
    zeros, ones = nn.initializer.Constant(0.0), nn.initializer.Constant(1.0)
    classifier_ids = {id(layer) for layer in classifiers}
    for top in layers:
        for layer in top.sublayers(include_self=True):
            if isinstance(layer, (nn.Conv2D, nn.Linear)):
                (classifier if id(layer) in classifier_ids else he_normal)(layer.weight)
                if layer.bias is not None:
                    zeros(layer.bias)
            elif isinstance(layer, _NORM_LAYERS):
                if layer.weight is not None:
                    ones(layer.weight)
                if layer.bias is not None:
                    zeros(layer.bias)
