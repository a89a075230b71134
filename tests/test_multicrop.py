"""Multi-crop evaluation: the crop geometry against the paper's description, the
crops' pixels against the evaluation list's, and the protocols' plan from a config."""

import io
import os

import cv2
import numpy as np
import pytest
from PIL import Image

from paddle_googlenet.config import load_config
from paddle_googlenet.data.crop_geometry import (paper_crops, paper_scales, single_crop,
                                                 squares, ten_crops)
from paddle_googlenet.data.multicrop import CropPlan, MultiCropTransform, normalize_crops
from paddle_googlenet.data.transforms import build_transforms
from paddle_googlenet.errors import ConfigError
from tiny import DEFAULT_CONFIG, ROOT

# PaddleClas's GoogLeNet evaluation list: resize 256, centre 224, normalize
PADDLECLAS_EVAL_LIST = load_config(os.path.join(ROOT, "configs", "ImageNet", "Inception",
                                                "GoogLeNet.yaml"))["DataLoader"]["Eval"][
    "dataset"]["transform_ops"]


def boxes(crops, mirror=None):
    return [c.box for c in crops if mirror is None or c.mirror == mirror]


def test_paper_crops_of_a_landscape_image_follow_the_paper():
    crops = paper_crops(500, 375)
    assert len(crops) == 144 and sum(c.mirror for c in crops) == 72
    assert paper_scales(224) == (256, 288, 320, 352)
    # four scales: the shorter side resized to each
    assert sorted({c.resized for c in crops}) == [(341, 256), (384, 288), (427, 320),
                                                  (469, 352)]
    at_256 = [c for c in crops if c.resized == (341, 256) and not c.mirror]
    assert len(at_256) == 18  # 3 squares x (4 corners + centre + the whole square)
    # left, centre and right squares
    assert squares(341, 256) == [(0, 0, 256, 256), (42, 0, 256, 256), (85, 0, 256, 256)]
    left = boxes(at_256[:6])
    assert left == [(0, 0, 224, 224), (32, 0, 224, 224), (0, 32, 224, 224),
                    (32, 32, 224, 224), (16, 16, 224, 224), (0, 0, 256, 256)]
    right = boxes(at_256[12:])
    assert right[0] == (85, 0, 224, 224) and right[3] == (85 + 32, 32, 224, 224)
    assert right[5] == (85, 0, 256, 256)
    # every box inside its resized image; the mirrors are the same boxes flipped
    for c in crops:
        x, y, w, h = c.box
        assert 0 <= x and 0 <= y and x + w <= c.resized[0] and y + h <= c.resized[1]
        assert w == h and w in (224, min(c.resized))
    assert boxes(crops, mirror=True) == boxes(crops, mirror=False)
    assert len({c.key for c in crops}) == 144


def test_portrait_crops_are_the_landscape_ones_transposed():
    """Top, centre and bottom squares of a portrait image."""
    landscape, portrait = paper_crops(500, 375), paper_crops(375, 500)
    assert [(c.resized[1], c.resized[0]) for c in portrait] == [c.resized for c in landscape]
    # (the corners come in another order: top-right transposed is bottom-left)
    assert (sorted((y, x, h, w) for x, y, w, h in boxes(portrait))
            == sorted(boxes(landscape)))
    assert squares(256, 341) == [(0, 0, 256, 256), (0, 42, 256, 256), (0, 85, 256, 256)]


def test_a_square_image_has_three_equal_squares_and_small_images_are_scaled_up():
    square = paper_crops(300, 300)
    assert len(square) == 144
    for scale in (256, 288, 320, 352):
        assert squares(scale, scale) == [(0, 0, scale, scale)] * 3
        at = [c.box for c in square if c.resized == (scale, scale) and not c.mirror]
        assert at[:6] == at[6:12] == at[12:18]
    # a thumbnail and an image whose shorter side is below 352: every scale is reached
    # by resizing up, and every crop fits
    for width, height in ((40, 30), (30, 40), (400, 300), (351, 351), (1000, 200)):
        crops = paper_crops(width, height)
        assert len(crops) == 144
        assert sorted({min(c.resized) for c in crops}) == [256, 288, 320, 352]
        for c in crops:
            x, y, w, h = c.box
            assert x + w <= c.resized[0] and y + h <= c.resized[1]


def test_ten_crops_are_the_corners_and_centre_of_the_resized_image_and_their_mirrors():
    resize = build_transforms(PADDLECLAS_EVAL_LIST).ops[1].output_size
    crops = ten_crops(500, 375, (224, 224), resize)
    assert len(crops) == 10 and sum(c.mirror for c in crops) == 5
    assert {c.resized for c in crops} == {(341, 256)}
    assert boxes(crops, mirror=False) == [(0, 0, 224, 224), (117, 0, 224, 224),
                                          (0, 32, 224, 224), (117, 32, 224, 224),
                                          (58, 16, 224, 224)]
    # the unmirrored centre is the list's one crop: the same key, the same box
    one = single_crop(500, 375, (224, 224), resize)[0]
    assert one.key == crops[4].key and one.box == crops[4].box
    # without a ResizeImage in the list, 256/224 of the crop size
    assert {c.resized for c in ten_crops(300, 200, (64, 64))} == {(110, 73)}


