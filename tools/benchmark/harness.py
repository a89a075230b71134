"""Scheduling of the child processes, interleaving of candidates, and statistics.

The parent process never times anything itself: every figure comes from a fresh
child (``workers.py``), so that CPU threads, MKL's kernels and freed-memory
handling are each candidate's own. Candidates are interleaved in rounds (A B C, B C A, ...)
and every ratio is taken within a round (a candidate against the baseline, or
against the matmul bound, measured minutes or seconds apart rather than at the
two ends of the run) before the median over rounds is reported, with the number
of rounds and their min-max spread: load from other programs hits both sides of a
ratio alike.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Dict, List, Optional

from . import paddleclas_peer, report, training_peer
from .children import child_environment
from .stats import paired, summary
from .workers import turned

WORKER_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "workers.py")

# Keys the JSON always holds (images/s unless named otherwise).
REQUIRED_KEYS = ("train_default_b16", "train_baseline_b16", "train_best_b16", "train_best_path",
                 "infer_dygraph_b32", "infer_fp32_b32", "infer_bf16_b32", "bf16_top1_agreement",
                 "infer_onnxruntime_fp32_b1", "infer_onnxruntime_fp32_b32",
                 "onnxruntime_over_paddle_b1", "onnxruntime_over_paddle_b32",
                 "fp32_forward_bound", "fit_over_step", "train_peak_rss_mb_b32", "data",
                 "train_tools", "paddleclas", "multicrop")

# The config when -c names none: the package's demo config, found by name.
DEFAULT_CONFIG = "googlenet"
# A fast path must reproduce the baseline's losses this closely to be chosen.
LOSS_TOLERANCE = 1e-4
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


DEFAULT_PATH, BASELINE_PATH = "default", report.BASELINE
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
        full, quick, smoke = mode == "full", mode == "quick", mode == "smoke"
        self.train_side = 64 if smoke else 224
        self.train_batches = {16: 2, 32: 4} if smoke else {16: 16, 32: 32}
        # Rounds of every candidate, each in a fresh process. Fresh processes of one
        # candidate scatter by up to a fifth on a shared machine while the steps within
        # one agree, so ratios need rounds more than steps per round.
        # --quick takes 7 to 8 minutes on 2 cores: fewer training rounds, whose figures it
        # prints with their spread (--compare holds them to it, not to 10 %).
        self.train_rounds = ({16: 1, 32: 1} if smoke else {16: 5, 32: 5} if full
                             else {16: 3, 32: 2})
        self.train_steps = {16: 1, 32: 1} if smoke else {16: 3, 32: 2} if full else {16: 1, 32: 1}
        self.train_warmup = 0 if smoke else 1
        self.infer_side = 64 if smoke else 224
        # batch 8 (tools/infer.py's default batch) locates where the backends cross
        self.infer_batches = {1: 1, 8: 2, 32: 2} if smoke else {1: 1, 8: 8, 32: 32}
        # per round; a call at batch 1 takes tens of milliseconds, so it gets many
        self.infer_calls = {1: 1, 8: 1, 32: 1} if smoke else {1: 16, 8: 4, 32: 1}
        # inference rounds come from several processes spread over the run
        self.infer_launches = 1 if smoke else (5 if full else 2)
        self.infer_rounds_per_launch = 1 if smoke else 3
        self.infer_warmup_rounds = 1
        self.matmul_size = 256 if smoke else 2048
        self.matmul_repeats = 3
        self.fresh_memory_mib = 64 if smoke else 512
        # photographs read per core in each round (these rows take seconds: --quick
        # keeps all 20 rounds), and DataLoader samples per epoch by num_workers (0 to
        # the core count; a minute with each worker count's start, not in --quick)
        self.data_images = 16 if smoke else 256
        self.data_passes = 1 if smoke else 5
        self.data_by_workers = not quick
        # the eval list with and without dct_scaling on a camera's photographs, and the
        # demo renders on which the trained weights' top-1 is compared both ways
        self.large_images, self.large_size = (2, "640x480") if smoke else (16, "2048x1536")
        self.large_passes = 1 if smoke else 10
        self.agreement_images = 12 if smoke else (900 if full else 150)
        self.data_loader_samples = 32 if smoke else 1024
        self.data_epochs = 1 if smoke else 2
        # each epoch against model-only bursts either side of it, long enough not to
        # rest on a second or two of the machine's time
        self.fit_epochs = 1 if smoke else (4 if full else 2)
        # fit with these num_workers too, to show what the configured count gains
        self.fit_other_workers = (0, 1) if full else ()
        self.model_only_steps = 2 if smoke else (12 if full else 8)
        self.calibration_images = 8 if smoke else (INT8_CALIBRATION_IMAGES if full else 32)
        self.demo_epochs = None if full else (3 if quick else 1)  # None: the config's
        # PaddleClas's tools/train.py against this package's (training_peer.py): a few
        # hundred photographs, epochs timed as the difference of a 1- and a 3-epoch run
        self.tools_images = 8 if smoke else (320 if full else 200)
        self.tools_batch = 4 if smoke else 32
        self.tools_epochs = (1, 2) if smoke else (1, 3)
        self.tools_rounds = 1 if smoke else (3 if full else 2)
        # 1-, 10- and 144-crop evaluation per core (multicrop.py): photographs, rounds,
        # forward batches of 32 crops a round, and the crop side (the smoke's is small)
        self.multicrop_images = 1 if smoke else (16 if full else 8)
        self.multicrop_rounds = 1 if smoke else (3 if full else 2)
        self.multicrop_passes = 1 if smoke else 2
        self.multicrop_side = 64 if smoke else 224


# -- child processes ---------------------------------------------------------------

class Workers:
    """Runs worker jobs in fresh processes (or a data-parallel launch) and collects
    their JSON results."""

    def __init__(self, scratch: str, library: Optional[str] = None):
        self.scratch = scratch
        self.library = library  # the paddle_googlenet every child must import
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
                       WORKER_FILE, job_file]
        else:
            command = [sys.executable, WORKER_FILE, job_file]
        # Threads and MKL's kernels are the job's to choose, not inherited.
        threads = {"OMP_NUM_THREADS": str(job["threads"])} if job.get("threads") else {}
        env = child_environment(**threads)
        done = subprocess.run(command, capture_output=True, text=True, env=env)
        results = []
        for rank in range(processes):
            path = f"{job['result']}.{rank}"
            if not os.path.isfile(path):
                raise RuntimeError(f"benchmark worker {job['kind']} failed (exit "
                                   f"{done.returncode}):\n{self._failure_text(done, job_dir)}")
            with open(path, encoding="utf-8") as f:
                results.append(json.load(f))
        if self.library and results[0]["library"] != self.library:
            raise RuntimeError(f"the benchmark's worker imported paddle_googlenet from "
                               f"{results[0]['library']}, the benchmark from {self.library}: "
                               f"run it where both see the same install (PYTHONPATH)")
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


def _relative_loss_diff(losses: List[float], reference: List[float]) -> float:
    return max(abs(a - b) / max(abs(b), 1e-12) for a, b in zip(losses, reference))


def _load_average() -> Optional[List[float]]:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


class Benchmark:
    def __init__(self, args, settings: Settings, scratch: str, config: dict, library: str,
                 peer_root: Optional[str] = None):
        from paddle_googlenet.engine.fast_paths import cpu_features

        self.args, self.settings, self.config = args, settings, config
        self.workers = Workers(scratch, library)
        self.scratch = scratch
        self.features = cpu_features()
        self.cores = self.features["cores"] or 1
        self.peer_root = peer_root  # a PaddleClas checkout, or None
        self.report: Dict = {"mode": settings.mode, "command": " ".join(sys.argv),
                             "load_average": {"start": _load_average()},
                             "paddleclas": ({"root": self.peer_root,
                                             "commit": paddleclas_peer.commit(self.peer_root)}
                                            if self.peer_root else
                                            {"skipped": paddleclas_peer.skip_reason()})}
        self.started = time.monotonic()

    def log(self, message: str):
        """A progress line, after the seconds since the run began (where the time goes)."""
        print(f"{time.monotonic() - self.started:5.0f} s  {message}", flush=True)

    # machine ----------------------------------------------------------------------
    def machine(self):
        from paddle_googlenet.engine.fast_paths import mkl_avx2_applies, mkl_version

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
            "matmul_gflops_samples": [], "fresh_memory_gib_per_s_samples": []})
        self.log(f"MKL: {self.report['mkl_version']}; AVX2 kernels forced: {mkl_applies}; "
                 f"model {macs / 1e9:.3f} GMAC at 224x224")

    def measure_matmul(self) -> float:
        """One float32 matmul measurement in a fresh process (best of NumPy and Paddle):
        GFLOP/s, also kept for the machine's figure."""
        s, r = self.settings, self.report
        result = self.workers.run({"kind": "matmul", "threads": self.cores,
                                   "mkl_avx2": r["mkl_avx2_applies"],
                                   "matmul_size": s.matmul_size, "repeats": s.matmul_repeats,
                                   "fresh_memory_mib": s.fresh_memory_mib})[0]
        gflops = max(result["matmul_gflops_numpy"], result["matmul_gflops_paddle"])
        r["matmul_gflops_samples"].append(gflops)
        r["fresh_memory_gib_per_s_samples"].append(result["fresh_memory_gib_per_s"])
        return gflops

    def bound(self, gflops: float) -> float:
        """float32 forward images/s at 224x224 that ``gflops`` allows."""
        return gflops * 1e9 / (2 * self.report["macs_224"])

    # training ---------------------------------------------------------------------
    def _train_paths(self) -> List[TrainPath]:
        paths = [p for p in TRAIN_PATHS if p.quick or self.settings.mode == "full"]
        if not self.report["mkl_avx2_applies"]:  # then the MKL-only row repeats the baseline
            paths = [p for p in paths if not (p.mkl_avx2 and not p.fast_conv_bias)]
        return paths

    def _train_once(self, path: TrainPath, key: int) -> dict:
        s = self.settings
        job = {"kind": "train", "threads": path.threads_per_process(self.cores),
               "mkl_avx2": path.mkl_avx2, "fast_conv_bias": path.fast_conv_bias,
               "keep_memory": path.keep_memory, "batch": s.train_batches[key],
               "side": s.train_side, "steps": s.train_steps[key], "warmup": s.train_warmup,
               "seed": 0}
        results = self.workers.run(job, processes=path.processes)
        # Every process is resident at once: their peaks add up.
        return dict(results[0], peak_rss_mb=sum(r["peak_rss_mb"] for r in results))

    def _train_round(self, key: int, paths: List[TrainPath], round_index: int,
                     runs: Dict[str, list], bounds: List[float]):
        """Every path once, after a matmul (the round's bound).

        The order turns by one path each round (A B C, B C A, ...), so that no path
        always follows the same one (the machine's state after a two-process run, say).
        """
        rounds = self.settings.train_rounds[key]
        bounds.append(self.bound(self.measure_matmul()) / 3)
        for path in turned(paths, round_index):
            run = self._train_once(path, key)
            runs[path.name].append(run)
            self.log(f"  b{key} round {round_index + 1}/{rounds} {path.name}: "
                     f"{run['images_per_s']:.2f} images/s, peak {run['peak_rss_mb']:.0f} MB")

    @staticmethod
    def _train_rows(paths: List[TrainPath], runs: Dict[str, list], bounds: List[float]) -> dict:
        """Each path's figures; ratios are per round, then the median."""
        reference = runs[BASELINE_PATH][0]["losses"]
        baseline = [r["images_per_s"] for r in runs[BASELINE_PATH]]
        rows = {}
        for path in paths:
            done = runs[path.name]
            rates = [r["images_per_s"] for r in done]
            rows[path.name] = {
                "images_per_s": summary(rates),
                # in round order, with each round's steps: where a figure drifted
                "per_round": [{"images_per_s": r["images_per_s"],
                               "step_seconds": r["step_seconds"]} for r in done],
                "ratio_vs_baseline": paired(rates, baseline),
                "fraction_of_training_bound": paired(rates, bounds),
                "peak_rss_mb": max(r["peak_rss_mb"] for r in done),
                "losses": done[0]["losses"],
                "max_rel_loss_diff": _relative_loss_diff(done[0]["losses"], reference),
                "processes": path.processes, "description": path.description}
        return rows

    def _batch_paths(self) -> Dict[int, List[TrainPath]]:
        """The paths timed at each batch size (``--quick``: batch 32 without Paddle's
        1-thread default, the slowest and least interesting row)."""
        paths = self._train_paths()
        if self.settings.mode == "full":
            return {16: paths, 32: paths}
        return {16: paths, 32: [p for p in paths if p.name != DEFAULT_PATH]}

    def measure(self):
        """Training rounds at both batch sizes and the inference launches, interleaved
        over the whole run (b16 round, b32 round, inference launch, b16 round, ...).

        A figure on a shared machine drifts by up to a third over minutes, and not
        alike for every path or backend; with each section's samples spread over the
        run, two runs see the same mix of that drift rather than whatever happened
        during the minute a section ran.
        """
        s = self.settings
        batch_paths = self._batch_paths()
        self.log(f"training, {s.train_side}x{s.train_side}, batches "
                 f"{list(s.train_batches.values())}, timed steps {s.train_steps} after "
                 f"{s.train_warmup} warm-up, rounds {s.train_rounds}")
        inference = self._export_for_inference()
        self.log(f"inference, {s.infer_side}x{s.infer_side}, weights {inference['weights']}; "
                 f"{s.infer_launches} processes x {s.infer_rounds_per_launch} rounds, each "
                 f"after {s.infer_warmup_rounds} warm-up")
        runs = {key: {p.name: [] for p in paths} for key, paths in batch_paths.items()}
        bounds: Dict[int, List[float]] = {key: [] for key in batch_paths}
        samples: Dict[str, List[float]] = {}
        for index in range(max(max(s.train_rounds.values()), s.infer_launches)):
            for key, paths in batch_paths.items():
                if index < s.train_rounds[key]:
                    self._train_round(key, paths, index, runs[key], bounds[key])
            if index < s.infer_launches:
                self._time_inference(inference, index, samples)
        self._training_report({key: self._train_rows(paths, runs[key], bounds[key])
                               for key, paths in batch_paths.items()})
        self._inference_report(inference, samples)

    def _training_report(self, rows: Dict[int, dict]):
        b16, b32 = rows[16], rows[32]
        correct = [n for n, r in b16.items()
                   if r["max_rel_loss_diff"] <= LOSS_TOLERANCE and n in b32]
        best = max(correct, key=lambda n: b16[n]["images_per_s"]["median"])

        def rate(rows, name):
            return rows[name]["images_per_s"]["median"]

        self.report.update({
            "train_b16": b16, "train_b32": b32,
            "train_default_b16": rate(b16, DEFAULT_PATH),
            "train_baseline_b16": rate(b16, BASELINE_PATH),
            "train_best_b16": rate(b16, best), "train_best_path": best,
            "train_best_ratio_b16": b16[best]["ratio_vs_baseline"]["median"],
            "train_baseline_b32": rate(b32, BASELINE_PATH),
            "train_best_b32": rate(b32, best),
            "train_peak_rss_mb_b16": b16[BASELINE_PATH]["peak_rss_mb"],
            "train_peak_rss_mb_b32": b32[BASELINE_PATH]["peak_rss_mb"],
            "train_best_peak_rss_mb_b32": b32[best]["peak_rss_mb"]})

    def train_tools(self):
        """PaddleClas's tools/train.py, the reference, against this package's."""
        s = self.settings
        if self.peer_root is None:
            self.report["train_tools"] = {"skipped": paddleclas_peer.skip_reason()}
            self.log(f"training tools: skipped: {paddleclas_peer.skip_reason()}")
            return
        self.log(f"training tools on PaddleClas's GoogLeNet.yaml: {s.tools_images} "
                 f"photographs, batch {s.tools_batch}, epochs {s.tools_epochs}, "
                 f"{s.tools_rounds} rounds")
        self.report["train_tools"] = training_peer.measure(
            self.peer_root, s.tools_images, s.tools_batch, s.tools_epochs, s.tools_rounds,
            log=self.log)

    # inference --------------------------------------------------------------------
    def _weights(self) -> str:
        """--weights; else the best model of an earlier ``tools/train.py`` run of the
        config, or of an earlier benchmark run; else train the demo model now."""
        from paddle_googlenet.errors import WeightsError
        from paddle_googlenet.weights.loading import resolve_weights_path

        if self.args.weights:
            self.report["weights"] = {"path": self.args.weights, "source": "--weights"}
            return resolve_weights_path(self.args.weights)
        config = self.config
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
                                   "config": config, "train_overrides": overrides})[0]
        self.report["weights"] = {"path": best, "source": "trained by this run",
                                  "seconds": round(time.time() - start, 1),
                                  "best_top1": result["best_top1"]}
        return resolve_weights_path(best)

    def _inference_job(self, kind: str, weights: str) -> dict:
        s = self.settings
        return {"kind": kind, "threads": self.cores, "keep_memory": True,
                "mkl_avx2": self.report["mkl_avx2_applies"], "config": self.config,
                "weights": weights, "scratch": os.path.join(self.scratch, "infer"),
                "side": s.infer_side}

    def _export_for_inference(self) -> dict:
        """Export once (and compare every row with dygraph on the eval images)."""
        weights = self._weights()
        result = self.workers.run(dict(self._inference_job("infer_export", weights),
                                       calibration_images=self.settings.calibration_images))[0]
        for name, why in result["skipped"].items():
            self.log(f"  {name}: skipped: {why}")
        return dict(result, weights=weights)

    def _time_inference(self, inference: dict, launch: int, samples: Dict[str, List[float]]):
        """One fresh process timing every row for a few rounds on the export."""
        s = self.settings
        job = dict(self._inference_job("infer_time", inference["weights"]),
                   runners=inference["runners"], batches=s.infer_batches, calls=s.infer_calls,
                   rounds=s.infer_rounds_per_launch, warmup_rounds=s.infer_warmup_rounds,
                   first_turn=launch * s.infer_rounds_per_launch,
                   matmul_size=s.matmul_size, matmul_repeats=s.matmul_repeats)
        timed = self.workers.run(job)[0]["samples"]
        for key, values in timed.items():
            samples.setdefault(key, []).extend(values)
        fp32 = timed.get(f"fp32_b{max(s.infer_batches)}")
        self.log(f"  inference {launch + 1}/{s.infer_launches}: "
                 f"{s.infer_rounds_per_launch} rounds"
                 + (f", fp32 b{max(s.infer_batches)} " + ", ".join(f"{v:.1f}" for v in fp32)
                    + " images/s" if fp32 else ""))

    def _inference_report(self, inference: dict, samples: Dict[str, List[float]]):
        from paddle_googlenet.deploy.precisions import PRECISIONS

        s = self.settings
        rows = inference["rows"]
        bounds = [self.bound(g) for g in samples["matmul_gflops"]]
        self.report["matmul_gflops_samples"] += samples["matmul_gflops"]
        for name, row in rows.items():
            for key in s.infer_batches:
                rates = samples[f"{name}_b{key}"]
                row[f"b{key}"] = summary(rates)
                if "fp32" in rows:
                    row[f"vs_fp32_b{key}"] = paired(rates, samples[f"fp32_b{key}"])
                row[f"fraction_of_bound_b{key}"] = paired(rates, bounds)

        def figure(name, key, field="median"):
            row = rows.get(name)
            return None if row is None else (row[key][field] if field else row[key])

        self.report.update({
            "infer": rows, "infer_skipped": inference["skipped"],
            "infer_eval_top1": inference["eval_top1"],
            "infer_eval_images": inference["eval_images"],
            "infer_bound_b32": summary(bounds), "infer_batches": list(s.infer_batches),
            "infer_dygraph_b1": figure("dygraph", "b1"),
            "infer_dygraph_b32": figure("dygraph", "b32"),
            "int8_offered": bool(rows.get("int8", {}).get("top1_agreement", 0) >= 0.99)})
        for name in PRECISIONS:
            for prefix in ("", "onnxruntime_"):
                self.report.update({f"infer_{prefix}{name}_b1": figure(prefix + name, "b1"),
                                    f"infer_{prefix}{name}_b32": figure(prefix + name, "b32"),
                                    f"{prefix}{name}_top1_agreement":
                                        figure(prefix + name, "top1_agreement", None)})
        for key in s.infer_batches:
            self.report[f"onnxruntime_over_paddle_b{key}"] = figure(
                "onnxruntime_fp32", f"vs_fp32_b{key}")

    # data -------------------------------------------------------------------------
    def data(self):
        s = self.settings
        common = {"config": self.config, "mkl_avx2": self.report["mkl_avx2_applies"]}
        self.log("data pipeline and fit epochs")
        pipeline = self.workers.run(dict(common, kind="data", threads=self.cores,
                                         images=s.data_images, passes=s.data_passes,
                                         workers=(list(range(self.cores + 1))
                                                  if s.data_by_workers else []),
                                         samples=s.data_loader_samples, epochs=s.data_epochs,
                                         large_images=s.large_images, large_size=s.large_size,
                                         large_passes=s.large_passes,
                                         agreement_images=s.agreement_images,
                                         weights=self._weights(),
                                         paddleclas=self.peer_root))[0]
        fit = self.workers.run(dict(common, kind="fit", scratch=os.path.join(self.scratch, "fit"),
                                    epochs=s.fit_epochs, model_only_steps=s.model_only_steps,
                                    other_workers=list(s.fit_other_workers)))[0]
        fit_summary = {
            "fit_images_per_s": summary(fit["fit_images_per_s"]),
            "model_only_images_per_s": summary(fit["model_only_images_per_s"]),
            "fit_over_step": summary(fit["fit_over_step"]),
            "fit_over_step_by_workers": {w: summary(r) for w, r in
                                         fit["fit_over_step_by_workers"].items()},
            **{k: fit[k] for k in ("num_workers", "batch", "input_shape", "threads")}}
        pipeline.pop("library", None)
        pipeline.pop("peak_rss_mb", None)
        self.report.update({"data": pipeline,
                            "fit": fit_summary,
                            "fit_over_step": fit_summary["fit_over_step"]["median"]})

    def multicrop(self):
        s = self.settings
        self.log("multi-crop evaluation")
        self.report["multicrop"] = self.workers.run(dict(
            kind="multicrop", images=s.multicrop_images, rounds=s.multicrop_rounds,
            passes=s.multicrop_passes, side=s.multicrop_side))[0]
        for key in ("library", "peak_rss_mb"):
            self.report["multicrop"].pop(key, None)

    def finish(self):
        """The machine's figures: the best matmul of the run (other programs' load only
        lowers it) and the bounds it gives."""
        r = self.report
        gflops = max(r["matmul_gflops_samples"])
        bound = self.bound(gflops)
        r.update({"matmul_gflops": gflops, "fp32_forward_bound": bound,
                  "fresh_memory_gib_per_s": summary(r["fresh_memory_gib_per_s_samples"]),
                  "fp32_training_bound": bound / 3,
                  "fp32_fraction_of_bound_b32": r["infer"]["fp32"]["fraction_of_bound_b32"]
                  ["median"] if "fp32" in r["infer"] else None})
        r["load_average"]["end"] = _load_average()


