"""How fast the project's weights reader loads what paddle.save writes, beside paddle.load.

    python -m tools.benchmark.weights_load              # 13.4M-parameter GoogLeNet, 7 rounds
    python -m tools.benchmark.weights_load --rounds 15
    python -m tools.benchmark.weights_load --big        # also a 1.1 GB tensor split by protocol 2
    python -m tools.benchmark.weights_load --convert 768  # peak memory converting 768 MiB

Each round loads the same files once per reader, in an order that turns every round,
and the ratio is taken within the round; the median and the min-max over rounds are
printed. ``--big`` checks, in child processes, that a tensor paddle.save splits into
slices (protocols 2 and 3) joins to the same array, and prints each reader's time
and peak resident memory. The same GoogLeNet as ``.safetensors`` is timed beside the
``safetensors`` package's own reader (a memory map, copied into arrays), which this
project used before reading the format itself. ``--convert N`` writes an N MiB
``.safetensors`` file and converts it to ``.pdparams`` and back with
``tools/convert_weights.py``, printing each process's peak resident memory beside
the file's size and the memory of the same process before it reads anything.
"""

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)


def _readers():
    import paddle

    from paddle_googlenet.weights import safe_load

    return {"paddle.load": paddle.load,
            "paddle.load(return_numpy=True)": lambda p: paddle.load(p, return_numpy=True),
            "safe_load.load": safe_load.load}


def _save_googlenet(folder: str) -> dict:
    import paddle

    from paddle_googlenet.models import GoogLeNet

    paddle.seed(0)
    state = GoogLeNet(num_classes=1000).state_dict()
    files = {}
    for protocol in (4, 2):
        files[f"protocol {protocol}"] = path = os.path.join(folder, f"p{protocol}.pdparams")
        paddle.save(state, path, protocol=protocol)
    return files


def _timed(readers: dict, path: str, rounds: int) -> dict:
    """Seconds of each reader on ``path``, ``rounds`` times, in an order that turns."""
    names = list(readers)
    seconds = {name: [] for name in names}
    for r in range(rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            started = time.perf_counter()
            readers[name](path)
            seconds[name].append(time.perf_counter() - started)
    return seconds


def _print_rounds(label: str, path: str, rounds: int, seconds: dict, base: str, ratio,
                  ratio_name: str):
    """Each reader's median [min-max] milliseconds and ``ratio(base's, its)`` per round."""
    size = os.path.getsize(path) / 2**20
    print(f"\n{label}: {path} ({size:.1f} MiB), {rounds} rounds, median [min-max]")
    for name, s in seconds.items():
        ratios = [ratio(b, t) for b, t in zip(seconds[base], s)]
        print(f"  {name:32s} {statistics.median(s) * 1000:8.1f} ms "
              f"[{min(s) * 1000:.1f}-{max(s) * 1000:.1f}]   {ratio_name}: "
              f"{statistics.median(ratios):.2f}x [{min(ratios):.2f}-{max(ratios):.2f}]")


def time_rounds(files: dict, rounds: int):
    readers = _readers()
    for label, path in files.items():
        _print_rounds(label, path, rounds, _timed(readers, path, rounds), "paddle.load",
                      lambda base, this: base / this, "paddle.load / this")


_CHILD = """
import sys, time
sys.path.insert(0, {root!r})
import numpy as np
from tools.benchmark.weights_load import _readers
started = time.perf_counter()
state = _readers()[sys.argv[1]](sys.argv[2])
seconds = time.perf_counter() - started
big = np.asarray(state["big"])
ok = big.shape == (2**30 + 8,) and int(big[::2**20].astype(np.int64).sum()) == {checksum}
from tools.benchmark.memory import status_kb
print(f"{{seconds:.1f}} s, peak RSS {{status_kb('VmHWM') >> 10}} MiB, joined array equal: {{ok}}")
"""


def safetensors_rounds(folder: str, rounds: int):
    import paddle
    from safetensors.numpy import load_file

    from paddle_googlenet.models import GoogLeNet
    from paddle_googlenet.weights import safe_load, writers

    paddle.seed(0)
    path = os.path.join(folder, "googlenet.safetensors")
    writers.save_safetensors({k: v.numpy() for k, v in
                              GoogLeNet(num_classes=1000).state_dict().items()}, path)
    readers = {"safetensors.numpy.load_file": load_file, "safe_load.load": safe_load.load}
    _print_rounds(".safetensors", path, rounds, _timed(readers, path, rounds),
                  "safetensors.numpy.load_file", lambda base, this: this / base,
                  "this / load_file")


_CONVERT = """
import sys
sys.path.insert(0, {root!r})
from paddle_googlenet.cli.convert import main
from tools.benchmark.memory import status_kb
before = status_kb('VmHWM') >> 10
code = main(sys.argv[1:])
print(f"{{before}} {{status_kb('VmHWM') >> 10}} {{code}}")
"""


def convert_memory(folder: str, mebibytes: int):
    from paddle_googlenet.weights import writers

    count = mebibytes << 18  # float32 values
    tensors = {f"layer{i}.weight": np.full(count // 24, i, np.float32) for i in range(24)}
    source = os.path.join(folder, "big.safetensors")
    writers.save_safetensors(tensors, source)
    del tensors
    print(f"\nconverting a {os.path.getsize(source) / 2**20:.0f} MiB .safetensors file "
          f"(24 tensors): peak resident memory of the tool's process")
    steps = ((source, os.path.join(folder, "big.pdparams")),
             (os.path.join(folder, "big.pdparams"), os.path.join(folder, "back.safetensors")))
    for source, target in steps:
        done = subprocess.run([sys.executable, "-c", _CONVERT.format(root=ROOT), source,
                               target], capture_output=True, text=True)
        before, peak, code = done.stdout.split()[-3:]
        size = os.path.getsize(source) >> 20
        print(f"  {os.path.basename(source)} -> {os.path.basename(target)}: exit {code}, "
              f"peak {peak} MiB = file {size} MiB + {int(peak) - size} MiB (the process "
              f"before reading: {before} MiB)")


def big_tensor(folder: str):
    import paddle

    values = (np.arange(2**30 + 8, dtype=np.int64) % 97).astype(np.int8)
    path = os.path.join(folder, "big.pdparams")
    paddle.save({"big": paddle.to_tensor(values)}, path, protocol=2)
    checksum = int(values[::2**20].astype(np.int64).sum())
    del values
    print(f"\nprotocol 2, one int8 tensor of 2**30 + 8 elements, split by paddle.save: "
          f"{os.path.getsize(path) / 2**30:.2f} GiB file")
    for name in _readers():
        code = _CHILD.format(root=ROOT, checksum=checksum)
        done = subprocess.run([sys.executable, "-c", code, name, path], capture_output=True,
                              text=True)
        result = done.stdout.strip() or done.stderr.strip().splitlines()[-1]
        print(f"  {name:32s} {result}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--big", action="store_true",
                        help="also save and load a 1.1 GB tensor that protocol 2 splits")
    parser.add_argument("--convert", type=int, metavar="MIB",
                        help="also convert a .safetensors file of MIB MiB both ways")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        time_rounds(_save_googlenet(folder), args.rounds)
        safetensors_rounds(folder, args.rounds)
        if args.big:
            big_tensor(folder)
        if args.convert:
            convert_memory(folder, args.convert)
    print(f"\npeak RSS of this process: "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss >> 10} MiB")


if __name__ == "__main__":
    main()
