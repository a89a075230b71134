"""Weights are data: a file that asks to run code is refused before anything runs,
while every file paddle.save writes for this project (and paddle.vision's GoogLeNet
weights, and .safetensors) loads with the values paddle.load gives."""

import os
import pickle
import random
import subprocess
import sys

import numpy as np
import paddle
import pytest

from paddle_googlenet.weights import checkpoint, safe_load, writers
from paddle_googlenet.weights.convert import convert_weights
from paddle_googlenet.cli.convert import main as convert_main
from paddle_googlenet.errors import WeightsError
from paddle_googlenet.models import GoogLeNet, build_model, load_weights
from paddle_googlenet.weights.loading import resolve_weights_path
from paddle_googlenet.engine.runtime import rng_state, set_rng_state
from tiny import DEFAULT_CONFIG, ROOT, tiny_overrides


# ------------------------------------------------------------------ crafted files

class _Call:
    """Unpickles as ``function(*args)``: what a malicious ``__reduce__`` does."""

    def __init__(self, function, *args):
        self.function, self.args = function, args

    def __reduce__(self):
        return self.function, self.args


def payload(kind: str, marker: str):
    """A call that creates ``marker``, and the global (module.name) the file names."""
    if kind == "os.system":
        return _Call(os.system, f"touch {marker}"), f"{os.system.__module__}.system"
    if kind == "eval":
        return _Call(eval, f"open({marker!r}, 'w').close()"), "builtins.eval"
    if kind == "subprocess":
        return _Call(subprocess.check_call, ["touch", marker]), "subprocess.check_call"
    if kind == "import":
        # importing a module by name is enough to run its code
        return _Call(__import__("importlib").import_module, "this"), "importlib.import_module"
    raise ValueError(kind)


def write_crafted(path: str, kind: str, marker: str) -> str:
    """A state dict whose one tensor is the payload, pickled as paddle.save would;
    returns the global it names."""
    call, qualified_name = payload(kind, marker)
    with open(path, "wb") as f:
        pickle.dump({"conv1.conv.weight": call}, f, protocol=4)
    return qualified_name


@pytest.mark.parametrize("kind", ["os.system", "eval", "subprocess"])
def test_the_crafted_files_would_run_their_payload(tmp_path, kind):
    """Unpickled as paddle.load would, each crafted file creates its marker (so the
    tests below that see no marker do prove the payload never ran)."""
    marker = str(tmp_path / "ran")
    write_crafted(str(tmp_path / "evil.pdparams"), kind, marker)
    with open(tmp_path / "evil.pdparams", "rb") as f:
        pickle.load(f)
    assert os.path.exists(marker)


@pytest.mark.parametrize("kind", ["os.system", "eval", "subprocess", "import"])
def test_the_loader_refuses_a_crafted_file_before_it_runs(tmp_path, kind):
    marker, path = str(tmp_path / "ran"), str(tmp_path / "evil.pdparams")
    qualified_name = write_crafted(path, kind, marker)
    with pytest.raises(WeightsError) as raised:
        safe_load.load(path)
    assert path in str(raised.value) and qualified_name in str(raised.value)
    assert not os.path.exists(marker)


def test_objects_are_refused_on_writing_too():
    with pytest.raises(TypeError, match="GeneratorState"):
        writers.dumps_plain({"rng": paddle.get_rng_state()})


def test_not_a_pickle_nor_safetensors_is_a_clear_error(tmp_path):
    path = tmp_path / "text.pdparams"
    path.write_text("weights, honestly")
    with pytest.raises(WeightsError, match="not a file written by paddle.save"):
        safe_load.load(str(path))


# Each tool meets one kind of payload; together they meet all three.
CLI_CASES = {
    "train-Arch.pretrained": ("train.py", "os.system", "Arch.pretrained"),
    "train-Global.pretrained_model": ("train.py", "eval", "Global.pretrained_model"),
    "eval": ("eval.py", "subprocess", "Global.pretrained_model"),
    "predict": ("predict.py", "os.system", "Global.pretrained_model"),
    "export": ("export_model.py", "eval", "Global.pretrained_model"),
    "resume-pdparams": ("train.py", "subprocess", "pdparams"),
    "resume-pdopt": ("train.py", "os.system", "pdopt"),
    "resume-pdstates": ("train.py", "eval", "pdstates"),
}


