"""Faster CPU paths for training and inference that give the plain path's numbers.

What each path gains, the machine it was measured on and the candidates that did not
help are in docs/benchmarks.md. Each path here is checked against the plain one by
tests/test_fast_paths.py.

- ``use_mkl_avx2_on_amd()``: Paddle's CPU wheel bundles MKL 2019.0.5, which runs its
  generic (pre-AVX) kernels on any processor that is not Intel's. Every convolution
  (im2col + GEMM) and matmul goes through it, so on AMD training is much faster once
  MKL is told to use its AVX2 kernels (``MKL_DEBUG_CPU_TYPE=5``, which this MKL
  honours). Must run before the process's first MKL call.
- ``use_fast_conv_bias(network)``: Paddle adds a convolution's bias with a generic
  broadcasting add and reduces its gradient over three axes, a large share of a
  GoogLeNet step once the convolutions are fast. The same addition done as a rank-1
  GEMM update, and its gradient as a matmul with a vector of ones, take a fraction of
  that time; the parameters, their names and the forward values are unchanged.
- ``keep_freed_memory()`` (from ``hardware``): glibc hands the large blocks of a
  step's activations back to the system when Paddle frees them, and the next step
  page-faults them in again; keeping them in the heap saves that time.
- Data-parallel processes: the CPU kernels that are not GEMMs use one core, so two
  processes with one thread each beat one process with two threads. Launch with
  ``python -m paddle.distributed.launch --nproc_per_node N tools/train.py ...`` and
  give each process ``batch / N`` images; gradients are averaged across processes.
"""

import os
from typing import Optional

import paddle
from paddle import nn
from paddle.autograd import PyLayer

from ..hardware import keep_freed_memory, processor

__all__ = ["cpu_features", "mkl_version", "mkl_avx2_applies", "use_mkl_avx2_on_amd",
           "use_fast_conv_bias", "keep_freed_memory", "FAST_CONV_BIAS_ATTR", "MKL_CPU_TYPE_VAR"]

MKL_CPU_TYPE_VAR = "MKL_DEBUG_CPU_TYPE"
_MKL_AVX2 = "5"  # MKL's code for its AVX2 kernels

FAST_CONV_BIAS_ATTR = "_fast_conv_bias"


def cpu_features() -> dict:
    """The processor and what Paddle can do on it.

    Returns ``{"vendor", "model", "cores", "flags": {flag: bool}, "bf16", "int8",
    "vnni"}``: ``bf16`` is bfloat16 hardware (AVX-512 BF16 or AMX, what the inference
    bf16 precision needs), ``int8`` and ``vnni`` are Paddle's own checks for its
    oneDNN int8 kernels and their VNNI instructions.
    """
    core = paddle.base.core

    def paddle_says(name: str) -> bool:
        check = getattr(core, name, None)
        return bool(check()) if check else False

    return dict(processor(), int8=paddle_says("supports_int8"),
                vnni=paddle_says("supports_vnni"))


def mkl_version() -> Optional[str]:
    """The version string of the MKL bundled with Paddle, or None if there is none."""
    import ctypes
    path = os.path.join(os.path.dirname(paddle.__file__), "libs", "libmklml_intel.so")
    try:
        lib = ctypes.CDLL(path)
        buffer = ctypes.create_string_buffer(256)
        lib.MKL_Get_Version_String(buffer, len(buffer))
    except (OSError, AttributeError):
        return None
    return buffer.value.decode(errors="replace").strip()


def mkl_avx2_applies(features: Optional[dict] = None) -> bool:
    """Whether ``use_mkl_avx2_on_amd`` changes anything here: a processor that is not
    Intel's, with AVX2 and FMA, and Paddle built with MKL."""
    features = features or cpu_features()
    return (features["vendor"] != "GenuineIntel" and features["flags"]["avx2"]
            and features["flags"]["fma"] and mkl_version() is not None)


def use_mkl_avx2_on_amd(features: Optional[dict] = None) -> bool:
    """Make MKL use its AVX2 kernels on a non-Intel processor that has AVX2 and FMA.

    Call before the process's first matmul or convolution (importing paddle is fine):
    MKL reads the setting once. A value the user set is kept. On Intel processors
    nothing changes, since MKL already picks its best kernels there (forcing AVX2
    would slow an AVX-512 machine down). Returns whether the AVX2 setting is in force.
    """
    if not mkl_avx2_applies(features):
        return False
    os.environ.setdefault(MKL_CPU_TYPE_VAR, _MKL_AVX2)
    return os.environ[MKL_CPU_TYPE_VAR] == _MKL_AVX2


class _ConvBiasAdd(PyLayer):
    """``conv_out + bias`` over channels of an NCHW tensor, with GEMM-based kernels.

    Forward: ``addmm(conv_out, bias_per_row, ones)`` is a rank-1 GEMM update, which
    MKL does in one multithreaded pass with the same rounding as a plain addition
    (each element gets ``bias * 1.0`` added once). Backward: the input gradient
    passes through; the bias gradient sums the output gradient over N, H and W as a
    matrix-vector product with ones instead of a three-axis reduction.
    """

    @staticmethod
    def forward(ctx, conv_out, bias):
        # Paddle wants None, not a gradient, for an input that is not trained.
        ctx.needs_grad = (not conv_out.stop_gradient, not bias.stop_gradient)
        n, c, h, w = conv_out.shape
        bias_per_row = bias.reshape([1, c]).expand([n, c]).reshape([n * c, 1])
        ones = paddle.ones([1, h * w], dtype=conv_out.dtype)
        out = paddle.addmm(conv_out.reshape([n * c, h * w]), bias_per_row, ones)
        return out.reshape([n, c, h, w])

    @staticmethod
    def backward(ctx, grad):
        conv_out_needs_grad, bias_needs_grad = ctx.needs_grad
        bias_grad = None
        if bias_needs_grad:
            n, c, h, w = grad.shape
            ones = paddle.ones([h * w, 1], dtype=grad.dtype)
            bias_grad = paddle.matmul(grad.reshape([n * c, h * w]), ones).reshape([n, c])
            bias_grad = bias_grad.sum(axis=0)
        return (grad if conv_out_needs_grad else None), bias_grad


def _fast_conv_forward(conv: nn.Conv2D, x):
    out = nn.functional.conv2d(x, conv.weight, None, stride=conv._stride,
                               padding=conv._padding, dilation=conv._dilation,
                               groups=conv._groups, data_format=conv._data_format)
    return _ConvBiasAdd.apply(out, conv.bias)


def use_fast_conv_bias(network: nn.Layer) -> int:
    """Give every biased NCHW ``Conv2D`` of ``network`` the GEMM-based bias addition.

    Only the layers' ``forward`` changes: the parameters, their names, the layer
    classes (so ``paddle.summary``) and the outputs stay as they were; the bias
    gradients differ from the plain path by float rounding only. Returns the number
    of layers changed; calling it again changes nothing.
    """
    changed = 0
    for layer in network.sublayers(include_self=True):
        if (isinstance(layer, nn.Conv2D) and layer.bias is not None
                and layer._data_format == "NCHW" and layer._padding_mode == "zeros"
                and not getattr(layer, FAST_CONV_BIAS_ATTR, False)):
            layer.forward = _bound_forward(layer)
            object.__setattr__(layer, FAST_CONV_BIAS_ATTR, True)
            changed += 1
    return changed


def _bound_forward(conv: nn.Conv2D):
    def forward(x):
        return _fast_conv_forward(conv, x)
    return forward
