"""A weights or checkpoint file written to attack the reader ends in one clean refusal:
no crash, no hang, no flood of memory, whichever tool reads it. The attacks are in
hostile_pickles.py; the fuzz test mutates real paddle.save files and assembles
opcode streams of its own around them.

The fuzz budget is GOOGLENET_FUZZ_EXAMPLES examples per strategy (200 by default);
for a longer run:

    GOOGLENET_FUZZ_EXAMPLES=20000 python -m pytest -q tests/test_hostile_weights.py -k fuzz
"""

import io
import json
import os
import pickle
import re
import signal
import struct
import subprocess
import sys

import numpy as np
import paddle
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import hostile_pickles as hp
from helpers import adam_linear, load_measured, one_error
from paddle_googlenet.weights import checkpoint, safe_load, writers
from paddle_googlenet.cli.convert import main as convert_main
from paddle_googlenet.errors import WeightsError
from paddle_googlenet.engine.runtime import rng_state
from tiny import DEFAULT_CONFIG, ROOT, tiny_overrides

REFUSAL = re.compile(r"refused at byte \d+( \(\w+\))?: ")
SLACK = 8 << 20  # Python objects a refused file may make before its refusal


# ------------------------------------------------------------------ every attack, refused

@pytest.mark.parametrize("attack", list(hp.HOSTILE))
@pytest.mark.slow
def test_every_attack_is_refused_naming_file_offset_and_opcode(tmp_path, attack):
    path = str(tmp_path / "evil.pdparams")
    data = hp.HOSTILE[attack]()
    with open(path, "wb") as f:
        f.write(data)
    outcome, peak, seconds = load_measured(safe_load.load, path)
    assert isinstance(outcome, WeightsError), f"{attack} loaded: {type(outcome)}"
    message = str(outcome)
    assert message.startswith(path + ": ") and REFUSAL.search(message), message
    assert "\n" not in message
    assert peak < len(data) + SLACK, f"{attack}: {peak} bytes for a {len(data)}-byte file"
    assert seconds < 5, f"{attack} took {seconds:.1f} s"


def run_python(code: str, *args, timeout=120):
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True,
                          text=True, timeout=timeout, cwd=ROOT,
                          env=dict(os.environ, PYTHONPATH=ROOT))


def test_the_attacks_do_harm_when_unpickled(tmp_path):
    """What the refusals above prevent: pickle (as paddle.load uses it) dies at the
    file's pointer, and makes an array of 1 GB out of 39 bytes."""
    crash, flood = tmp_path / "crash.pdparams", tmp_path / "flood.pdparams"
    crash.write_bytes(hp.object_scalar())
    flood.write_bytes(hp.zero_stride_ndarray())
    done = run_python("import pickle, sys; pickle.load(open(sys.argv[1], 'rb'))", str(crash))
    assert done.returncode == -signal.SIGSEGV, done.stderr[-500:]
    done = run_python("import pickle, sys; print(pickle.load(open(sys.argv[1], 'rb')).nbytes)",
                      str(flood))
    assert done.returncode == 0 and int(done.stdout) == 1 << 30 and flood.stat().st_size < 64


@pytest.mark.parametrize("attack", list(hp.HOSTILE))
def test_the_convert_tool_refuses_every_attack_and_writes_nothing(tmp_path, capsys, attack):
    source, target = str(tmp_path / "evil.pdparams"), str(tmp_path / "out.safetensors")
    with open(source, "wb") as f:
        f.write(hp.HOSTILE[attack]())
    assert convert_main([source, target]) == 2
    assert source in one_error(capsys.readouterr().err)
    assert not os.path.exists(target)


def max_rss_of(command, env) -> tuple:
    """Run ``command``; its exit code, stderr and peak resident memory in bytes."""
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    err = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    return process.returncode, err, usage.ru_maxrss * 1024


