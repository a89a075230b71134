"""This package's GoogLeNet as a PaddleClas model-zoo entry.

PaddleClas builds ``Arch.name`` by calling ``name(**Arch)`` with ``class_num``,
``pretrained`` and any other key, and then expects what its own GoogLeNet returns: a
**list** ``[out, out1, out2]``. Its ``ExportModel`` keeps ``x[0]`` of a list output
(a tuple would reach the softmax whole and fail), while ``GoogLeNetLoss`` and
``GoogLeNetTopkAcc`` index the three outputs. To use it, a PaddleClas project adds
one line to ``ppcls/arch/backbone/__init__.py`` (before ``__all__ = get_apis()``):

    from paddle_googlenet.paddleclas import GoogLeNet

and keeps ``Arch: {name: GoogLeNet, class_num: N}`` in its configs.
"""

import inspect

from ..errors import ConfigError
from ..models import GoogLeNet as _GoogLeNet
from ..models import load_weights
from ..validators import pretrained_path

__all__ = ["GoogLeNet", "GoogLeNetForPaddleClas"]


class GoogLeNetForPaddleClas(_GoogLeNet):
    """``paddle_googlenet.GoogLeNet`` (same layers, parameters and state-dict keys)
    whose ``forward`` returns a list ``[out, out1, out2]``, as PaddleClas's GoogLeNet
    does; without aux heads (``aux_logits=False`` or ``num_classes=0``) it returns
    the single tensor, as PaddleClas's single-output networks do."""

    def forward(self, x):
        """Return ``[out, out1, out2]`` (main head, aux head on 4a, aux head on 4d),
        or one tensor when the network has no aux heads."""
        outputs = super().forward(x)
        return list(outputs) if isinstance(outputs, tuple) else outputs


_ARGUMENTS = [name for name in inspect.signature(_GoogLeNet.__init__).parameters
              if name not in ("self", "num_classes")]


def GoogLeNet(pretrained=False, use_ssld=False, class_num=1000, **kwargs):
    """PaddleClas's model-zoo signature for this package's GoogLeNet.

    Args:
        pretrained: False, or the path of a ``.pdparams`` file (with or without the
            suffix) to start from; heads of another class count are left at
            initialisation with a warning (fine-tuning). Nothing is downloaded, so
            True is refused.
        use_ssld: must be False: there are no SSLD-distilled weights for this network.
        class_num: number of classes.
        **kwargs: arguments of ``paddle_googlenet.GoogLeNet`` (``aux_logits``,
            ``dropout``, ``aux_dropout``, ``adaptive_pool``, ``conv_block``).

    Returns a ``GoogLeNetForPaddleClas``, whose ``forward`` returns a list.
    """
    pretrained = pretrained_path(pretrained, "Arch.pretrained")
    if use_ssld:
        raise ConfigError("Arch.use_ssld: there are no SSLD-distilled weights for this "
                          "GoogLeNet; remove use_ssld or set it to False")
    unknown = [k for k in kwargs if k not in _ARGUMENTS]
    if unknown:
        raise ConfigError(f"Arch.{unknown[0]}: GoogLeNet has no such argument; valid: "
                          f"pretrained, use_ssld, class_num, {', '.join(_ARGUMENTS)}")
    model = GoogLeNetForPaddleClas(num_classes=class_num, **kwargs)
    if pretrained:
        load_weights(model, pretrained, heads="reinit")
    return model
