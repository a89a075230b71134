"""Images per second of PaddleClas's GoogLeNet transform lists on ImageNet-size
photographs (500x375 and 375x500 JPEGs at quality 90, generated), per core, beside
PaddleClas's own operators and dataset on the same files.

    python -m tools.benchmark.data_pipeline --paddleclas PaddleClas   # with the peer
    python -m tools.benchmark.data_pipeline                           # without it
    python -m tools.benchmark.data_pipeline --images 512 --passes 9 --size 1024x768
    python -m tools.benchmark.data_pipeline --large-images 16 --large-size 4032x3024
    python -m tools.benchmark.data_pipeline --list-memory   # a 1.28M-line list file

Per core: one process reads the samples of the list through the dataset and
collates them in batches of 64, as a DataLoader worker does; the figure is images
per second of that process's CPU time (its threads included). This project's loader
leaves the list's final NormalizeImage to the batch (see data/loader.py), so its
workers collate uint8; the row "normalized per image" runs the list as written.
OpenCV runs one thread for both projects, as this package sets it: PaddleClas's
figure per core is no worse so. A round is one batch: every row reads the same 64
photographs in turn, in an order that turns every round, so that a round's rows
see the machine alike; ratios are taken within a round, then the median. The decode
alone (``cv2.imdecode``) bounds any list that decodes every pixel. By workers: a
DataLoader over the same list with 0 to the core count of worker processes,
wall-clock images/s after a first epoch that starts the workers (this project's
rows include normalizing each batch on this CPU). Large photographs: the eval list
with ResizeImage's ``dct_scaling`` and without, on photographs of a camera's size.
"""

import argparse
import os
import random
import tempfile
import time

import numpy as np

from . import paddleclas_peer
from .memory import pss_kb, status_kb
from .stats import paired, spread, summary

NORMALIZE = {"NormalizeImage": {"scale": "1.0/255.0", "mean": [0.485, 0.456, 0.406],
                                "std": [0.229, 0.224, 0.225], "order": ""}}
DECODE = {"DecodeImage": {"to_rgb": True, "channel_first": False}}
# PaddleClas's Inception/GoogLeNet.yaml lists
TRAIN = [DECODE, {"RandCropImage": {"size": 224}}, {"RandFlipImage": {"flip_code": 1}},
         NORMALIZE]
EVAL = [DECODE, {"ResizeImage": {"resize_short": 256}}, {"CropImage": {"size": 224}},
        NORMALIZE]
EVAL_SCALED = [DECODE, {"ResizeImage": {"resize_short": 256, "dct_scaling": True}},
               {"CropImage": {"size": 224}}, NORMALIZE]
LISTS = {"train": TRAIN, "eval": EVAL}
# Photographs from a camera or a phone: the eval list with and without dct_scaling.
LARGE_LISTS = {"eval": EVAL, "eval, dct_scaling": EVAL_SCALED}
BATCH = 64
OURS, PEER = "this project", "PaddleClas"
DECODE_ONLY = "decode only (cv2.imdecode)"


def write_photographs(folder: str, count: int, width: int, height: int):
    """``count`` photographs (half turned) and a list file naming them; returns the
    list file's path."""
    from paddle_googlenet.data import photographic_jpeg

    rng = np.random.default_rng(0)
    os.makedirs(os.path.join(folder, "images"), exist_ok=True)
    list_path = os.path.join(folder, "list.txt")
    with open(list_path, "w") as listing:
        for i in range(count):
            w, h = (width, height) if i % 2 else (height, width)
            with open(os.path.join(folder, "images", f"{i:05d}.jpg"), "wb") as f:
                f.write(photographic_jpeg(w, h, rng))
            listing.write(f"images/{i:05d}.jpg {i % 10}\n")
    return list_path


def datasets(folder: str, list_path: str, peer_root, lists=LISTS, per_image=True):
    """name -> a loader section (this project's rows) or a dataset (the others) for
    every row that reads the list: each of ``lists``, also normalized per image
    (``per_image``), and PaddleClas's for the lists it has (no ``dct_scaling``)."""
    from paddle_googlenet.data import ImageNetDataset, build_dataloader

    found = {}
    for split, ops in lists.items():
        section = {"dataset": {"name": "ImageNetDataset", "image_root": folder,
                               "cls_label_path": list_path, "transform_ops": ops},
                   "sampler": {"name": "BatchSampler", "batch_size": BATCH}}
        found[f"{split}: {OURS}"] = section
        if per_image:
            found[f"{split}: {OURS}, normalized per image"] = ImageNetDataset(
                folder, list_path, transform_ops=ops)
        if peer_root and ops in LISTS.values():
            found[f"{split}: {PEER}"] = paddleclas_peer.imagenet_dataset(
                peer_root, folder, list_path, ops)
    return found, build_dataloader


def _batch(dataset, indices) -> int:
    """The samples ``indices`` of ``dataset``, collated, as one worker would."""
    from paddle.io.dataloader.collate import default_collate_fn

    default_collate_fn([dataset[i] for i in indices])
    return len(indices)