@pytest.mark.parametrize("case", list(CLI_CASES))
@pytest.mark.slow
def test_tools_refuse_a_crafted_file_with_one_line_and_exit_2(tiny_data, tmp_path, case):
    tool, kind, where = CLI_CASES[case]
    marker, out = str(tmp_path / "ran"), str(tmp_path / "out")
    options = {"Global.save_inference_dir": str(tmp_path / "inference"),
               "Infer.infer_imgs": os.path.join(tiny_data, "images", "val"),
               "Infer.PostProcess.class_id_map_file": os.path.join(tiny_data, "label_list.txt")}
    if where in ("pdparams", "pdopt", "pdstates"):
        # A checkpoint whose other files are plain data: only ``where`` is crafted.
        prefix = str(tmp_path / "ckpt" / "epoch_1")
        os.makedirs(os.path.dirname(prefix))
        writers.save_pickle({"epoch": 1, "step": 0, "best_top1": 0.0, "rng": rng_state()},
                              prefix + ".pdstates")
        writers.save_pickle({}, prefix + ".pdopt")
        writers.save_pickle({}, prefix + ".pdparams")
        evil = f"{prefix}.{where}"
        options["Global.checkpoints"] = prefix
    else:
        evil = str(tmp_path / "evil.pdparams")
        options[where] = evil
    qualified_name = write_crafted(evil, kind, marker)
    command = [sys.executable, os.path.join("tools", tool), "-c", DEFAULT_CONFIG]
    for option in tiny_overrides(tiny_data, out, epochs=1, **options):
        command += ["-o", option]
    env = dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS="1")
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 2, done.stderr[-2000:]
    assert "Traceback" not in done.stderr, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, done.stderr
    assert evil in errors[0] and qualified_name in errors[0]
    assert not os.path.exists(marker)


# ------------------------------------------------------------------ what paddle.save writes

def assert_same_tree(ours, paddles, where="file"):
    """``ours`` (arrays) holds what paddle.load returned (tensors), value for value."""
    if isinstance(paddles, paddle.Tensor):
        assert isinstance(ours, np.ndarray), where
        np.testing.assert_array_equal(ours, paddles.numpy(), err_msg=where)
        assert ours.dtype == paddles.numpy().dtype, where
    elif isinstance(paddles, dict):
        assert ours.keys() == paddles.keys(), where
        for key in paddles:
            assert_same_tree(ours[key], paddles[key], f"{where}[{key!r}]")
    else:
        assert type(ours) is type(paddles) and ours == paddles, where


def adam_with_warmup(network):
    """Adam under Paddle's LinearWarmup around a cosine decay: the nested scheduler
    state that PaddleClas's own checkpoints hold."""
    schedule = paddle.optimizer.lr.LinearWarmup(
        paddle.optimizer.lr.CosineAnnealingDecay(0.01, T_max=4), warmup_steps=2,
        start_lr=0.0, end_lr=0.01)
    return paddle.optimizer.Adam(schedule, parameters=network.parameters()), schedule


@pytest.fixture(scope="module")
def trained_checkpoint(tmp_path_factory):
    """A checkpoint and best model of a GoogLeNet trained two steps with Adam and
    Paddle's LinearWarmup around a cosine decay: the nested scheduler state that
    PaddleClas's own checkpoints hold."""
    paddle.seed(1)
    network = GoogLeNet(num_classes=6, adaptive_pool=True)
    optimizer, schedule = adam_with_warmup(network)
    for _ in range(2):
        loss = sum(out.mean() for out in network(paddle.randn([2, 3, 64, 64])))
        loss.backward()
        optimizer.step()
        optimizer.clear_grad()
        schedule.step()
    run = str(tmp_path_factory.mktemp("run"))
    states = {"best_top1": 0.25, "rng": rng_state(), "steps_per_epoch": 2,
              "progress": {"losses": [(1.5, 2)], "metrics": [{"topk": (1, 5), "count": 2}]}}
    path, _ = checkpoint.save_checkpoint(run, 1, network, optimizer, states)
    checkpoint.save_best(run, 1, network.state_dict(), states)
    return {"path": path, "run": run, "network": network, "optimizer": optimizer,
            "states": states}


