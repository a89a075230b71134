"""Each fast path of fast_paths gives the plain path's numbers; the benchmark runs.

Speeds are never asserted here: tools/benchmark.py measures them.
"""

import json
import os
import subprocess
import sys

import numpy as np
import paddle
import pytest

from paddle_googlenet.engine.fast_paths import (cpu_features, mkl_avx2_applies, use_fast_conv_bias)
from paddle_googlenet.models import GoogLeNet

from tiny import DEFAULT_CONFIG, ROOT, tiny_overrides

sys.path.insert(0, os.path.join(ROOT, "tools"))
from benchmark.harness import REQUIRED_KEYS, Workers  # noqa: E402

SIDE = 64  # adaptive heads: the smallest input that keeps every feature map


def _twin_networks():
    """Two GoogLeNets with the same weights, the second with the fast conv bias."""
    paddle.seed(1)
    plain = GoogLeNet(num_classes=6, dropout=0.0, aux_dropout=0.0, adaptive_pool=True)
    fast = GoogLeNet(num_classes=6, dropout=0.0, aux_dropout=0.0, adaptive_pool=True)
    fast.set_state_dict(plain.state_dict())
    assert use_fast_conv_bias(fast) == 59  # every Conv2D of trunk and aux heads
    return plain, fast


def _train_steps(network, images, labels, steps=3):
    from paddle_googlenet.losses import GoogLeNetLoss

    loss_fn = GoogLeNetLoss()
    optimizer = paddle.optimizer.Momentum(0.01, momentum=0.9, parameters=network.parameters())
    losses = []
    for _ in range(steps):
        loss = loss_fn(network(images), labels)
        loss.backward()
        optimizer.step()
        optimizer.clear_grad()
        losses.append(float(loss))
    return losses


@pytest.mark.slow
def test_fast_conv_bias_keeps_parameters_and_outputs():
    plain, fast = _twin_networks()
    assert [n for n, _ in plain.named_parameters()] == [n for n, _ in fast.named_parameters()]
    assert sum(int(p.numel()) for p in fast.parameters()) == sum(
        int(p.numel()) for p in plain.parameters())
    assert type(fast.stem[0]) is paddle.nn.Conv2D  # paddle.summary rows unchanged
    assert use_fast_conv_bias(fast) == 0  # a second call changes nothing
    images = paddle.to_tensor(np.random.RandomState(0).randn(2, 3, SIDE, SIDE).astype("float32"))
    plain.eval(), fast.eval()
    with paddle.no_grad():
        for a, b in zip(plain(images), fast(images)):
            np.testing.assert_array_equal(a.numpy(), b.numpy())


@pytest.mark.slow
def test_fast_conv_bias_trains_like_the_plain_path():
    plain, fast = _twin_networks()
    rng = np.random.RandomState(0)
    images = paddle.to_tensor(rng.randn(4, 3, SIDE, SIDE).astype("float32"))
    labels = paddle.to_tensor(rng.randint(0, 6, (4, 1)).astype("int64"))
    plain_losses = _train_steps(plain, images, labels, steps=1)
    fast_losses = _train_steps(fast, images, labels, steps=1)
    np.testing.assert_allclose(fast_losses, plain_losses, rtol=1e-6)
    # Every gradient, bias gradients included, at the weights after that step.
    plain_grads = _gradients(plain, images, labels)
    fast_grads = _gradients(fast, images, labels)
    for name, grad in plain_grads.items():
        scale = np.abs(grad).max() + 1e-12
        assert np.abs(fast_grads[name] - grad).max() <= 1e-4 * scale, name
    # And over several steps the losses stay together.
    plain, fast = _twin_networks()
    np.testing.assert_allclose(_train_steps(fast, images, labels),
                               _train_steps(plain, images, labels), rtol=1e-5)


def _gradients(network, images, labels):
    from paddle_googlenet.losses import GoogLeNetLoss

    network.clear_gradients()
    GoogLeNetLoss()(network(images), labels).backward()
    return {name: p.grad.numpy().copy() for name, p in network.named_parameters()}


def test_fast_conv_bias_with_a_frozen_bias():
    conv = paddle.nn.Conv2D(3, 4, 3, padding=1)
    twin = paddle.nn.Conv2D(3, 4, 3, padding=1)
    twin.set_state_dict(conv.state_dict())
    use_fast_conv_bias(twin)
    for layer in (conv, twin):
        layer.bias.stop_gradient = True
        layer(paddle.ones([1, 3, 5, 5])).sum().backward()
    assert twin.bias.grad is None
    np.testing.assert_allclose(twin.weight.grad.numpy(), conv.weight.grad.numpy(), rtol=1e-6)


