"""Classify images with an exported GoogLeNet through Paddle Inference or ONNX Runtime.

``tools/infer.py`` (``cli/infer.py``) is the command-line form:

    python tools/infer.py --model_dir inference/ --image photo.jpg photos/ "more/*.png"

The model directory is what ``tools/export_model.py`` writes: the program
(``inference.json``, or the legacy ``inference.pdmodel`` of Paddle 2 and of
non-PIR exports) with ``inference.pdiparams``; optionally ``inference.onnx`` and
the int8 ``inference_int8.pdmodel`` + ``.pdiparams``; and ``inference.yml``, which
holds the preprocessing, top-k and class names. Nothing else is read: this module
needs numpy, OpenCV, PIL and the runtime (paddle or onnxruntime) and never imports the
training code.

``--backend paddle`` is the default (``DEFAULT_BACKEND`` says what was measured).

On the CPU, Paddle Inference runs with oneDNN and one thread per core unless told
otherwise. ``--precision`` picks one of ``precisions.PRECISIONS`` (bf16 uses
oneDNN's bfloat16 kernels where the processor has them; int8 runs the int8 model of
``tools/export_model.py --int8``, faster than fp32 on an AVX2 CPU; docs/benchmarks.md). On a
GPU build, ``--device gpu`` and ``--use_tensorrt`` pass through to Paddle
Inference's GPU and TensorRT options.
"""

import contextlib
import json
import os
import sys
import tempfile
from typing import Callable, Dict, Iterator, Optional, Sequence

import numpy as np

from ..errors import DeployError, ImageError
from ..hardware import keep_freed_memory, usable_cores
from ..validators import is_int
from .precisions import precision_named
from .preprocess import Preprocess

__all__ = ["DEPLOY_CONFIG", "ONNX_FILE", "BACKENDS", "DEFAULT_BACKEND", "read_deploy_config",
           "paddle_model_files", "native_stderr_held_back", "PaddleModel", "OnnxModel",
           "ImageClassifier", "classify_files", "format_result"]

DEPLOY_CONFIG = "inference.yml"
ONNX_FILE = "inference.onnx"
BACKENDS = ("paddle", "onnxruntime")
# Paddle Inference with oneDNN is the default: it is as fast as ONNX Runtime or faster
# at this tool's default batch of 8 (docs/benchmarks.md) and needs no extra package.
DEFAULT_BACKEND = "paddle"


def _check_dir(model_dir: str):
    if not os.path.isdir(model_dir):
        raise DeployError(f"model directory not found: {model_dir} (give the "
                          f"Global.save_inference_dir that tools/export_model.py wrote)")


def read_deploy_config(model_dir: str) -> dict:
    """``inference.yml`` of a model directory, checked for what deployment uses."""
    _check_dir(model_dir)
    path = os.path.join(model_dir, DEPLOY_CONFIG)
    if not os.path.isfile(path):
        raise DeployError(f"{path} not found: a model directory needs the {DEPLOY_CONFIG} "
                          f"that tools/export_model.py writes beside the model")
    with open(path, encoding="utf-8") as f:
        text = f.read()
    try:
        config = json.loads(text)  # what export writes: JSON, which is also YAML
    except ValueError:
        try:
            import yaml  # a hand-edited file may be YAML proper
        except ImportError:
            raise DeployError(f"{path} is not JSON; install pyyaml to read it as YAML") from None
        try:
            config = yaml.safe_load(text)
        except yaml.YAMLError as err:
            raise DeployError(f"{path} is neither JSON nor valid YAML: {err}") from None
    if isinstance(config, dict) and "PreProcess" in config and "transforms" not in config:
        config = _from_paddleclas(config, path)
    if not isinstance(config, dict) or not isinstance(config.get("transforms"), list):
        raise DeployError(f"{path}: expected a mapping with a 'transforms' list (the Infer "
                          f"transforms), or PaddleClas's PreProcess and PostProcess, got "
                          f"{type(config).__name__}")
    topk = config.get("topk", 5)
    if not is_int(topk) or topk < 1:
        raise DeployError(f"{path}: topk must be a positive integer, got {topk!r}")
    names = config.get("class_names") or {}
    if not isinstance(names, dict):
        raise DeployError(f"{path}: class_names must map class ids to names, got {names!r}")
    if config.setdefault("input_dtype", "float32") not in INPUT_DTYPES:
        raise DeployError(f"{path}: input_dtype must be one of {list(INPUT_DTYPES)}, got "
                          f"{config['input_dtype']!r}")
    return config


