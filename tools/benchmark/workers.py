"""The code each child process of the benchmark runs.

Run as ``python workers.py JOB.json`` (or under ``paddle.distributed.launch``): the
job file names the worker (``kind``) and its arguments, and the result is written
as JSON to ``<job["result"]>.<rank>``. Process-wide settings (CPU threads, MKL's
kernels, keeping freed memory) are applied before the worker runs, which is why
every figure that depends on them comes from a fresh process.

This file imports the standard library, NumPy, the installed ``paddle_googlenet``
(and Paddle), and for the data and multi-crop jobs the benchmark's ``data_pipeline``
and ``multicrop``.
"""

import json
import os
import resource
import statistics
import sys
import time
from typing import Callable, Dict, List, Sequence

import numpy as np

if __name__ == "__main__" and not __package__:
    # Started as a file (by the harness, or under paddle.distributed.launch): it is
    # still tools.benchmark.workers, so that it imports the benchmark's modules as the
    # others do, relatively.
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__)))))
    __package__ = "tools.benchmark"

TRAIN_LR = 0.001  # small enough that float rounding does not grow chaotically


def _rank() -> int:
    return int(os.environ.get("PADDLE_TRAINER_ID", "0"))


def _matmul_gflops(n: int, repeats: int) -> Dict[str, float]:
    """Best float32 ``n x n`` matmul GFLOP/s of NumPy's BLAS and of Paddle (MKL)."""
    import paddle

    rng = np.random.RandomState(0)
    a, b = rng.rand(n, n).astype("float32"), rng.rand(n, n).astype("float32")
    ta, tb = paddle.to_tensor(a), paddle.to_tensor(b)

    def best(fn):
        fn()
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        return 2 * n ** 3 / min(times) / 1e9

    return {"numpy": best(lambda: a @ b), "paddle": best(lambda: paddle.matmul(ta, tb).numpy())}


def _fresh_memory_gib_per_s(mib: int) -> float:
    """How fast this process gets and first touches ``mib`` MiB it never had.

    What a training step that returns its memory to the system pays again each
    step. In a virtual machine whose free memory goes back to the host, this moves
    by an order of magnitude from one process to the next.
    """
    start = time.perf_counter()
    block = np.ones(mib * 2 ** 18, dtype=np.float32)
    seconds = time.perf_counter() - start
    del block
    return mib / 1024 / seconds


def matmul_worker(job: dict) -> dict:
    result = _matmul_gflops(job["matmul_size"], job["repeats"])
    return {"matmul_gflops_numpy": result["numpy"], "matmul_gflops_paddle": result["paddle"],
            "fresh_memory_gib_per_s": _fresh_memory_gib_per_s(job["fresh_memory_mib"])}


def macs_worker(job: dict) -> dict:
    """The model's multiply-accumulates per 224x224 image."""
    from paddle_googlenet.models.analysis import count_macs
    from paddle_googlenet.models import build_model

    network = build_model({"name": "GoogLeNet", "class_num": 1000})
    return {"macs_224": count_macs(network, (3, 224, 224))["total"]}


def train_worker(job: dict) -> dict:
    """Time training steps of the plain or fast path on fixed random data."""
    import paddle

    from paddle_googlenet.engine.fast_paths import use_fast_conv_bias
    from paddle_googlenet.losses import build_loss
    from paddle_googlenet.models import build_model
    from paddle_googlenet.optim import build_optimizer
    from paddle_googlenet.engine.runtime import world_size

    world, rank = world_size(), _rank()
    if world > 1:
        paddle.distributed.init_parallel_env()
    paddle.seed(job["seed"])
    side, batch = job["side"], job["batch"]
    # Dropout off: the paths are compared on their loss trajectories.
    network = build_model({"name": "GoogLeNet", "class_num": 1000, "dropout": 0.0,
                           "aux_dropout": 0.0, "adaptive_pool": side != 224})
    if job["fast_conv_bias"]:
        use_fast_conv_bias(network)
    optimizer, _ = build_optimizer({"name": "Momentum", "momentum": 0.9,
                                    "lr": {"name": "Constant",
                                           "learning_rate": job.get("lr", TRAIN_LR)}},
                                   network.parameters(), epochs=1, steps_per_epoch=1)
    # paddle.Model, as the project's Engine trains: it wraps the network in
    # DataParallel when launched with several processes.
    model = paddle.Model(network)
    model.prepare(optimizer, build_loss([{"GoogLeNetLoss": {"weight": 1.0}}]))

    rng = np.random.RandomState(job["seed"])
    images = rng.randn(batch, 3, side, side).astype("float32")
    labels = rng.randint(0, 1000, (batch, 1)).astype("int64")
    share = batch // world  # equal global batch: each process takes its slice
    mine = slice(rank * share, (rank + 1) * share)
    images, labels = images[mine], labels[mine]

    losses, times = [], []
    for _ in range(job["warmup"] + job["steps"]):
        start = time.perf_counter()
        loss = float(np.asarray(model.train_batch([images], [labels])[0]).mean())
        times.append(time.perf_counter() - start)
        if world > 1:  # the global batch's loss: the mean of the equal shares
            total = paddle.to_tensor([loss], dtype="float64")
            paddle.distributed.all_reduce(total)
            loss = float(total.numpy()[0]) / world
        losses.append(loss)
    timed = times[job["warmup"]:]
    return {"images_per_s": batch / statistics.median(timed), "losses": losses,
            "step_seconds": timed}


