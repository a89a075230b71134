"""``tools/benchmark.py``: training, inference, data and memory figures in one run.

Every figure that depends on process-wide settings (CPU threads, MKL's kernels, a
data-parallel launch) or on peak memory is measured in a fresh child process that
runs this module's worker code; the parent only schedules them and reports.
Training candidates are interleaved (A B C A B C ...) and each figure is a median,
so that load from other programs on the machine hits every candidate alike. Speeds
are ratios within one run, never absolute promises.

Sections of the report (``--out FILE`` writes them as JSON):

- machine: processor features, MKL version, measured float32 matmul GFLOP/s, the
  model's multiply-accumulates and the float32 forward bound that gives;
- training at batch 16 and 32 (224x224, random data, GoogLeNet with its loss and
  Momentum): Paddle's defaults, the baseline (every core as a thread) and each fast
  path of ``fast_paths``, with peak resident memory and the loss trajectory's
  largest relative difference from the baseline (a path only counts as the best if
  that stays within 1e-4);
- inference at batch 1 and 32 with trained weights: dygraph, Paddle Inference
  float32 with oneDNN, bfloat16 where the processor has it, int8 (``quantize``),
  each with max abs difference and top-1 agreement against dygraph on the eval set;
- data: decode plus train-time augmentation per DataLoader worker count, and a
  ``fit`` epoch against the model-only step rate at the same batch and input size.
"""

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Dict, List, Optional, Sequence

import numpy as np

from .deploy.precisions import PRECISIONS
from .fast_paths import MKL_CPU_TYPE_VAR, cpu_features, mkl_avx2_applies, mkl_version

__all__ = ["benchmark_main", "worker_main", "TRAIN_PATHS", "REQUIRED_KEYS"]

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_CONFIG = os.path.join(REPO_ROOT, "configs", "googlenet.yaml")

# Keys the issue asks the JSON to hold (images/s unless named otherwise).
REQUIRED_KEYS = ("train_default_b16", "train_baseline_b16", "train_best_b16", "train_best_path",
                 "infer_dygraph_b32", "infer_fp32_b32", "infer_bf16_b32", "bf16_top1_agreement",
                 "fp32_forward_bound", "fit_over_step", "train_peak_rss_mb_b32")

# A fast path must reproduce the baseline's losses this closely to be chosen.
LOSS_TOLERANCE = 1e-4
TRAIN_LR = 0.001  # small enough that float rounding does not grow chaotically
INT8_CALIBRATION_IMAGES = 128


# -- training candidates -------------------------------------------------------------

