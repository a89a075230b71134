"""What happens after the opcode reader: split-tensor tables, keys, dtypes, aliasing,
safetensors headers and reads, the converter's output, and checkpoint fields. Each
file here ends in one clean WeightsError naming the file and the key or field (the
tools: one line, exit code 2), or, for another float precision, in a correct load."""

import json
import os
import pickle
import re
import struct
import subprocess
import sys
import time
import warnings

import numpy as np
import paddle
import pytest

import hostile_pickles as hp
from helpers import adam_linear, copy_run, files_of, load_measured as measured, one_error
from paddle_googlenet.cli.convert import main as convert_main
from paddle_googlenet.engine.averaging import WeightAverage
from paddle_googlenet.engine.runtime import rng_state
from paddle_googlenet.errors import WeightsError
from paddle_googlenet.models import GoogLeNet, load_weights
from paddle_googlenet.weights import checkpoint, safe_load, writers
from paddle_googlenet.weights.convert import convert_weights
from tiny import DEFAULT_CONFIG, ROOT, tiny_overrides

SLACK = 8 << 20  # Python objects a refused file may make before its refusal


def refused(outcome, path, *fragments):
    """``outcome`` is a one-line WeightsError naming ``path`` and each fragment."""
    assert isinstance(outcome, WeightsError), f"loaded: {type(outcome)}"
    message = str(outcome)
    assert "\n" not in message and str(path) in message, message
    for fragment in fragments:
        assert re.search(fragment, message), (fragment, message)
    return message


def safetensors_file(path, header: dict, data: bytes = b"", raw_header: bytes = None):
    text = raw_header if raw_header is not None else json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(text)) + text + data)
    return str(path)


# ------------------------------------------------------------------ split-tensor tables

@pytest.mark.parametrize("info, fragment", [
    ({"big": {"OriginShape": [24], "slices": [["big@@.0"], "big@@.1"]}}, "entry 'big'"),
    ({"big": {"OriginShape": [24], "slices": [{"a": 1}, "big@@.1"]}}, "entry 'big'"),
    ({"big": {"OriginShape": [2**70, 0], "slices": ["big@@.0", "big@@.1"]}}, "entry 'big'"),
    ({5: {"OriginShape": [24], "slices": ["big@@.0", "big@@.1"]}}, "entry 5"),
    ([1, 2], "not a dict"),
])
def test_split_tensor_tables_of_other_types_are_refused(tmp_path, info, fragment):
    whole = np.arange(24, dtype=np.float32)
    path = tmp_path / "split.pdparams"
    with open(path, "wb") as f:
        pickle.dump({"big@@.0": whole[:10], "big@@.1": whole[10:],
                     "UnpackBigParamInfor@@": info}, f, protocol=2)
    refused(measured(safe_load.load, str(path))[0], path,
            "its list of split tensors does not match its contents", fragment)


# ------------------------------------------------------------------ keys

def small_state():
    paddle.seed(0)
    return {k: v.numpy() for k, v in paddle.nn.Linear(3, 2).state_dict().items()}


@pytest.mark.parametrize("key, fragment", [
    (7, r"a key that is 7 \(int\), not text"),
    (None, r"a key that is None \(NoneType\)"),
    ("w\udc80", r"not valid Unicode"),
    ("line\nbreak", r"no parameter name"),
    ("StructuredToParameterName@@x" * 50, r"no parameter name"),
])
def test_keys_that_are_no_parameter_names_are_refused_by_convert(tmp_path, capsys, key,
                                                                   fragment):
    source = tmp_path / "keys.pdparams"
    with open(source, "wb") as f:
        pickle.dump({**small_state(), key: np.ones(2, np.float32)}, f, protocol=4)
    for target in ("out.safetensors", "out.pdparams"):
        assert convert_main([str(source), str(tmp_path / target)]) == 2
        line = one_error(capsys.readouterr().err)
        assert str(source) in line and re.search(fragment, line), line
        assert len(line) < 300, line  # the 1,400-character key is cut
        assert not os.path.exists(tmp_path / target)


