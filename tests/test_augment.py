"""Augmentation ops with PaddleClas's names: determinism, shapes, argument checks,
what each op does, and real PaddleClas transform lists."""

import io
import os

import numpy as np
import pytest
import yaml
from PIL import Image

from paddle_googlenet.data import TRANSFORMS, build_transforms
from paddle_googlenet.data.augment import PCALighting, TimmAutoAugment
from paddle_googlenet.data.augment.timm import _RAND_INCREASING_OPS, _RAND_OPS
from paddle_googlenet.data.erasing import Cutout, GridMask, HideAndSeek, RandomErasing
from paddle_googlenet.errors import ConfigError, DataError


def pixels(height: int = 64, width: int = 64) -> np.ndarray:
    """A colourful uint8 HWC image: gradients plus fixed noise."""
    rng = np.random.RandomState(7)
    y, x = np.mgrid[0:height, 0:width]
    image = np.stack([x * 255 / width, y * 255 / height, (x + y) * 127 / (width + height)], 2)
    return np.clip(image + rng.randint(0, 40, image.shape), 0, 255).astype(np.uint8)


def normalized(height: int = 64, width: int = 64) -> np.ndarray:
    """What NormalizeImage (ImageNet mean and std, order '') makes of ``pixels``."""
    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
    return ((pixels(height, width) / 255.0 - mean) / std).astype(np.float32)


def build(name, args=None):
    return TRANSFORMS.build(name, args, f"transform_ops.0.{name}")


def run(op, image, seed):
    np.random.seed(seed)
    return op(image.copy())


# (op, arguments, input) for every op added; 'u8' before NormalizeImage, 'f32' after.
OPS = [
    ("AutoAugment", None, "u8"),
    ("RandAugment", {"num_layers": 2, "magnitude": 5}, "u8"),
    ("RandAugmentV2", {"num_layers": 2, "magnitude": 5.0,
                       "progress_magnitude": [5.0, 8.3333333333, 11.66666666667, 15.0]}, "u8"),
    ("RandAugmentV3", {"num_layers": 2, "interpolation": "bicubic"}, "u8"),
    ("TimmAutoAugment", {"config_str": "rand-m9-mstd0.5-inc1", "interpolation": "bicubic",
                         "img_size": 224}, "u8"),
    ("TimmAutoAugment", {"config_str": "original-mstd0.5", "interpolation": "random"}, "u8"),
    ("ColorJitter", {"brightness": 0.4, "contrast": 0.4, "saturation": 0.4, "hue": 0.4}, "u8"),
    ("PCALighting", None, "u8"),
    ("CropImageAtRatio", {"size": 32, "pad": 32, "interpolation": "bilinear"}, "u8"),
    ("RandomErasing", {"EPSILON": 0.5, "sl": 0.02, "sh": "1.0/3.0", "r1": 0.3, "attempt": 10,
                       "use_log_aspect": True, "mode": "pixel"}, "f32"),
    ("Cutout", {"n_holes": 1, "length": 16}, "f32"),
    ("GridMask", {"d1": 9, "d2": 24, "rotate": 1, "ratio": 0.5, "mode": 0}, "f32"),
    ("HideAndSeek", None, "f32"),
]
OP_IDS = [f"{name}-{index}" for index, (name, _, _) in enumerate(OPS)]


@pytest.mark.parametrize("name, args, kind", OPS, ids=OP_IDS)
def test_same_seed_same_output_other_seeds_differ(name, args, kind):
    op = build(name, args)
    image = pixels() if kind == "u8" else normalized()
    original = image.copy()
    first = run(op, image, 3)
    np.testing.assert_array_equal(first, run(op, image, 3))
    np.testing.assert_array_equal(image, original)  # the input is left alone
    outputs = {run(op, image, seed).tobytes() for seed in range(8)}
    # CropImageAtRatio is the one op that draws nothing.
    assert len(outputs) == 1 if name == "CropImageAtRatio" else len(outputs) > 1


