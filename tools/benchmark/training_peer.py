"""Whole training runs: PaddleClas's own ``tools/train.py`` against this package's, on
PaddleClas's ``ppcls/configs/ImageNet/Inception/GoogLeNet.yaml``.

Both tools read that file from the checkout with the same ``-o`` options: the data
paths, ``Arch.class_num``, ``Global.epochs``, ``Global.device=cpu`` and the batch size.
This package's tool also gets ``Arch.name=GoogLeNetPaddleClas``, its name for
PaddleClas's network, so both train the same network on the same JPEGs (generated
500x375 photographs, half turned; a quarter of them are the Eval list). Each tool runs
as a user starts it, in a fresh folder, from the environment without the thread count
that importing Paddle in the benchmark set.

An epoch's seconds are (wall time of a run of ``epochs[1]`` epochs - wall time of a run
of ``epochs[0]``) / (their difference), so start-up (imports, building the model and
the loaders' workers) does not count; an epoch includes its evaluation, alike for both.
In each round both tools run both lengths, in an order that turns each round, and the
ratio is taken within a round, then the median.
"""

import os
import subprocess
import sys
import tempfile
import time
from typing import Dict, List, Sequence

from . import paddleclas_peer
from .children import child_environment
from .data_pipeline import write_photographs
from .stats import paired, spread, summary

CONFIG = os.path.join("ppcls", "configs", "ImageNet", "Inception", "GoogLeNet.yaml")
OUR_TRAIN = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                         "train.py")
PEER, OURS = "PaddleClas tools/train.py", "paddle_googlenet tools/train.py"
CLASSES = 10  # write_photographs labels image i with i % 10


def overrides(folder: str, train_list: str, val_list: str, epochs: int, batch: int) -> list:
    """The ``-o`` options both tools get."""
    options = {"Global.device": "cpu", "Global.epochs": epochs, "Arch.class_num": CLASSES}
    for split, list_path in (("Train", train_list), ("Eval", val_list)):
        options[f"DataLoader.{split}.dataset.image_root"] = folder
        options[f"DataLoader.{split}.dataset.cls_label_path"] = list_path
        options[f"DataLoader.{split}.sampler.batch_size"] = batch
    return [word for key, value in options.items() for word in ("-o", f"{key}={value}")]


def command(tool: str, peer_root: str, options: List[str]) -> List[str]:
    if tool == PEER:
        return [sys.executable, paddleclas_peer.train_tool(peer_root),
                "-c", os.path.join(peer_root, CONFIG)] + options
    return [sys.executable, OUR_TRAIN, "-c", os.path.join(peer_root, CONFIG),
            "-o", "Arch.name=GoogLeNetPaddleClas"] + options


def _wall_seconds(argv: List[str], folder: str) -> float:
    """Wall time of ``argv`` run in a new ``folder`` (its outputs go there)."""
    os.makedirs(folder)
    env = child_environment()
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=folder, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).splitlines()[-25:])
        raise RuntimeError(f"{' '.join(argv[:2])} failed (exit {done.returncode}):\n{tail}")
    return seconds


def measure(peer_root: str, images: int, batch: int, epochs: Sequence[int], rounds: int,
            log=print) -> dict:
    """Seconds per epoch of both tools over ``rounds`` rounds, and their ratio."""
    short, long = epochs
    seconds: Dict[str, List[float]] = {PEER: [], OURS: []}
    with tempfile.TemporaryDirectory(prefix="googlenet-train-tools-") as scratch:
        folder = os.path.join(scratch, "photographs")
        train_list = write_photographs(folder, images, 500, 375)
        val_list = os.path.join(folder, "val_list.txt")
        with open(train_list) as f:
            lines = f.readlines()
        with open(val_list, "w") as f:
            f.writelines(lines[::4])
        runs = 0
        for index in range(rounds):
            tools = [PEER, OURS] if index % 2 == 0 else [OURS, PEER]
            for tool in tools:
                wall = {}
                for count in (short, long) if index % 2 == 0 else (long, short):
                    runs += 1
                    argv = command(tool, peer_root, overrides(folder, train_list, val_list,
                                                              count, batch))
                    wall[count] = _wall_seconds(argv, os.path.join(scratch, f"run{runs}"))
                per_epoch = (wall[long] - wall[short]) / (long - short)
                seconds[tool].append(per_epoch)
                log(f"  round {index + 1}/{rounds} {tool}: {short} epoch(s) {wall[short]:.1f} s, "
                    f"{long} {wall[long]:.1f} s: {per_epoch:.1f} s per epoch")
    return {
        "paddleclas": peer_root, "paddleclas_commit": paddleclas_peer.commit(peer_root),
        "config": CONFIG, "photographs": {"count": images, "size": "500x375",
                                          "eval": len(lines[::4])},
        "batch": batch, "epochs": list(epochs), "classes": CLASSES,
        "rows": {tool: {"seconds_per_epoch": summary(values),
                        "train_images_per_s": summary([images / s for s in values])}
                 for tool, values in seconds.items()},
        # above 1: this package's epoch is that much shorter
        "speedup_vs_paddleclas": paired(seconds[PEER], seconds[OURS])}


def table(result: dict) -> str:
    if "skipped" in result:
        return f"training tools, PaddleClas's GoogLeNet.yaml: skipped: {result['skipped']}"
    photos = result["photographs"]
    lines = [f"training tools on PaddleClas's {result['config']} (PaddleClas commit "
             f"{result['paddleclas_commit'][:9]}): {photos['count']} photographs "
             f"{photos['size']} ({photos['eval']} of them the Eval list), {result['classes']} "
             f"classes, batch {result['batch']}, epoch = (run of {result['epochs'][1]} - run "
             f"of {result['epochs'][0]}) / {result['epochs'][1] - result['epochs'][0]}",
             "| tool | s per epoch | train images/s | speedup vs PaddleClas |",
             "|---|---|---|---|"]
    for tool, row in result["rows"].items():
        speedup = ("1.00 (reference)" if tool == PEER
                   else spread(result["speedup_vs_paddleclas"]))
        lines.append(f"| {tool} | {spread(row['seconds_per_epoch'], '.1f')} "
                     f"| {spread(row['train_images_per_s'], '.1f')} | {speedup} |")
    return "\n".join(lines)
