"""The precisions an exported model can run in, one entry each.

An entry says what the precision is called (``tools/infer.py --precision``), which
model files it runs, whether this machine and Paddle build can run it and how Paddle
Inference is set up for it: facts of the runtime only. How a precision's own files are
written is the export side's (``export.exporters.EXPORTERS``, keyed by the same name),
which imports this module and never the reverse. ``tools/infer.py``, the benchmark and
the option table in docs/deployment.md follow ``PRECISIONS``.

This module imports no Paddle but where an entry checks its support.
"""

import os
from typing import Dict, Optional, Tuple

from ..errors import DeployError
from ..hardware import BF16_FLAGS, bf16_supported

__all__ = ["Precision", "PRECISIONS", "PROGRAM_FILES", "PARAMS_FILE", "precision_named"]

# Paddle 3 with PIR writes .json; Paddle 2 (and Paddle 3 with PIR off) wrote .pdmodel.
PROGRAM_FILES = ("inference.json", "inference.pdmodel")
PARAMS_FILE = "inference.pdiparams"


class Precision:
    """A deployment precision; subclasses override what differs from float32.

    Attributes:
        name: the ``--precision`` value.
        summary: what it is and needs, for ``--help`` and the docs.
        files: ``(program, params)`` it runs, or None for the float32 model; the
            export writes them with ``tools/export_model.py --<name>``.
        onednn: runs through oneDNN on the CPU only (not on a GPU, not with oneDNN off).
        onnx: ONNX Runtime can run it (``inference.onnx`` is float32).
    """

    name = "fp32"
    summary = "float32, the exported model as it is (CPU or GPU)"
    files: Optional[Tuple[str, str]] = None
    onednn = False
    onnx = True

    def unsupported(self) -> Optional[str]:
        """Why this machine or Paddle build cannot run it, or None when it can."""
        return None

    def configure(self, config) -> None:
        """Set up a ``paddle.inference.Config`` on the CPU with oneDNN enabled."""

    def model_files(self, model_dir: str) -> Tuple[str, str]:
        """``(program, params)`` paths in ``model_dir``; DeployError if they are missing."""
        if self.files is not None:
            program, params = (os.path.join(model_dir, name) for name in self.files)
            if not (os.path.isfile(program) and os.path.isfile(params)):
                raise DeployError(f"{model_dir} holds no {self.name} model "
                                  f"({' and '.join(self.files)}): export it with "
                                  f"tools/export_model.py --{self.name}, or use "
                                  f"--precision fp32")
            return program, params
        params = os.path.join(model_dir, PARAMS_FILE)
        for name in PROGRAM_FILES:
            program = os.path.join(model_dir, name)
            if os.path.isfile(program) and os.path.isfile(params):
                return program, params
        raise DeployError(f"{model_dir} holds no Paddle inference model: expected "
                          f"{' or '.join(PROGRAM_FILES)} together with {PARAMS_FILE}")


class BFloat16(Precision):
    name = "bf16"
    summary = ("bfloat16 through oneDNN, on processors with AVX512-BF16 or AMX (converts "
               "the float32 model)")
    onednn = True
    onnx = False

    def unsupported(self) -> Optional[str]:
        if bf16_supported():
            return None
        return (f"bf16 needs a processor with {' or '.join(BF16_FLAGS)}; this one has "
                f"neither, use fp32")

    def configure(self, config) -> None:
        config.enable_onednn_bfloat16()


class Int8(Precision):
    name = "int8"
    summary = "int8 through oneDNN (AVX2 or newer): the model of tools/export_model.py --int8"
    files = ("inference_int8.pdmodel", "inference_int8.pdiparams")
    onednn = True
    onnx = False

    def unsupported(self) -> Optional[str]:
        import paddle

        if paddle.base.core.supports_int8():
            return None
        return "int8 needs a processor where oneDNN has int8 kernels (AVX2 or newer); use fp32"

    def configure(self, config) -> None:
        config.enable_onednn_int8()
        # the PIR oneDNN passes of Paddle 3.3 reject a quantized program
        config.enable_new_ir(False)


PRECISIONS: Dict[str, Precision] = {p.name: p for p in (Precision(), BFloat16(), Int8())}


def precision_named(name: str) -> Precision:
    if name not in PRECISIONS:
        raise DeployError(f"precision must be one of {list(PRECISIONS)}, got {name!r}")
    return PRECISIONS[name]