@pytest.mark.parametrize("name, args, kind", OPS, ids=OP_IDS)
def test_output_shape_and_dtype(name, args, kind):
    image = pixels() if kind == "u8" else normalized()
    out = run(build(name, args), image, 0)
    expected_shape = (32, 32, 3) if name == "CropImageAtRatio" else image.shape
    # PCALighting adds a float offset to the pixels (PaddleClas does the same).
    expected_dtype = np.float32 if name == "PCALighting" else image.dtype
    assert out.shape == expected_shape and out.dtype == expected_dtype


@pytest.mark.parametrize("name, args, kind", OPS, ids=OP_IDS)
def test_ops_follow_hwc_layout_and_are_refused_after_to_chw(name, args, kind):
    normalize = {"NormalizeImage": {"order": ""}}
    head = [{"DecodeImage": None}] + ([normalize] if kind == "f32" else [])
    assert build_transforms(head + [{name: args}]).output_layout == "hwc"
    with pytest.raises(ConfigError, match=rf"transform_ops\.\d+ \({name}\) works on an HWC "
                                          r"array but receives a CHW array here"):
        build_transforms(head + [{"ToCHWImage": None}, {name: args}])


@pytest.mark.parametrize("name", ["AutoAugment", "RandAugment", "RandAugmentV2", "RandAugmentV3",
                                  "TimmAutoAugment", "ColorJitter"])
def test_pixel_ops_refuse_normalized_input(name):
    with pytest.raises(DataError, match=rf"{name} works on uint8 pixels but got float32 values; "
                                        r"list it before NormalizeImage"):
        build(name)(normalized())


# ------------------------------------------------------------- argument checks

BAD_ARGUMENTS = [
    ("RandomErasing", {"EPSILON": 1.5}, "EPSILON must be between 0 and 1, got 1.5"),
    ("RandomErasing", {"sl": 0.5, "sh": 0.2}, "sl and sh must satisfy 0 < sl <= sh <= 1"),
    ("RandomErasing", {"sh": "1.0/0"}, "sh: "),
    ("RandomErasing", {"r1": 0}, "r1 must be in (0, 1], got 0.0"),
    ("RandomErasing", {"mode": "pixels"}, "mode must be one of ['const', 'rand', 'pixel'] "
                                          "(did you mean 'pixel'?), got 'pixels'"),
    ("RandomErasing", {"attempt": 0}, "attempt must be an integer of at least 1, got 0"),
    ("RandomErasing", {"mean": [0.0, 0.0]}, "mean must be a list of 3 numbers"),
    ("Cutout", {"n_holes": 0}, "n_holes must be an integer of at least 1, got 0"),
    ("Cutout", {"length": -3}, "length must be an integer of at least 1, got -3"),
    ("Cutout", {"fill_value": [0, 0]}, "fill_value must be 3 numbers or null"),
    ("GridMask", {"d1": 200, "d2": 100}, "d2 must be larger than d1, got d1=200, d2=100"),
    ("GridMask", {"mode": 2}, "mode must be 0 (zero the stripes) or 1"),
    ("GridMask", {"prob": 1.2}, "prob must be between 0 and 1, got 1.2"),
    ("HideAndSeek", {"hide_prob": -0.1}, "hide_prob must be between 0 and 1, got -0.1"),
    ("HideAndSeek", {"grid_sizes": []}, "grid_sizes must be a list of cell sides"),
    ("AutoAugment", {"fillcolor": [0, 0, 300]}, "fillcolor must be three integers in [0, 255]"),
    ("RandAugment", {"magnitude": 11}, "magnitude must be between 0 and 10, got 11"),
    ("RandAugment", {"num_layers": -1}, "num_layers must be an integer of at least 0, got -1"),
    ("RandAugmentV2", {"progress_magnitude": [5, -1]},
     "progress_magnitude[1] must be at least 0, got -1"),
    ("RandAugmentV3", {"interpolation": "lanczos"},
     "interpolation must be one of ['bicubic', 'bilinear', 'nearest']"),
    ("TimmAutoAugment", {"config_str": "rnd-m9-mstd0.5"},
     "unknown method 'rnd' (did you mean 'rand'?); valid: rand, v0, v0r, original, originalr"),
    ("TimmAutoAugment", {"config_str": "rand-m9-foo1"},
     "config_str 'rand-m9-foo1': unknown RandAugment section 'foo1'"),
    ("TimmAutoAugment", {"config_str": "rand-mx"},
     "config_str 'rand-mx': unknown RandAugment section 'mx'"),
    ("TimmAutoAugment", {"config_str": "rand-n2.5"}, "section 'n2.5' needs a whole number"),
    ("TimmAutoAugment", {"config_str": "rand-w1"}, "only weight set w0 exists"),
    ("TimmAutoAugment", {"config_str": "original-m9"}, "unknown AutoAugment section 'm9'"),
    ("TimmAutoAugment", {"config_str": None}, "config_str must be text such as"),
    ("TimmAutoAugment", {"mean": [123.675, 116.28, 103.53]},
     "mean must be three fractions of 255 in [0, 1]"),
    ("TimmAutoAugment", {"interpolation": "lanczos"}, "interpolation must be one of"),
    ("TimmAutoAugment", {"prob": 2}, "prob must be between 0 and 1, got 2"),
    ("TimmAutoAugment", {"img_size": 0}, "img_size must be an integer of at least 1, got 0"),
    ("ColorJitter", {"hue": 0.6}, "hue must be between 0 and 0.5, got 0.6"),
    ("ColorJitter", {"brightness": -0.1}, "brightness must be at least 0, got -0.1"),
    ("ColorJitter", {"contrast": [1.5, 0.5]}, "contrast must be a pair with 0 <= low <= high"),
    ("PCALighting", {"alphastd": -1}, "alphastd must be at least 0, got -1"),
    ("PCALighting", {"eigvec": [[1, 2]]}, "eigvec must be a 3x3 list of numbers"),
    ("CropImageAtRatio", {"size": 0, "pad": 32}, "size must be an integer of at least 1, got 0"),
    ("CropImageAtRatio", {"size": 384, "pad": 32, "interpolation": "bilinar"},
     "(did you mean 'bilinear'?)"),
]