def per_core(folder: str, list_path: str, passes: int, peer_root=None, lists=LISTS,
             per_image=True) -> dict:
    """Images per CPU-second of each row. A round is one batch of the list, which
    every row reads in turn (in an order that turns each round), so that the rows of
    a round see the machine alike; ``passes`` times over the list."""
    import cv2

    found, build_dataloader = datasets(folder, list_path, peer_root, lists, per_image)
    rows = {}
    for name, item in found.items():
        dataset = (build_dataloader(item, where=name).dataset if isinstance(item, dict)
                   else item)
        rows[name] = lambda indices, dataset=dataset: _batch(dataset, indices)
    with open(list_path) as f:
        paths = [os.path.join(folder, line.split()[0]) for line in f]

    def decode_only(indices):
        for i in indices:
            with open(paths[i], "rb") as f:
                cv2.imdecode(np.frombuffer(f.read(), np.uint8), cv2.IMREAD_COLOR)
        return len(indices)

    rows[DECODE_ONLY] = decode_only
    names = list(rows)
    rates = {name: [] for name in names}
    batches = [list(range(start, min(start + BATCH, len(paths))))
               for start in range(0, len(paths), BATCH)]
    for r in range(passes * len(batches)):
        for name in names[r % len(names):] + names[:r % len(names)]:
            np.random.seed(r)
            random.seed(r)  # PaddleClas's operators draw from python's random
            started = time.process_time()
            count = rows[name](batches[r % len(batches)])
            rates[name].append(count / (time.process_time() - started))
    result = {"images_per_cpu_s": {name: summary(v) for name, v in rates.items()},
              "of_decode_only": {name: paired(v, rates[DECODE_ONLY])
                                 for name, v in rates.items()}}
    if peer_root:  # a dct_scaling list against PaddleClas's list without it
        result["vs_paddleclas"] = {split: paired(rates[f"{split}: {OURS}"],
                                                 rates[f"{split.split(',')[0]}: {PEER}"])
                                   for split in lists}
    return result


