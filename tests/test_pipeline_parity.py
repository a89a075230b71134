"""The input pipeline against PaddleClas's own operators and dataset, and the batch
normalization against the per-image operator.

Tests that need PaddleClas's code take a checkout from ``$PADDLECLAS_HOME`` (see
tools/benchmark/paddleclas_peer.py; .ci/run provides one); without one they skip with
the reason, and fail under CI.
"""

import math

import numpy as np
import pytest

from paddle_googlenet.data import ImageNetDataset, build_dataloader, photographic_jpeg
from paddle_googlenet.data.transforms import RandCropImage, RandFlipImage, build_transforms
from tools.benchmark import paddleclas_peer
from tools.benchmark.data_pipeline import EVAL, TRAIN, write_photographs

STD = np.array([0.229, 0.224, 0.225], np.float32)


@pytest.fixture(scope="module")
def peer(paddleclas_home):
    return paddleclas_home


@pytest.fixture(scope="module")
def photographs(tmp_path_factory):
    """ImageNet-size photographic JPEGs, both ways round, and their list file."""
    folder = str(tmp_path_factory.mktemp("photographs"))
    return folder, write_photographs(folder, 12, 500, 375)


def grey_levels(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """|a - b| of two normalized CHW images, in grey levels of the source pixels."""
    return np.abs(a - b) * (STD.reshape(3, 1, 1) * 255)


def sections(folder, list_path, ops, batch_size):
    return {"dataset": {"name": "ImageNetDataset", "image_root": folder,
                        "cls_label_path": list_path, "transform_ops": ops},
            "sampler": {"name": "BatchSampler", "batch_size": batch_size}}


def test_eval_batches_are_paddleclas_pixels(peer, photographs):
    """The default eval list through this package's loader (workers stop before
    NormalizeImage, the batch is normalized after) against PaddleClas's own dataset
    item by item: within 2 grey levels at most, 0.5 on average (they are equal)."""
    folder, list_path = photographs
    theirs = paddleclas_peer.imagenet_dataset(peer, folder, list_path, EVAL)
    loader = build_dataloader(sections(folder, list_path, EVAL, 4), training=False)
    assert loader.normalize is not None
    differences = []
    for position, (images, _) in enumerate(loader):
        for offset, image in enumerate(images.numpy()):
            reference, _ = theirs[position * 4 + offset]
            assert image.shape == reference.shape == (3, 224, 224)
            differences.append(grey_levels(image, reference))
    differences = np.stack(differences)
    assert differences.max() <= 2 and differences.mean() <= 0.5, (differences.max(),
                                                                   differences.mean())


def test_training_crop_of_a_given_region_is_paddleclas_pixels(peer, photographs):
    """PaddleClas's RandCropImage, made to draw the region this package drew, gives
    this package's pixels for that region (decode, crop and resize fused)."""
    folder, list_path = photographs
    import random as python_random

    ops = paddleclas_peer.operators(peer, TRAIN[:2])
    ours = build_transforms(TRAIN[:2])
    with open(list_path) as f:
        files = [open(f"{folder}/{line.split()[0]}", "rb").read() for line in f]
    for index, data in enumerate(files):
        np.random.seed(index)
        mine = ours(data)
        np.random.seed(index)
        height, width = paddleclas_peer.run(ops[:1], data).shape[:2]
        left, top, w, h, _ = ours.ops[1].sample(width, height)
        # PaddleClas draws the aspect ratio as sqrt(uniform(ratio)), the area fraction,
        # then the corner: replay the draws that give this region.
        draws = iter([w / h, (w * h + 0.5) / (width * height)])
        corners = iter([left, top])
        real_uniform, real_randint = python_random.uniform, python_random.randint
        python_random.uniform = lambda a, b: next(draws)
        python_random.randint = lambda a, b: next(corners)
        try:
            theirs = paddleclas_peer.run(ops, data)
        finally:
            python_random.uniform, python_random.randint = real_uniform, real_randint
        assert theirs.shape == mine.shape == (224, 224, 3)
        np.testing.assert_array_equal(mine, theirs)


def _paddleclas_regions(peer, draws, width=500, height=375):
    """The regions PaddleClas's RandCropImage cuts from a width x height image."""
    import cv2

    op = paddleclas_peer.operators(peer, [{"RandCropImage": {"size": 8}}])[0]
    image = np.zeros((height, width, 3), np.uint8)
    module = __import__(type(op).__module__, fromlist=["cv2"])
    seen = []

    class Recording:  # PaddleClas's module resizes through its cv2 name
        def __getattr__(self, name):
            return getattr(cv2, name)

        def resize(self, region, size, *args, **kwargs):
            seen.append(region.shape[:2])
            return cv2.resize(region, size, *args, **kwargs)

    real = module.cv2
    module.cv2 = Recording()
    try:
        import random
        random.seed(0)
        for _ in range(draws):
            op(image)
    finally:
        module.cv2 = real
    return np.array([(w, h) for h, w in seen], dtype=float)


def _ks_statistic(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sample Kolmogorov-Smirnov statistic: the largest gap of the two CDFs."""
    values = np.sort(np.concatenate([a, b]))
    cdf_a = np.searchsorted(np.sort(a), values, side="right") / len(a)
    cdf_b = np.searchsorted(np.sort(b), values, side="right") / len(b)
    return float(np.abs(cdf_a - cdf_b).max())


def test_random_crops_follow_paddleclas_distributions(peer):
    """Area fraction and aspect ratio of 4000 regions each: the two-sample KS
    statistic below its 0.1% critical value (1.95 * sqrt(2 / n)). The fused decode
    draws the same regions as RandCropImage (test_decode_crop.py)."""
    draws = 4000
    theirs = _paddleclas_regions(peer, draws)
    op = RandCropImage(size=8)
    np.random.seed(0)
    ours = np.array([op.sample(500, 375)[2:4] for _ in range(draws)], dtype=float)
    critical = 1.95 * math.sqrt(2 / draws)
    for name, of in (("area fraction", lambda r: r[:, 0] * r[:, 1] / (500 * 375)),
                     ("aspect ratio", lambda r: r[:, 0] / r[:, 1])):
        statistic = _ks_statistic(of(ours), of(theirs))
        assert statistic < critical, (name, statistic, critical)
    # and a real difference is seen: a scale range of [0.2, 1] instead of [0.08, 1]
    narrow = RandCropImage(size=8, scale=[0.2, 1.0])
    other = np.array([narrow.sample(500, 375)[2:4] for _ in range(draws)], dtype=float)
    area = lambda r: r[:, 0] * r[:, 1] / (500 * 375)  # noqa: E731
    assert _ks_statistic(area(other), area(theirs)) > critical


def test_flip_rate_is_one_half_as_in_paddleclas(peer):
    import random

    draws = 4000
    image = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    ours = RandFlipImage(flip_code=1)
    theirs = paddleclas_peer.operators(peer, [{"RandFlipImage": {"flip_code": 1}}])[0]
    np.random.seed(0)
    random.seed(0)
    rate_ours = np.mean([not np.array_equal(ours(image), image) for _ in range(draws)])
    rate_theirs = np.mean([not np.array_equal(theirs(image), image) for _ in range(draws)])
    # both within 4 standard deviations (0.008 at n=4000) of one half
    assert abs(rate_ours - 0.5) < 0.032 and abs(rate_theirs - 0.5) < 0.032


@pytest.mark.parametrize("ops", [
    TRAIN,
    EVAL,
    EVAL[:3] + [{"NormalizeImage": {"order": "", "mean": [0.5, 0.5, 0.5],
                                    "std": [0.5, 0.5, 0.5]}}, {"ToCHWImage": None}],
    EVAL[:3] + [{"ToCHWImage": None}, {"NormalizeImage": {"order": "chw"}}],
], ids=["train", "eval", "then ToCHWImage", "CHW order"])
def test_batch_normalization_gives_the_per_image_numbers(tmp_path, ops):
    """Workers collate uint8 and the loader normalizes the batch: the same float32
    numbers as the list run per image, exactly."""
    folder = str(tmp_path)
    list_path = write_photographs(folder, 6, 120, 90)
    ops = [{"DecodeImage": {"to_rgb": True}}] + [
        {name: dict(args or {}, **({"size": 64} if "size" in (args or {}) else {}))}
        for entry in ops[1:] for name, args in entry.items()]
    loader = build_dataloader(dict(sections(folder, list_path, ops, 6),
                                   sampler={"name": "BatchSampler", "batch_size": 6}), seed=1)
    assert loader.normalize is not None
    item = loader.dataset[0][0]
    assert item.dtype == np.uint8
    # left as the shorter list ends (HWC unless ToCHWImage comes before NormalizeImage)
    assert item.shape == ((3, 64, 64) if "ToCHWImage" in ops[-2] else (64, 64, 3))
    images, _ = next(iter(loader))
    whole = ImageNetDataset(folder, list_path, transform_ops=ops)
    expected = []
    for index in range(6):
        np.random.seed([1, 0, index])  # the loader's per-sample seed for epoch 0
        expected.append(whole[index][0])
    assert images.dtype.name == "FLOAT32"
    np.testing.assert_array_equal(images.numpy(), np.stack(expected))


def test_lists_that_do_not_end_in_normalize_image_are_left_alone(tmp_path):
    folder = str(tmp_path)
    list_path = write_photographs(folder, 2, 64, 48)
    ops = [{"DecodeImage": None}, {"ResizeImage": {"size": 32}},
           {"NormalizeImage": {"order": "", "output_fp16": True}}]
    loader = build_dataloader(sections(folder, list_path, ops, 2))
    assert loader.normalize is None
    assert next(iter(loader))[0].dtype.name == "FLOAT16"
    mixed = sections(folder, list_path, EVAL, 2)
    mixed["dataset"]["batch_transform_ops"] = [{"MixupOperator": {"alpha": 0.2}}]
    assert build_dataloader(mixed, num_classes=10).normalize is None


def test_a_uint8_image_is_normalized_through_the_table_with_the_same_numbers():
    from paddle_googlenet.pixels import NormalizeImage, decode_rgb, normalize

    image = decode_rgb(photographic_jpeg(50, 40, np.random.default_rng(2)))
    for order, img in (("", image), ("chw", np.ascontiguousarray(image.transpose(2, 0, 1)))):
        op = NormalizeImage(order=order)
        np.testing.assert_array_equal(op(img), normalize(img, op.scale, op.mean, op.std))


def test_batch_normalization_of_a_float_batch_is_the_formula():
    """A list whose last operator before NormalizeImage makes floats still gives the
    per-image numbers (no table applies)."""
    import paddle

    from paddle_googlenet.data.loader import BatchNormalize
    from paddle_googlenet.pixels import NormalizeImage, normalize

    op = NormalizeImage(order="chw")
    batch = np.random.default_rng(1).random((2, 3, 5, 4)).astype(np.float32) * 255
    expected = np.stack([normalize(b, op.scale, op.mean, op.std) for b in batch])
    np.testing.assert_array_equal(BatchNormalize(op)(paddle.to_tensor(batch)).numpy(), expected)
    channels_last = paddle.to_tensor(batch.transpose(0, 2, 3, 1))
    np.testing.assert_array_equal(BatchNormalize(op, "hwc")(channels_last).numpy(), expected)


def test_batch_normalization_turns_an_nhwc_uint8_batch_to_nchw():
    import paddle

    from paddle_googlenet.data.loader import BatchNormalize
    from paddle_googlenet.pixels import NormalizeImage

    op = NormalizeImage(order="")
    batch = np.random.default_rng(3).integers(0, 256, (3, 7, 5, 3), dtype=np.uint8)
    out = BatchNormalize(op, "hwc")(paddle.to_tensor(batch)).numpy()
    assert out.shape == (3, 3, 7, 5)
    np.testing.assert_array_equal(out, np.stack([op(b).transpose(2, 0, 1) for b in batch]))
    assert BatchNormalize(op, "hwc").image_shape([7, 5, 3]) == [3, 7, 5]