def _config(job: dict, extra_overrides: Sequence[str] = ()) -> dict:
    """The job's (already resolved) config with ``extra_overrides``, the demo dataset
    generated if it names one that is missing (as the Engine does before training)."""
    from paddle_googlenet.config import apply_overrides, validate_config
    from paddle_googlenet.data import ensure_demo_dataset

    config = validate_config(apply_overrides(json.loads(json.dumps(job["config"])),
                                             extra_overrides), source="benchmark config")
    if config["Global"]["demo_dataset"]:
        ensure_demo_dataset(config["Global"]["demo_dataset"])
    return config


def _agreement(logits: np.ndarray, reference: np.ndarray) -> dict:
    return {"max_abs_diff": float(np.abs(logits - reference).max()),
            "top1_agreement": float((logits.argmax(1) == reference.argmax(1)).mean())}


def _in_batches(run, images: np.ndarray, size: int = 64) -> np.ndarray:
    return np.concatenate([run(images[i:i + size]) for i in range(0, len(images), size)])


def _onnx_missing() -> str:
    import importlib.util

    missing = [m for m in ("paddle2onnx", "onnxruntime") if importlib.util.find_spec(m) is None]
    return f"{' and '.join(missing)} not installed (pip install -e \".[onnx]\")" if missing else ""


def turned(items: Sequence, turn: int) -> list:
    """``items`` started at position ``turn`` (mod its length) and wrapped round: the
    order of a round, turning by one each round so no item always follows another."""
    turn %= len(items)
    return list(items[turn:]) + list(items[:turn])


def _export_dirs(job: dict) -> Dict[str, str]:
    return {"model": os.path.join(job["scratch"], "model"),
            "timing": os.path.join(job["scratch"], "model_timing")}


def infer_export_worker(job: dict) -> dict:
    """Export as tools/export_model.py does and compare every backend and precision
    with dygraph on the eval images; name the rows ``infer_time`` launches time.

    Two exports of the same weights: one at the config's input shape (fp32, int8 and
    ONNX), whose outputs on the eval images give the agreement figures, and one
    declared at the timing size (fp32 and ONNX), which Paddle Inference fp32 and ONNX
    Runtime are timed on: the ONNX model's input shape is fixed at export.
    """
    from paddle_googlenet.deploy import OnnxModel, PaddleModel
    from paddle_googlenet.deploy.precisions import PRECISIONS
    from paddle_googlenet.export import dataset_images, export_inference_model

    common = [f"Global.pretrained_model={job['weights']}", "Global.export_softmax=False"]
    config = _config(job, common)
    side = job["side"]
    timing_config = _config(job, common + [f"Global.image_shape=[3,{side},{side}]"])
    eval_images, eval_labels = dataset_images(config, "Eval")
    skipped = {}
    onnx_missing = _onnx_missing()
    onnx_names = [f"onnxruntime_{p.name}" for p in PRECISIONS.values() if p.onnx]
    if onnx_missing:
        skipped.update({name: onnx_missing for name in onnx_names})
    onnx = not onnx_missing

    def export(cfg, where, **options):
        try:
            export_inference_model(cfg, where, onnx=onnx, **options)
            return ""
        except Exception as err:  # reported, not fatal: the other rows still count
            export_inference_model(cfg, where)
            return f"{type(err).__name__}: {err}"

    dirs = _export_dirs(job)
    failed = ""
    try:  # int8 is kept whatever its agreement: its speed is reported either way
        export_inference_model(config, dirs["model"], onnx=onnx, precisions=("int8",),
                               options={"int8_min_agreement": 0.0,
                                        "calibration_images": job["calibration_images"]})
    except Exception as err:
        skipped["int8"] = f"{type(err).__name__}: {err}"
        failed = export(config, dirs["model"])
    failed = failed or export(timing_config, dirs["timing"])
    if failed:
        skipped.update({name: failed for name in onnx_names})
        onnx = False

    dygraph = _dygraph(config["Arch"], job["weights"])
    threads = job["threads"]
    agreeing: Dict[str, Callable] = {"dygraph": dygraph}
    for precision in PRECISIONS.values():
        if precision.name in skipped:
            continue
        why_not = precision.unsupported()
        if why_not:
            skipped[precision.name] = why_not
            continue
        agreeing[precision.name] = PaddleModel(dirs["model"], threads=threads,
                                               precision=precision.name)
    if onnx:
        for precision in PRECISIONS.values():
            if precision.onnx:
                agreeing[f"onnxruntime_{precision.name}"] = OnnxModel(dirs["model"],
                                                                      threads=threads)
    reference = _in_batches(dygraph, eval_images)
    rows = {name: _agreement(_in_batches(run, eval_images), reference)
            for name, run in agreeing.items()}
    return {"eval_top1": float((reference.argmax(1) == eval_labels).mean()),
            "eval_images": int(len(eval_images)), "skipped": skipped, "rows": rows,
            "runners": list(agreeing)}