# Each tool meets one attack; the missing file measures what the tool needs without one.
TOOL_CASES = {
    "train-Arch.pretrained": ("train.py", "Arch.pretrained", hp.object_scalar),
    "eval": ("eval.py", "Global.pretrained_model", hp.short_data_big_shape),
    "predict": ("predict.py", "Global.pretrained_model", hp.memo_dag),
    "export": ("export_model.py", "Global.pretrained_model", hp.split_zero_stride_slices),
    "resume-pdstates": ("train.py", "pdstates", hp.object_array_0d),
    "eval-missing (baseline)": ("eval.py", "Global.pretrained_model", None),
}


@pytest.fixture(scope="module")
def tool_runs(tiny_data, tmp_path_factory):
    """Every case of TOOL_CASES run once: {case: (exit code, stderr, peak RSS, file)}."""
    runs = {}
    for case, (tool, where, attack) in TOOL_CASES.items():
        tmp = tmp_path_factory.mktemp("tool")
        options = {"Global.save_inference_dir": str(tmp / "inference"),
                   "Infer.infer_imgs": os.path.join(tiny_data, "images", "val"),
                   "Infer.PostProcess.class_id_map_file":
                       os.path.join(tiny_data, "label_list.txt")}
        if where == "pdstates":
            prefix = str(tmp / "epoch_1")
            writers.save_pickle({}, prefix + ".pdopt")
            writers.save_pickle({}, prefix + ".pdparams")
            evil = prefix + ".pdstates"
            options["Global.checkpoints"] = prefix
        else:
            evil = str(tmp / "evil.pdparams")
            options[where] = evil
        if attack:
            with open(evil, "wb") as f:
                f.write(attack())
        command = [sys.executable, os.path.join("tools", tool), "-c", DEFAULT_CONFIG]
        for option in tiny_overrides(tiny_data, str(tmp / "out"), epochs=1, **options):
            command += ["-o", option]
        env = dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS="1")
        runs[case] = (*max_rss_of(command, env), evil)
    return runs


@pytest.mark.parametrize("case", [c for c, (_, _, attack) in TOOL_CASES.items() if attack])
@pytest.mark.slow
def test_tools_refuse_attacks_in_one_line_within_bounded_memory(tool_runs, case):
    code, err, rss, evil = tool_runs[case]
    assert code == 2, err[-2000:]
    line = one_error(err)
    assert evil in line and REFUSAL.search(line), line
    baseline = tool_runs["eval-missing (baseline)"][2]
    assert rss < baseline + (256 << 20), f"{rss >> 20} MB against {baseline >> 20} MB"


# ------------------------------------------------------------------ files that are not files

@pytest.mark.slow
def test_only_regular_files_are_opened(tmp_path):
    """A FIFO would block the reader for ever and a device never end: both are refused
    by name, before any read (run in a child so that a regression cannot hang the suite)."""
    fifo = str(tmp_path / "weights.pdparams")
    os.mkfifo(fifo)
    code = ("import sys\nfrom paddle_googlenet.weights import safe_load\n"
            "from paddle_googlenet.errors import WeightsError\n"
            "for path in sys.argv[1:]:\n"
            "    try:\n        safe_load.load(path)\n"
            "    except WeightsError as err:\n        print(err)\n")
    done = run_python(code, fifo, str(tmp_path), "/dev/zero", timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        f"{fifo}: is a FIFO, not a weights file; give the path of a .pdparams or "
        f".safetensors file",
        f"{tmp_path}: is a directory, not a weights file; give the path of a .pdparams or "
        f".safetensors file",
        "/dev/zero: is a device, not a weights file; give the path of a .pdparams or "
        ".safetensors file"]