def _from_paddleclas(config: dict, path: str) -> dict:
    """The deployment config that PaddleClas's own ``tools/export_model.py`` writes with
    ``-o Global.export_for_fd=True``, in this module's form.

    PaddleClas lists ``PreProcess.transform_ops`` without the decoding (its predictor
    decodes to RGB, HWC, first) and ``PostProcess.Topk`` with ``topk`` and the class
    names as ``label_list``; its exported model ends in a softmax.
    """
    ops = config["PreProcess"].get("transform_ops") if isinstance(
        config["PreProcess"], dict) else None
    if not isinstance(ops, list):
        raise DeployError(f"{path}: PreProcess.transform_ops must be a list of operators "
                          f"(PaddleClas's Infer transforms without DecodeImage)")
    post = config.get("PostProcess")
    topk = post.get("Topk") if isinstance(post, dict) else None
    if not isinstance(topk, dict):
        raise DeployError(f"{path}: PostProcess must hold PaddleClas's Topk (a classifier's "
                          f"export); got {str(post)[:60]!r}")
    labels = topk.get("label_list") or []
    if not isinstance(labels, list) or not all(isinstance(n, str) for n in labels):
        raise DeployError(f"{path}: PostProcess.Topk.label_list must be a list of class names")
    return {"transforms": [{"DecodeImage": {"to_rgb": True, "channel_first": False}}, *ops],
            "topk": topk.get("topk", 5), "class_names": dict(enumerate(labels)),
            "softmax": True}


# What an exported model takes: normalized float32 pixels, or uint8 pixels that it
# normalizes itself (tools/export_model.py --uint8-input).
INPUT_DTYPES = {"float32": np.float32, "uint8": np.uint8}


def paddle_model_files(model_dir: str, precision: str = "fp32") -> (str, str):
    """``(program, params)`` paths of the Paddle model that ``precision`` runs in
    ``model_dir`` (its own files, or the float32 model)."""
    _check_dir(model_dir)
    return precision_named(precision).model_files(model_dir)