def test_the_plan_takes_the_crop_size_from_the_eval_list():
    paddleclas = CropPlan(build_transforms(PADDLECLAS_EVAL_LIST), (1, 10, 144))
    assert (paddleclas.side, paddleclas.scales) == (224, (256, 288, 320, 352))
    assert paddleclas.forward_passes == 1 + 10 + 144 - 1  # the centre crop is shared
    assert [len(paddleclas.chosen[c]) for c in (1, 10, 144)] == [1, 10, 144]
    assert paddleclas.chosen[1][0] in paddleclas.chosen[10]
    demo = load_config(DEFAULT_CONFIG)
    plan = CropPlan(build_transforms(demo["DataLoader"]["Eval"]["dataset"]["transform_ops"]),
                    (144,))
    assert (plan.side, plan.scales, plan.forward_passes) == (64, (73, 82, 91, 101), 144)


def jpeg(width, height, seed=0):
    rng = np.random.RandomState(seed)
    pixels = cv2.resize(rng.randint(0, 256, (height // 8 + 1, width // 8 + 1, 3),
                                    dtype=np.uint8), (width, height))
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=95)
    return buffer.getvalue()


def test_each_crop_is_cut_from_the_once_decoded_image_as_its_geometry_says():
    pipeline = build_transforms(PADDLECLAS_EVAL_LIST)
    plan = CropPlan(pipeline, (1, 10, 144))
    data = jpeg(300, 200)
    stack = MultiCropTransform(plan)(data)
    assert stack.shape == (154, 224, 224, 3) and stack.dtype == np.uint8
    # the 1-crop is the evaluation list's own pixels, once normalized (CHW)
    listed = pipeline(data)
    one = normalize_crops(stack[plan.chosen[1]], plan.normalize)
    assert np.array_equal(one[0], listed.transpose(2, 0, 1))
    floats = normalize_crops(stack[plan.chosen[1]].astype(np.float32), plan.normalize)
    assert np.allclose(floats, one, atol=1e-5)
    decoded = plan.decode(data)
    crops = plan.crops(300, 200)
    for position in (plan.chosen[144][0], plan.chosen[144][5], plan.chosen[144][77],
                     plan.chosen[10][6]):
        crop = crops[position]
        resized = cv2.resize(decoded, crop.resized, interpolation=cv2.INTER_LINEAR)
        x, y, w, h = crop.box
        expected = resized[y:y + h, x:x + w]
        if w != 224:
            expected = cv2.resize(np.ascontiguousarray(expected), (224, 224),
                                  interpolation=cv2.INTER_LINEAR)
        if crop.mirror:
            expected = expected[:, ::-1]
        assert np.array_equal(stack[position], expected)


def test_bad_crop_counts_and_lists_are_refused_with_what_would_be_valid(tmp_path):
    with pytest.raises(ConfigError, match=r"Eval.crops: 7 .*valid: 1, 10, 144"):
        load_config(DEFAULT_CONFIG, ["Eval.crops=7"])
    with pytest.raises(ConfigError, match=r"Eval.crop: unknown key.*crops"):
        load_config(DEFAULT_CONFIG, ["Eval.crop=10"])
    no_crop = [PADDLECLAS_EVAL_LIST[0], PADDLECLAS_EVAL_LIST[3]]
    with pytest.raises(ConfigError, match="CropImage"):
        CropPlan(build_transforms(no_crop), (10,))
    small = [PADDLECLAS_EVAL_LIST[0], {"ResizeImage": {"resize_short": 200}},
             *PADDLECLAS_EVAL_LIST[2:]]
    with pytest.raises(ConfigError, match="resize_short 200 is smaller than the CropImage"):
        CropPlan(build_transforms(small), (10,))


def test_an_image_is_decoded_once_and_resized_once_per_scale_for_all_its_crops():
    plan = CropPlan(build_transforms(PADDLECLAS_EVAL_LIST), (1, 10, 144))
    calls = {"decode": 0, "resize": []}
    decode, resample = plan.decode, plan.resampler

    def counted_decode(data):
        calls["decode"] += 1
        return decode(data)

    def counted_resize(image, width, height):
        calls["resize"].append((image.shape[1], image.shape[0], width, height))
        return resample(image, width, height)

    plan.decode, plan.resampler = counted_decode, counted_resize
    assert MultiCropTransform(plan)(jpeg(300, 200)).shape[0] == 154
    assert calls["decode"] == 1
    # the whole image once per shorter side (the list's 256 is the paper's first)
    whole = [c for c in calls["resize"] if c[:2] == (300, 200)]
    assert sorted(c[2:] for c in whole) == [(384, 256), (432, 288), (480, 320), (528, 352)]
    # and the 24 whole squares (4 scales x 3 squares, and their mirrors) to 224
    squares_resized = [c for c in calls["resize"] if c[:2] != (300, 200)]
    assert len(squares_resized) == 24 and {c[2:] for c in squares_resized} == {(224, 224)}