def test_a_path_with_control_characters_is_shown_escaped_on_one_line(tmp_path, capsys):
    folder = tmp_path / "a\nb\x1b[31m"
    folder.mkdir()
    path = str(folder / "evil.pdparams")
    with open(path, "wb") as f:
        f.write(hp.object_scalar())
    with pytest.raises(WeightsError) as raised:
        safe_load.load(path)
    message = str(raised.value)
    assert "\n" not in message and "\x1b" not in message
    assert "a\\nb\\x1b[31m" in message
    assert convert_main([path, str(tmp_path / "out.safetensors")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "\x1b" not in err and "a\\nb\\x1b[31m" in err


def test_a_safetensors_tensor_numpy_cannot_hold_is_named(tmp_path):
    header = json.dumps({"w": {"dtype": "F8_E4M3", "shape": [2], "data_offsets": [0, 2]}})
    path = tmp_path / "f8.safetensors"
    path.write_bytes(struct.pack("<Q", len(header)) + header.encode() + b"\0\0")
    with pytest.raises(WeightsError, match=r"f8\.safetensors: tensor 'w' has dtype F8_E4M3, "
                                           r"which .* convert it to one of BOOL, U8"):
        safe_load.load(str(path))


# ------------------------------------------------------------------ checkpoint contents

def good_states():
    return {"epoch": 1, "step": 0, "best_top1": 0.5, "rng": rng_state(), "epochs": 4,
            "steps_per_epoch": 3}


def _with(key_path, value):
    states = good_states()
    *parents, last = key_path
    target = states
    for key in parents:
        target = target[key]
    target[last] = value
    return states


BAD_STATES = {
    "epoch 'abc'": (_with(["epoch"], "abc"), r"'epoch' is 'abc', not an integer"),
    "negative step": (_with(["step"], -3), r"'step' is -3"),
    "rng {}": (_with(["rng"], {}), r"'rng' is not a dict"),
    "numpy state cut": (_with(["rng", "numpy"], ("MT19937", np.zeros(3, np.uint32), 0, 0, 0.0)),
                        r"'rng.numpy' is not"),
    "python state out of range": (_with(["rng", "python"], (3, (2**40,) * 625, None)),
                                  r"'rng.python' is not"),
    "paddle engine not numbers": (_with(["rng", "paddle"], [(0, 1, 2, "rm -rf")]),
                                  r"'rng.paddle' is not"),
    "best_top1 text": (_with(["best_top1"], "high"), r"'best_top1' is 'high'"),
    "progress of text": (dict(good_states(), step=2, progress={"step": "x"}),
                         r"'progress' lacks"),
    "not a dict": ([1, 2], r"expected a dict, found list"),
}


@pytest.fixture()
def saved_checkpoint(tmp_path):
    paddle.seed(2)
    network = paddle.nn.Linear(3, 2)
    schedule = paddle.optimizer.lr.CosineAnnealingDecay(0.1, T_max=4)
    optimizer = paddle.optimizer.Momentum(schedule, parameters=network.parameters())
    network(paddle.ones([1, 3])).sum().backward()
    optimizer.step()
    path, _ = checkpoint.save_checkpoint(str(tmp_path), 1, network, optimizer, good_states())
    return path, network, optimizer


@pytest.mark.parametrize("case", list(BAD_STATES))
def test_bad_states_are_refused_naming_the_checkpoint_and_key(saved_checkpoint, case):
    path, network, optimizer = saved_checkpoint
    states, expected = BAD_STATES[case]
    writers.save_pickle(states, os.path.join(path, checkpoint.STATES))
    with pytest.raises(WeightsError, match=re.escape(os.path.join(path, checkpoint.STATES))
                       + r": not a checkpoint's \.pdstates file: " + expected):
        checkpoint.load_checkpoint(path, network, optimizer)


BAD_OPTIMIZER_FILES = {
    "empty file": (b"", r"not a file written by paddle\.save"),
    "empty dict": (writers.dumps_plain({}), r"does not hold the state of this run's "
                                              r"optimizer \(Momentum: LR_Scheduler state"),
    "scheduler of text": (None, r"its 'LR_Scheduler' state holds other than numbers"),
    "a list": (writers.dumps_plain([1]), r"not a checkpoint's \.pdopt file"),
}


@pytest.mark.parametrize("case", list(BAD_OPTIMIZER_FILES))
def test_bad_optimizer_state_is_refused_naming_the_checkpoint(saved_checkpoint, case):
    path, network, optimizer = saved_checkpoint
    data, expected = BAD_OPTIMIZER_FILES[case]
    file = os.path.join(path, checkpoint.OPTIMIZER)
    if data is None:  # the saved state with a scheduler entry that is no number
        saved = safe_load.load(file)
        saved["state"]["LR_Scheduler"]["last_epoch"] = {"x": b"\x00"}
        data = writers.dumps_plain(saved)
    with open(file, "wb") as f:
        f.write(data)
    with pytest.raises(WeightsError, match=re.escape(file) + ": " + expected):
        checkpoint.load_checkpoint(path, network, optimizer)


def test_a_valid_checkpoint_still_loads(saved_checkpoint):
    path, network, optimizer = saved_checkpoint
    states = checkpoint.load_checkpoint(path, network, optimizer)
    assert states["epoch"] == 1 and states["best_top1"] == 0.5


# ------------------------------------------------------------------ fuzzing

def _seed_files() -> list:
    """Real paddle.save outputs of every kind the project reads, and the attacks."""
    paddle.seed(0)
    network = paddle.nn.Sequential(paddle.nn.Conv2D(3, 4, 3), paddle.nn.Flatten(),
                                   paddle.nn.Linear(4, 2))
    optimizer = paddle.optimizer.Adam(
        paddle.optimizer.lr.LinearWarmup(0.1, 2, 0.0, 0.1), parameters=network.parameters())
    network(paddle.ones([1, 3, 3, 3])).sum().backward()
    optimizer.step()
    seeds = []
    for obj, protocol in ((network.state_dict(), 4), (optimizer.state_dict(), 4),
                          (network.state_dict(), 2), ({"t": paddle.ones([2], "bfloat16"),
                                                       "i": paddle.arange(3)}, 3)):
        buffer = io.BytesIO()
        paddle.save(obj, buffer, protocol=protocol)
        seeds.append(buffer.getvalue())
    seeds.append(writers.dumps_plain({"epoch": 1, "rng": rng_state(),
                                        "progress": {"losses": [(1.5, 2)], "b": b"xy"}}))
    seeds.append(pickle.dumps({"s": {1, 2}, "f": frozenset("ab"), "n": np.float64(2.5),
                               "l": [None, True, 2**70, -1.5, "é"]}, protocol=4))
    seeds += [attack() for name, attack in hp.HOSTILE.items() if "100,000" not in name]
    seeds += [hp.deep_lists(200), hp.deep_tuples(200)]
    return seeds


SEEDS = _seed_files()
FUZZ = settings(max_examples=int(os.environ.get("GOOGLENET_FUZZ_EXAMPLES", "200")),
                deadline=5000, database=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
PLAIN_LEAVES = (type(None), bool, int, float, complex, str, bytes)


def assert_plain(obj, budget: int):
    """``obj`` is plain data (containers, numbers, text, arrays of PLAIN_DTYPES), nests
    at most MAX_DEPTH deep and has at most ``budget`` nodes."""
    pending, visited = [(obj, 0)], 0
    while pending:
        value, depth = pending.pop()
        visited += 1
        assert visited <= budget and depth <= safe_load.MAX_DEPTH + 1
        if isinstance(value, (np.ndarray, np.generic)):
            assert value.dtype in safe_load.PLAIN_DTYPES.values(), value.dtype
        elif isinstance(value, dict):
            pending += [(v, depth + 1) for v in (*value.keys(), *value.values())]
        elif isinstance(value, (list, tuple, set, frozenset)):
            pending += [(v, depth + 1) for v in value]
        else:
            assert isinstance(value, PLAIN_LEAVES), type(value)


def check_reader(data: bytes):
    outcome, peak, seconds = load_measured(safe_load.read_pickle, io.BytesIO(data), len(data),
                                           "fuzz")
    assert peak < len(data) + SLACK, f"{peak} bytes for a {len(data)}-byte file"
    if not isinstance(outcome, WeightsError):
        assert_plain(outcome, budget=len(data) + safe_load.MAX_OPCODES)


@st.composite
def mutated(draw):
    """A seed file with bytes flipped, inserted, deleted, cut or spliced from another."""
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 8))):
        where = draw(st.integers(0, max(len(data) - 1, 0)))
        action = draw(st.sampled_from(["flip", "insert", "delete", "cut", "splice", "int"]))
        if action == "flip" and data:
            data[where] ^= 1 << draw(st.integers(0, 7))
        elif action == "insert":
            data[where:where] = draw(st.binary(min_size=1, max_size=8))
        elif action == "delete":
            del data[where:where + draw(st.integers(1, 16))]
        elif action == "cut":
            del data[where:]
        elif action == "splice":
            other = draw(st.sampled_from(SEEDS))
            start = draw(st.integers(0, len(other)))
            data[where:where] = other[start:start + draw(st.integers(1, 64))]
        elif action == "int" and len(data) >= where + 4:  # a length or index gone wrong
            data[where:where + 4] = struct.pack("<i", draw(st.sampled_from(
                [-1, 0, 1, 255, 256, 2**31 - 1, -2**31, 1 << 20])))
    return bytes(data)