@pytest.mark.parametrize("name, args, message", BAD_ARGUMENTS,
                         ids=[f"{n}-{'-'.join(a)}" for n, a, _ in BAD_ARGUMENTS])
def test_bad_arguments_are_located(name, args, message):
    with pytest.raises(ConfigError) as err:
        build_transforms([{"DecodeImage": None}, {name: args}],
                         where="DataLoader.Train.dataset.transform_ops")
    text = str(err.value)
    assert text.startswith(f"DataLoader.Train.dataset.transform_ops.1.{name}: ")
    assert message in text


def test_argument_of_wrong_type_and_unknown_argument_are_located():
    with pytest.raises(ConfigError, match=r"transform_ops\.1\.RandomErasing\.use_log_aspect: "
                                          r"expected bool"):
        build_transforms([{"DecodeImage": None}, {"RandomErasing": {"use_log_aspect": "yes"}}])
    with pytest.raises(ConfigError, match=r"transform_ops\.1\.Cutout\.holes: Cutout has no such "
                                          r"argument \(did you mean 'n_holes'\?\)"):
        build_transforms([{"DecodeImage": None}, {"Cutout": {"holes": 2}}])


# ---------------------------------------------------------- what each op does

def changed_box(before: np.ndarray, after: np.ndarray):
    """(top, left, height, width, count) of the pixels that changed."""
    rows, cols = np.nonzero((before != after).any(axis=2))
    top, left = rows.min(), cols.min()
    return top, left, rows.max() - top + 1, cols.max() - left + 1, len(rows)