def test_all_model_keys_plus_an_int_key_are_refused_when_loading(tmp_path):
    network = GoogLeNet(num_classes=4, adaptive_pool=True)
    path = tmp_path / "extra.pdparams"
    state = {k: v.numpy() for k, v in network.state_dict().items()}
    with open(path, "wb") as f:
        pickle.dump({**state, 1: np.ones(2, np.float32)}, f, protocol=4)
    with pytest.raises(WeightsError, match=re.escape(str(path)) + r": not a model state "
                                           r"dict: a key that is 1 \(int\)"):
        load_weights(GoogLeNet(num_classes=4, adaptive_pool=True), str(path))


@pytest.mark.parametrize("name", ["StructuredToParameterName@@", "UnpackBigParamInfor@@"])
def test_safetensors_tensors_named_as_pdparams_bookkeeping_are_refused(tmp_path, capsys,
                                                                       name):
    source = tmp_path / "named.safetensors"
    writers.save_safetensors({"w": np.ones(2, np.float32), name: np.zeros(1, np.float32)},
                             str(source))
    target = tmp_path / "out.pdparams"
    assert convert_main([str(source), str(target)]) == 2  # not "2 tensors" and 1 written
    line = one_error(capsys.readouterr().err)
    assert str(source) in line and name in line and "bookkeeping" in line
    assert not target.exists()


def test_a_safetensors_tensor_of_40_dimensions_is_refused(tmp_path, capsys):
    source = safetensors_file(tmp_path / "deep.safetensors", {
        "w": {"dtype": "F32", "shape": [1] * 40, "data_offsets": [0, 4]}}, b"\0" * 4)
    assert convert_main([source, str(tmp_path / "out.pdparams")]) == 2
    line = one_error(capsys.readouterr().err)
    assert source in line and "tensor 'w' has a shape that is not a list of at most 32" in line


# ------------------------------------------------------------------ dtypes

def googlenet_and_state(dtype):
    paddle.seed(1)
    network = GoogLeNet(num_classes=4, adaptive_pool=True)
    network.eval()
    state = {k: paddle.cast(v, dtype) if paddle.is_floating_point(v) else v
             for k, v in network.state_dict().items()}
    return network, state


def outputs(network, inputs):
    network.eval()
    with paddle.no_grad():
        return network(inputs)[0].numpy()


@pytest.mark.parametrize("dtype, tolerance", [("float16", 2e-2), ("bfloat16", 1e-1),
                                              ("float64", 1e-6)])
