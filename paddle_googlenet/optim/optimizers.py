"""Optimizers of PaddleClas's ``Optimizer`` section, with its defaults.

Each takes the built learning rate, the network's parameters as ``(structured name,
parameter)`` pairs (names like ``inception_3a.conv1.bias``, which
``no_weight_decay_name`` matches), and ``regularizer``: None or a checked
``(name, coeff)`` pair. The keys common to several mean what PaddleClas makes of them:

- ``regularizer: {name: L2, coeff: c}`` or ``weight_decay: c``: the decay; when both
  are given the regularizer wins (with a warning), as in PaddleClas.
- ``no_weight_decay_name``: space-separated substrings; a parameter whose name holds
  one is not decayed. ``one_dim_param_no_weight_decay``: nor is any 1-D parameter
  (biases, norm scales). PaddleClas's Momentum honours the latter only together with
  the former; that is kept, with a warning.
- ``clip_norm``: each gradient tensor is scaled down to at most this L2 norm
  (PaddleClas uses Paddle's ClipGradByNorm, per tensor, not the global norm).
- ``clip_grad``: PaddleClas's AdamW accepts and ignores it; so does this one, with a
  warning.
- ``multi_precision``: keep float32 master weights of float16 parameters (AMP O2 on
  a GPU); passed on to Paddle, with a warning on the CPU, where it does nothing.
"""

import warnings
from typing import Optional

import paddle

__all__ = ["OPTIMIZERS", "REGULARIZERS"]

from ..registry import Registry

OPTIMIZERS = Registry("optimizer")
REGULARIZERS = {"L2": paddle.regularizer.L2Decay, "L1": paddle.regularizer.L1Decay}


def _decay(regularizer, weight_decay):
    """The decay coupled to the gradient: a Paddle regularizer, or None."""
    if regularizer is not None:
        if weight_decay is not None:
            warnings.warn("Optimizer: both regularizer and weight_decay are set; "
                          "weight_decay is ignored, as in PaddleClas")
        name, coeff = regularizer
        return REGULARIZERS[name](coeff)
    return None if weight_decay is None else paddle.regularizer.L2Decay(float(weight_decay))


def _clip(clip_norm):
    return None if clip_norm is None else paddle.nn.ClipGradByNorm(clip_norm=float(clip_norm))


def _check_multi_precision(given: Optional[bool]):
    if given and paddle.device.get_device() == "cpu":
        warnings.warn("Optimizer.multi_precision: float32 master weights matter only for "
                      "float16 parameters (AMP O2 on a GPU); on the CPU training is float32 "
                      "and this setting has no effect")


def _no_decay_names(no_weight_decay_name: Optional[str]):
    return no_weight_decay_name.split() if no_weight_decay_name else []


def _undecayed(named, substrings, one_dim: bool):
    """Whether each parameter is exempt from decay, PaddleClas's rule."""
    exempt = []
    for name, param in named:
        if substrings and name is None:
            raise ValueError("no_weight_decay_name needs the parameters' structured "
                             "names: pass layer.named_parameters()")
        exempt.append(any(s in name for s in substrings)
                      or (one_dim and len(param.shape) == 1))
    return exempt


def _decay_groups(named, decay, substrings, one_dim: bool):
    """Parameters in two groups, decayed and not; a plain list when none is exempt."""
    exempt = _undecayed(named, substrings, one_dim)
    decayed = [p for (_, p), e in zip(named, exempt) if not e]
    undecayed = [p for (_, p), e in zip(named, exempt) if e]
    if not undecayed:
        return decayed
    groups = [{"params": undecayed, "weight_decay": 0.0}]
    if decayed:
        groups.insert(0, {"params": decayed, "weight_decay": decay})
    return groups


@OPTIMIZERS.register
def Momentum(learning_rate, parameters, regularizer, momentum: float = 0.9,
             weight_decay: Optional[float] = None, use_nesterov: bool = False,
             multi_precision: Optional[bool] = None, no_weight_decay_name: Optional[str] = None,
             one_dim_param_no_weight_decay: bool = False, clip_norm: Optional[float] = None):
    _check_multi_precision(multi_precision)
    decay = _decay(regularizer, weight_decay)
    substrings = _no_decay_names(no_weight_decay_name)
    if substrings:
        params = _decay_groups(parameters, decay, substrings, one_dim_param_no_weight_decay)
    else:
        if one_dim_param_no_weight_decay:
            warnings.warn("Optimizer.one_dim_param_no_weight_decay: PaddleClas's Momentum "
                          "applies it only when no_weight_decay_name is set too; 1-D "
                          "parameters are decayed like the others")
        params = [p for _, p in parameters]
    return paddle.optimizer.Momentum(
        learning_rate, momentum=momentum, parameters=params, use_nesterov=use_nesterov,
        weight_decay=decay, grad_clip=_clip(clip_norm),
        multi_precision=True if multi_precision is None else multi_precision)