# Pieces of opcode streams: single opcodes and the fragments paddle.save writes.
OPCODE_PIECES = [bytes([c]) for c in b"(0)]}NtebRsuah\x85\x86\x87\x88\x89\x8f\x90\x91\x94"] + [
    hp.text("w"), hp.text("numpy"), hp.text("dtype"), hp.text("f4"), hp.text("<"),
    hp.raw(b"\0" * 8), hp.raw(b"b"), hp.integer(0), hp.integer(1), hp.integer(3),
    hp.integer(-1), hp.integer(2**40), hp.get(0), hp.get(1), hp.get(2), b"G" + b"\0" * 8,
    hp.name("numpy", "dtype"), hp.name("numpy", "ndarray"),
    hp.name(hp.MULTIARRAY, "_reconstruct"), hp.name(hp.MULTIARRAY, "scalar"),
    hp.name("builtins", "tuple"), hp.name("collections", "OrderedDict"),
    hp.name("_codecs", "encode"), hp.name("builtins", "bytes"), hp.name("os", "system"),
    hp.dtype("f4", "<"), hp.dtype("u1"), hp.array((2,), hp.dtype("u1"), hp.raw(b"ab")),
    hp.array((1,), hp.dtype("f8", "<"), hp.get(0)), b"\x93",
]