def _parser() -> argparse.ArgumentParser:
    from paddle_googlenet.cli import config_arguments

    parser = argparse.ArgumentParser(
        prog="tools/benchmark.py",
        description="Measure training, inference (Paddle Inference and ONNX Runtime), data "
                    "and memory figures on this machine and print a table "
                    "(docs/benchmarks.md explains them).")
    config_arguments(parser, required=False)
    parser.description += f" Default config: the packaged {DEFAULT_CONFIG} (-c {DEFAULT_CONFIG})."
    parser.add_argument("--quick", action="store_true",
                        help="fewer rounds and rows, same keys (7 to 8 minutes on an idle "
                             "2-core machine once weights exist, and about 8 more for the "
                             "training tools rows when a PaddleClas checkout is found)")
    parser.add_argument("--out", metavar="FILE", help="write the figures as JSON")
    parser.add_argument("--weights", metavar="PATH",
                        help="trained weights for the inference rows (default: a demo model "
                             "from an earlier run in --work-dir, else trained now)")
    parser.add_argument("--work-dir", default=os.path.join("output", "benchmark"),
                        help="keeps the demo model between runs (default: %(default)s)")
    parser.add_argument("--paddleclas", metavar="DIR",
                        help="a PaddleClas checkout (the folder holding ppcls/; default "
                             "$PADDLECLAS_HOME) whose own operators and dataset the data rows "
                             "are measured beside; without one those rows say they were "
                             "skipped")
    parser.add_argument("--compare", nargs=2, metavar=("FIRST", "SECOND"),
                        help="measure nothing: print every ratio of two --out files and how "
                             "far apart they are")
    parser.add_argument("--smoke", action="store_true", help=argparse.SUPPRESS)  # tests only
    return parser


