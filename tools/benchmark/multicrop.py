"""Multi-crop evaluation's speed per core: 1, 10 and 144 crops an image on ImageNet-size
photographs (500x375 and 375x500 JPEGs, generated), PaddleClas's eval list at 224.

    python -m tools.benchmark.multicrop                      # 16 photographs, 3 rounds
    python -m tools.benchmark.multicrop --images 32 --rounds 5 --json multicrop.json

One process on one CPU thread. Per protocol, the host side is what a loader worker
does for an image (``data.multicrop.MultiCropTransform``: one decode, a resize per
scale, the cuts, the mirrors) and what the main process does for its crops
(``BatchNormalize``: uint8 to normalized NCHW float32), timed in CPU seconds. The
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

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)

from tools.benchmark.data_pipeline import EVAL, write_photographs  # noqa: E402
from tools.benchmark.report import spread, summary  # noqa: E402

PROTOCOLS = (1, 10, 144)
FORWARD_BATCH = 32
HOST_SHARE_LIMIT = 0.10


def _cpu_seconds(work) -> float:
    began = time.process_time()
    work()
    return time.process_time() - began


def host_seconds(plan, normalize, images) -> float:
    """CPU seconds an image's crops take on the host: cut, then normalized."""
    from paddle_googlenet.data.multicrop import MultiCropTransform

    transform = MultiCropTransform(plan)

    def work():
        for data in images:
            normalize(transform(data))

    return _cpu_seconds(work) / len(images)


def forward_seconds(network, passes: int) -> float:
    """CPU seconds of one crop's forward pass (batches of FORWARD_BATCH, softmax)."""
    import paddle

    crops = paddle.randn([FORWARD_BATCH, 3, 224, 224])

    def work():
        with paddle.no_grad():
            for _ in range(passes):
                paddle.nn.functional.softmax(network(crops)[0], axis=-1).numpy()

    return _cpu_seconds(work) / (passes * FORWARD_BATCH)


def measure(images: int, rounds: int, passes: int) -> dict:
    import paddle

    from paddle_googlenet.data.loader import BatchNormalize
    from paddle_googlenet.data.multicrop import CropPlan
    from paddle_googlenet.data.transforms import build_transforms
    from paddle_googlenet.engine.process import set_up_process
    from paddle_googlenet.models import GoogLeNet
    from paddle_googlenet.pixels import HWC

    process = set_up_process({"device": "cpu", "num_threads": 1, "cpu_fast_paths": True,
                              "to_static": False, "seed": 0})
    network = GoogLeNet()
    process.speed_up(network)
    network.eval()
    plans = {n: CropPlan(build_transforms(EVAL), (n,)) for n in PROTOCOLS}
    normalize = BatchNormalize(plans[1].normalize, HWC)
    with tempfile.TemporaryDirectory(prefix="googlenet-photographs-") as folder:
        write_photographs(folder, images, 500, 375)
        names = sorted(os.listdir(os.path.join(folder, "images")))
        data = [open(os.path.join(folder, "images", n), "rb").read() for n in names]
        forward_seconds(network, 1)  # warm-up: kernels chosen, memory taken
        per_round = []
        for _ in range(rounds):
            forward = forward_seconds(network, passes)
            per_round.append({n: {"host": host_seconds(plans[n], normalize, data),
                                  "forward": n * forward} for n in PROTOCOLS})
    rows = {}
    for n in PROTOCOLS:
        rate = [1 / (r[n]["host"] + r[n]["forward"]) for r in per_round]
        rows[n] = {
            "crops": n,
            "images_per_s_per_core": summary(rate),
            "forward_bound": summary([1 / r[n]["forward"] for r in per_round]),
            "of_bound": summary([(1 / (r[n]["host"] + r[n]["forward"])) * r[n]["forward"]
                                 for r in per_round]),
            "over_one_crop": summary([(r[1]["host"] + r[1]["forward"])
                                      / (r[n]["host"] + r[n]["forward"]) for r in per_round]),
            "host_ms": summary([1000 * r[n]["host"] for r in per_round]),
            "host_share": summary([r[n]["host"] / r[n]["forward"] for r in per_round]),
        }
    return {"photographs": {"count": images, "size": "500x375"}, "rounds": rounds,
            "forward_batch": FORWARD_BATCH, "paddle": paddle.__version__, "rows": rows}


def table(result: dict) -> str:
    lines = ["| crops | images/s per core | forward-pass bound | of the bound | "
             "against 1 crop | host ms an image | host / forward |",
             "|---|---|---|---|---|---|---|"]
    for row in result["rows"].values():
        lines.append(f"| {row['crops']} | {spread(row['images_per_s_per_core'], '.3f')} | "
                     f"{spread(row['forward_bound'], '.3f')} | {spread(row['of_bound'], '.1%')} | "
                     f"{spread(row['over_one_crop'], '.4f')} | {spread(row['host_ms'], '.1f')} | "
                     f"{spread(row['host_share'], '.2%')} |")
    share = result["rows"][144]["host_share"]["median"]
    verdict = "under" if share < HOST_SHARE_LIMIT else "OVER"
    lines.append(f"\n144 crops: host work is {share:.2%} of the forward passes, {verdict} "
                 f"the {HOST_SHARE_LIMIT:.0%} limit ({result['rounds']} rounds, "
                 f"{result['photographs']['count']} photographs of "
                 f"{result['photographs']['size']}, one CPU thread)")
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
    return 0 if result["rows"][144]["host_share"]["median"] < HOST_SHARE_LIMIT else 1


if __name__ == "__main__":
    sys.exit(main())