@st.composite
def assembled(draw):
    pieces = draw(st.lists(st.sampled_from(OPCODE_PIECES), min_size=1, max_size=40))
    return hp.PROTO + b"".join(pieces) + hp.STOP


@FUZZ
@given(mutated())
@pytest.mark.slow
def test_fuzz_mutated_paddle_save_files(data):
    check_reader(data)


@FUZZ
@given(assembled())
def test_fuzz_assembled_opcode_streams(data):
    check_reader(data)


def test_the_fuzz_seeds_load_or_are_refused_as_intended():
    """The seeds are what the fuzzing starts from: the real files load, the attacks not."""
    real, attacks = SEEDS[:6], SEEDS[6:]
    for data in real:
        assert_plain(safe_load.read_pickle(io.BytesIO(data), len(data), "seed"), 10**6)
    for data in attacks:
        with pytest.raises(WeightsError):
            safe_load.read_pickle(io.BytesIO(data), len(data), "seed")


def test_metric_sums_of_another_metric_are_refused_on_resume(saved_checkpoint, tmp_path):
    """A mid-epoch checkpoint whose training-metric state does not fit Metric.Train
    stops the resume with one error naming the checkpoint, not a traceback later."""
    from paddle_googlenet.engine.rundir import load_resume_point
    from paddle_googlenet.errors import ConfigError
    from paddle_googlenet.metrics import TopkAcc

    path, network, optimizer = saved_checkpoint
    progress = {"step": 2, "losses": [(1.0, 2)], "seen": 2, "seconds": 1.0,
                "metrics": [{"hits": [1.0], "count": 2}]}  # one k, TopkAcc has two
    writers.save_pickle(dict(good_states(), step=2, progress=progress),
                          os.path.join(path, checkpoint.STATES))
    with pytest.raises(ConfigError, match=re.escape(path) + r": not the state of TopkAcc "
                                          r"with topk \[1, 5\]"):
        load_resume_point(path, network, optimizer, 4, 3, str(tmp_path),
                          metrics=[TopkAcc()])