def test_random_erasing_erases_one_rectangle_within_the_area_and_aspect_bounds():
    image = normalized()
    op = RandomErasing(EPSILON=1, sl=0.05, sh=0.2, r1=0.5, mean=[9.0, 8.0, 7.0], mode="const")
    for seed in range(20):
        out = run(op, image, seed)
        top, left, height, width, count = changed_box(image, out)
        assert count == height * width  # a solid rectangle
        np.testing.assert_array_equal(out[top, left], [9.0, 8.0, 7.0])
        # Sides are rounded to whole pixels, hence the half-pixel slack.
        assert (0.05 * 64 * 64 * 0.8 <= height * width <= 0.2 * 64 * 64 * 1.2
                and height < 64 and width < 64)
        assert 0.5 * 0.8 <= height / width <= 2.0 * 1.25


def test_random_erasing_probability_and_modes():
    image = normalized()
    np.testing.assert_array_equal(run(RandomErasing(EPSILON=0), image, 0), image)
    noise = run(RandomErasing(EPSILON=1, sl=0.2, sh=0.3, mode="pixel"), image, 0)
    erased = (noise != image).any(axis=2)
    assert 0.15 < erased.mean() < 0.35 and 0.7 < noise[erased].std() < 1.3
    per_channel = run(RandomErasing(EPSILON=1, sl=0.2, sh=0.3, mode="rand"), image, 0)
    region = per_channel[(per_channel != image).any(axis=2)]
    assert (region == region[0]).all()  # one value per channel
    with pytest.raises(DataError, match="needs the float image NormalizeImage returns"):
        run(RandomErasing(EPSILON=1, mode="pixel"), pixels(), 0)


def test_random_erasing_keeps_the_padding_channel_of_four_channel_images():
    image = np.concatenate([normalized(), np.zeros((64, 64, 1), np.float32)], axis=2)
    out = run(RandomErasing(EPSILON=1, sl=0.2, sh=0.3, mode="pixel"), image, 1)
    assert (out[:, :, 3] == 0).all() and (out[:, :, :3] != image[:, :, :3]).any()


@pytest.mark.parametrize("length, side", [(16, 16), (15, 14)])
def test_cutout_fills_the_square_around_the_drawn_centre(length, side):
    image = normalized()
    for seed in range(10):
        out = run(Cutout(n_holes=1, length=length), image, seed)
        np.random.seed(seed)
        y, x = np.random.randint(64), np.random.randint(64)
        expected = image.copy()
        half = side // 2
        expected[max(0, y - half):y + half, max(0, x - half):x + half] = 0
        np.testing.assert_array_equal(out, expected)


def test_cutout_holes_are_clipped_squares_and_random_fill():
    image = pixels()
    out = run(Cutout(n_holes=3, length=20), image, 5)
    zeroed = (out == 0).all(axis=2) & (image != 0).any(axis=2)
    assert 0 < zeroed.sum() <= 3 * 20 * 20
    coloured = run(Cutout(n_holes=1, length=20, fill_value=None), image, 5)
    top, left, height, width, count = changed_box(image, coloured)
    assert count == height * width and len({tuple(p) for p in
                                            coloured[top:top + height, left:left + width]
                                            .reshape(-1, 3)}) == 1


def test_grid_mask_modes_are_complementary_and_prob_zero_is_identity():
    image = np.ones((64, 64, 3), np.float32)
    zeroed = run(GridMask(d1=9, d2=24, ratio=0.5, mode=0), image, 4)
    kept = run(GridMask(d1=9, d2=24, ratio=0.5, mode=1), image, 4)
    np.testing.assert_array_equal(zeroed + kept, image)
    # Stripes of half the period along both axes hide about three quarters.
    assert 0.6 < (zeroed == 0).mean() < 0.9
    assert set(np.unique(zeroed)) == {0.0, 1.0}
    np.testing.assert_array_equal(run(GridMask(prob=0.0), image, 0), image)
    assert (run(GridMask(d1=9, d2=24, ratio=0.0), image, 0) == 1).all()