@OPTIMIZERS.register
def SGD(learning_rate, parameters, regularizer, weight_decay: Optional[float] = None,
        multi_precision: bool = False, clip_norm: Optional[float] = None):
    _check_multi_precision(multi_precision)
    return paddle.optimizer.SGD(learning_rate, parameters=[p for _, p in parameters],
                                weight_decay=_decay(regularizer, weight_decay),
                                grad_clip=_clip(clip_norm), multi_precision=multi_precision)


@OPTIMIZERS.register
def Adam(learning_rate, parameters, regularizer, beta1: float = 0.9, beta2: float = 0.999,
         epsilon: float = 1e-8, weight_decay: Optional[float] = None, lazy_mode: bool = False,
         multi_precision: bool = False, clip_norm: Optional[float] = None):
    _check_multi_precision(multi_precision)
    return paddle.optimizer.Adam(learning_rate, beta1=beta1, beta2=beta2, epsilon=epsilon,
                                 parameters=[p for _, p in parameters],
                                 weight_decay=_decay(regularizer, weight_decay),
                                 grad_clip=_clip(clip_norm), lazy_mode=lazy_mode,
                                 multi_precision=multi_precision)


@OPTIMIZERS.register
def RMSProp(learning_rate, parameters, regularizer, momentum: float = 0.0, rho: float = 0.95,
            epsilon: float = 1e-6, weight_decay: Optional[float] = None,
            multi_precision: bool = False, no_weight_decay_name: Optional[str] = None,
            one_dim_param_no_weight_decay: bool = False, clip_norm: Optional[float] = None):
    """PaddleClas accepts multi_precision here but does not pass it on: nor does this."""
    _check_multi_precision(multi_precision)
    decay = _decay(regularizer, weight_decay)
    params = _decay_groups(parameters, decay, _no_decay_names(no_weight_decay_name),
                           one_dim_param_no_weight_decay)
    return paddle.optimizer.RMSProp(learning_rate, rho=rho, epsilon=epsilon, momentum=momentum,
                                    parameters=params, weight_decay=decay,
                                    grad_clip=_clip(clip_norm))


@OPTIMIZERS.register
def AdamW(learning_rate, parameters, regularizer, beta1: float = 0.9, beta2: float = 0.999,
          epsilon: float = 1e-8, weight_decay: Optional[float] = None,
          multi_precision: bool = False, no_weight_decay_name: Optional[str] = None,
          one_dim_param_no_weight_decay: bool = False, clip_norm: Optional[float] = None,
          clip_grad: Optional[float] = None):
    """Decoupled decay: a coefficient, from ``weight_decay`` or an L2 ``regularizer``
    (Paddle's default 0.01 when neither is given)."""
    _check_multi_precision(multi_precision)
    if clip_grad is not None:
        warnings.warn(f"Optimizer.clip_grad ({clip_grad}): PaddleClas's AdamW ignores this "
                      f"key and so does this one; clip_norm clips gradients")
    if regularizer is not None:
        if regularizer[0] != "L2":
            raise ValueError("AdamW's decoupled decay is L2 only")
        if weight_decay is not None:
            warnings.warn("Optimizer: both regularizer and weight_decay are set; "
                          "weight_decay is ignored, as in PaddleClas")
        weight_decay = regularizer[1]
    exempt = _undecayed(parameters, _no_decay_names(no_weight_decay_name),
                        one_dim_param_no_weight_decay)
    # Paddle asks by the parameters' unique tensor names.
    undecayed = {p.name for (_, p), e in zip(parameters, exempt) if e}
    return paddle.optimizer.AdamW(
        learning_rate, beta1=beta1, beta2=beta2, epsilon=epsilon,
        parameters=[p for _, p in parameters],
        weight_decay=0.01 if weight_decay is None else weight_decay,
        apply_decay_param_fun=(lambda name: name not in undecayed) if undecayed else None,
        grad_clip=_clip(clip_norm), multi_precision=multi_precision)