@pytest.mark.slow
def test_onednn_flag_gives_the_same_numbers():
    # In Paddle 3.3.1 the flag does not reach dygraph kernels; this guards the claim
    # in docs/benchmarks.md that it is safe (and useless) to set.
    plain, _ = _twin_networks()
    plain.eval()
    images = paddle.to_tensor(np.random.RandomState(2).randn(1, 3, SIDE, SIDE).astype("float32"))
    with paddle.no_grad():
        off = plain(images)[0].numpy()
        paddle.set_flags({"FLAGS_use_onednn": True})
        try:
            on = plain(images)[0].numpy()
        finally:
            paddle.set_flags({"FLAGS_use_onednn": False})
    np.testing.assert_allclose(on, off, rtol=1e-5, atol=1e-6)


def _train_losses(workers, processes=1, **flags):
    # Ten steps, long enough for rounding differences to show. At this tiny size lr 0.001
    # makes the loss swing 2 -> 15 by step 9, where any rounding difference grows: 1e-4.
    job = {"kind": "train", "threads": 1, "batch": 4, "side": SIDE, "steps": 10, "warmup": 0,
           "seed": 0, "lr": 1e-4, "mkl_avx2": False, "fast_conv_bias": False,
           "keep_memory": False}
    job.update(flags)
    return workers.run(job, processes=processes)[0]["losses"]


@pytest.fixture(scope="module")
def workers(tmp_path_factory):
    return Workers(str(tmp_path_factory.mktemp("workers")))


@pytest.fixture(scope="module")
def plain_losses(workers):
    return _train_losses(workers)


@pytest.mark.slow
def test_data_parallel_with_all_fast_paths_matches_one_process(workers, plain_losses):
    """Two processes at half the batch each: the global batch's losses are the same."""
    fast = _train_losses(workers, processes=2, mkl_avx2=True, fast_conv_bias=True,
                         keep_memory=True)
    np.testing.assert_allclose(fast, plain_losses, rtol=1e-4)


@pytest.mark.slow
def test_the_default_single_process_path_trains_like_the_plain_path(workers, plain_losses):
    """What tools/train.py runs on a CPU: every single-process fast path, 10 steps."""
    fast = _train_losses(workers, mkl_avx2=True, fast_conv_bias=True, keep_memory=True)
    assert len(fast) == 10
    np.testing.assert_allclose(fast, plain_losses, rtol=1e-4)


@pytest.mark.slow
def test_keeping_freed_memory_gives_the_same_losses(workers, plain_losses):
    # Only where memory comes from changes: the numbers must be identical.
    assert _train_losses(workers, keep_memory=True) == plain_losses


_FREED_MEMORY_SCRIPT = """
import ctypes, sys
import numpy as np
sys.path.insert(0, {root!r})
from paddle_googlenet.hardware import keep_freed_memory
kept = keep_freed_memory() if sys.argv[1] == "keep" else False

class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]

libc = ctypes.CDLL(None)
libc.mallinfo2.restype = MallInfo2
block = np.ones(16 * 2**20, dtype=np.float32)  # 64 MB, like a step's activation
del block
print(kept, libc.mallinfo2().fordblks)  # free bytes the heap still holds
"""


