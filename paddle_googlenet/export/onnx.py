"""``inference.onnx``: the exported Paddle program converted by paddle2onnx (the ``onnx``
extra) and kept only if ONNX Runtime agrees with Paddle Inference on a check batch."""

import os

import numpy as np
import paddle

from ..deploy import ONNX_FILE, OnnxModel, PaddleModel
from ..errors import UserError
from .files import MODEL_FILES

__all__ = ["convert_to_onnx", "import_paddle2onnx", "ONNX_OPSET", "ONNX_TOLERANCE"]

ONNX_OPSET = 13
ONNX_TOLERANCE = 1e-4  # max abs difference from Paddle Inference on a check batch


def import_paddle2onnx():
    try:
        import onnxruntime  # noqa: F401
        import paddle2onnx
    except ImportError as err:
        raise UserError(f"--onnx needs paddle2onnx and onnxruntime ({err}); install them "
                        f"with pip install -e \".[onnx]\"") from None
    return paddle2onnx


def convert_to_onnx(model_dir: str, check_shape, input_dtype: str = "float32") -> float:
    """Write ``model_dir/inference.onnx`` from the Paddle model there, run both on a
    random batch of ``check_shape`` (of the model's ``input_dtype``) and return the
    max abs difference; a difference above ``ONNX_TOLERANCE`` removes the file and
    raises."""
    paddle2onnx = import_paddle2onnx()
    # save_file=None returns the model instead of running paddle2onnx's optional
    # optimizers, one of which (polygraphy) pip-installs packages at run time.
    try:
        model = paddle2onnx.export(os.path.join(model_dir, MODEL_FILES[0]),
                                   os.path.join(model_dir, MODEL_FILES[1]), None,
                                   opset_version=ONNX_OPSET, auto_upgrade_opset=True,
                                   enable_onnx_checker=True)
    except Exception as err:  # it logs the cause, then fails on its own unset result
        model = err
    if not isinstance(model, bytes):
        raise UserError(f"paddle2onnx {paddle2onnx.__version__} could not convert the model "
                        f"with Paddle {paddle.__version__}: {model!r} (its log above says why)")
    path = os.path.join(model_dir, ONNX_FILE)
    with open(path, "wb") as f:
        f.write(model)
    rng = np.random.RandomState(0)
    batch = (rng.randint(0, 256, check_shape).astype(np.uint8) if input_dtype == "uint8"
             else rng.rand(*check_shape).astype(np.float32))
    reference = PaddleModel(model_dir, onednn=False, keep_memory=False,
                            input_dtype=input_dtype)(batch)
    difference = float(np.abs(OnnxModel(model_dir, input_dtype=input_dtype)(batch)
                              - reference).max())
    if not difference <= ONNX_TOLERANCE:
        os.remove(path)
        raise UserError(f"the ONNX model differs from the Paddle model by {difference:.3g} "
                        f"(more than {ONNX_TOLERANCE}); it was not kept")
    return difference