def _dygraph(arch: dict, weights: str) -> Callable:
    """The trained network's main head in dygraph: images in, logits out."""
    import paddle

    from paddle_googlenet.models import build_main_head

    network = build_main_head(arch, weights, softmax=False)

    def run(images):
        with paddle.no_grad():
            return network(paddle.to_tensor(images)).numpy()

    return run


def infer_time_worker(job: dict) -> dict:
    """Time the rows ``infer_export`` named, interleaved in rounds, on its exports.

    Each round times every row at every batch size (the job's number of calls
    each, one call of each row in turn), the rows' order turning by one each round,
    and then a matmul for the forward bound. The first ``warmup_rounds`` are
    dropped: oneDNN builds its kernels for a new shape on the first call. The
    harness launches this several times over a run, so that the samples span the
    run rather than one minute of it.
    """
    from paddle_googlenet.deploy import OnnxModel, PaddleModel

    dirs, threads = _export_dirs(job), job["threads"]
    runners: Dict[str, Callable] = {}
    for name in job["runners"]:
        if name == "dygraph":
            runners[name] = _dygraph(_config(job)["Arch"], job["weights"])
        elif name.startswith("onnxruntime_"):
            runners[name] = OnnxModel(dirs["timing"], threads=threads)
        else:  # fp32 runs the same export as ONNX Runtime; the others their own files
            runners[name] = PaddleModel(dirs["timing"] if name == "fp32" else dirs["model"],
                                        threads=threads, precision=name)
    rng = np.random.RandomState(0)
    side = job["side"]
    inputs = {key: rng.randn(batch, 3, side, side).astype("float32")
              for key, batch in job["batches"].items()}
    samples: Dict[str, List[float]] = {f"{name}_b{key}": [] for name in runners
                                       for key in inputs}
    samples["matmul_gflops"] = []
    for round_index in range(job["warmup_rounds"] + job["rounds"]):
        order = turned(list(runners), job["first_turn"] + round_index)
        seconds = {f"{name}_b{key}": 0.0 for name in order for key in inputs}
        for key, images in inputs.items():
            # one call of each row in turn, so that a second or two of a slower machine
            # falls on every row of the round alike rather than on one row's calls
            for _ in range(job["calls"][key]):
                for name in order:
                    start = time.perf_counter()
                    runners[name](images)
                    seconds[f"{name}_b{key}"] += time.perf_counter() - start
        timed_round = {f"{name}_b{key}": len(images) * job["calls"][key]
                       / seconds[f"{name}_b{key}"]
                       for key, images in inputs.items() for name in order}
        gflops = _matmul_gflops(job["matmul_size"], job["matmul_repeats"])
        timed_round["matmul_gflops"] = max(gflops.values())
        if round_index >= job["warmup_rounds"]:
            for key, value in timed_round.items():
                samples[key].append(value)
    return {"samples": samples}


def data_worker(job: dict) -> dict:
    """The input pipeline on photographs: per core, beside PaddleClas's own operators
    when a checkout is given, and by DataLoader worker count (data_pipeline.py)."""
    from .data_pipeline import measure, scaled_decoding_agreement

    result = measure(job["images"], job["passes"], peer=job.get("paddleclas"),
                     workers=job["workers"], epochs=job["epochs"], samples=job["samples"],
                     large_images=job["large_images"], large_size=job["large_size"],
                     large_passes=job["large_passes"])
    result["dct_scaling_agreement"] = scaled_decoding_agreement(
        job["weights"], job["config"], job["agreement_images"])
    return result