@pytest.mark.slow
def test_keep_freed_memory_keeps_large_blocks_for_reuse():
    def run(mode):
        done = subprocess.run([sys.executable, "-c", _FREED_MEMORY_SCRIPT.format(root=ROOT), mode],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        kept, free_bytes = done.stdout.split()
        return kept == "True", int(free_bytes)

    kept, held = run("keep")
    assert kept and held >= 64 * 2**20
    _, held_by_default = run("return")
    assert held_by_default < 64 * 2**20  # glibc's default hands the block back


@pytest.mark.skipif(not mkl_avx2_applies(), reason="MKL's AVX2 switch only acts on non-Intel CPUs")
@pytest.mark.slow
def test_mkl_avx2_kernels_give_the_same_losses(workers, plain_losses):
    np.testing.assert_allclose(_train_losses(workers, mkl_avx2=True), plain_losses, rtol=1e-4)


def test_cpu_features_names_bf16_support():
    features = cpu_features()
    assert {"vendor", "model", "flags", "bf16", "int8"} <= set(features)
    assert isinstance(features["flags"]["avx2"], bool)


def _benchmark_env():
    """The benchmark imports paddle_googlenet as an installed package: this checkout's."""
    return dict(os.environ, PYTHONPATH=os.pathsep.join(
        [ROOT] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))


def test_benchmark_help():
    for command in ([os.path.join(ROOT, "tools", "benchmark.py")], ["-m", "tools.benchmark"]):
        done = subprocess.run([sys.executable, *command, "--help"], capture_output=True,
                              text=True, cwd=ROOT, env=_benchmark_env())
        assert done.returncode == 0, done.stderr[-2000:]
        assert "--quick" in done.stdout and "--out" in done.stdout


def test_the_library_does_not_hold_or_import_the_benchmark():
    package = os.path.join(ROOT, "paddle_googlenet")
    assert not os.path.exists(os.path.join(package, "benchmark.py"))
    for folder, _, files in os.walk(package):
        for name in files:
            if name.endswith(".py"):
                with open(os.path.join(folder, name), encoding="utf-8") as f:
                    text = f.read()
                assert "import benchmark" not in text and "benchmark import" not in text, name


def test_benchmark_default_config_is_the_packaged_demo_config():
    """No copy of the config: without -c the benchmark reads the package's googlenet."""
    from benchmark.harness import DEFAULT_CONFIG as BENCHMARK_DEFAULT
    from paddle_googlenet.config import find_config

    assert os.path.samefile(find_config(BENCHMARK_DEFAULT), DEFAULT_CONFIG)


def test_benchmark_ratios_are_paired_per_round():
    from benchmark.stats import paired, summary

    assert summary([3.0, 1.0, 2.0]) == {"median": 2.0, "n": 3, "min": 1.0, "max": 3.0}
    # a round where load halved both sides leaves its ratio unchanged
    ratio = paired([10.0, 5.0, 10.0], [5.0, 2.5, 5.0])
    assert ratio == {"median": 2.0, "n": 3, "min": 2.0, "max": 2.0}


def test_benchmark_compare_holds_inference_and_data_to_ten_percent_training_to_its_spread():
    from benchmark.report import compare

    def figure(median, low, high):
        return {"median": median, "n": 5, "min": low, "max": high}

    def run(train, train_bound, infer, data, fit):
        return {"train_b16": {"baseline": {"ratio_vs_baseline": train,
                                           "fraction_of_training_bound": train_bound}},
                "train_b32": {}, "infer": {"int8": {"vs_fp32_b32": infer}},
                "fit": {"fit_over_step": fit},
                "data": {"of_decode_only": {}, "vs_paddleclas": {"train": data}}}

    first = run(figure(1.0, 0.8, 1.2), figure(0.30, 0.29, 0.31), figure(1.0, 0.9, 1.3),
                figure(2.0, 1.5, 2.5), figure(0.9, 0.8, 1.0))
    # fit: the first median lies within the second run's spread, not the other way
    second = run(figure(1.15, 0.9, 1.3), figure(0.36, 0.35, 0.37), figure(1.15, 0.8, 1.2),
                 figure(2.1, 1.6, 2.6), figure(1.05, 0.85, 1.2))
    flagged = {row[0]: row[5] for row in compare(first, second)}
    assert flagged == {
        "train_b16/baseline/vs_baseline": False,  # 15% apart, within both spreads
        "train_b16/baseline/of_training_bound": True,  # outside both spreads
        "infer/int8/vs_fp32_b32": True,  # 15% apart: more than 10%
        "data/train/vs_paddleclas": False,  # 5% apart
        "fit_over_step": False}


def test_benchmark_compare_of_a_file_that_is_not_a_report_is_one_line(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    done = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "benchmark.py"),
                           "--compare", str(bad), str(tmp_path / "missing.json")],
                          capture_output=True, text=True, cwd=str(tmp_path), env=_benchmark_env())
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "missing.json" in done.stderr