class TrainPath:
    """One way of running the same training step.

    ``threads``: per process; None is Paddle's default (1), "cores" every core
    divided among the processes. The flags name ``fast_paths``' paths.
    """

    def __init__(self, name: str, description: str, processes: int = 1, threads="cores",
                 mkl_avx2: bool = False, fast_conv_bias: bool = False,
                 keep_memory: bool = False, quick: bool = True):
        self.name, self.description = name, description
        self.processes, self.threads = processes, threads
        self.mkl_avx2, self.fast_conv_bias = mkl_avx2, fast_conv_bias
        self.keep_memory = keep_memory
        self.quick = quick  # also measured with --quick

    def threads_per_process(self, cores: int) -> Optional[int]:
        return None if self.threads is None else max(1, cores // self.processes)


DEFAULT_PATH, BASELINE_PATH = "default", "baseline"
TRAIN_PATHS = [
    TrainPath(DEFAULT_PATH, "Paddle's defaults (1 CPU thread)", threads=None),
    TrainPath(BASELINE_PATH, "plain dygraph, every core as a thread"),
    TrainPath("mkl_avx2", "baseline + MKL's AVX2 kernels (non-Intel CPUs)", mkl_avx2=True,
              quick=False),
    TrainPath("mkl_avx2+conv_bias", "+ GEMM-based conv bias add", mkl_avx2=True,
              fast_conv_bias=True, quick=False),
    TrainPath("mkl_avx2+conv_bias+keep_memory", "+ freed memory kept for reuse (the "
              "tools/train.py default)", mkl_avx2=True, fast_conv_bias=True, keep_memory=True),
    TrainPath("data_parallel", "2 processes x 1 thread, plain", processes=2, quick=False),
    TrainPath("data_parallel+all", "2 processes x 1 thread, all fast paths", processes=2,
              mkl_avx2=True, fast_conv_bias=True, keep_memory=True),
]


class Settings:
    """Sizes and repetitions of a run: full, ``--quick``, or the test-only smoke."""

    def __init__(self, mode: str):
        self.mode = mode
        full, quick = mode == "full", mode == "quick"
        self.train_side = 224 if mode != "smoke" else 64
        self.train_batches = {16: 16, 32: 32} if mode != "smoke" else {16: 2, 32: 4}
        self.train_rounds = 3 if full else 1
        self.train_rounds_b32 = 2 if full else 1
        self.train_steps = 3 if full else 1  # timed, after the warm-up step
        self.train_warmup = 1 if mode != "smoke" else 0
        self.infer_side = 224 if mode != "smoke" else 64
        self.infer_batches = {1: 1, 32: 32} if mode != "smoke" else {1: 1, 32: 2}
        self.infer_repeats = 5 if full else (2 if quick else 1)
        self.matmul_size = 2048 if mode != "smoke" else 256
        self.matmul_repeats = 5 if full else 3
        self.data_workers = (0, 1, 2)
        self.data_epochs = 2 if full else 1
        self.fit_epochs = 2 if full else 1
        # fit with these num_workers too, to show what the configured count gains
        self.fit_other_workers = (0, 1) if full else ()
        self.model_only_steps = 10 if full else (6 if quick else 2)
        self.calibration_images = INT8_CALIBRATION_IMAGES if mode != "smoke" else 8
        self.demo_epochs = None if full else (3 if quick else 1)  # None: the config's


# -- child processes ---------------------------------------------------------------

_WORKER_SCRIPT = """import sys
sys.path.insert(0, {root!r})
from paddle_googlenet.benchmark import worker_main
worker_main(sys.argv[1:])
"""


class Workers:
    """Runs worker jobs in fresh processes (or a data-parallel launch) and collects
    their JSON results."""

    def __init__(self, scratch: str):
        self.scratch = scratch
        self.script = os.path.join(scratch, "benchmark_worker.py")
        with open(self.script, "w", encoding="utf-8") as f:
            f.write(_WORKER_SCRIPT.format(root=REPO_ROOT))
        self.count = 0

    def run(self, job: dict, processes: int = 1) -> List[dict]:
        """Run ``job``; return one result per process (rank order)."""
        self.count += 1
        job_dir = os.path.join(self.scratch, f"job{self.count}")
        os.makedirs(job_dir)
        job = dict(job, result=os.path.join(job_dir, "result"))
        job_file = os.path.join(job_dir, "job.json")
        with open(job_file, "w", encoding="utf-8") as f:
            json.dump(job, f)
        if processes > 1:
            command = [sys.executable, "-m", "paddle.distributed.launch", "--nproc_per_node",
                       str(processes), "--log_dir", os.path.join(job_dir, "log"),
                       self.script, job_file]
        else:
            command = [sys.executable, self.script, job_file]
        # Threads and MKL's kernels are the job's to choose, not inherited: importing
        # paddle here set OMP_NUM_THREADS=1, which would also pin NumPy's BLAS.
        env = {k: v for k, v in os.environ.items()
               if k not in (MKL_CPU_TYPE_VAR, "OMP_NUM_THREADS")}
        if job.get("threads"):
            env["OMP_NUM_THREADS"] = str(job["threads"])
        done = subprocess.run(command, capture_output=True, text=True, env=env)
        results = []
        for rank in range(processes):
            path = f"{job['result']}.{rank}"
            if not os.path.isfile(path):
                raise RuntimeError(f"benchmark worker {job['kind']} failed (exit "
                                   f"{done.returncode}):\n{self._failure_text(done, job_dir)}")
            with open(path, encoding="utf-8") as f:
                results.append(json.load(f))
        return results

    @staticmethod
    def _failure_text(done, job_dir: str) -> str:
        text = done.stderr
        log = os.path.join(job_dir, "log", "workerlog.0")
        if os.path.isfile(log):
            with open(log, encoding="utf-8", errors="replace") as f:
                text += f.read()
        lines = [line for line in text.replace("\r", "\n").splitlines() if line.strip()]
        return "\n".join(lines[-25:])


def worker_main(argv: List[str]):
    """Entry point of a child process: run the job file's worker, write its result."""
    with open(argv[0], encoding="utf-8") as f:
        job = json.load(f)
    from .fast_paths import keep_freed_memory, use_mkl_avx2_on_amd
    from .runtime import set_cpu_threads
    if job.get("mkl_avx2"):
        use_mkl_avx2_on_amd()  # before this process's first MKL call
    if job.get("keep_memory"):
        keep_freed_memory()
    if job.get("threads"):
        set_cpu_threads(job["threads"])
    result = _WORKERS[job["kind"]](job)
    rank = int(os.environ.get("PADDLE_TRAINER_ID", "0"))
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    with open(f"{job['result']}.{rank}", "w", encoding="utf-8") as f:
        json.dump(result, f)


def _median_time(fn, repeats: int, warmup: int = 1) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _matmul_worker(job: dict) -> dict:
    """Best float32 matmul GFLOP/s of NumPy's BLAS and of Paddle (MKL)."""
    import paddle

    n = job["matmul_size"]
    rng = np.random.RandomState(0)
    a, b = rng.rand(n, n).astype("float32"), rng.rand(n, n).astype("float32")
    ta, tb = paddle.to_tensor(a), paddle.to_tensor(b)

    def best_gflops(fn):
        fn()
        times = []
        for _ in range(job["repeats"]):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        return 2 * n ** 3 / min(times) / 1e9

    return {"matmul_gflops_numpy": best_gflops(lambda: a @ b),
            "matmul_gflops_paddle": best_gflops(lambda: paddle.matmul(ta, tb).numpy())}


def _macs_worker(job: dict) -> dict:
    """The model's multiply-accumulates per 224x224 image."""
    from .analysis import count_macs
    from .models import build_model

    network = build_model({"name": "GoogLeNet", "class_num": 1000})
    return {"macs_224": count_macs(network, (3, 224, 224))["total"]}


def _train_worker(job: dict) -> dict:
    """Time training steps of the plain or fast path on fixed random data."""
    import paddle

    from .fast_paths import use_fast_conv_bias
    from .losses import build_loss
    from .models import build_model
    from .optim import build_optimizer
    from .runtime import world_size

    world, rank = world_size(), int(os.environ.get("PADDLE_TRAINER_ID", "0"))
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
    step_time = statistics.median(times[job["warmup"]:])
    return {"images_per_s": batch / step_time, "losses": losses}


def _load_config(job: dict, extra_overrides: Sequence[str] = ()) -> dict:
    """The job's config with its overrides, the demo dataset generated if it names one
    that is missing (as the Engine does before training)."""
    from .config import load_config
    from .data import ensure_demo_dataset

    config = load_config(job["config"], list(job["overrides"]) + list(extra_overrides))
    if config["Global"]["demo_dataset"]:
        ensure_demo_dataset(config["Global"]["demo_dataset"])
    return config


def _agreement(logits: np.ndarray, reference: np.ndarray) -> dict:
    return {"max_abs_diff": float(np.abs(logits - reference).max()),
            "top1_agreement": float((logits.argmax(1) == reference.argmax(1)).mean())}


def _in_batches(run, images: np.ndarray, size: int = 64) -> np.ndarray:
    return np.concatenate([run(images[i:i + size]) for i in range(0, len(images), size)])


def _infer_worker(job: dict) -> dict:
    """Export fp32 and int8 as tools/export_model.py does, then time each precision
    and compare it with dygraph."""
    import paddle

    from .deploy import PaddleModel
    from .export import dataset_images, export_inference_model
    from .models import build_main_head

    config = _load_config(job, [f"Global.pretrained_model={job['weights']}",
                                "Global.export_softmax=False"])
    eval_images, eval_labels = dataset_images(config, "Eval")
    model_dir = os.path.join(job["scratch"], "model")
    skipped = {}
    try:  # int8 is kept whatever its agreement: its speed is reported either way
        export_inference_model(config, model_dir, int8=True, int8_min_agreement=0.0,
                               calibration_images=job["calibration_images"])
    except Exception as err:  # reported, not fatal: the other rows still count
        skipped["int8"] = f"{type(err).__name__}: {err}"
        export_inference_model(config, model_dir)

    dygraph = build_main_head(config["Arch"], job["weights"], softmax=False)

    def dygraph_run(images):
        with paddle.no_grad():
            return dygraph(paddle.to_tensor(images)).numpy()

    def predictor(precision, keep_memory=True):
        return lambda: PaddleModel(model_dir, threads=job["threads"], precision=precision,
                                   keep_memory=keep_memory)

    # Built and timed in this order: keeping freed memory is process-wide and cannot
    # be undone, so the rows without it come first.
    runners = {"dygraph": lambda: dygraph_run,
               "fp32_memory_returned": predictor("fp32", keep_memory=False),
               "fp32": predictor("fp32")}
    for precision in PRECISIONS.values():
        if precision.name == "fp32" or precision.name in skipped:
            continue
        why_not = precision.unsupported()
        if why_not:
            skipped[precision.name] = why_not
        else:
            runners[precision.name] = predictor(precision.name)

    reference = _in_batches(dygraph_run, eval_images)
    rng = np.random.RandomState(0)
    result = {"eval_top1": float((reference.argmax(1) == eval_labels).mean()),
              "eval_images": int(len(eval_images)), "skipped": skipped, "rows": {}}
    for name, build in runners.items():
        run = build()
        row = _agreement(_in_batches(run, eval_images), reference)
        for key, batch in job["batches"].items():
            images = rng.randn(batch, 3, job["side"], job["side"]).astype("float32")
            seconds = _median_time(lambda: run(images), job["repeats"] * (4 if batch == 1 else 1))
            row[f"b{key}"] = batch / seconds
        result["rows"][name] = row
    return result


def _data_worker(job: dict) -> dict:
    """Decode + train-time augmentation alone: images/s per DataLoader worker count."""
    from .data import build_dataloader

    config = _load_config(job)
    rates = {}
    for workers in job["workers"]:
        section = json.loads(json.dumps(config["DataLoader"]["Train"]))
        section.setdefault("loader", {})["num_workers"] = workers
        loader = build_dataloader(section, seed=0, where="DataLoader.Train")
        best = 0.0
        for _ in range(job["epochs"]):  # the first epoch pays for starting the workers
            start, count = time.perf_counter(), 0
            for images, _ in loader:
                count += len(images)
            best = max(best, count / (time.perf_counter() - start))
        rates[str(workers)] = best
    return {"images_per_s": rates}


def _fit_worker(job: dict) -> dict:
    """``fit`` epochs of the configured Engine against its model-only step rate.

    Both run on the same Engine (network, optimizer, threads); model-only steps use
    a batch of the same size and input shape held in memory. They alternate, so
    both see the same machine load. ``fit_over_step`` is for the configured
    ``num_workers``; ``job["other_workers"]`` are measured too, for comparison.
    """
    import paddle

    from .data import build_dataloader
    from .engine import Engine

    config = _load_config(job, [f"Global.output_dir={job['scratch']}",
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
        seconds = _median_time(lambda: engine.model.train_batch([images], [labels]),
                               job["model_only_steps"])
        return batch / seconds

    ratios = {workers: [] for workers in loaders}
    fit_rates, step_rates = [], []
    before = model_only()
    for _ in range(job["epochs"]):
        for workers, loader in loaders.items():
            timer = EpochTimer()
            engine.model.fit(loader, epochs=1, verbose=0, callbacks=[timer])
            after = model_only()
            # against the mean of the bursts either side: load changes show in both
            ratios[workers].append(timer.rate / ((before + after) / 2))
            if workers == configured:
                fit_rates.append(timer.rate)
                step_rates.append((before + after) / 2)
            before = after
    return {"fit_images_per_s": statistics.median(fit_rates),
            "model_only_images_per_s": statistics.median(step_rates),
            "fit_over_step": statistics.median(ratios[configured]),
            "num_workers": configured,
            "fit_over_step_by_workers": {str(w): statistics.median(r)
                                         for w, r in sorted(ratios.items())},
            "batch": batch, "input_shape": shape[1:], "threads": engine.threads}


def _demo_train_worker(job: dict) -> dict:
    """Train the demo model with the project's Engine (weights for the inference rows)."""
    from .engine import train

    summary = train(_load_config(job, job["train_overrides"]))
    return {"best_top1": summary.get("best_top1"), "run_dir": summary.get("run_dir")}


_WORKERS = {"matmul": _matmul_worker, "macs": _macs_worker, "train": _train_worker,
            "infer": _infer_worker, "data": _data_worker, "fit": _fit_worker,
            "demo_train": _demo_train_worker}


# -- the run ------------------------------------------------------------------------

def _relative_loss_diff(losses: List[float], reference: List[float]) -> float:
    return max(abs(a - b) / max(abs(b), 1e-12) for a, b in zip(losses, reference))


class Benchmark:
    def __init__(self, args, settings: Settings, scratch: str):
        self.args, self.settings = args, settings
        self.workers = Workers(scratch)
        self.scratch = scratch
        self.features = cpu_features()
        self.cores = self.features["cores"] or 1
        self.report: Dict = {"mode": settings.mode, "command": " ".join(sys.argv)}

    def log(self, message: str):
        print(message, flush=True)

    # machine ----------------------------------------------------------------------
    def machine(self):
        f = self.features
        found = [name for name, present in f["flags"].items() if present]
        self.log(f"processor: {f['model']} ({f['vendor']}), {self.cores} cores; features: "
                 f"{' '.join(found) or 'none found'}")
        self.log(f"  bf16 (AVX-512 BF16 or AMX): {'yes' if f['bf16'] else 'no'}, oneDNN int8: "
                 f"{'yes' if f['int8'] else 'no'} (VNNI: {'yes' if f['vnni'] else 'no'})")
        mkl_applies = mkl_avx2_applies(f)
        macs = self.workers.run({"kind": "macs"})[0]["macs_224"]
        self.report.update({
            "processor": {k: f[k] for k in ("vendor", "model", "cores", "flags", "bf16",
                                            "int8", "vnni")},
            "mkl_version": mkl_version(), "mkl_avx2_applies": mkl_applies, "macs_224": macs,
            "matmul_gflops_numpy": 0.0, "matmul_gflops_paddle": 0.0})
        self.log(f"MKL: {self.report['mkl_version']}; AVX2 kernels forced: {mkl_applies}")
        self.measure_matmul()

    def measure_matmul(self):
        """Measure matmul GFLOP/s (again) and keep the best figure: other programs'
        load only ever lowers it, so the best is the machine's."""
        s, r = self.settings, self.report
        result = self.workers.run({"kind": "matmul", "threads": self.cores,
                                   "mkl_avx2": r["mkl_avx2_applies"],
                                   "matmul_size": s.matmul_size, "repeats": s.matmul_repeats})[0]
        for key in ("matmul_gflops_numpy", "matmul_gflops_paddle"):
            r[key] = max(r[key], result[key])
        gflops = max(r["matmul_gflops_numpy"], r["matmul_gflops_paddle"])
        bound = gflops * 1e9 / (2 * r["macs_224"])
        # A training step costs about three forward passes (backward: two).
        r.update({"matmul_gflops": gflops, "fp32_forward_bound": bound,
                  "fp32_training_bound": bound / 3})
        self.log(f"float32 {s.matmul_size}x{s.matmul_size} matmul: best {gflops:.1f} GFLOP/s "
                 f"(NumPy {r['matmul_gflops_numpy']:.1f}, Paddle {r['matmul_gflops_paddle']:.1f});"
                 f" model {r['macs_224'] / 1e9:.3f} GMAC at 224x224; forward bound {bound:.1f} "
                 f"images/s, training bound {bound / 3:.1f}")

    # training ---------------------------------------------------------------------
    def _train_paths(self) -> List[TrainPath]:
        paths = [p for p in TRAIN_PATHS if p.quick or self.settings.mode == "full"]
        if not self.report["mkl_avx2_applies"]:  # then the MKL-only row repeats the baseline
            paths = [p for p in paths if not (p.mkl_avx2 and not p.fast_conv_bias)]
        return paths

    def _train_once(self, path: TrainPath, batch: int) -> dict:
        s = self.settings
        job = {"kind": "train", "threads": path.threads_per_process(self.cores),
               "mkl_avx2": path.mkl_avx2, "fast_conv_bias": path.fast_conv_bias,
               "keep_memory": path.keep_memory,
               "batch": batch, "side": s.train_side, "steps": s.train_steps,
               "warmup": s.train_warmup, "seed": 0}
        results = self.workers.run(job, processes=path.processes)
        # Every process is resident at once: their peaks add up.
        return dict(results[0], peak_rss_mb=sum(r["peak_rss_mb"] for r in results))

    def _train_batch_size(self, key: int, paths: List[TrainPath], rounds: int) -> dict:
        batch = self.settings.train_batches[key]
        runs = {p.name: [] for p in paths}
        for round_index in range(rounds):
            for path in paths:
                run = self._train_once(path, batch)
                runs[path.name].append(run)
                self.log(f"  b{key} round {round_index + 1}/{rounds} {path.name}: "
                         f"{run['images_per_s']:.2f} images/s, peak {run['peak_rss_mb']:.0f} MB")
        reference = runs[BASELINE_PATH][0]["losses"] if BASELINE_PATH in runs else None
        rows = {}
        for path in paths:
            done = runs[path.name]
            rows[path.name] = {
                "images_per_s": statistics.median(r["images_per_s"] for r in done),
                "peak_rss_mb": max(r["peak_rss_mb"] for r in done),
                "losses": done[0]["losses"],
                "max_rel_loss_diff": (_relative_loss_diff(done[0]["losses"], reference)
                                      if reference else None),
                "processes": path.processes, "description": path.description}
        return rows

    def training(self):
        s = self.settings
        paths = self._train_paths()
        self.log(f"training, {s.train_side}x{s.train_side}, batches "
                 f"{list(s.train_batches.values())}, {s.train_steps} timed steps after "
                 f"{s.train_warmup} warm-up, {s.train_rounds} round(s), interleaved")
        b16 = self._train_batch_size(16, paths, s.train_rounds)
        baseline = b16[BASELINE_PATH]["images_per_s"]
        correct = [n for n, r in b16.items() if r["max_rel_loss_diff"] <= LOSS_TOLERANCE]
        best = max(correct, key=lambda n: b16[n]["images_per_s"])
        # At batch 32 --quick keeps the rows the keys need: baseline and the best path.
        paths32 = paths if s.mode == "full" else [p for p in paths
                                                  if p.name in (BASELINE_PATH, best)]
        b32 = self._train_batch_size(32, paths32, s.train_rounds_b32)
        for rows in (b16, b32):
            for row in rows.values():
                row["ratio_vs_baseline"] = row["images_per_s"] / rows[BASELINE_PATH]["images_per_s"]
        self.report.update({
            "train_b16": b16, "train_b32": b32,
            "train_default_b16": b16[DEFAULT_PATH]["images_per_s"],
            "train_baseline_b16": baseline,
            "train_best_b16": b16[best]["images_per_s"], "train_best_path": best,
            "train_best_ratio_b16": b16[best]["images_per_s"] / baseline,
            "train_baseline_b32": b32[BASELINE_PATH]["images_per_s"],
            "train_best_b32": b32[best]["images_per_s"],
            "train_peak_rss_mb_b16": b16[BASELINE_PATH]["peak_rss_mb"],
            "train_peak_rss_mb_b32": b32[BASELINE_PATH]["peak_rss_mb"],
            "train_best_peak_rss_mb_b32": b32[best]["peak_rss_mb"]})

    # inference --------------------------------------------------------------------
    def _weights(self) -> str:
        """--weights; else the best model of an earlier ``tools/train.py`` run of the
        config, or of an earlier benchmark run; else train the demo model now."""
        from .config import load_config
        from .errors import WeightsError
        from .models.weights import resolve_weights_path

        if self.args.weights:
            self.report["weights"] = {"path": self.args.weights, "source": "--weights"}
            return resolve_weights_path(self.args.weights)
        config = load_config(self.args.config, self.args.override)
        demo_dir = os.path.join(self.args.work_dir, "demo_model")
        run_dirs = {"tools/train.py output": config["Global"]["output_dir"],
                    "earlier benchmark run": demo_dir}
        for source, run_dir in run_dirs.items():
            try:
                path = resolve_weights_path(os.path.join(run_dir, config["Arch"]["name"],
                                                         "best_model"))
            except WeightsError:
                continue
            self.report["weights"] = {"path": path, "source": source}
            return path
        best = os.path.join(demo_dir, config["Arch"]["name"], "best_model")
        epochs = self.settings.demo_epochs
        self.log(f"training the demo model for the inference rows ({epochs or 'config'} "
                 f"epochs) into {demo_dir}; pass --weights to skip this")
        start = time.time()
        overrides = [f"Global.output_dir={demo_dir}", "Global.overwrite=True"]
        if epochs:
            overrides += [f"Global.epochs={epochs}", f"Global.eval_interval={epochs}"]
        result = self.workers.run({"kind": "demo_train",
                                   "mkl_avx2": self.report["mkl_avx2_applies"],
                                   "config": self.args.config, "overrides": self.args.override,
                                   "train_overrides": overrides})[0]
        self.report["weights"] = {"path": best, "source": "trained by this run",
                                  "seconds": round(time.time() - start, 1),
                                  "best_top1": result["best_top1"]}
        return resolve_weights_path(best)

    def inference(self):
        s = self.settings
        weights = self._weights()
        self.log(f"inference, {s.infer_side}x{s.infer_side}, weights {weights}")
        result = self.workers.run({
            "kind": "infer", "threads": self.cores, "mkl_avx2": self.report["mkl_avx2_applies"],
            "config": self.args.config, "overrides": self.args.override, "weights": weights,
            "scratch": os.path.join(self.scratch, "infer"), "side": s.infer_side,
            "batches": s.infer_batches, "repeats": s.infer_repeats,
            "calibration_images": s.calibration_images})[0]
        rows = result["rows"]
        for name, why in result["skipped"].items():
            self.log(f"  {name}: skipped: {why}")

        def figure(name, key):
            return rows[name][key] if name in rows else None

        self.report.update({
            "infer": rows, "infer_skipped": result["skipped"],
            "infer_eval_top1": result["eval_top1"], "infer_eval_images": result["eval_images"],
            "infer_dygraph_b1": figure("dygraph", "b1"),
            "infer_dygraph_b32": figure("dygraph", "b32"),
            "int8_offered": bool(rows.get("int8", {}).get("top1_agreement", 0) >= 0.99)})
        for name in PRECISIONS:
            self.report.update({f"infer_{name}_b1": figure(name, "b1"),
                                f"infer_{name}_b32": figure(name, "b32"),
                                f"{name}_top1_agreement": figure(name, "top1_agreement")})

    # data -------------------------------------------------------------------------
    def data(self):
        s = self.settings
        common = {"config": self.args.config, "overrides": self.args.override,
                  "mkl_avx2": self.report["mkl_avx2_applies"]}
        pipeline = self.workers.run(dict(common, kind="data", threads=self.cores,
                                         workers=list(s.data_workers), epochs=s.data_epochs))[0]
        fit = self.workers.run(dict(common, kind="fit", scratch=os.path.join(self.scratch, "fit"),
                                    epochs=s.fit_epochs, model_only_steps=s.model_only_steps,
                                    other_workers=list(s.fit_other_workers)))[0]
        self.report.update({"data_images_per_s_by_workers": pipeline["images_per_s"],
                            "fit": fit, "fit_over_step": fit["fit_over_step"]})

    # report -----------------------------------------------------------------------
    def fractions_of_bound(self):
        """Each speed as a fraction of the bound, once the matmul figure is final."""
        r = self.report
        for rows in (r["train_b16"], r["train_b32"]):
            for row in rows.values():
                row["fraction_of_training_bound"] = row["images_per_s"] / r["fp32_training_bound"]
        for row in r["infer"].values():
            row["fraction_of_bound_b32"] = row["b32"] / r["fp32_forward_bound"]
        r["fp32_fraction_of_bound_b32"] = r["infer"]["fp32"]["b32"] / r["fp32_forward_bound"]

    def table(self) -> str:
        r = self.report
        lines = [f"Benchmark ({r['mode']}): {r['processor']['model']}, {r['processor']['cores']} "
                 f"cores; matmul {r['matmul_gflops']:.1f} GFLOP/s; "
                 f"{r['macs_224'] / 1e9:.3f} GMAC/image; forward bound "
                 f"{r['fp32_forward_bound']:.1f} images/s, training bound "
                 f"{r['fp32_training_bound']:.1f}", ""]
        lines += ["| training (images/s) | b16 | b32 | vs baseline (b16 / b32) | of bound (b16) "
                  "| peak RSS MB (b16 / b32) | max rel. loss diff |",
                  "|---|---|---|---|---|---|---|"]
        for name, row in r["train_b16"].items():
            row32 = r["train_b32"].get(name)
            b32 = f"{row32['images_per_s']:.2f}" if row32 else "-"
            ratio32 = f"{row32['ratio_vs_baseline']:.2f}" if row32 else "-"
            rss32 = f"{row32['peak_rss_mb']:.0f}" if row32 else "-"
            lines.append(f"| {name} ({row['description']}) | {row['images_per_s']:.2f} | {b32} "
                         f"| {row['ratio_vs_baseline']:.2f} / {ratio32} "
                         f"| {row['fraction_of_training_bound']:.0%} "
                         f"| {row['peak_rss_mb']:.0f} / {rss32} | {row['max_rel_loss_diff']:.1e} |")
        lines += ["", f"best correct training path: {r['train_best_path']} "
                      f"({r['train_best_ratio_b16']:.2f}x the baseline at b16)", ""]
        lines += ["| inference (images/s) | b1 | b32 | of bound (b32) | max abs diff "
                  "| top-1 agreement |", "|---|---|---|---|---|---|"]
        for name in ("dygraph", "fp32_memory_returned", *PRECISIONS):
            row = r["infer"].get(name)
            if row is None:
                lines.append(f"| {name} | skipped: {r['infer_skipped'].get(name, '')} | | | | |")
                continue
            lines.append(f"| {name} | {row['b1']:.2f} | {row['b32']:.2f} "
                         f"| {row['fraction_of_bound_b32']:.0%} | {row['max_abs_diff']:.3g} "
                         f"| {row['top1_agreement']:.2%} |")
        lines += ["", f"agreement on {r['infer_eval_images']} demo eval images; dygraph top-1 "
                      f"{r['infer_eval_top1']:.2%}; int8 offered (agreement >= 99%): "
                      f"{r['int8_offered']}", ""]
        rates = ", ".join(f"{w} workers {v:.0f}" for w, v in
                          r["data_images_per_s_by_workers"].items())
        fit = r["fit"]
        lines += [f"data pipeline (decode + augmentation), images/s: {rates}",
                  f"fit epoch {fit['fit_images_per_s']:.1f} images/s vs model-only "
                  f"{fit['model_only_images_per_s']:.1f} at batch {fit['batch']}, "
                  f"{'x'.join(map(str, fit['input_shape']))}, num_workers {fit['num_workers']}: "
                  f"fit/step {fit['fit_over_step']:.2f} (by num_workers: "
                  + ", ".join(f"{w}: {v:.2f}" for w, v in fit["fit_over_step_by_workers"].items())
                  + ")",
                  f"peak RSS of training at b32 (baseline): {r['train_peak_rss_mb_b32']:.0f} MB; "
                  f"best path: {r['train_best_peak_rss_mb_b32']:.0f} MB (sum over processes)"]
        return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    from .cli import config_arguments

    parser = argparse.ArgumentParser(
        description="Measure training, inference, data and memory figures on this machine "
                    "and print a table (docs/benchmarks.md explains them).")
    config_arguments(parser, required=False)
    parser.add_argument("--quick", action="store_true",
                        help="fewer rounds and steps, same keys (a few minutes)")
    parser.add_argument("--out", metavar="FILE", help="write the figures as JSON")
    parser.add_argument("--weights", metavar="PATH",
                        help="trained weights for the inference rows (default: a demo model "
                             "from an earlier run in --work-dir, else trained now)")
    parser.add_argument("--work-dir", default=os.path.join("output", "benchmark"),
                        help="keeps the demo model between runs (default: %(default)s)")
    parser.add_argument("--smoke", action="store_true", help=argparse.SUPPRESS)  # tests only
    return parser


def _benchmark(argv) -> int:
    args = _parser().parse_args(argv)
    args.config = args.config or DEFAULT_CONFIG
    settings = Settings("smoke" if args.smoke else "quick" if args.quick else "full")
    began = time.time()
    scratch = tempfile.mkdtemp(prefix="googlenet-benchmark-")
    try:
        bench = Benchmark(args, settings, scratch)
        bench.machine()
        bench.training()
        bench.inference()
        bench.data()
        bench.measure_matmul()
        bench.fractions_of_bound()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    bench.report["seconds"] = round(time.time() - began, 1)
    print()
    print(bench.table())
    print(f"\n({bench.report['seconds']:.0f} s)")
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            json.dump(bench.report, f, indent=2)
        print(f"wrote {args.out}")
    return 0


def benchmark_main(argv=None) -> int:
    from .cli import run

    return run(_benchmark, argv)