def test_hide_and_seek_hides_whole_cells():
    image = normalized()
    out = run(HideAndSeek(grid_sizes=[16], hide_prob=0.5), image, 2)
    cells = [out[y:y + 16, x:x + 16] for y in range(0, 64, 16) for x in range(0, 64, 16)]
    originals = [image[y:y + 16, x:x + 16] for y in range(0, 64, 16) for x in range(0, 64, 16)]
    hidden = [(cell == 0).all() for cell in cells]
    assert all(h or np.array_equal(c, o) for h, c, o in zip(hidden, cells, originals))
    assert 0 < sum(hidden) < 16
    assert (run(HideAndSeek(grid_sizes=[16], hide_prob=1.0), image, 0) == 0).all()
    np.testing.assert_array_equal(run(HideAndSeek(grid_sizes=[0]), image, 0), image)


def test_color_jitter_directions():
    image = pixels()
    brighter = run(build("ColorJitter", {"brightness": [1.5, 1.5]}), image, 0)
    darker = run(build("ColorJitter", {"brightness": [0.5, 0.5]}), image, 0)
    assert darker.mean() < image.mean() < brighter.mean()
    gray = run(build("ColorJitter", {"saturation": [0.0, 0.0]}), image, 0)
    assert (np.ptp(gray.astype(int), axis=2) <= 1).all()
    flat = run(build("ColorJitter", {"contrast": [0.0, 0.0]}), image, 0)
    assert np.ptp(flat.astype(int)) <= 1
    shifted = run(build("ColorJitter", {"hue": [0.25, 0.25]}), image, 0)
    assert np.abs(shifted.astype(int) - image).mean() > 10
    np.testing.assert_array_equal(run(build("ColorJitter", {"brightness": 0.4, "prob": 0}),
                                      image, 0), image)


def test_pca_lighting_adds_the_per_channel_offset_of_the_drawn_alpha():
    image = pixels()
    op = PCALighting()
    out = run(op, image, 11)
    np.random.seed(11)
    alpha = np.random.normal(0, 0.1, size=3)
    eigval = np.array([0.2175, 0.0188, 0.0045])
    eigvec = np.array([[-0.5675, 0.7192, 0.4009], [-0.5808, -0.0045, -0.8140],
                       [-0.5836, -0.6948, 0.4203]])
    expected = eigvec @ (alpha * eigval)
    np.testing.assert_allclose(out - image, np.broadcast_to(expected, out.shape), atol=1e-4)
    np.testing.assert_array_equal(run(PCALighting(alphastd=0), image, 0), image)


def test_crop_image_at_ratio_cuts_the_centre_square():
    image = pixels(64, 80)
    out = build("CropImageAtRatio", {"size": 32, "pad": 32})(image)
    # ratio 32 / 64 of the 64-pixel short side: the centre 32 x 32, not resized.
    np.testing.assert_array_equal(out, image[16:48, 24:56])
    assert build("CropImageAtRatio", {"size": 16, "pad": 16})(image).shape == (16, 16, 3)


@pytest.mark.parametrize("name, args", [
    ("AutoAugment", None), ("RandAugment", {"magnitude": 9}), ("RandAugmentV2", None),
    ("RandAugmentV3", None), ("TimmAutoAugment", None), ("TimmAutoAugment", {"config_str": "v0r"})])
def test_policies_change_the_image(name, args):
    image = pixels()
    op = build(name, args)
    outputs = [run(op, image, seed) for seed in range(6)]
    assert all(out.dtype == np.uint8 and out.shape == image.shape for out in outputs)
    assert any(not np.array_equal(out, image) for out in outputs)


def test_rand_augment_without_layers_and_timm_with_prob_zero_leave_the_image():
    image = pixels()
    np.testing.assert_array_equal(run(build("RandAugment", {"num_layers": 0}), image, 0), image)
    np.testing.assert_array_equal(run(build("TimmAutoAugment", {"prob": 0.0}), image, 0), image)


