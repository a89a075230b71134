"""The precisions an exported model can run in, one entry each.

An entry says what the precision is called (``tools/infer.py --precision``), which
model files it runs, whether this machine and Paddle build can run it, how Paddle
Inference is set up for it, and how its files are exported. ``tools/infer.py``,
``tools/export_model.py`` (its flag, options and result line), ``export_inference_model``,
the benchmark and the option table in docs/deployment.md all follow ``PRECISIONS``, so
a new precision is a new entry here (and a line in its test).

This module imports no Paddle: an entry's exporter imports what it needs when it runs.
"""

import os
from typing import Any, Dict, NamedTuple, Optional, Tuple

from ..errors import DeployError
from ..hardware import BF16_FLAGS, bf16_supported

__all__ = ["Precision", "ExportOption", "PRECISIONS", "PROGRAM_FILES", "PARAMS_FILE",
           "precision_named", "INT8_CALIBRATION_IMAGES", "INT8_MIN_AGREEMENT"]

# Paddle 3 with PIR writes .json; Paddle 2 (and Paddle 3 with PIR off) wrote .pdmodel.
PROGRAM_FILES = ("inference.json", "inference.pdmodel")
PARAMS_FILE = "inference.pdiparams"
INT8_CALIBRATION_IMAGES = 128
INT8_MIN_AGREEMENT = 0.99  # top-1 agreement with float32 that int8 must keep


class ExportOption(NamedTuple):
    """An option of a precision's export: ``tools/export_model.py --<name>`` and the
    key of ``export_inference_model``'s ``options``."""
    name: str
    type: type
    default: Any
    help: str


class Precision:
    """A deployment precision; subclasses override what differs from float32.

    Attributes:
        name: the ``--precision`` value.
        summary: what it is and needs, for ``--help`` and the docs.
        files: ``(program, params)`` it runs, or None for the float32 model.
        export_flag: the ``tools/export_model.py`` option that writes ``files`` (None
            when nothing needs exporting); ``export_help`` describes it.
        export_options: the ``ExportOption``s its export takes.
        onednn: runs through oneDNN on the CPU only (not on a GPU, not with oneDNN off).
        onnx: ONNX Runtime can run it (``inference.onnx`` is float32).
    """

    name = "fp32"
    summary = "float32, the exported model as it is (CPU or GPU)"
    files: Optional[Tuple[str, str]] = None
    export_flag: Optional[str] = None
    export_help = ""
    export_options: Tuple[ExportOption, ...] = ()
    onednn = False
    onnx = True

    def unsupported(self) -> Optional[str]:
        """Why this machine or Paddle build cannot run it, or None when it can."""
        return None

    def configure(self, config) -> None:
        """Set up a ``paddle.inference.Config`` on the CPU with oneDNN enabled."""

    def check_export(self, config: dict, options: Dict[str, Any]) -> None:
        """Raise a UserError if ``config`` and ``options`` (one value per
        ``export_options`` name) cannot export it; runs before anything is written."""

    def export(self, config: dict, weights: str, model_dir: str,
               options: Dict[str, Any]) -> dict:
        """Write its ``files`` into ``model_dir`` (the export being written, which holds
        the float32 model) and return what ``inference.yml`` records under its name."""
        raise NotImplementedError(f"{self.name} has no files of its own to export")

    def export_line(self, record: dict) -> str:
        """The line ``tools/export_model.py`` prints about ``record`` (what ``export``
        returned)."""
        return f"{self.name}: {record}"

    def model_files(self, model_dir: str) -> Tuple[str, str]:
        """``(program, params)`` paths in ``model_dir``; DeployError if they are missing."""
        if self.files is not None:
            program, params = (os.path.join(model_dir, name) for name in self.files)
            if not (os.path.isfile(program) and os.path.isfile(params)):
                raise DeployError(f"{model_dir} holds no {self.name} model "
                                  f"({' and '.join(self.files)}): export it with "
                                  f"tools/export_model.py {self.export_flag}, or use "
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
    export_flag = "--int8"
    export_help = ("also write an int8 model (tools/infer.py --precision int8), calibrated on "
                   "DataLoader.Train images and kept only if its top-1 agrees with fp32 on "
                   "DataLoader.Eval")
    export_options = (
        ExportOption("calibration_images", int, INT8_CALIBRATION_IMAGES,
                     "training images that set int8's activation ranges"),
        ExportOption("int8_min_agreement", float, INT8_MIN_AGREEMENT,
                     "top-1 agreement with fp32 that int8 must keep"),
    )
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

    def check_export(self, config, options):
        from ..export import check_int8_request

        check_int8_request(config, options["calibration_images"], options["int8_min_agreement"])

    def export(self, config, weights, model_dir, options):
        from ..export import quantize_to_int8

        return quantize_to_int8(config, weights, model_dir, options["calibration_images"],
                                options["int8_min_agreement"])

    def export_line(self, record):
        return (f"int8 (calibrated on {record['calibration_images']} training images) agrees "
                f"with fp32 on the top-1 class of {record['top1_agreement']:.2%} of "
                f"{record['check_images']} eval images; run it with tools/infer.py "
                f"--precision int8")


PRECISIONS: Dict[str, Precision] = {p.name: p for p in (Precision(), BFloat16(), Int8())}


def precision_named(name: str) -> Precision:
    if name not in PRECISIONS:
        raise DeployError(f"precision must be one of {list(PRECISIONS)}, got {name!r}")
    return PRECISIONS[name]