# ------------------------------------------------------------------ fuzzing past the opcodes

def _safetensors_seed() -> bytes:
    buffer = io.BytesIO()
    writers._write_safetensors({"conv.weight": np.ones((2, 3), np.float32),
                                "conv.bias": np.arange(2, dtype=np.int64),
                                "empty": np.zeros((0,), np.float16)}, buffer)
    return buffer.getvalue()


SAFETENSORS_SEED = _safetensors_seed()
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats()
    | st.text(max_size=8) | st.sampled_from(["F32", "BF16", "C64", "I64", "F8_E4M3"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["dtype", "shape", "data_offsets", "__metadata__", "w"]) | st.text(
            max_size=4), inner, max_size=4), max_leaves=12)


@st.composite
def safetensors_files(draw):
    """A real header with bytes changed, or a header of JSON drawn whole, before the
    seed's data (cut or not)."""
    length = struct.unpack("<Q", SAFETENSORS_SEED[:8])[0]
    header, data = SAFETENSORS_SEED[8:8 + length], SAFETENSORS_SEED[8 + length:]
    if draw(st.booleans()):
        header = bytearray(header)
        for _ in range(draw(st.integers(1, 6))):
            where = draw(st.integers(0, len(header) - 1))
            header[where:where + draw(st.integers(0, 3))] = draw(st.binary(max_size=4))
        header = bytes(header)
    else:
        header = json.dumps(draw(JSON_VALUES)).encode()
    data = data[:draw(st.integers(0, len(data)))]
    claimed = draw(st.sampled_from([len(header), len(header) + 1, 2**63, 0]))
    return struct.pack("<Q", claimed) + header + data


def check_file_reader(tmp_path_factory, data: bytes, name: str):
    path = str(tmp_path_factory.getbasetemp() / name)
    with open(path, "wb") as f:
        f.write(data)
    outcome, peak, seconds = load_measured(safe_load.load, path)
    assert peak < len(data) + SLACK and seconds < 5
    if isinstance(outcome, WeightsError):
        assert "\n" not in str(outcome) and str(outcome).startswith(path)
    else:
        assert_plain(outcome, budget=len(data) + safe_load.MAX_OPCODES)
    return outcome


@FUZZ
@given(data=safetensors_files())
def test_fuzz_safetensors_headers(tmp_path_factory, data):
    check_file_reader(tmp_path_factory, data, "fuzz.safetensors")


SPLIT_NAMES = st.sampled_from(["big@@.0", "big@@.1", "big", "other"])
SPLIT_INFO = st.dictionaries(
    st.sampled_from(["big", "other"]) | st.integers(0, 3),
    st.fixed_dictionaries({}, optional={
        "OriginShape": st.lists(st.integers(-1, 2**70) | st.sampled_from([0, 2, 12, 24]),
                                max_size=3) | JSON_VALUES,
        "slices": st.lists(SPLIT_NAMES | JSON_VALUES, max_size=3)}) | JSON_VALUES,
    max_size=2)