@pytest.mark.slow
def test_the_checkpoint_files_load_as_paddle_load_reads_them(trained_checkpoint):
    path = trained_checkpoint["path"]
    for name in ("model.pdparams", "model.pdopt"):
        ours = safe_load.load(os.path.join(path, name))
        assert_same_tree(ours, paddle.load(os.path.join(path, name)), name)
    optimizer_state = safe_load.load(os.path.join(path, "model.pdopt"))["state"]
    assert set(optimizer_state["LR_Scheduler"]) >= {"last_epoch", "last_lr", "LinearWarmup_LR"}
    assert any(key.endswith("moment1_0") for key in optimizer_state)
    states = safe_load.load(os.path.join(path, "model.pdstates"))
    assert states["epoch"] == 1 and states["best_top1"] == 0.25
    assert states["progress"] == trained_checkpoint["states"]["progress"]
    best = safe_load.load(os.path.join(trained_checkpoint["run"], checkpoint.BEST,
                                       "model.pdparams"))
    assert_same_tree(best, trained_checkpoint["network"].state_dict())


def test_a_checkpoint_restores_network_optimizer_and_random_draws(trained_checkpoint):
    saved = trained_checkpoint["states"]["rng"]
    set_rng_state(saved)
    expected = (paddle.rand([4]).numpy(), np.random.rand(4), random.random())
    paddle.seed(99)
    network = GoogLeNet(num_classes=6, adaptive_pool=True)
    optimizer, schedule = adam_with_warmup(network)
    states = checkpoint.load_checkpoint(trained_checkpoint["path"], network, optimizer)
    assert_same_tree({k: v.numpy() for k, v in network.state_dict().items()},
                     trained_checkpoint["network"].state_dict())
    assert schedule.state_dict() == trained_checkpoint["optimizer"]._learning_rate.state_dict()
    paddle.seed(7)
    np.random.seed(7)
    random.seed(7)
    set_rng_state(states["rng"])
    assert all(np.array_equal(a, b) for a, b in zip(
        expected, (paddle.rand([4]).numpy(), np.random.rand(4), random.random())))
    assert checkpoint.saved_best_top1(trained_checkpoint["run"]) == 0.25


def test_paddle_vision_googlenet_weights_load_unchanged(tmp_path):
    from paddle.vision.models import GoogLeNet as VisionGoogLeNet

    path = str(tmp_path / "googlenet.pdparams")
    paddle.save(VisionGoogLeNet(num_classes=10).state_dict(), path)
    assert_same_tree(safe_load.load(path), paddle.load(path))


@pytest.mark.parametrize("protocol", [2, 3])
def test_older_protocols_and_split_tensors_load(tmp_path, protocol):
    state = {"w": paddle.randn([3, 4]), "b": paddle.arange(5, dtype="int64")}
    path = str(tmp_path / "old.pdparams")
    paddle.save(state, path, protocol=protocol)
    assert_same_tree(safe_load.load(path), paddle.load(path))
    # Protocols 2 and 3 cannot hold 4 GB: paddle.save splits a big tensor into slices
    # listed under this key (built by hand here, as a real one needs gigabytes).
    whole = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    split = {"big@@.0": whole.ravel()[:10], "big@@.1": whole.ravel()[10:],
             "UnpackBigParamInfor@@": {"big": {"OriginShape": (2, 3, 4),
                                              "slices": ["big@@.0", "big@@.1"]}}}
    with open(path, "wb") as f:
        pickle.dump(split, f, protocol=protocol)
    joined = safe_load.load(path)
    assert list(joined) == ["big"]
    np.testing.assert_array_equal(joined["big"], whole)