def by_workers(folder: str, list_path: str, workers, epochs: int, samples: int,
               peer_root=None) -> dict:
    """Wall-clock images/s of a DataLoader over the list (its lines repeated up to
    ``samples``, so that an epoch outlasts starting the workers), by ``num_workers``."""
    import paddle

    with open(list_path) as f:
        lines = f.readlines()
    list_path = os.path.join(folder, "repeated.txt")
    with open(list_path, "w") as f:
        f.writelines((lines * (samples // len(lines) + 1))[:max(samples, len(lines))])
    found, build_dataloader = datasets(folder, list_path, peer_root)
    rates = {}
    for name in (f"train: {OURS}", f"train: {PEER}"):
        if name not in found:
            continue
        rates[name] = {}
        for count in workers:
            if isinstance(found[name], dict):
                section = dict(found[name], loader={"num_workers": count})
                loader = build_dataloader(section, where=name)
            else:
                loader = paddle.io.DataLoader(found[name], batch_size=BATCH, num_workers=count)
            samples = []
            for epoch in range(epochs + 1):  # the first starts the workers
                started, seen = time.perf_counter(), 0
                for images, _ in loader:
                    seen += len(images)
                if epoch:
                    samples.append(seen / (time.perf_counter() - started))
            rates[name][str(count)] = summary(samples)
    return rates


def _photographs(folder: str, images: int, width: int, height: int):
    """Write the photographs; ``(list path, what they are)``."""
    list_path = write_photographs(folder, images, width, height)
    kilobytes = sum(os.path.getsize(os.path.join(folder, "images", n))
                    for n in os.listdir(os.path.join(folder, "images"))) / images / 1024
    return list_path, {"count": images, "size": f"{width}x{height}",
                       "kilobytes": round(kilobytes, 1)}


def measure(images: int, passes: int, size: str = "500x375", peer=None,
            workers=None, epochs: int = 2, samples: int = 1024,
            large_images: int = 0, large_size: str = "2048x1536", large_passes: int = 5) -> dict:
    """The data section of the benchmark: photographs written to a temporary folder,
    per-core rows and, when ``workers`` is given, rows by ``num_workers``; with
    ``large_images``, the eval list with and without ``dct_scaling`` on that many
    photographs of ``large_size``."""
    width, height = (int(n) for n in size.lower().split("x"))
    peer_root = paddleclas_peer.checkout(peer)
    with tempfile.TemporaryDirectory(prefix="googlenet-photographs-") as folder:
        list_path, photographs = _photographs(folder, images, width, height)
        result = {"photographs": photographs,
                  "paddleclas": peer_root or f"skipped: {paddleclas_peer.skip_reason()}",
                  **per_core(folder, list_path, passes, peer_root)}
        if workers:
            result["by_workers"] = by_workers(folder, list_path, workers, epochs, samples,
                                              peer_root)
    if large_images:
        width, height = (int(n) for n in large_size.lower().split("x"))
        with tempfile.TemporaryDirectory(prefix="googlenet-photographs-") as folder:
            list_path, photographs = _photographs(folder, large_images, width, height)
            result["large"] = {"photographs": photographs,
                               **per_core(folder, list_path, large_passes, peer_root,
                                          LARGE_LISTS, per_image=False)}
    return result


def scaled_decoding_agreement(weights: str, config: dict, images: int) -> dict:
    """What evaluation checks before it takes ``dct_scaling``, with trained weights:
    ``images`` renders of the demo set's classes at 2, 4 and 8 times the side its
    Eval list resizes to, as JPEGs; of these, how many get the same top-1 class
    decoded with DCT scaling and whole (``engine.evaluation``'s own count)."""
    from paddle_googlenet.data import build_dataloader
    from paddle_googlenet.data.demo import SHAPES, render_image
    from paddle_googlenet.engine.evaluation import scaled_decoding_agreement as agreement
    from paddle_googlenet.models import build_model
    from paddle_googlenet.weights.loading import load_weights
    from PIL import Image

    section = config["DataLoader"]["Eval"]
    ops = [dict(op) for op in section["dataset"]["transform_ops"]]
    resize = next(i for i, op in enumerate(ops) if "ResizeImage" in op)
    ops[resize] = {"ResizeImage": dict(ops[resize]["ResizeImage"], dct_scaling=True)}
    short = ops[resize]["ResizeImage"]["resize_short"]
    classes = SHAPES[:config["Arch"]["class_num"]]  # the demo set's classes, in order
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory(prefix="googlenet-renders-") as folder:
        list_path = os.path.join(folder, "list.txt")
        with open(list_path, "w") as listing:
            for i in range(images):
                label, side = i % len(classes), short * (2, 4, 8)[i // len(classes) % 3]
                Image.fromarray(render_image(classes[label], side, rng)).save(
                    os.path.join(folder, f"{i:05d}.jpg"), quality=90)
                listing.write(f"{i:05d}.jpg {label}\n")
        loader = build_dataloader({"dataset": {"name": "ImageNetDataset", "image_root": folder,
                                               "cls_label_path": list_path,
                                               "transform_ops": ops},
                                   "sampler": {"name": "BatchSampler", "batch_size": 32}},
                                  where="DataLoader.Eval")
        network = build_model(config["Arch"])
        load_weights(network, weights, heads="strict")
        check = agreement(network, loader, images)
    return {"agreeing": check.agreeing, "images": check.checked, "scaled": check.scaled,
            "sides": [short * f for f in (2, 4, 8)]}


def table(result: dict) -> str:
    """The data section as text."""
    p = result["photographs"]
    lines = [f"data: {p['count']} photographs ({p['size']}, both ways, {p['kilobytes']:.0f} kB "
             f"on average), batches of {BATCH}; PaddleClas: {result['paddleclas']}",
             "", "| per core | images per CPU-second | of decode only |", "|---|---|---|"]
    for name, figure in result["images_per_cpu_s"].items():
        lines.append(f"| {name} | {spread(figure, '.0f')} | "
                     f"{spread(result['of_decode_only'][name])} |")
    for split, figure in result.get("vs_paddleclas", {}).items():
        lines.append(f"\n{split} list, this project / PaddleClas per core: {spread(figure)}")
    for name, rates in result.get("by_workers", {}).items():
        lines.append(f"\n{name}, DataLoader images/s by num_workers: " + ", ".join(
            f"{w}: {spread(v, '.0f')}" for w, v in rates.items()))
    if "large" in result:
        lines += ["", table(dict(result["large"], paddleclas=result["paddleclas"]))]
    agreement = result.get("dct_scaling_agreement")
    if agreement:
        lines.append(f"\ndct_scaling, top-1 as with full decoding: {agreement['agreeing']} of "
                     f"{agreement['images']} demo renders "
                     f"({agreement['agreeing'] / agreement['images']:.1%}; sides "
                     f"{agreement['sides']}, {agreement['scaled']} given other pixels); "
                     f"evaluation takes it at 99.5% or more")
    return "\n".join(lines)


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
    parser.add_argument("--images", type=int, default=256)
    parser.add_argument("--passes", type=int, default=5,
                        help="times over the photographs; a round is one batch of them")
    parser.add_argument("--size", default="500x375",
                        help="WxH of the photographs; half are generated turned (HxW)")
    parser.add_argument("--paddleclas", metavar="DIR",
                        help=f"a PaddleClas checkout (the folder holding ppcls/; default "
                             f"${paddleclas_peer.ENV}) for its rows")
    parser.add_argument("--large-images", type=int, default=32,
                        help="photographs of --large-size read by the eval list with and "
                             "without dct_scaling (0: none)")
    parser.add_argument("--large-size", default="2048x1536")
    parser.add_argument("--workers", action="store_true",
                        help="also time a DataLoader with 0 to the core count of workers")
    parser.add_argument("--list-memory", action="store_true",
                        help="only measure the memory of a 1.28M-line list file")
    args = parser.parse_args(argv)
    if args.list_memory:
        return list_memory()
    workers = list(range(os.cpu_count() + 1)) if args.workers else None
    print(table(measure(args.images, args.passes, args.size, args.paddleclas, workers,
                        large_images=args.large_images, large_size=args.large_size,
                        large_passes=args.passes)))


if __name__ == "__main__":
    main()