@pytest.mark.slow
def test_benchmark_smoke_writes_every_key(tiny_data, tmp_path, paddleclas_if_any):
    """The hidden --smoke mode: every section at toy sizes, the same JSON keys; run
    from outside the clone, and compared with itself."""
    weights = str(tmp_path / "untrained.pdparams")
    paddle.save(GoogLeNet(num_classes=6, adaptive_pool=True).state_dict(), weights)
    out = tmp_path / "bench.json"
    overrides = tiny_overrides(tiny_data, str(tmp_path / "run"), epochs=1, **{
        "Infer.PostProcess.class_id_map_file": os.path.join(tiny_data, "label_list.txt")})
    command = [sys.executable, os.path.join(ROOT, "tools", "benchmark.py"), "--smoke",
               "-c", DEFAULT_CONFIG, "--weights", weights, "--out", str(out),
               "--work-dir", str(tmp_path / "work")]
    for option in overrides:
        command += ["-o", option]
    done = subprocess.run(command, capture_output=True, text=True, cwd=str(tmp_path),
                          env=_benchmark_env())
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(out.read_text())
    missing = [key for key in REQUIRED_KEYS if key not in report]
    assert not missing
    assert report["train_best_path"] in report["train_b16"]
    # every figure says how many samples it rests on
    assert report["infer"]["fp32"]["b32"]["n"] >= 1
    assert report["train_b16"]["baseline"]["ratio_vs_baseline"]["median"] == 1.0
    assert "(n=" in done.stdout
    # the data rows, beside PaddleClas's own operators where a checkout is named
    data = report["data"]
    assert data["of_decode_only"]["decode only (cv2.imdecode)"]["median"] == 1.0
    workers = data["by_workers"]["train: this project"]
    assert set(workers) == {str(n) for n in range(os.cpu_count() + 1)}
    assert ("vs_paddleclas" in data) == bool(paddleclas_if_any)
    # PaddleClas's tools/train.py, the reference of the training rows, and its commit
    tools = report["train_tools"]
    if paddleclas_if_any:
        from tools.benchmark.paddleclas_peer import commit
        from tools.benchmark.training_peer import OURS, PEER

        assert report["paddleclas"]["commit"] == commit(paddleclas_if_any) != "unknown"
        assert tools["paddleclas_commit"] == report["paddleclas"]["commit"]
        assert set(tools["rows"]) == {PEER, OURS} and tools["speedup_vs_paddleclas"]["n"] == 1
        assert tools["speedup_vs_paddleclas"]["median"] == pytest.approx(
            tools["rows"][PEER]["seconds_per_epoch"]["median"]
            / tools["rows"][OURS]["seconds_per_epoch"]["median"])
        assert f"| {PEER} |" in done.stdout and "1.00 (reference)" in done.stdout
        assert report["paddleclas"]["commit"] in done.stdout
    else:
        assert "skipped" in tools and "skipped" in report["paddleclas"]
    large = data["large"]
    assert large["photographs"]["size"] == "640x480"
    assert {"eval: this project", "eval, dct_scaling: this project"} <= set(
        large["images_per_cpu_s"])
    agreement = data["dct_scaling_agreement"]
    assert agreement["images"] == 12 and 0 <= agreement["agreeing"] <= 12
    assert agreement["scaled"] == 12  # every render is at least twice the eval size
    assert "dct_scaling, top-1 as with full decoding" in done.stdout
    assert ("this project / PaddleClas" if "vs_paddleclas" in data
            else "skipped: needs PaddleClas") in done.stdout
    # 1, 10 and 144 crops per core: the bound of n crops is one crop's over n
    multicrop = report["multicrop"]
    assert multicrop["crop"] == 64 and multicrop["photographs"]["count"] == 1
    for precision, rows in multicrop["rows"].items():
        by_crops = {row["crops"]: row for row in rows.values()}
        assert sorted(by_crops) == [1, 10, 144]
        one = by_crops[1]["forward_bound"]["median"]
        assert by_crops[144]["forward_bound"]["median"] * 144 == pytest.approx(one)
        assert f"144 crops, {precision}: host work is" in done.stdout
    onnx = report["infer"].get("onnxruntime_fp32")
    if "onnxruntime_fp32" in report["infer_skipped"]:
        assert onnx is None and report["onnxruntime_over_paddle_b32"] is None
    else:  # the same exported model: ONNX Runtime agrees with Paddle's dygraph
        assert onnx["top1_agreement"] == 1.0
        assert report["onnxruntime_over_paddle_b32"] > 0
    if not report["processor"]["bf16"]:
        assert report["infer_bf16_b32"] is None and report["bf16_top1_agreement"] is None
        assert "bf16" in done.stdout and "skipped" in done.stdout
    compared = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "benchmark.py"),
                               "--compare", str(out), str(out)], capture_output=True, text=True,
                              cwd=str(tmp_path), env=_benchmark_env())
    assert compared.returncode == 0, compared.stderr[-2000:]
    assert "onnxruntime_fp32/vs_fp32_b32" in compared.stdout or onnx is None
    assert "| 0.0% | yes |" in compared.stdout
    assert "\n0 of " in compared.stdout and "FLAGGED" not in compared.stdout