def test_timm_config_str_fields():
    op = TimmAutoAugment(config_str="rand-m7-n3-mstd0.5-inc1", img_size=[256, 300],
                         mean=[0.5, 0.5, 0.5])
    assert op.num_layers == 3 and op.choice_weights is None
    assert [o.name for o in op.ops] == _RAND_INCREASING_OPS
    assert {o.magnitude for o in op.ops} == {7.0} and {o.prob for o in op.ops} == {0.5}
    hparams = op.ops[0].hparams
    assert hparams["magnitude_std"] == 0.5 and hparams["translate_const"] == int(256 * 0.45)
    assert hparams["fill"] == (128, 128, 128)
    plain = TimmAutoAugment(config_str="rand-m9-inc0-w0")
    assert [o.name for o in plain.ops] == _RAND_OPS and plain.num_layers == 2
    assert plain.choice_weights is not None and abs(plain.choice_weights.sum() - 1) < 1e-9
    auto = TimmAutoAugment(config_str="originalr-mstd0.5")
    assert len(auto.policy) == 25 and auto.policy[0][0].name == "PosterizeIncreasing"
    # Magnitudes above 10 are kept and clipped per operation, as timm does.
    assert TimmAutoAugment(config_str="rand-m15-mstd0.5-inc1").ops[0].magnitude == 15


def test_timm_magnitude_ten_rotation_is_thirty_degrees():
    image = np.zeros((64, 64, 3), np.uint8)
    image[28:36, 8:56] = 255  # a horizontal bar
    op = TimmAutoAugment(config_str="rand-m10-n1", interpolation="nearest")
    rotate = [o for o in op.ops if o.name == "Rotate"][0]
    rotate.prob = 1.0
    out = np.asarray(rotate(Image.fromarray(image)))
    ys, xs = np.nonzero(out[:, :, 0] > 127)
    slope = np.polyfit(xs, ys, 1)[0]
    assert abs(abs(np.degrees(np.arctan(slope))) - 30) < 3


# ------------------------------------------------ PaddleClas transform lists

# Train transform_ops copied from PaddleClas's ImageNet configs (YAML as written there).
with open(os.path.join(os.path.dirname(__file__), "data", "paddleclas_transform_lists.yaml"),
          encoding="utf-8") as _f:
    PADDLECLAS_LISTS = yaml.safe_load(_f)


@pytest.mark.parametrize("config", sorted(PADDLECLAS_LISTS))
def test_paddleclas_transform_lists_build_and_run(config):
    pipeline = build_transforms(PADDLECLAS_LISTS[config])
    assert pipeline.output_layout == "hwc"
    buffer = io.BytesIO()
    Image.fromarray(pixels(48, 64)).save(buffer, "PNG")
    data = buffer.getvalue()
    np.random.seed(0)
    out = pipeline(data)
    assert out.shape == (224, 224, 3) and out.dtype == np.float32
    np.random.seed(0)
    np.testing.assert_array_equal(pipeline(data), out)


def test_loader_seed_reproduces_augmented_batches(tmp_path):
    """The loader seeds numpy per sample; the ops draw from nothing else (a draw from
    python's ``random`` would make the two runs differ)."""
    from paddle_googlenet.data import build_dataloader, make_demo_dataset
    demo = make_demo_dataset(str(tmp_path), num_classes=2, train_per_class=4, eval_per_class=1,
                             image_size=32)
    ops = yaml.safe_load(yaml.safe_dump(PADDLECLAS_LISTS["DeiT_tiny_patch16_224"])
                         .replace("224", "24"))
    ops.insert(4, {"ColorJitter": {"brightness": 0.4, "contrast": 0.4, "saturation": 0.4,
                                   "hue": 0.4}})
    ops.append({"HideAndSeek": None})

    def first_batch(seed):
        loader = build_dataloader({
            "dataset": {"name": "ImageNetDataset", "image_root": demo.root,
                        "cls_label_path": demo.train_list, "transform_ops": ops},
            "sampler": {"name": "BatchSampler", "batch_size": 8, "shuffle": True}}, seed=seed)
        return np.asarray(next(iter(loader))[0])

    batch = first_batch(5)
    assert batch.shape == (8, 3, 24, 24)
    np.testing.assert_array_equal(first_batch(5), batch)
    assert not np.array_equal(first_batch(6), batch)
