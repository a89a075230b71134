"""Multi-crop evaluation's speed per core: 1, 10 and 144 crops an image on ImageNet-size
photographs (500x375 and 375x500 JPEGs, generated), PaddleClas's eval list at 224.

    python -m tools.benchmark.multicrop                      # 16 photographs, 3 rounds
    python -m tools.benchmark.multicrop --images 32 --rounds 5 --json multicrop.json

``tools/benchmark.py`` runs it too, as its multi-crop section (fewer photographs and
rounds with ``--quick``).

One process on one CPU thread. Forward passes in float32 by the dygraph network, as
tools/eval.py runs them, and, on a processor with AVX512-BF16 or AMX, in bfloat16 by
the exported network under Paddle Inference (the bf16 rows). Per protocol, the host
side is what a loader worker does for an image (``data.multicrop.MultiCropTransform``:
one decode, a resize per scale, the cuts, the mirrors) and what the main process does
for its crops (``normalize_crops``: uint8 to normalized NCHW float32), timed in CPU
seconds. The
forward passes are the network's on batches of 32 crops, the main head's softmax
included, timed the same way and counted per crop. Images per second per core are
``1 / (host + crops x forward)``; the forward-pass bound is ``1 / (crops x
forward)``, what the protocol would reach with free crops, and the host share is
host over forward time: the 144-crop row must stay under 10%. A round times every
protocol once; ratios are taken within a round, then the median over the rounds.
"""

import argparse
import json
import os
import sys
import tempfile
import time

import numpy as np

from .data_pipeline import EVAL, write_photographs
from .stats import spread, summary

PROTOCOLS = (1, 10, 144)
FORWARD_BATCH = 32
HOST_SHARE_LIMIT = 0.10


def _cpu_seconds(work) -> float:
    began = time.process_time()
    work()
    return time.process_time() - began


def host_seconds(plan, images) -> float:
    """CPU seconds an image's crops take on the host: cut, then normalized."""
    from paddle_googlenet.data.multicrop import MultiCropTransform, normalize_crops

    transform = MultiCropTransform(plan)

    def work():
        for data in images:
            normalize_crops(transform(data), plan.normalize)

    return _cpu_seconds(work) / len(images)


def eval_list(side: int = 224) -> list:
    """PaddleClas's eval list (resize the shorter side to 256, centre 224), scaled to
    crops of ``side``."""
    if side == 224:
        return EVAL
    resize = {"ResizeImage": {"resize_short": round(256 * side / 224)}}
    return [EVAL[0], resize, {"CropImage": {"size": side}}, *EVAL[3:]]


def forward_seconds(forward, passes: int, side: int = 224) -> float:
    """CPU seconds of one crop's forward pass (batches of FORWARD_BATCH, softmax)."""
    crops = np.random.RandomState(0).randn(FORWARD_BATCH, 3, side, side).astype("float32")

    def work():
        for _ in range(passes):
            forward(crops)

    return _cpu_seconds(work) / (passes * FORWARD_BATCH)


def forwards(folder: str, side: int = 224) -> dict:
    """``{precision: forward(batch) -> probabilities}``: the dygraph network as
    tools/eval.py runs it (fp32) and, on a processor with bf16, its export under
    Paddle Inference in bf16. Crops other than 224 take the adaptive heads."""
    import paddle

    from paddle_googlenet.engine.process import set_up_process
    from paddle_googlenet.hardware import bf16_supported
    from paddle_googlenet.models import GoogLeNet, MainHeadOnly

    process = set_up_process({"device": "cpu", "num_threads": 1, "cpu_fast_paths": True,
                              "to_static": False, "seed": 0})
    network = GoogLeNet(adaptive_pool=side != 224)
    process.speed_up(network)
    network.eval()

    def dygraph(batch):
        with paddle.no_grad():
            logits = network(paddle.to_tensor(batch))[0]
            return paddle.nn.functional.softmax(logits, axis=-1).numpy()

    found = {"fp32": dygraph}
    if bf16_supported():
        from paddle_googlenet.deploy import PaddleModel

        exported = os.path.join(folder, "model")
        paddle.jit.save(MainHeadOnly(GoogLeNet(adaptive_pool=side != 224), softmax=True),
                        os.path.join(exported, "inference"),
                        input_spec=[paddle.static.InputSpec([None, 3, side, side], "float32")])
        found["bf16"] = PaddleModel(exported, threads=1, precision="bf16")
    return found