# ------------------------------------------------------------------ safetensors

def outputs_of(weights: str) -> np.ndarray:
    network = build_model({"name": "GoogLeNet", "class_num": 6, "adaptive_pool": True,
                           "pretrained": weights})
    network.eval()
    paddle.seed(3)
    return network(paddle.rand([2, 3, 64, 64]))[0].numpy()


@pytest.mark.slow
def test_safetensors_round_trip_through_the_convert_tool_keeps_outputs(tmp_path):
    paddle.seed(5)
    original = str(tmp_path / "model.pdparams")
    paddle.save(GoogLeNet(num_classes=6, adaptive_pool=True).state_dict(), original)
    shared, back = str(tmp_path / "shared.safetensors"), str(tmp_path / "back.pdparams")
    done = subprocess.run([sys.executable, "tools/convert_weights.py", original, shared],
                          cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS="1"))
    assert done.returncode == 0, done.stderr
    assert safe_load.is_safetensors(open(shared, "rb").read(9))
    convert_weights(str(tmp_path / "shared"), back)  # a prefix finds the .safetensors
    expected = outputs_of(original)
    for path in (shared, str(tmp_path / "shared"), back):
        np.testing.assert_array_equal(outputs_of(path), expected)
    assert_same_tree(safe_load.load(back), paddle.load(back))  # paddle.load reads it too
    assert_same_tree(safe_load.load(shared), paddle.load(original))


def test_convert_refuses_to_overwrite_without_force(tmp_path, capsys):
    source, target = str(tmp_path / "a.pdparams"), str(tmp_path / "b.safetensors")
    paddle.save(paddle.nn.Linear(2, 3).state_dict(), source)
    with open(target, "w") as f:
        f.write("keep me")
    assert convert_main([source, target]) == 2
    assert "exists; pass --force" in capsys.readouterr().err
    assert open(target).read() == "keep me"
    assert convert_main([source, target, "--force"]) == 0
    assert_same_tree(safe_load.load(target), paddle.load(source))
    assert sorted(os.listdir(tmp_path)) == ["a.pdparams", "b.safetensors"]  # no temp left
    assert convert_main([source, str(tmp_path / "c.npz")]) == 2


def test_a_damaged_safetensors_file_is_a_weights_error(tmp_path):
    path = str(tmp_path / "cut.safetensors")
    writers.save_safetensors({"w": np.ones((4, 4), np.float32)}, path)
    data = open(path, "rb").read()
    with open(path, "wb") as f:
        f.write(data[:-10])
    with pytest.raises(WeightsError, match="cut.safetensors"):
        load_weights(paddle.nn.Linear(4, 4), path)
    assert resolve_weights_path(str(tmp_path / "cut")) == path


def test_a_states_file_without_epoch_or_random_states_is_a_weights_error(tmp_path):
    prefix = str(tmp_path / "epoch_1")
    network = paddle.nn.Linear(2, 2)
    paddle.save(network.state_dict(), prefix + ".pdparams")
    writers.save_pickle({}, prefix + ".pdopt")
    writers.save_pickle({"epoch": 1}, prefix + ".pdstates")
    optimizer = paddle.optimizer.SGD(parameters=network.parameters())
    with pytest.raises(WeightsError, match=r"epoch_1\.pdstates: .*no 'rng'"):
        checkpoint.load_checkpoint(prefix, network, optimizer)


# ------------------------------------------------------------------ every kind paddle.save writes

PADDLE_DTYPES = ["float16", "bfloat16", "float32", "float64", "int8", "int16", "int32",
                 "int64", "uint8", "bool", "complex64", "complex128"]


