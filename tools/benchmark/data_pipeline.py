"""Images per second of the training and evaluation transform lists, per core, on
ImageNet-size photographs (500x375 and 375x500 JPEGs at quality 90, generated).

    python -m tools.benchmark.data_pipeline                # 200 photographs, 5 rounds
    python -m tools.benchmark.data_pipeline --images 400 --rounds 9
    python -m tools.benchmark.data_pipeline --size 1024x768    # larger photographs
    python -m tools.benchmark.data_pipeline --list-memory      # a 1.28M-line list file

One process, one thread: the figure is per core (a loader with N workers scales it
by about N). Each round runs every row once over the same bytes, in an order that
turns every round; medians and min-max over rounds are printed, with each row's
ratio to the decode alone (the bound of any list that decodes every pixel) and of the
training list run as one step against its operators run one by one.
"""

import argparse
import os
import statistics
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)

from tools.benchmark.memory import pss_kb, status_kb  # noqa: E402

NORMALIZE = {"NormalizeImage": {"scale": "1.0/255.0", "mean": [0.485, 0.456, 0.406],
                                "std": [0.229, 0.224, 0.225], "order": ""}}
DECODE = {"DecodeImage": {"to_rgb": True, "channel_first": False}}
# PaddleClas's Inception/GoogLeNet.yaml lists
TRAIN = [DECODE, {"RandCropImage": {"size": 224}}, {"RandFlipImage": {"flip_code": 1}},
         NORMALIZE]
EVAL = [DECODE, {"ResizeImage": {"resize_short": 256}}, {"CropImage": {"size": 224}},
        NORMALIZE]


def rows():
    from paddle_googlenet.data import build_transforms

    train, evaluation = build_transforms(TRAIN), build_transforms(EVAL)

    def one_by_one(data):
        for op in train.ops:
            data = op(data)
        return data

    return {"decode only": build_transforms([DECODE]),
            "train list (one step per operator)": one_by_one,
            "train list": train,
            "eval list": evaluation}


def _read_samples(samples, reads: int, seed: int, results):
    """What a loader worker does with the list: look up ``reads`` samples."""
    for i in np.random.default_rng(seed).integers(0, len(samples), reads):
        path, label = samples[int(i)]
    results.put(pss_kb())


def _list_memory_child(kind: str, list_path: str, root: str, reads: int, workers: int,
                       results):
    import multiprocessing

    from paddle_googlenet.data import ImageNetDataset

    before = status_kb("VmRSS")
    started = time.perf_counter()
    if kind == "tuples":  # what the dataset held before: (full path, label) tuples
        samples = list(ImageNetDataset(root, list_path).samples)
    elif kind == "table":
        samples = ImageNetDataset(root, list_path).samples
    else:  # no list: what the process and its workers take without one
        samples = [("", 0)]
    built = time.perf_counter() - started
    grown = status_kb("VmRSS") - before
    queue = multiprocessing.get_context("fork").SimpleQueue()
    children = [multiprocessing.get_context("fork").Process(
        target=_read_samples, args=(samples, reads, seed, queue)) for seed in range(workers)]
    for child in children:
        child.start()
    for child in children:
        child.join()
    results.put((built, grown, [queue.get() for _ in children]))


def list_memory(lines: int = 1_280_000, reads: int = 20_000, workers: int = 2):
    """Build a ``lines``-line list's dataset, then fork ``workers`` that each look up
    ``reads`` samples; print the build time, the memory the list took and each
    worker's proportional set size, for the samples kept as a list of tuples (as
    before) and as a ``SampleTable``."""
    import multiprocessing
    import tempfile

    from paddle_googlenet.data import photographic_jpeg

    with tempfile.TemporaryDirectory() as root:
        list_path = os.path.join(root, "train_list.txt")
        with open(list_path, "w") as f:
            for i in range(lines):
                f.write(f"train/n{i % 1000:08d}/n{i % 1000:08d}_{i}.JPEG {i % 1000}\n")
        os.makedirs(os.path.join(root, "train", "n00000000"))
        with open(os.path.join(root, "train", "n00000000", "n00000000_0.JPEG"), "wb") as f:
            f.write(photographic_jpeg(64, 48, np.random.default_rng(0)))
        print(f"{lines} lines; {workers} forked workers each look up {reads} samples")
        for kind in ("none", "tuples", "table"):
            results = multiprocessing.get_context("spawn").SimpleQueue()
            child = multiprocessing.get_context("spawn").Process(
                target=_list_memory_child, args=(kind, list_path, root, reads, workers, results))
            child.start()
            built, grown, pss = results.get()
            child.join()
            label = {"none": "no list (baseline)", "tuples": "list of (path, label) tuples",
                     "table": "SampleTable"}[kind]
            took = f"built in {built:.1f} s, " if kind == "table" else ""
            print(f"  {label:30s} {took}+{grown / 1024:.0f} MB in the process; "
                  f"worker PSS {', '.join(f'{p / 1024:.0f} MB' for p in pss)}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--size", default="500x375",
                        help="WxH of the photographs; half are generated turned (HxW)")
    parser.add_argument("--list-memory", action="store_true",
                        help="only measure the memory of a 1.28M-line list file")
    args = parser.parse_args(argv)
    if args.list_memory:
        return list_memory()
    from paddle_googlenet.data import photographic_jpeg

    width, height = (int(n) for n in args.size.lower().split("x"))
    rng = np.random.default_rng(0)
    files = [photographic_jpeg(width, height, rng) if i % 2 else
             photographic_jpeg(height, width, rng) for i in range(args.images)]
    candidates = rows()
    names = list(candidates)
    rates = {name: [] for name in names}
    for r in range(args.rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            np.random.seed(r)
            started = time.perf_counter()
            for data in files:
                candidates[name](data)
            rates[name].append(len(files) / (time.perf_counter() - started))
    size = sum(map(len, files)) / len(files) / 1024
    print(f"{len(files)} photographs ({width}x{height} and {height}x{width}, {size:.0f} kB on "
          f"average), "
          f"{args.rounds} rounds, one core; median [min-max]")
    for name in names:
        ratio = [a / b for a, b in zip(rates[name], rates["decode only"])]
        print(f"  {name:36s} {statistics.median(rates[name]):7.1f} images/s "
              f"[{min(rates[name]):.1f}-{max(rates[name]):.1f}]  "
              f"{1000 / statistics.median(rates[name]):5.2f} ms/image   of decode only: "
              f"{statistics.median(ratio):.2f}x")
    fused = [a / b for a, b in zip(rates["train list"],
                                   rates["train list (one step per operator)"])]
    print(f"train list as one step / one step per operator: {statistics.median(fused):.2f}x "
          f"[{min(fused):.2f}-{max(fused):.2f}]")


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main()