def multicrop_worker(job: dict) -> dict:
    """1-, 10- and 144-crop evaluation per core on one thread (multicrop.py); it sets
    up its process itself."""
    from .multicrop import measure

    return measure(job["images"], job["rounds"], job["passes"], side=job["side"])


def fit_worker(job: dict) -> dict:
    """``fit`` epochs of the configured Engine against its model-only step rate.

    Both run on the same Engine (network, optimizer, threads); model-only steps use
    a batch of the same size and input shape held in memory. They alternate, and
    each epoch is compared with the mean of the bursts either side of it, so both
    see the same machine load. Returns one ratio per epoch for the configured
    ``num_workers`` and for each of ``job["other_workers"]``.
    """
    import paddle

    from paddle_googlenet.data import build_dataloader
    from paddle_googlenet.engine import Engine

    config = _config(job, [f"Global.output_dir={job['scratch']}",
                           "Global.eval_during_train=False"])
    engine = Engine(config, mode="train")
    section = config["DataLoader"]["Train"]
    configured = section.get("loader", {}).get("num_workers", 0)
    loaders = {configured: engine.train_loader}
    for workers in job.get("other_workers", ()):
        if workers not in loaders:
            changed = json.loads(json.dumps(section))
            changed.setdefault("loader", {})["num_workers"] = workers
            loaders[workers] = build_dataloader(changed, seed=config["Global"]["seed"],
                                                where="DataLoader.Train")
    batch = section["sampler"]["batch_size"]
    shape = [batch] + list(config["Global"]["image_shape"])
    images = np.random.RandomState(0).randn(*shape).astype("float32")
    labels = np.zeros([batch, 1], dtype="int64")
    images_per_epoch = len(engine.train_loader.dataset)

    class EpochTimer(paddle.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.rate = images_per_epoch / (time.perf_counter() - self.start)

    def model_only() -> float:
        engine.model.train_batch([images], [labels])  # warm-up
        start = time.perf_counter()
        for _ in range(job["model_only_steps"]):
            engine.model.train_batch([images], [labels])
        return batch * job["model_only_steps"] / (time.perf_counter() - start)

    ratios = {workers: [] for workers in loaders}
    fit_rates, step_rates = [], []
    before = model_only()
    for _ in range(job["epochs"]):
        for workers, loader in loaders.items():
            timer = EpochTimer()
            engine.model.fit(loader, epochs=1, verbose=0, callbacks=[timer])
            after = model_only()
            ratios[workers].append(timer.rate / ((before + after) / 2))
            if workers == configured:
                fit_rates.append(timer.rate)
                step_rates.append((before + after) / 2)
            before = after
    return {"fit_images_per_s": fit_rates, "model_only_images_per_s": step_rates,
            "fit_over_step": ratios[configured], "num_workers": configured,
            "fit_over_step_by_workers": {str(w): r for w, r in sorted(ratios.items())},
            "batch": batch, "input_shape": shape[1:], "threads": engine.threads}


def demo_train_worker(job: dict) -> dict:
    """Train the demo model with the project's Engine (weights for the inference rows)."""
    from paddle_googlenet.engine import train

    summary = train(_config(job, job["train_overrides"]))
    return {"best_top1": summary.get("best_top1"), "run_dir": summary.get("run_dir")}


WORKERS: Dict[str, Callable[[dict], dict]] = {
    "matmul": matmul_worker, "macs": macs_worker, "train": train_worker,
    "infer_export": infer_export_worker, "infer_time": infer_time_worker,
    "data": data_worker, "fit": fit_worker, "multicrop": multicrop_worker,
    "demo_train": demo_train_worker}


def main(argv: List[str]):
    """Run the job file's worker and write its result."""
    with open(argv[0], encoding="utf-8") as f:
        job = json.load(f)
    import paddle_googlenet
    from paddle_googlenet import set_cpu_threads
    from paddle_googlenet.engine.fast_paths import keep_freed_memory, use_mkl_avx2_on_amd

    if job.get("mkl_avx2"):
        use_mkl_avx2_on_amd()  # before this process's first MKL call
    if job.get("keep_memory"):
        keep_freed_memory()
    if job.get("threads"):
        set_cpu_threads(job["threads"])
    result = WORKERS[job["kind"]](job)
    result["library"] = os.path.dirname(os.path.abspath(paddle_googlenet.__file__))
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    with open(f"{job['result']}.{_rank()}", "w", encoding="utf-8") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main(sys.argv[1:])