@pytest.mark.parametrize("protocol", [2, 3, 4])
def test_every_tensor_dtype_and_shape_loads_as_paddle_load_gives_it(tmp_path, protocol):
    paddle.seed(4)
    state = {f"t_{dtype}": (paddle.randn([2, 3]) * 50).astype(dtype) for dtype in PADDLE_DTYPES}
    state.update({"scalar": paddle.to_tensor(2.5), "empty": paddle.zeros([0, 4]),
                  "empty_too": paddle.zeros([0], "int64"), "five_dims": paddle.ones([1, 2, 1, 2, 1])})
    path = str(tmp_path / "all.pdparams")
    paddle.save(state, path, protocol=protocol)
    ours = safe_load.load(path)
    assert_same_tree(ours, paddle.load(path))
    assert all(array.flags.writeable and array.flags.aligned for array in ours.values())


@pytest.mark.parametrize("architecture", ["GoogLeNet", "GoogLeNetPaddleClas"])
def test_both_architectures_state_dicts_load_unchanged(tmp_path, architecture):
    network = build_model({"name": architecture, "class_num": 10})
    path = str(tmp_path / "net.pdparams")
    paddle.save(network.state_dict(), path)
    assert_same_tree(safe_load.load(path), paddle.load(path))


def _stepped(optimizer_of, network):
    optimizer = optimizer_of(network)
    for _ in range(2):
        network(paddle.ones([2, 4])).mean().backward()
        optimizer.step()
        optimizer.clear_grad()
        if isinstance(optimizer._learning_rate, paddle.optimizer.lr.LRScheduler):
            optimizer._learning_rate.step()
    return optimizer


OPTIMIZERS = {
    "Momentum+Piecewise": lambda n: paddle.optimizer.Momentum(
        paddle.optimizer.lr.PiecewiseDecay([1, 3], [0.1, 0.01, 0.001]),
        parameters=n.parameters(), weight_decay=1e-4),
    "AdamW+Cosine, multi-precision": lambda n: paddle.optimizer.AdamW(
        paddle.optimizer.lr.CosineAnnealingDecay(0.01, T_max=5), parameters=n.parameters(),
        multi_precision=True),
    "RMSProp+Exponential": lambda n: paddle.optimizer.RMSProp(
        paddle.optimizer.lr.ExponentialDecay(0.01, 0.9), parameters=n.parameters()),
    "Adam+LinearWarmup(StepDecay)": lambda n: paddle.optimizer.Adam(
        paddle.optimizer.lr.LinearWarmup(paddle.optimizer.lr.StepDecay(0.1, 2), 2, 0.0, 0.1),
        parameters=n.parameters()),
}


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_optimizer_and_scheduler_states_load_unchanged(tmp_path, name):
    paddle.seed(6)
    network = paddle.nn.Sequential(paddle.nn.Linear(4, 3), paddle.nn.Linear(3, 2))
    optimizer = _stepped(OPTIMIZERS[name], network)
    path = str(tmp_path / "opt.pdopt")
    paddle.save(optimizer.state_dict(), path)
    assert_same_tree(safe_load.load(path), paddle.load(path))


@pytest.mark.parametrize("info, problem", [
    ({"big": {"OriginShape": (2, 3, 5), "slices": ["big@@.0", "big@@.1"]}}, "do not make up"),
    ({"big": {"OriginShape": (24,), "slices": ["big@@.0", "big@@.0"]}}, "entry 'big'"),
    ({"big": {"OriginShape": (24,), "slices": ["big@@.0", "missing"]}}, "entry 'big'"),
    ({"big": "not a dict"}, "entry 'big'"),
])
def test_split_tensors_that_do_not_add_up_are_refused(tmp_path, info, problem):
    whole = np.arange(24, dtype=np.float32)
    path = str(tmp_path / "split.pdparams")
    with open(path, "wb") as f:
        pickle.dump({"big@@.0": whole[:10], "big@@.1": whole[10:],
                     "UnpackBigParamInfor@@": info}, f, protocol=2)
    with pytest.raises(WeightsError, match=r"split\.pdparams: its list of split tensors does "
                                           r"not match its contents.*" + problem):
        safe_load.load(path)