@FUZZ
@given(info=SPLIT_INFO | JSON_VALUES, protocol=st.sampled_from([2, 3, 4]))
def test_fuzz_split_tensor_tables(tmp_path_factory, info, protocol):
    whole = np.arange(24, dtype=np.float32)
    data = pickle.dumps({"big@@.0": whole[:10], "big@@.1": whole[10:],
                         "UnpackBigParamInfor@@": info}, protocol=protocol)
    outcome = check_file_reader(tmp_path_factory, data, "fuzz.pdparams")
    if not isinstance(outcome, WeightsError):
        assert all(isinstance(v, np.ndarray) for v in outcome.values())


HOSTILE_LEAVES = st.sampled_from([
    None, True, -1, 0, 2**31, 2**64, 2**70, -2**70, 1.5, float("nan"), float("inf"), "",
    "3", "x" * 300, b"\0", [], {}, [1.0, 2.0], {"a": 1}, np.zeros(1, np.float32),
    np.zeros((3, 2), np.float64), np.zeros((3, 2), np.int64), np.zeros((3, 2), np.uint16),
    np.zeros((2, 3), np.float32), np.zeros(1, np.float32), ("MT19937",)])


def _leaf_paths(value, path=()):
    """Every place in ``value`` a fuzzer may put another value: dict values, list items."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield path + (key,)
            yield from _leaf_paths(item, path + (key,))
    elif isinstance(value, (list, tuple)) and len(value) < 50:
        for index, item in enumerate(value):
            yield path + (index,)
            yield from _leaf_paths(item, path + (index,))


def _replaced(value, path, new):
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {**value, head: _replaced(value[head], rest, new)}
    items = list(value)
    items[head] = _replaced(items[head], rest, new)
    return type(value)(items) if isinstance(value, tuple) else items


@pytest.fixture(scope="module")
def resume_seed(tmp_path_factory):
    """A checkpoint of a small network (Adam, warm-up around cosine, EMA, mid-epoch)
    and the contents of its .pdopt and .pdstates."""
    paddle.seed(3)
    network, optimizer = adam_linear(steps=1)
    progress = {"step": 2, "losses": [(1.0, 2)], "seen": 2, "seconds": 1.0,
                "metrics": [{"hits": [1.0, 2.0], "count": 2}]}
    states = dict(good_states(), step=2, progress=progress)
    path, _ = checkpoint.save_checkpoint(str(tmp_path_factory.mktemp("resume")), 1, network,
                                         optimizer, states, step=2,
                                         ema_state=network.state_dict())
    return {"path": path, "pdopt": safe_load.load(os.path.join(path, checkpoint.OPTIMIZER)),
            "pdstates": safe_load.load(os.path.join(path, checkpoint.STATES))}


@FUZZ
@given(data=st.data(), which=st.sampled_from(["pdopt", "pdstates"]))
def test_fuzz_resume_fields(resume_seed, data, which):
    """A field of a real checkpoint replaced by another value: the resume either
    refuses it in one line naming the file, or the first step and the random states
    it restores work."""
    from paddle_googlenet.engine.runtime import set_rng_state

    saved = resume_seed[which]
    changes = data.draw(st.integers(1, 3))
    for _ in range(changes):
        paths = list(_leaf_paths(saved))
        saved = _replaced(saved, data.draw(st.sampled_from(paths)), data.draw(HOSTILE_LEAVES))
    path = resume_seed["path"]
    file = os.path.join(path, checkpoint.OPTIMIZER if which == "pdopt" else checkpoint.STATES)
    original = open(file, "rb").read()
    try:
        with open(file, "wb") as f:
            f.write(pickle.dumps(saved, protocol=4))
        network, optimizer = adam_linear()
        try:
            states = checkpoint.load_checkpoint(path, network, optimizer)
        except WeightsError as err:
            assert "\n" not in str(err) and str(err).startswith(file), str(err)
            return
        kept = rng_state()
        set_rng_state(states["rng"])
        set_rng_state(kept)
        network(paddle.ones([1, 3])).sum().backward()
        optimizer.step()
        optimizer._learning_rate.step()
    finally:
        with open(file, "wb") as f:
            f.write(original)