@contextlib.contextmanager
def native_stderr_held_back():
    """Hold back what is written to stderr (file descriptor 2, so native code's
    glog lines too), and write it out only if the block fails. Paddle's legacy
    oneDNN passes (the int8 path) print a line per pass there, which
    ``disable_glog_info`` does not reach; ``paddle.jit.save`` warns there about
    every model it saves."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            held.seek(0)
            sys.stderr.write(held.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


class PaddleModel:
    """An exported model under Paddle Inference: ``model(batch) -> outputs``.

    Args:
        device: 'cpu' or 'gpu' (a paddlepaddle-gpu build).
        threads: CPU math threads; default one per core.
        onednn: use oneDNN kernels on the CPU (default on).
        precision: a name in ``precisions.PRECISIONS``: 'fp32'; 'bf16' (CPU with
            oneDNN, on AVX512-BF16 or AMX); 'int8' (CPU with oneDNN, the model that
            ``tools/export_model.py --int8`` wrote).
        keep_memory: on the CPU, let the process reuse the memory it frees rather
            than return it to the system (``hardware.keep_freed_memory``: faster at
            large batches, see docs/benchmarks.md; resident memory stays at its peak;
            process-wide).
        gpu_id, gpu_memory_mb: GPU to use and its initial memory pool.
        input_dtype: what the model takes, 'float32' or 'uint8' (``inference.yml``'s
            ``input_dtype``).
        tensorrt: run supported subgraphs with TensorRT (GPU only), in
            ``tensorrt_precision`` ('fp32' or 'fp16') for batches up to ``max_batch_size``.
    """

    def __init__(self, model_dir: str, device: str = "cpu", threads: Optional[int] = None,
                 onednn: bool = True, precision: str = "fp32", keep_memory: bool = True,
                 gpu_id: int = 0, gpu_memory_mb: int = 500, tensorrt: bool = False,
                 tensorrt_precision: str = "fp32", max_batch_size: int = 32,
                 input_dtype: str = "float32"):
        import paddle
        import paddle.inference as paddle_infer

        self.input_dtype = INPUT_DTYPES[input_dtype]
        chosen = precision_named(precision)
        program, params = paddle_model_files(model_dir, precision)
        config = paddle_infer.Config(program, params)
        if device == "gpu":
            if chosen.onednn:
                raise DeployError(f"{precision} runs on the CPU with oneDNN; on a GPU use "
                                  f"--precision fp32 (with --use_tensorrt "
                                  f"--tensorrt_precision fp16 for half precision)")
            if not paddle.is_compiled_with_cuda():
                raise DeployError("--device gpu needs a CUDA build of Paddle (paddlepaddle-gpu); "
                                  "this one is CPU-only, use --device cpu")
            config.enable_use_gpu(gpu_memory_mb, gpu_id)
            if tensorrt:
                modes = {"fp32": paddle_infer.PrecisionType.Float32,
                         "fp16": paddle_infer.PrecisionType.Half}
                if tensorrt_precision not in modes:
                    raise DeployError(f"tensorrt precision must be one of {list(modes)}, "
                                      f"got {tensorrt_precision!r}")
                config.enable_tensorrt_engine(workspace_size=1 << 30,
                                              max_batch_size=max_batch_size,
                                              min_subgraph_size=3,
                                              precision_mode=modes[tensorrt_precision],
                                              use_static=False, use_calib_mode=False)
        elif device == "cpu":
            if tensorrt:
                raise DeployError("TensorRT runs on a GPU only: add --device gpu")
            config.disable_gpu()
            config.set_cpu_math_library_num_threads(threads or usable_cores())
            if chosen.onednn and not onednn:
                raise DeployError(f"{precision} runs through oneDNN: do not turn oneDNN off")
            if onednn:
                config.enable_onednn()
                # oneDNN caches kernels per input shape; bound it for varying batch sizes
                config.set_onednn_cache_capacity(10)
                why_not = chosen.unsupported()
                if why_not:
                    raise DeployError(why_not)
                chosen.configure(config)
            else:
                config.disable_onednn()
        else:
            raise DeployError(f"device must be 'cpu' or 'gpu', got {device!r}")
        config.disable_glog_info()
        if device == "cpu" and keep_memory:  # once every option is known to be valid
            keep_freed_memory()
        with native_stderr_held_back():
            self.predictor = paddle_infer.create_predictor(config)
        self.input = self.predictor.get_input_handle(self.predictor.get_input_names()[0])
        self.output_name = self.predictor.get_output_names()[0]

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        self.input.reshape(batch.shape)
        self.input.copy_from_cpu(np.ascontiguousarray(batch, dtype=self.input_dtype))
        self.predictor.run()
        return self.predictor.get_output_handle(self.output_name).copy_to_cpu()


class OnnxModel:
    """``inference.onnx`` (``tools/export_model.py --onnx``) under ONNX Runtime's CPU
    provider: ``model(batch) -> outputs``."""

    def __init__(self, model_dir: str, threads: Optional[int] = None,
                 input_dtype: str = "float32"):
        self.input_dtype = INPUT_DTYPES[input_dtype]
        path = os.path.join(model_dir, ONNX_FILE)
        if not os.path.isfile(path):
            raise DeployError(f"{path} not found: export with tools/export_model.py --onnx")
        try:
            import onnxruntime
        except ImportError:
            raise DeployError("the onnxruntime backend needs onnxruntime "
                              "(pip install onnxruntime)") from None
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads or usable_cores()
        options.log_severity_level = 3  # errors only: unused-initializer notices are noise
        self.session = onnxruntime.InferenceSession(path, options,
                                                    providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self.input_name: batch.astype(self.input_dtype)})[0]


def classify_files(paths: Sequence[str], prepare: Callable[[str], np.ndarray],
                   probabilities: Callable[[np.ndarray], np.ndarray], batch_size: int,
                   topk: int, class_names: Dict[int, str], progress=None) -> Iterator[dict]:
    """Yield per file ``{"file", "topk": [{"class_id", "label", "score"}]}``, or
    ``{"file", "error"}`` when ``prepare`` raises ``ImageError``; the others go on.
    ``progress`` (a ``progress.Progress``) is told of every batch."""
    for start in range(0, len(paths), batch_size):
        batch, ready, errors = paths[start:start + batch_size], [], {}
        for path in batch:
            try:
                ready.append((path, prepare(path)))
            except ImageError as err:
                errors[path] = str(err)
        scores = {}
        if ready:
            probs = probabilities(np.stack([array for _, array in ready]))
            scores = {path: p for (path, _), p in zip(ready, probs)}
        if progress is not None:
            progress.update(len(batch))
        for path in batch:
            if path in errors:
                yield {"file": path, "error": errors[path]}
                continue
            order = np.argsort(-scores[path], kind="stable")[:topk]
            yield {"file": path, "topk": [
                {"class_id": int(c), "label": class_names.get(int(c), str(c)),
                 "score": float(scores[path][c])} for c in order]}


def format_result(result: dict, as_json: bool = False) -> str:
    """One line per image: ``file: label (id) score  ...``, or JSON."""
    if as_json:
        return json.dumps(result)
    if "error" in result:
        return f"{result['file']}: error: {result['error']}"
    return f"{result['file']}: " + "  ".join(
        f"{t['label']} ({t['class_id']}) {t['score']:.4f}" for t in result["topk"])


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


class ImageClassifier:
    """Preprocessing from ``inference.yml``, the model, and top-k with class names.

    ``backend`` is 'paddle' (``PaddleModel``, whose options ``model_options`` passes
    on) or 'onnxruntime' (``OnnxModel``).
    """

    def __init__(self, model_dir: str, backend: str = "paddle", topk: Optional[int] = None,
                 **model_options):
        config = read_deploy_config(model_dir)
        where = os.path.join(model_dir, DEPLOY_CONFIG)
        uint8_input = config["input_dtype"] == "uint8"
        self.preprocess = Preprocess(config["transforms"], where=f"{where}: transforms",
                                     uint8_input=uint8_input)
        self.class_names = {int(k): v for k, v in config.get("class_names", {}).items()}
        self.topk = topk or config.get("topk", 5)
        self.softmax_in_model = bool(config.get("softmax", True))
        if backend == "paddle":
            self.model = PaddleModel(model_dir, input_dtype=config["input_dtype"],
                                     **model_options)
        elif backend == "onnxruntime":
            self.model = OnnxModel(model_dir, threads=model_options.get("threads"),
                                   input_dtype=config["input_dtype"])
        else:
            raise DeployError(f"backend must be 'paddle' or 'onnxruntime', got {backend!r}")

    def probabilities(self, batch: np.ndarray) -> np.ndarray:
        out = self.model(batch)
        return out if self.softmax_in_model else _softmax(out)

    def classify(self, paths: Sequence[str], batch_size: int = 8,
                 progress=None) -> Iterator[dict]:
        """Stream the results of ``paths``: a generator that yields each image's
        ``{"file", "topk": [{"class_id", "label", "score"}]}`` (or ``{"file", "error"}``)
        as its batch of ``batch_size`` finishes; ``list()`` it to keep them all."""
        topk = min(self.topk, len(self.class_names) or self.topk)
        return classify_files(paths, self.preprocess.read, self.probabilities, batch_size,
                              topk, self.class_names, progress)
