"""DecodeImage followed by RandCropImage runs as one step (DecodeRandCrop) that draws
the same regions and flips, decodes a JPEG only at the scale the crop needs, and gives
the two operators' pixels (exactly where no DCT scaling applies)."""

import io

import numpy as np
import pytest
from PIL import Image

from paddle_googlenet.data import build_transforms, photographic_jpeg
from paddle_googlenet.data.transforms import DecodeRandCrop
from paddle_googlenet.errors import ImageDecodeError

DECODE = {"DecodeImage": {"to_rgb": True, "channel_first": False}}
TRAIN_OPS = [DECODE, {"RandCropImage": {"size": 224}}, {"RandFlipImage": {"flip_code": 1}}]


def photographs(sizes, seed=0):
    rng = np.random.default_rng(seed)
    return [photographic_jpeg(w, h, rng) for w, h in sizes]


def one_by_one(compose, data):
    """The operators of ``compose`` run separately, as before they were fused."""
    for op in compose.ops:
        data = op(data)
    return data


def run_both(ops, files, seed):
    """Each file through the fused steps and through the separate operators, from
    the same seed; also the random state after each."""
    compose = build_transforms(ops)
    results = {}
    for name, run in (("fused", compose), ("separate", lambda d: one_by_one(compose, d))):
        np.random.seed(seed)
        results[name] = [(run(f), np.random.get_state()[1].copy()) for f in files]
    return results["fused"], results["separate"]


def test_decode_then_rand_crop_runs_as_one_step():
    compose = build_transforms(TRAIN_OPS)
    assert [type(s).__name__ for s in compose.steps] == ["DecodeRandCrop", "RandFlipImage"]
    assert [type(op).__name__ for op in compose.ops] == ["DecodeImage", "RandCropImage",
                                                        "RandFlipImage"]
    # a decode that is not RGB HWC, or a crop that does not follow it, is left alone
    bgr = build_transforms([{"DecodeImage": {"to_rgb": False}}, {"RandCropImage": {"size": 8}}])
    assert [type(s).__name__ for s in bgr.steps] == ["DecodeImage", "RandCropImage"]
    later = build_transforms([DECODE, {"RandFlipImage": None}, {"RandCropImage": {"size": 8}}])
    assert not any(isinstance(s, DecodeRandCrop) for s in later.steps)


def test_imagenet_size_photographs_give_the_same_pixels_and_draws():
    """At 500x375 a 224 crop is never shrunk 2x, so nothing is DCT-scaled: every random
    draw is the separate operators', and so are the pixels but where the filter, which
    resizes the region straight from the whole image, reads past the region's edge
    and rounds once instead of twice."""
    files = photographs([(500, 375), (375, 500)] * 10)
    fused, separate = run_both(TRAIN_OPS, files, seed=3)
    for (a, state_a), (b, state_b) in zip(fused, separate):
        np.testing.assert_array_equal(state_a, state_b)
        difference = np.abs(a.astype(int) - b.astype(int))
        assert difference.mean() < 0.5 and difference.max() <= 8


@pytest.mark.slow
def test_large_photographs_are_decoded_at_the_scale_the_crop_needs():
    """A 1600x1200 photograph cropped to 64: DCT scaling by up to 8, the same regions
    (same draws after every image), pixels within a few grey levels."""
    files = photographs([(1600, 1200), (1200, 1600)] * 4, seed=1)
    ops = [DECODE, {"RandCropImage": {"size": 64, "scale": [0.3, 1.0]}}]
    fused, separate = run_both(ops, files, seed=5)
    differences = []
    for (a, state_a), (b, state_b) in zip(fused, separate):
        np.testing.assert_array_equal(state_a, state_b)
        assert a.shape == b.shape == (64, 64, 3) and a.dtype == b.dtype == np.uint8
        differences.append(np.abs(a.astype(int) - b.astype(int)).mean())
    assert max(differences) < 4.0, differences


@pytest.mark.slow
def test_the_draft_scale_keeps_the_region_at_least_the_output_size(monkeypatch):
    """The decoded region is never smaller than the output: no upscaling is added."""
    from PIL import JpegImagePlugin

    seen = []
    draft = JpegImagePlugin.JpegImageFile.draft

    def recording_draft(self, mode, size):
        seen.append((self.size, size))
        return draft(self, mode, size)

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", recording_draft)
    files = photographs([(1800, 1350)] * 6, seed=2)
    compose = build_transforms([DECODE, {"RandCropImage": {"size": 224}}])
    np.random.seed(0)
    for data in files:
        compose(data)
    assert seen, "no JPEG was DCT-scaled"
    for (width, height), (drafted_w, drafted_h) in seen:
        factor = width / drafted_w
        assert factor in (2, 4, 8) and 224 * factor <= width


def test_other_images_take_the_operators_one_after_the_other():
    rng = np.random.default_rng(4)
    png = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (300, 400, 3), dtype=np.uint8)).save(png, "PNG")
    rotated = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees when shown
    Image.open(io.BytesIO(photographs([(400, 300)])[0])).save(rotated, "JPEG", exif=exif)
    grey = io.BytesIO()
    Image.open(io.BytesIO(photographs([(400, 300)])[0])).convert("L").save(grey, "JPEG")
    files = [png.getvalue(), rotated.getvalue(), grey.getvalue()]
    fused, separate = run_both(TRAIN_OPS, files, seed=7)
    for (a, _), (b, _) in zip(fused[:2], separate[:2]):
        np.testing.assert_array_equal(a, b)
    # a grey JPEG is fused, and comes out as RGB like the decoder gives it
    (grey_fused, _), (grey_separate, _) = fused[2], separate[2]
    assert grey_fused.shape == (224, 224, 3)
    assert np.abs(grey_fused.astype(int) - grey_separate.astype(int)).mean() < 0.5


@pytest.mark.parametrize("data", [b"not an image", photographs([(300, 200)])[0][:2000]],
                         ids=["not an image", "truncated JPEG"])
def test_undecodable_bytes_are_an_image_decode_error(data):
    compose = build_transforms(TRAIN_OPS)
    np.random.seed(0)
    with pytest.raises(ImageDecodeError):
        compose(data)