def test_weights_of_another_float_precision_load_with_one_notice(tmp_path, dtype, tolerance):
    """AMP O2 runs save float16 or bfloat16 weights: they load into the float32 model,
    with one warning naming the file and the precisions."""
    network, state = googlenet_and_state(dtype)
    path = str(tmp_path / f"{dtype}.pdparams")
    paddle.save(state, path)
    other = GoogLeNet(num_classes=4, adaptive_pool=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report = load_weights(other, path, heads="strict")
    notices = [str(w.message) for w in caught if "stored as" in str(w.message)]
    assert notices == [f"{path}: {len(report['loaded'])} tensors stored as {dtype} loaded "
                       f"as float32, the model's precision"]
    assert all(str(v.dtype) == "paddle.float32" for v in other.state_dict().values())
    inputs = paddle.rand([1, 3, 64, 64])
    np.testing.assert_allclose(outputs(other, inputs), outputs(network, inputs),
                               atol=tolerance * 10, rtol=tolerance)


@pytest.mark.parametrize("dtype", ["int64", "int8", "bool", "complex64", "complex128"])
def test_weights_of_integer_bool_or_complex_dtype_are_refused_naming_the_key(tmp_path, dtype):
    network = paddle.nn.Linear(3, 2)
    state = {k: v.numpy().astype(dtype) for k, v in network.state_dict().items()}
    path = str(tmp_path / "typed.pdparams")
    with open(path, "wb") as f:
        pickle.dump(state, f, protocol=4)
    with pytest.raises(WeightsError, match=re.escape(path) + r": tensor 'weight' is "
                       + dtype + r" in the file; the model's is float32, so the file's "
                                 r"must be floating point"):
        load_weights(network, path)


def test_convert_refuses_complex128_for_safetensors_in_one_line(tmp_path, capsys):
    source = tmp_path / "complex.pdparams"
    with open(source, "wb") as f:
        pickle.dump({"w": np.ones(3, np.complex128)}, f, protocol=4)
    target = tmp_path / "out.safetensors"
    assert convert_main([str(source), str(target)]) == 2
    line = one_error(capsys.readouterr().err)
    assert ("tensor 'w' has dtype complex128, which .safetensors cannot hold" in line
            and str(source) in line)
    assert not target.exists()
    assert convert_main([str(source), str(tmp_path / "out.pdparams")]) == 0  # .pdparams can


# ------------------------------------------------------------------ aliasing

def test_one_stored_buffer_read_in_two_byte_orders_gives_two_right_arrays(tmp_path):
    values = np.array([1.5, -2.0, 3.25], np.float32)
    data = values.astype(">f4").tobytes()
    pickled = hp.state_dict(
        hp.text("big"), hp.array((3,), hp.dtype("f4", ">"), hp.raw(data) + b"q\x00"),
        hp.text("little"), hp.array((3,), hp.dtype("f4", "<"), hp.get(0)))
    path = tmp_path / "orders.pdparams"
    path.write_bytes(pickled)
    loaded = safe_load.load(str(path))
    np.testing.assert_array_equal(loaded["big"], values)
    np.testing.assert_array_equal(loaded["little"], np.frombuffer(data, "<f4"))
    assert not np.shares_memory(loaded["big"], loaded["little"])


# ------------------------------------------------------------------ safetensors headers

def test_a_safetensors_header_nested_2000_deep_is_refused(tmp_path):
    header = b'{"a":' + b"[" * 2000 + b"]" * 2000 + b"}"
    path = safetensors_file(tmp_path / "deep.safetensors", None, raw_header=header)
    outcome, _, _ = measured(safe_load.load, path)
    refused(outcome, path, "not a readable .safetensors file: its header nests 2001 deep; "
                           "the format needs 3")


@pytest.mark.parametrize("case", ["metadata of {}", "metadata of many strings",
                                  "100,000 empty tensors"])
def test_safetensors_headers_of_many_items_are_refused_within_their_size(tmp_path, case):
    if case == "metadata of {}":
        header = b'{"__metadata__":[' + b",".join([b"{}"] * 300_000) + b"]}"
    elif case == "metadata of many strings":
        header = json.dumps({"__metadata__": {f"k{i}": "v" for i in range(2_200_000)}}).encode()
    else:
        header = json.dumps({f"t{i}": {"dtype": "F32", "shape": [0], "data_offsets": [0, 0]}
                             for i in range(100_000)}).encode()
    path = safetensors_file(tmp_path / "many.safetensors", None, raw_header=header)
    outcome, peak, seconds = measured(safe_load.load, path)
    refused(outcome, path, r"its header holds (about )?\d+ (objects|items|strings)")
    assert peak < len(header) + (128 << 20) and seconds < 5, (peak, seconds)


def test_safetensors_metadata_must_be_text_to_text_and_bounded(tmp_path):
    data = np.ones(2, np.float32).tobytes()
    tensor = {"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}
    for metadata, fragment in (({"a": {}}, "not a map of text to text"),
                               ({"a": "x" * (1 << 20)}, "characters; at most")):
        path = safetensors_file(tmp_path / "meta.safetensors",
                                {"__metadata__": metadata, **tensor}, data)
        refused(measured(safe_load.load, path)[0], path, fragment)
    for metadata in ({"format": "np"}, None):
        path = safetensors_file(tmp_path / "meta.safetensors",
                                {"__metadata__": metadata, **tensor}, data)
        assert list(safe_load.load(path)) == ["w"]


@pytest.mark.parametrize("entry, fragment", [
    ({"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}, "needs 8 bytes"),
    ({"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}, "starts at byte 4"),
    ({"dtype": "F32", "shape": [2], "data_offsets": [8, 0]}, "not \\[begin, end\\]"),
    ({"dtype": "F32", "shape": [2]}, "not described by dtype, shape and data_offsets"),
    ({"dtype": "F32", "shape": [2.0], "data_offsets": [0, 8]}, "shape that is not a list"),
])
def test_safetensors_entries_that_do_not_fit_their_data_are_refused(tmp_path, entry,
                                                                     fragment):
    path = safetensors_file(tmp_path / "bad.safetensors", {"w": entry}, b"\0" * 8)
    refused(measured(safe_load.load, path)[0], path, fragment)


def test_safetensors_written_here_read_by_the_safetensors_package(tmp_path):
    from safetensors.numpy import load_file

    state = {"b": np.arange(3, dtype=np.int64), "a": np.ones((2, 3), np.float16),
             "c": np.array(2.5, np.float64), "e": np.zeros((0, 4), np.float32)}
    path = str(tmp_path / "ours.safetensors")
    writers.save_safetensors(state, path)
    for loaded in (load_file(path), safe_load.load(path)):
        assert loaded.keys() == state.keys()
        for key in state:
            np.testing.assert_array_equal(loaded[key], state[key])
            assert loaded[key].dtype == state[key].dtype


def test_bfloat16_safetensors_load_as_paddle_stores_bfloat16(tmp_path):
    bits = np.array([0x3FC0, 0xC000], np.uint16)  # 1.5 and -2.0 in bfloat16
    path = safetensors_file(tmp_path / "bf16.safetensors",
                            {"w": {"dtype": "BF16", "shape": [2], "data_offsets": [0, 4]}},
                            bits.tobytes())
    loaded = safe_load.load(path)["w"]
    assert loaded.dtype == np.uint16 and list(loaded) == [0x3FC0, 0xC000]


def test_a_safetensors_file_cut_while_it_is_read_is_refused(tmp_path):
    """The file is cut after its size was taken (a re-download, a concurrent writer):
    with a memory map that was SIGBUS; read with plain reads it is an error."""
    path = str(tmp_path / "cut.safetensors")
    writers.save_safetensors({"w": np.ones(1 << 16, np.float32)}, path)
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        os.truncate(path, size // 2)
        with pytest.raises(WeightsError, match=re.escape(path) + ": not a readable "
                                               r"\.safetensors file: the file ended while"):
            safe_load._load_safetensors(path, f, size)


@pytest.mark.slow
def test_a_safetensors_file_cut_during_a_load_ends_without_a_signal(tmp_path):
    """A child process loads a 64 MB file in a loop while this one cuts and restores
    it: every load ends in its data or a WeightsError, never a signal."""
    path = str(tmp_path / "big.safetensors")
    writers.save_safetensors({f"w{i}": np.ones(1 << 20, np.float32) for i in range(16)}, path)
    whole = open(path, "rb").read()
    code = ("import sys\nfrom paddle_googlenet.weights import safe_load\n"
            "from paddle_googlenet.errors import WeightsError\n"
            "for _ in range(40):\n    try:\n        safe_load.load(sys.argv[1])\n"
            "    except WeightsError as err:\n        assert '\\n' not in str(err)\n")
    child = subprocess.Popen([sys.executable, "-c", code, path], cwd=ROOT,
                             env=dict(os.environ, PYTHONPATH=ROOT), stderr=subprocess.PIPE)
    while child.poll() is None:
        os.truncate(path, len(whole) // 3)
        time.sleep(0.002)
        with open(path, "r+b") as f:
            f.write(whole)
    assert child.returncode == 0, child.stderr.read()[-2000:]


# ------------------------------------------------------------------ reader limits

def test_a_long_text_of_wide_characters_is_refused_before_it_is_decoded(tmp_path):
    text = ("x" * (4 << 20) + "\U0001F600").encode()
    pickled = hp.PROTO + b"\x8d" + struct.pack("<Q", len(text)) + text + hp.STOP
    path = tmp_path / "text.pdparams"
    path.write_bytes(pickled)
    outcome, peak, _ = measured(safe_load.load, str(path))
    refused(outcome, path, r"refused at byte 2 \(BINUNICODE8\): a text of \d+ bytes with "
                           r"characters beyond latin-1")
    assert peak < len(pickled) + SLACK, peak  # decoded, it would take 16 MB


def test_a_sparse_file_claiming_100_gib_of_bytes_is_refused(tmp_path):
    path = tmp_path / "sparse.pdparams"
    with open(path, "wb") as f:
        f.write(hp.PROTO + b"\x8e" + struct.pack("<Q", 100 << 30))
        f.truncate((100 << 30) + 16)
    outcome, peak, _ = measured(safe_load.load, str(path))
    refused(outcome, path, r"\(BINBYTES8\): a length of \d+ bytes, more than this machine's "
                           r"memory")
    assert peak < SLACK


@pytest.mark.parametrize("how", ["load", "load_weights", "convert", "checkpoint"])
def test_a_path_holding_nul_is_a_weights_error(tmp_path, how):
    path = str(tmp_path / "a\0b.pdparams")
    with pytest.raises(WeightsError, match=r"a\\x00b"):
        if how == "load":
            safe_load.load(path)
        elif how == "load_weights":
            load_weights(paddle.nn.Linear(2, 2), path)
        elif how == "convert":
            convert_weights(path, str(tmp_path / "out.safetensors"))
        else:
            checkpoint.load_checkpoint(path, paddle.nn.Linear(2, 2), None)
    with pytest.raises(WeightsError, match="holds no NUL"):
        convert_weights(str(tmp_path), str(tmp_path / "o\0.safetensors"))


# ------------------------------------------------------------------ the converter's output

@pytest.fixture()
def source(tmp_path):
    path = str(tmp_path / "in.pdparams")
    paddle.save(paddle.nn.Linear(2, 3).state_dict(), path)
    return path


@pytest.mark.parametrize("case", ["directory with --force", "300-byte name", "in /proc",
                                  "missing directory"])
def test_convert_output_problems_are_one_line_naming_the_output(tmp_path, capsys, source,
                                                                case):
    if case == "directory with --force":
        target = tmp_path / "out.safetensors"
        target.mkdir()
    elif case == "300-byte name":
        target = tmp_path / ("x" * 290 + ".safetensors")
    elif case == "in /proc":
        target = "/proc/out.safetensors"
    else:
        target = tmp_path / "no" / "out.safetensors"
    assert convert_main([source, str(target), "--force"]) == 2
    line = one_error(capsys.readouterr().err)
    assert str(target) in line, line
    assert sorted(os.listdir(tmp_path)) == sorted(
        ["in.pdparams"] + (["out.safetensors"] if case.startswith("directory") else []))


def test_a_link_planted_at_the_old_temporary_name_is_not_followed(tmp_path, source):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    target = tmp_path / "out.safetensors"
    planted = tmp_path / f".out.safetensors.tmp-{os.getpid()}"
    planted.symlink_to(victim)
    convert_weights(source, str(target))
    assert victim.read_text() == "keep me" and planted.is_symlink()
    assert safe_load.load(str(target)).keys() == {"weight", "bias"}
    assert oct(target.stat().st_mode & 0o777) == oct(0o666 & ~current_umask())


def current_umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


def test_convert_replaces_a_link_at_the_output_not_what_it_points_to(tmp_path, source):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    target = tmp_path / "out.safetensors"
    target.symlink_to(victim)
    convert_weights(source, str(target), force=True)
    assert victim.read_text() == "keep me" and not target.is_symlink()


# ------------------------------------------------------------------ checkpoint fields

@pytest.fixture()
def adam_checkpoint(tmp_path):
    paddle.seed(2)
    network, optimizer = adam_linear(steps=1)
    states = {"epoch": 1, "step": 0, "best_top1": 0.5, "rng": rng_state(), "epochs": 4,
              "steps_per_epoch": 3}
    path, _ = checkpoint.save_checkpoint(str(tmp_path / "run"), 1, network, optimizer,
                                         states, ema_state=network.state_dict())
    return path, states


def edit_optimizer_file(path, edit):
    file = os.path.join(path, checkpoint.OPTIMIZER)
    saved = safe_load.load(file)
    edit(saved["state"])
    writers.save_pickle(saved, file)
    return file


def moment(key_end, value):
    def edit(state):
        key = next(k for k in state if k.startswith("weight_") and k.endswith(key_end))
        state[key] = value
    return edit


OPTIMIZER_EDITS = {
    "last_epoch text": (lambda s: s["LR_Scheduler"].update(last_epoch="3"),
                        r"'LR_Scheduler.last_epoch' is '3', not an integer"),
    "last_lr list": (lambda s: s["LR_Scheduler"].update(last_lr=[0.1, 0.2]),
                     r"'LR_Scheduler.last_lr' is a list of 2 items, not a number"),
    "inner last_lr text": (lambda s: s["LR_Scheduler"]["LinearWarmup_LR"].update(last_lr="x"),
                           r"'LR_Scheduler.LinearWarmup_LR.last_lr' is 'x'"),
    "moment f64": (moment("moment1_0", np.zeros((3, 2), np.float64)),
                   r"'weight_moment1_0' is float64 of shape \[3, 2\]; for parameter "
                   r"weight it must be float32 of shape \[3, 2\]"),
    "moment i64": (moment("moment2_0", np.zeros((3, 2), np.int64)), r"is int64"),
    "moment u2": (moment("moment1_0", np.zeros((3, 2), np.uint16)), r"is uint16"),
    "moment of another shape": (moment("moment1_0", np.zeros((2, 3), np.float32)),
                                r"of shape \[2, 3\]"),
    "pow accumulator of many": (moment("beta1_pow_acc_0", np.zeros(4, np.float32)),
                                r"must be float32 of shape \[1\]"),
    "a moment of no parameter": (lambda s: s.update(other_moment1_0=np.zeros(1, np.float32)),
                                 r"'other_moment1_0' names no parameter"),
    "a moment of text": (moment("moment1_0", ["a", "b"]), r"is a list of 2 items, not a "
                                                         r"tensor"),
}


@pytest.mark.parametrize("case", list(OPTIMIZER_EDITS))
def test_optimizer_fields_are_checked_before_the_first_step(adam_checkpoint, case):
    path, _ = adam_checkpoint
    edit, fragment = OPTIMIZER_EDITS[case]
    file = edit_optimizer_file(path, edit)
    network, optimizer = adam_linear()
    with pytest.raises(WeightsError, match=re.escape(file) + r": not the optimizer state "
                                                            r"of this run: .*" + fragment):
        checkpoint.load_checkpoint(path, network, optimizer)


def test_an_unedited_optimizer_file_resumes_and_steps(adam_checkpoint):
    path, _ = adam_checkpoint
    edit_optimizer_file(path, lambda state: None)
    network, optimizer = adam_linear()
    checkpoint.load_checkpoint(path, network, optimizer)
    network(paddle.ones([1, 3])).sum().backward()
    optimizer.step()  # the accumulators Paddle creates now are the file's


@pytest.mark.parametrize("values, fragment", [
    ({"weight": ["a", "b"], "bias": np.zeros(2, np.float32)}, r"entry 'weight' is a list"),
    ({"weight": np.zeros((3, 2), np.int64), "bias": np.zeros(2, np.float32)},
     r"tensor 'weight' is int64 in the file"),
    ({"weight": np.zeros((2, 3), np.float32), "bias": np.zeros(2, np.float32)},
     r"weight has shape \[2, 3\]"),
])
def test_averaged_weights_are_checked_on_resume(adam_checkpoint, values, fragment):
    path, _ = adam_checkpoint
    file = checkpoint.ema_file(path)
    writers.save_pickle(values, file)
    network, _ = adam_linear()
    average = WeightAverage(network, 0.9)
    with pytest.raises(WeightsError, match=re.escape(file) + ".*" + fragment):
        average.set_state_dict(checkpoint.load_ema(path), file)


def test_averaged_weights_of_float16_load_into_float32_shadows(adam_checkpoint):
    path, _ = adam_checkpoint
    file = checkpoint.ema_file(path)
    writers.save_pickle({"weight": np.full((3, 2), 0.5, np.float16),
                         "bias": np.ones(2, np.float16)}, file)
    average = WeightAverage(adam_linear()[0], 0.9)
    average.set_state_dict(checkpoint.load_ema(path), file)
    assert average.shadow["weight"].dtype == paddle.float32
    np.testing.assert_array_equal(average.shadow["weight"].numpy(), np.full((3, 2), 0.5))


def generators(edit):
    def change(states):
        engines = [list(g) for g in states["rng"]["paddle"]]
        states["rng"]["paddle"] = edit(engines)
    return change


STATES_EDITS = {
    "seed 2**70": (generators(lambda g: [[g[0][0], 2**70, *g[0][2:]]]),
                   r"item 0 has seed 1180591620717411303424 and offset \d+; both are 64-bit"),
    "offset -1": (generators(lambda g: [[*g[0][:2], -1, g[0][3]]]), r"and offset -1"),
    "51 generators": (generators(lambda g: [list(g[0]) for _ in range(51)]),
                      r"not a list of 1 Paddle generator states .*a list of 51 items"),
    "engine cut": (generators(lambda g: [[*g[0][:3], g[0][3][:50]]]),
                   r"engine state of \d+ numbers, not 313"),
    "epoch text shared 1M times": (lambda s: s.update(epoch=["x" * 8192] * 1_000_000),
                                   r"'epoch' is a list of 1000000 items, not an integer"),
    "epochs 2**70": (lambda s: s.update(epochs=2**70), r"'epochs' is 1180591620717411303424"),
    "metrics text": (lambda s: s.update(metrics="top1"), r"'metrics' is 'top1'"),
    "progress of another step": (lambda s: s.update(step=2, progress={
        "step": 1, "seen": 2, "seconds": 1.0, "losses": [], "metrics": []}),
        r"'progress.step' is 1, the checkpoint's 'step' 2"),
}


@pytest.mark.parametrize("case", [pytest.param(c, marks=pytest.mark.slow) if "1M" in c else c
                                  for c in STATES_EDITS])
def test_every_states_field_is_checked_with_a_short_message(adam_checkpoint, case):
    path, states = adam_checkpoint
    edit, fragment = STATES_EDITS[case]
    states = dict(states, rng=dict(states["rng"]))
    edit(states)
    file = os.path.join(path, checkpoint.STATES)
    writers.save_pickle(states, file)
    network, optimizer = adam_linear()
    outcome, peak, seconds = measured(checkpoint.load_checkpoint, path, network, optimizer)
    message = refused(outcome, file, r"not a checkpoint's \.pdstates file: .*" + fragment)
    assert len(message) < 400 + len(file) and seconds < 30, (len(message), seconds)
    assert peak < os.path.getsize(file) * 4 + SLACK, peak


# ------------------------------------------------------------------ through the tools

def run_tool(tool, options, tiny_data, out):
    command = [sys.executable, os.path.join("tools", tool), "-c", DEFAULT_CONFIG]
    for option in tiny_overrides(tiny_data, out, epochs=2, **options):
        command += ["-o", option]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env=dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS="1"))


@pytest.mark.slow
def test_the_tools_load_float16_weights_and_refuse_int_keys(tiny_data, tmp_path):
    paddle.seed(0)
    network = GoogLeNet(num_classes=6)
    half = str(tmp_path / "half.pdparams")
    paddle.save({k: v.astype("float16") for k, v in network.state_dict().items()}, half)
    common = {"Infer.infer_imgs": os.path.join(tiny_data, "images", "val"),
              "Infer.PostProcess.class_id_map_file": os.path.join(tiny_data, "label_list.txt"),
              "Global.save_inference_dir": str(tmp_path / "inference")}
    for tool in ("eval.py", "predict.py", "export_model.py"):
        done = run_tool(tool, dict(common, **{"Global.pretrained_model": half}), tiny_data,
                        str(tmp_path / "out"))
        assert done.returncode == 0, done.stderr[-2000:]
        assert "tensors stored as float16 loaded as float32" in done.stderr, tool
    keyed = str(tmp_path / "keyed.pdparams")
    with open(keyed, "wb") as f:
        pickle.dump({**{k: v.numpy() for k, v in network.state_dict().items()},
                     3: np.ones(1, np.float32)}, f, protocol=4)
    for tool, where in (("predict.py", "Global.pretrained_model"),
                        ("train.py", "Arch.pretrained")):
        done = run_tool(tool, dict(common, **{where: keyed}), tiny_data,
                        str(tmp_path / "out2"))
        assert done.returncode == 2, done.stderr[-2000:]
        assert keyed in one_error(done.stderr) and "a key that is 3 (int)" in done.stderr


@pytest.mark.slow
def test_a_resume_with_a_bad_optimizer_field_leaves_the_run_untouched(trained_run, tiny_data,
                                                                      tmp_path):
    run = copy_run(trained_run, str(tmp_path))
    latest = os.path.join(run, "latest")
    file = edit_optimizer_file(latest, lambda s: s["LR_Scheduler"].update(last_epoch="1"))
    before = files_of(run)
    done = run_tool("train.py", {"Global.checkpoints": latest}, tiny_data, str(tmp_path))
    assert done.returncode == 2, done.stderr[-2000:]
    line = one_error(done.stderr)
    assert file in line and "'LR_Scheduler.last_epoch' is '1', not an integer" in line, line
    assert files_of(run) == before


@pytest.mark.parametrize("kind", ["ascii", "latin-1"])
def test_protocol_2_tensor_data_in_a_long_text_loads_without_a_second_copy(tmp_path, kind):
    """Protocol 2 stores bytes as text; a long text becomes the tensor's bytes without
    ever being a str. The same text made into bytes twice gives two arrays."""
    values = (np.arange(1 << 19, dtype=np.uint32) % (100 if kind == "ascii" else 256))
    values = values.astype(np.uint8)
    path = tmp_path / "p2.pdparams"
    with open(path, "wb") as f:
        pickle.dump({"w": values, "v": values.astype(np.float32)}, f, protocol=2)
    outcome, peak, _ = measured(safe_load.load, str(path))
    np.testing.assert_array_equal(outcome["w"], values)
    np.testing.assert_array_equal(outcome["v"], values.astype(np.float32))
    assert peak < os.path.getsize(path) * 1.5 + SLACK, peak
    long_text = b"X" + struct.pack("<I", 2 << 20) + b"a" * (2 << 20)
    encode = hp.name("_codecs", "encode")
    first = encode + long_text + b"q\x00" + hp.text("latin1") + hp.TUPLE2 + hp.REDUCE
    again = encode + b"h\x00" + hp.text("latin1") + hp.TUPLE2 + hp.REDUCE
    padding = hp.raw(b"\0" * (2 << 20))  # arrays may hold as many bytes as the file
    path.write_bytes(hp.state_dict(hp.text("a"), hp.array((2 << 20,), hp.dtype("u1"), first),
                                   hp.text("b"), hp.array((2 << 20,), hp.dtype("u1"), again),
                                   hp.text("padding"), padding))
    twice = safe_load.load(str(path))
    assert (twice["a"] == ord("a")).all() and (twice["b"] == ord("a")).all()
    assert not np.shares_memory(twice["a"], twice["b"])


@pytest.mark.parametrize("case", ["wide texts", "bytes values"])
def test_texts_and_bytes_values_past_a_bound_are_refused(tmp_path, case):
    """Texts under the long-text limit, each with one character that makes Python store
    all of it at 4 bytes a character (150 would take 600 MB); or bytes values, each a
    copy of what the file read, which the memo keeps as well (10 of 16 MiB: twice the
    file)."""
    if case == "wide texts":
        item, count = hp.text("x" * ((1 << 20) - 8) + "\U0001F600"), 150
        pattern = r"its texts would take \d+ bytes more than the file's bytes"
    else:
        item, count = b"B" + struct.pack("<I", 16 << 20) + b"\0" * (16 << 20) + hp.MEMOIZE, 10
        pattern = r"its bytes values hold \d+ bytes, more than 134217728"
    pickled = hp.PROTO + hp.EMPTY_LIST + hp.MARK + item * count + b"e" + hp.STOP
    path = tmp_path / "values.pdparams"
    path.write_bytes(pickled)
    outcome, peak, _ = measured(safe_load.load, str(path))
    refused(outcome, path, pattern)
    assert peak < len(pickled) + (128 << 20) + SLACK, peak