def _benchmark(argv) -> int:
    import paddle_googlenet

    from paddle_googlenet.config import find_config, load_config

    args = _parser().parse_args(argv)
    if args.compare:
        return _compare(*args.compare)
    source = find_config(args.config or DEFAULT_CONFIG)
    config = load_config(source, args.override)
    settings = Settings("smoke" if args.smoke else "quick" if args.quick else "full")
    library = os.path.dirname(os.path.abspath(paddle_googlenet.__file__))
    began = time.time()
    scratch = tempfile.mkdtemp(prefix="googlenet-benchmark-")
    try:
        bench = Benchmark(args, settings, scratch, config, library,
                          paddleclas_peer.checkout(args.paddleclas))
        bench.report["config"] = source
        bench.machine()
        bench.measure()
        bench.train_tools()
        bench.data()
        bench.multicrop()
        bench.finish()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    bench.report["seconds"] = round(time.time() - began, 1)
    print()
    print(report.table(bench.report))
    print(f"\n({bench.report['seconds']:.0f} s; load average at start "
          f"{bench.report['load_average']['start']}, at end {bench.report['load_average']['end']})")
    if args.out:
        report.write_json(bench.report, args.out)
        print(f"wrote {args.out}")
    return 0


def _compare(first: str, second: str) -> int:
    from paddle_googlenet.errors import UserError

    loaded = []
    for path in (first, second):
        try:
            with open(path, encoding="utf-8") as f:
                loaded.append(json.load(f))
        except (OSError, ValueError) as err:
            raise UserError(f"--compare {path}: not a benchmark --out file ({err})") from None
    try:
        rows = report.compare(*loaded)
    except (KeyError, TypeError) as err:
        raise UserError(f"--compare: {first} or {second} lacks {err}: both must be --out files "
                        f"of this benchmark") from None
    print("| ratio | first | second | difference | within both runs' spread | flagged |\n"
          "|---|---|---|---|---|---|")
    for name, a, b, difference, overlap, flagged in rows:
        print(f"| {name} | {a:.3f} | {b:.3f} | {difference:.1%} | {'yes' if overlap else 'no'} "
              f"| {'FLAGGED' if flagged else ''} |")
    print(f"\n{sum(row[5] for row in rows)} of {len(rows)} ratios flagged (inference and data: "
          f"more than {report.AGREEMENT:.0%} apart; training: outside both runs' spreads)")
    return 0


def main(argv=None) -> int:
    from paddle_googlenet.cli import run

    return run(_benchmark, argv)