def test_benchmark_training_rounds_turn_the_order_and_pair_each_round(tmp_path):
    from benchmark.harness import BASELINE_PATH, Benchmark, Settings, TrainPath

    paths = [TrainPath(BASELINE_PATH, "base"), TrainPath("b", "b"), TrainPath("c", "c")]
    speed = {BASELINE_PATH: 2.0, "b": 4.0, "c": 6.0}
    order = []

    class Timed(Benchmark):
        load = 1.0

        def measure_matmul(self):
            self.load = [1.0, 0.5, 0.25, 1.0, 0.5][len(order) // 3]  # changes per round
            return 300.0 * self.load

        def bound(self, gflops):
            return gflops / 10

        def _train_once(self, path, key):
            order.append(path.name)
            return {"images_per_s": speed[path.name] * self.load, "losses": [1.0],
                    "step_seconds": [1.0], "peak_rss_mb": 1.0}

    bench = Timed(None, Settings("quick"), str(tmp_path), {}, "")
    runs, bounds = {p.name: [] for p in paths}, []
    for index in range(5):
        bench._train_round(16, paths, index, runs, bounds)
    rows = bench._train_rows(paths, runs, bounds)
    assert len(order) == 3 * 5
    rounds = [order[i:i + 3] for i in range(0, 15, 3)]
    assert [r[0] for r in rounds] == [BASELINE_PATH, "b", "c", BASELINE_PATH, "b"]
    assert all(sorted(r) == sorted(speed) for r in rounds)
    # load that changes between rounds but not within one leaves the ratios exact
    assert rows["c"]["ratio_vs_baseline"] == {"median": 3.0, "n": 5, "min": 3.0, "max": 3.0}
    assert rows["b"]["fraction_of_training_bound"]["max"] == pytest.approx(0.4)
    assert [r["images_per_s"] for r in rows["b"]["per_round"]] == [4.0, 2.0, 1.0, 4.0, 2.0]


def test_benchmark_spreads_inference_processes_between_training_rounds(tmp_path):
    from benchmark.harness import Benchmark, Settings

    events = []
    settings = Settings("quick")

    class Scheduled(Benchmark):
        def measure_matmul(self):
            return 300.0

        def bound(self, gflops):
            return 30.0

        def _train_once(self, path, key):
            events.append(f"train{key}")
            return {"images_per_s": 1.0, "losses": [1.0], "step_seconds": [1.0],
                    "peak_rss_mb": 1.0}

        def _export_for_inference(self):
            events.append("export")
            return {"weights": "w", "runners": ["dygraph", "fp32"], "skipped": {},
                    "eval_top1": 1.0, "eval_images": 1,
                    "rows": {"dygraph": {"top1_agreement": 1.0},
                             "fp32": {"top1_agreement": 1.0}}}

    bench = Scheduled(None, settings, str(tmp_path), {}, "")
    bench.report.update(mkl_avx2_applies=True, macs_224=1, matmul_gflops_samples=[])
    jobs = []

    def run(job, processes=1):
        events.append("infer")
        jobs.append(job)
        rounds = job["rounds"]
        return [{"samples": {"dygraph_b1": [1.0] * rounds, "dygraph_b8": [1.0] * rounds,
                             "dygraph_b32": [1.0] * rounds, "fp32_b1": [2.0] * rounds,
                             "fp32_b8": [2.0] * rounds, "fp32_b32": [2.0] * rounds,
                             "matmul_gflops": [300.0] * rounds}}]

    bench.workers.run = run
    bench.measure()
    launches = [i for i, e in enumerate(events) if e == "infer"]
    assert len(launches) == settings.infer_launches > 1
    assert events[0] == "export"
    # a training round before, between and after the inference processes
    assert events.index("train16") < launches[0] and events[-1].startswith("train")
    assert all("train32" in events[a:b] for a, b in zip(launches, launches[1:]))
    # the rows' order keeps turning from one process to the next
    assert [j["first_turn"] for j in jobs] == [settings.infer_rounds_per_launch * i
                                               for i in range(len(jobs))]
    fp32 = bench.report["infer"]["fp32"]
    assert fp32["b32"]["n"] == settings.infer_launches * settings.infer_rounds_per_launch
    assert bench.report["infer"]["dygraph"]["vs_fp32_b32"]["median"] == 0.5
    assert "default" not in bench.report["train_b32"]  # --quick: not at batch 32


def test_benchmark_says_when_fresh_memory_speed_varied():
    from benchmark.harness import summary
    from benchmark.report import _memory_note

    assert _memory_note({"fresh_memory_gib_per_s": summary([5.0, 8.0, 6.0])}) == ""
    note = _memory_note({"fresh_memory_gib_per_s": summary([0.4, 8.0, 6.0])})
    assert "varied" in note and "baseline" in note