def _rows(per_round: list, n: int) -> dict:
    total = [r[n]["host"] + r[n]["forward"] for r in per_round]
    return {
        "crops": n,
        "images_per_s_per_core": summary([1 / t for t in total]),
        "forward_bound": summary([1 / r[n]["forward"] for r in per_round]),
        "of_bound": summary([r[n]["forward"] / t for r, t in zip(per_round, total)]),
        "over_one_crop": summary([(r[1]["host"] + r[1]["forward"]) / t
                                  for r, t in zip(per_round, total)]),
        "host_ms": summary([1000 * r[n]["host"] for r in per_round]),
        "host_share": summary([r[n]["host"] / r[n]["forward"] for r in per_round]),
    }


def measure(images: int, rounds: int, passes: int, side: int = 224) -> dict:
    """Every protocol's rows, ``rounds`` times, on ``images`` photographs; crops of
    ``side`` (224, PaddleClas's; smaller ones only to try the code quickly)."""
    import paddle

    from paddle_googlenet.data.multicrop import CropPlan
    from paddle_googlenet.data.transforms import build_transforms

    plans = {n: CropPlan(build_transforms(eval_list(side)), (n,)) for n in PROTOCOLS}
    with tempfile.TemporaryDirectory(prefix="googlenet-photographs-") as folder:
        write_photographs(folder, images, 500, 375)
        names = sorted(os.listdir(os.path.join(folder, "images")))
        data = [open(os.path.join(folder, "images", n), "rb").read() for n in names]
        precisions = forwards(folder, side)
        for forward in precisions.values():
            forward_seconds(forward, 1, side)  # warm-up: kernels chosen, memory taken
        per_round = {name: [] for name in precisions}
        for _ in range(rounds):
            host = {n: host_seconds(plans[n], data) for n in PROTOCOLS}
            for name, forward in precisions.items():
                one = forward_seconds(forward, passes, side)
                per_round[name].append({n: {"host": host[n], "forward": n * one}
                                        for n in PROTOCOLS})
    return {"photographs": {"count": images, "size": "500x375"}, "rounds": rounds,
            "crop": side, "forward_batch": FORWARD_BATCH, "paddle": paddle.__version__,
            "rows": {name: {n: _rows(samples, n) for n in PROTOCOLS}
                     for name, samples in per_round.items()}}


def host_shares(result: dict) -> dict:
    """``{precision: host work of 144 crops over their forward passes}`` (median); the
    rows are found by their crop count, their keys being strings once read from JSON."""
    return {precision: next(row for row in rows.values() if row["crops"] == 144)
            ["host_share"]["median"] for precision, rows in result["rows"].items()}


def table(result: dict) -> str:
    lines = ["| forward | crops | images/s per core | forward-pass bound | of the bound | "
             "against 1 crop | host ms an image | host / forward |",
             "|---|---|---|---|---|---|---|---|"]
    for precision, rows in result["rows"].items():
        for row in rows.values():
            lines.append(
                f"| {precision} | {row['crops']} | {spread(row['images_per_s_per_core'], '.3f')} | "
                f"{spread(row['forward_bound'], '.3f')} | {spread(row['of_bound'], '.1%')} | "
                f"{spread(row['over_one_crop'], '.4f')} | {spread(row['host_ms'], '.1f')} | "
                f"{spread(row['host_share'], '.2%')} |")
    for precision, share in host_shares(result).items():
        verdict = "under" if share < HOST_SHARE_LIMIT else "OVER"
        lines.append(f"\n144 crops, {precision}: host work is {share:.2%} of the forward "
                     f"passes, {verdict} the {HOST_SHARE_LIMIT:.0%} limit")
    lines.append(f"({result['rounds']} rounds, {result['photographs']['count']} photographs "
                 f"of {result['photographs']['size']}, {result['crop']}-pixel crops, one CPU "
                 f"thread)")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--passes", type=int, default=2,
                        help=f"forward batches of {FORWARD_BATCH} crops a round")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    args = parser.parse_args(argv)
    result = measure(args.images, args.rounds, args.passes)
    print(table(result))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
    return 0 if max(host_shares(result).values()) < HOST_SHARE_LIMIT else 1


if __name__ == "__main__":
    sys.exit(main())
