"""Transform operators, image decoding in every colour mode, and build_transforms."""

import io

import numpy as np
import pytest
from PIL import Image

from paddle_googlenet.data.transforms import (TRANSFORMS, Compose, CropImage, DecodeImage,
                                              ImageDecodeError, NormalizeImage, RandCropImage,
                                              RandFlipImage, ResizeImage, ToCHWImage,
                                              build_transforms, parse_number)
from paddle_googlenet.errors import ConfigError, DataError


def encode(image: Image.Image, fmt: str = "PNG", **kwargs) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **kwargs)
    return buffer.getvalue()


def ramp(height: int = 6, width: int = 8) -> np.ndarray:
    """An HWC uint8 image whose every pixel is distinct."""
    return np.arange(height * width * 3, dtype=np.uint8).reshape(height, width, 3)


# ------------------------------------------------------------------ DecodeImage

def test_decode_rgb_png_exactly():
    pixels = ramp()
    out = DecodeImage()(encode(Image.fromarray(pixels)))
    assert out.dtype == np.uint8 and out.shape == (6, 8, 3)
    np.testing.assert_array_equal(out, pixels)


def test_decode_bgr_and_channel_first():
    pixels = ramp()
    data = encode(Image.fromarray(pixels))
    np.testing.assert_array_equal(DecodeImage(to_rgb=False)(data), pixels[:, :, ::-1])
    np.testing.assert_array_equal(DecodeImage(channel_first=True)(data), pixels.transpose(2, 0, 1))


def _two_halves(mode, left, right, size=(4, 2)):
    if mode == "I;16":  # PIL's fill of I;16 images is unreliable; build it from an array
        values = np.full(size[::-1], left, np.uint16)
        values[:, size[0] // 2:] = right
        return Image.fromarray(values)
    image = Image.new(mode, size, left)
    image.paste(right, (size[0] // 2, 0, size[0], size[1]))
    return image


@pytest.mark.parametrize("make_bytes, left, right", [
    # grayscale: repeated into three channels
    (lambda: encode(_two_halves("L", 0, 100)), (0, 0, 0), (100, 100, 100)),
    # 1-bit
    (lambda: encode(_two_halves("1", 0, 1)), (0, 0, 0), (255, 255, 255)),
    # LA: opaque left half kept, transparent right half becomes white
    (lambda: encode(_two_halves("LA", (50, 255), (50, 0))), (50, 50, 50), (255, 255, 255)),
    # RGBA: opaque kept, half transparent composited on white
    (lambda: encode(_two_halves("RGBA", (200, 10, 10, 255), (0, 0, 0, 128))),
     (200, 10, 10), (127, 127, 127)),
    # 16-bit grayscale: 0..65535 scaled to 0..255, not clipped at 255
    (lambda: encode(_two_halves("I;16", 65535, 30000)), (255, 255, 255), (117, 117, 117)),
    # 32-bit integer grayscale (TIFF), taken as 16-bit range
    (lambda: encode(_two_halves("I", 0, 65535), "TIFF"), (0, 0, 0), (255, 255, 255)),
])
def test_decode_modes_to_rgb_uint8(make_bytes, left, right):
    out = DecodeImage()(make_bytes())
    assert out.dtype == np.uint8 and out.shape == (2, 4, 3)
    np.testing.assert_allclose(out[:, :2].reshape(-1, 3), [left] * 4, atol=1)
    np.testing.assert_allclose(out[:, 2:].reshape(-1, 3), [right] * 4, atol=1)


def _palette_image(transparent_index=None):
    image = Image.new("P", (4, 2), 0)
    image.putpalette([255, 0, 0, 0, 255, 0] + [0, 0, 0] * 254)
    image.paste(1, (2, 0, 4, 2))
    kwargs = {} if transparent_index is None else {"transparency": transparent_index}
    return encode(image, **kwargs)


def test_decode_palette():
    out = DecodeImage()(_palette_image())
    assert out.shape == (2, 4, 3) and out.dtype == np.uint8
    assert out[0, 0].tolist() == [255, 0, 0] and out[0, 3].tolist() == [0, 255, 0]


def test_decode_palette_with_transparency_composites_on_white():
    assert Image.open(io.BytesIO(_palette_image(0))).mode == "P"
    out = DecodeImage()(_palette_image(transparent_index=0))
    assert out.shape == (2, 4, 3)
    assert out[0, 0].tolist() == [255, 255, 255] and out[0, 3].tolist() == [0, 255, 0]


def test_decode_cmyk_jpeg():
    data = encode(Image.new("CMYK", (16, 16), (0, 255, 255, 0)), "JPEG", quality=95)
    assert Image.open(io.BytesIO(data)).mode == "CMYK"
    out = DecodeImage()(data)
    assert out.shape == (16, 16, 3) and out.dtype == np.uint8
    np.testing.assert_allclose(out[8, 8], [255, 0, 0], atol=8)  # pure red


def test_decode_16bit_full_white_is_255():
    out = DecodeImage()(encode(Image.new("I;16", (3, 3), 65535)))
    assert out.dtype == np.uint8 and (out == 255).all()


def test_decode_non_image_raises():
    with pytest.raises(ImageDecodeError, match="not an image"):
        DecodeImage()(b"this is a text file, not a picture")
    with pytest.raises(DataError, match="not an image"):
        DecodeImage()(b"")


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_decode_truncated_raises(fmt):
    noise = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    data = encode(Image.fromarray(noise), fmt)
    with pytest.raises(ImageDecodeError, match="truncated or corrupt"):
        DecodeImage()(data[:len(data) // 2])


def test_decode_rejects_an_array():
    with pytest.raises(DataError, match="raw bytes"):
        DecodeImage()(ramp())


def test_decode_argument_checks():
    with pytest.raises(ConfigError, match="backend"):
        DecodeImage(backend="opencv")
    with pytest.raises(ConfigError, match="to_rgb"):
        DecodeImage(to_rgb="yes")
    DecodeImage(to_np=False, backend="cv2")  # accepted for PaddleClas configs


# ------------------------------------------------------------ geometric operators

def test_resize_short_keeps_aspect():
    out = ResizeImage(resize_short=10)(ramp(20, 40))
    assert out.shape == (10, 20, 3) and out.dtype == np.uint8


def test_resize_exact_size_is_width_height():
    assert ResizeImage(size=[30, 12])(ramp(20, 40)).shape == (12, 30, 3)
    assert ResizeImage(size=7)(ramp(20, 40)).shape == (7, 7, 3)


@pytest.mark.parametrize("interpolation", [None, "nearest", "bilinear", "bicubic", "area",
                                           "lanczos", "BILINEAR"])
def test_resize_interpolation_names(interpolation):
    out = ResizeImage(size=5, interpolation=interpolation, backend="cv2")(ramp(20, 40))
    assert out.shape == (5, 5, 3)


def test_resize_float_image_keeps_dtype():
    image = np.random.default_rng(0).random((8, 8, 3)).astype(np.float32)
    out = ResizeImage(size=4)(image)
    assert out.shape == (4, 4, 3) and out.dtype == np.float32
    assert 0.0 <= out.min() and out.max() <= 1.0


@pytest.mark.parametrize("kwargs, message", [
    ({}, "exactly one"),
    ({"size": 4, "resize_short": 4}, "exactly one"),
    ({"size": -3}, "positive integer"),
    ({"size": [4, 0]}, "positive integer"),
    ({"size": [1, 2, 3]}, r"\[w, h\]"),
    ({"resize_short": 2.5}, "positive integer"),
    ({"size": 4, "interpolation": "fancy"}, "bilinear"),
    ({"size": 4, "backend": "skimage"}, "backend"),
])
def test_resize_bad_arguments(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        ResizeImage(**kwargs)


def test_center_crop():
    image = ramp(6, 8)
    np.testing.assert_array_equal(CropImage(4)(image), image[1:5, 2:6])
    np.testing.assert_array_equal(CropImage([6, 2])(image), image[2:4, 1:7])
    with pytest.raises(DataError, match="does not fit"):
        CropImage(10)(image)
    with pytest.raises(ConfigError):
        CropImage(0)


def test_rand_crop_size_and_determinism():
    image = np.random.default_rng(1).integers(0, 256, (40, 50, 3), dtype=np.uint8)
    op = RandCropImage(size=16)
    assert op.scale == (0.08, 1.0) and op.ratio == (0.75, 4.0 / 3.0)
    np.random.seed(7)
    first = [op(image) for _ in range(5)]
    np.random.seed(7)
    second = [op(image) for _ in range(5)]
    for a, b in zip(first, second):
        assert a.shape == (16, 16, 3) and a.dtype == np.uint8
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(first[0], other) for other in first[1:])
    assert RandCropImage(size=[12, 9])(image).shape == (9, 12, 3)


def test_rand_crop_whole_image_when_scale_is_one():
    image = ramp(10, 10)
    op = RandCropImage(size=10, scale=[1.0, 1.0], ratio=[1.0, 1.0])
    np.testing.assert_array_equal(op(image), image)


@pytest.mark.parametrize("kwargs", [{"size": 0}, {"size": 8, "scale": [0.5, 1.5]},
                                    {"size": 8, "scale": [0.9, 0.1]}, {"size": 8, "ratio": [0]},
                                    {"size": 8, "interpolation": "magic"}])
def test_rand_crop_bad_arguments(kwargs):
    with pytest.raises(ConfigError):
        RandCropImage(**kwargs)


@pytest.mark.parametrize("flip_code, flipped", [(1, lambda a: a[:, ::-1]),
                                                (0, lambda a: a[::-1]),
                                                (-1, lambda a: a[::-1, ::-1])])
def test_rand_flip(flip_code, flipped):
    image = ramp()
    op = RandFlipImage(flip_code)
    np.random.seed(0)
    outs = [op(image) for _ in range(40)]
    n_flipped = sum(np.array_equal(out, flipped(image)) for out in outs)
    n_same = sum(np.array_equal(out, image) for out in outs)
    assert n_flipped + n_same == 40
    assert 10 <= n_flipped <= 30  # about half
    np.random.seed(0)
    assert all(np.array_equal(a, op(image)) for a in outs)


def test_rand_flip_bad_code():
    with pytest.raises(ConfigError, match="flip_code"):
        RandFlipImage(2)


# ------------------------------------------------------------------ NormalizeImage

def test_normalize_scale_string_equals_one_over_255():
    assert NormalizeImage(scale="1.0/255.0").scale == 1.0 / 255.0
    assert NormalizeImage(scale="1./255.").scale == 1.0 / 255.0
    assert NormalizeImage().scale == 1.0 / 255.0
    assert NormalizeImage(scale=0.5).scale == 0.5


def test_normalize_values_and_dtype():
    image = np.full((2, 3, 3), 255, np.uint8)
    out = NormalizeImage(scale="1.0/255.0", mean=[0, 0.5, 1], std=[1, 0.5, 0.25], order="")(image)
    assert out.dtype == np.float32 and out.shape == (2, 3, 3)
    np.testing.assert_allclose(out[0, 0], [1.0, 1.0, 0.0], atol=1e-6)
    chw = NormalizeImage(mean=[0, 0.5, 1], std=[1, 0.5, 0.25],
                         order="chw")(image.transpose(2, 0, 1))
    np.testing.assert_allclose(chw[:, 0, 0], [1.0, 1.0, 0.0], atol=1e-6)


def test_normalize_imagenet_defaults_fp16_and_four_channels():
    image = np.zeros((2, 2, 3), np.uint8)
    out = NormalizeImage(order="hwc")(image)
    np.testing.assert_allclose(out[0, 0], -np.array([0.485, 0.456, 0.406]) /
                               np.array([0.229, 0.224, 0.225]), rtol=1e-5)
    assert NormalizeImage(order="", output_fp16=True)(image).dtype == np.float16
    four = NormalizeImage(order="", channel_num=4)(image)
    assert four.shape == (2, 2, 4) and (four[:, :, 3] == 0).all()


def test_normalize_wrong_layout_at_call():
    with pytest.raises(DataError, match="3-channel CHW"):
        NormalizeImage(order="chw")(np.zeros((5, 5, 3), np.uint8))


@pytest.mark.parametrize("scale", ["__import__('os').system('echo hacked')", "abs(-1)", "1/0",
                                   "2**8", "x", "", "-1/255", 0, True, [1]])
def test_normalize_rejects_bad_scale(scale):
    with pytest.raises(ConfigError):
        NormalizeImage(scale=scale)


@pytest.mark.parametrize("kwargs", [{"mean": [0.5, 0.5]}, {"std": [1, 0, 1]}, {"order": "nhwc"},
                                    {"channel_num": 1}, {"std": "1"}])
def test_normalize_bad_arguments(kwargs):
    with pytest.raises(ConfigError):
        NormalizeImage(**kwargs)


def test_parse_number():
    assert parse_number("2*(3+1)") == 8.0
    assert parse_number(" -1.5 ") == -1.5
    assert parse_number("1e-3") == 0.001


def test_to_chw():
    image = ramp()
    out = ToCHWImage()(image)
    assert out.shape == (3, 6, 8)
    np.testing.assert_array_equal(out[1], image[:, :, 1])


# --------------------------------------------------------------- build_transforms

PADDLECLAS_TRAIN = [
    {"DecodeImage": {"to_rgb": True, "channel_first": False}},
    {"RandCropImage": {"size": 16}},
    {"RandFlipImage": {"flip_code": 1}},
    {"NormalizeImage": {"scale": "1.0/255.0", "mean": [0.485, 0.456, 0.406],
                        "std": [0.229, 0.224, 0.225], "order": ""}},
    {"ToCHWImage": None},
]


def test_build_paddleclas_pipeline():
    pipeline = build_transforms(PADDLECLAS_TRAIN)
    assert isinstance(pipeline, Compose) and pipeline.output_layout == "chw"
    assert [type(op).__name__ for op in pipeline.ops] == [
        "DecodeImage", "RandCropImage", "RandFlipImage", "NormalizeImage", "ToCHWImage"]
    out = pipeline(encode(Image.fromarray(ramp(20, 24))))
    assert out.shape == (3, 16, 16) and out.dtype == np.float32
    assert build_transforms(PADDLECLAS_TRAIN[:4]).output_layout == "hwc"


def test_transforms_registry_names():
    # The augmentation ops register themselves too (see test_augment.py).
    assert {"DecodeImage", "ResizeImage", "CropImage", "RandCropImage", "RandFlipImage",
            "NormalizeImage", "ToCHWImage"} <= set(TRANSFORMS.names())
    assert "RandCropImage" in TRANSFORMS and "AugMix" not in TRANSFORMS


def test_build_unknown_op_names_it_position_and_valid_ops():
    with pytest.raises(ConfigError) as err:
        build_transforms([{"DecodeImage": None}, {"AugMix": {"prob": 0.5}}],
                         where="DataLoader.Train.dataset.transform_ops")
    message = str(err.value)
    assert message.startswith("DataLoader.Train.dataset.transform_ops.1.AugMix: "
                              "unknown transform op 'AugMix'")
    assert message.endswith("; valid: " + ", ".join(TRANSFORMS.names()))


def test_build_misspelt_op_suggests_the_right_one():
    with pytest.raises(ConfigError, match=r"transform_ops\.0\.DecodeImages: unknown transform op "
                                          r"'DecodeImages' \(did you mean 'DecodeImage'\?\); "
                                          r"valid: .*\bCropImage, .*\bDecodeImage, "):
        build_transforms([{"DecodeImages": None}])


def test_build_unknown_argument_names_op_argument_and_valid_ones():
    with pytest.raises(ConfigError) as err:
        build_transforms([{"DecodeImage": None},
                          {"RandCropImage": {"size": 8, "scales": [0.5, 1]}}])
    assert str(err.value) == ("transform_ops.1.RandCropImage.scales: RandCropImage has no such "
                              "argument (did you mean 'scale'?); valid: size, scale, ratio, "
                              "interpolation, backend, use_log_aspect, progress_size")


def test_build_missing_argument():
    with pytest.raises(ConfigError, match=r"transform_ops\.1\.CropImage: CropImage needs size"):
        build_transforms([{"DecodeImage": None}, {"CropImage": None}])


@pytest.mark.parametrize("op, message", [
    ({"RandCropImage": {"size": "224"}},
     r"transform_ops\.1\.RandCropImage\.size: expected int or list of int, got '224'"),
    ({"RandFlipImage": {"flip_code": 1.0}},
     r"transform_ops\.1\.RandFlipImage\.flip_code: expected int, got 1\.0"),
    ({"ResizeImage": {"size": 8, "interpolation": 2}},
     r"transform_ops\.1\.ResizeImage\.interpolation: expected str or null, got 2"),
])
def test_build_checks_argument_types(op, message):
    with pytest.raises(ConfigError, match=message):
        build_transforms([{"DecodeImage": None}, op])


def test_build_accepts_paddleclas_argument_forms():
    """Values as PaddleClas configs write them pass the type checks."""
    pipeline = build_transforms([
        {"DecodeImage": {"to_rgb": True, "channel_first": False, "to_np": True,
                         "backend": "cv2"}},
        {"ResizeImage": {"resize_short": 20, "interpolation": "bilinear", "backend": "cv2"}},
        {"RandCropImage": {"size": [16, 12], "scale": [0.08, 1], "ratio": [0.75, 1.33],
                           "interpolation": None}},
        {"CropImage": {"size": [8, 8]}},
        {"ResizeImage": {"size": [8, 8]}},
        {"NormalizeImage": {"scale": 0.00392156862745098, "mean": [0.485, 0.456, 0.406],
                            "std": [0.229, 0.224, 0.225], "order": "hwc", "output_fp16": False,
                            "channel_num": 3}},
        {"ToCHWImage": {}},
    ])
    out = pipeline(encode(Image.fromarray(ramp(30, 40))))
    assert out.shape == (3, 8, 8) and out.dtype == np.float32


def test_build_bad_value_is_located():
    with pytest.raises(ConfigError, match=r"transform_ops\.1\.ResizeImage: size must be a positive integer, got -4"):
        build_transforms([{"DecodeImage": None}, {"ResizeImage": {"size": -4}}])


@pytest.mark.parametrize("entry", ["DecodeImage", {"DecodeImage": None, "ToCHWImage": None}, {}])
def test_build_entry_must_be_one_key_mapping(entry):
    with pytest.raises(ConfigError, match="exactly one key"):
        build_transforms([entry])


def test_build_arguments_must_be_a_mapping():
    with pytest.raises(ConfigError, match="must be a mapping"):
        build_transforms([{"DecodeImage": [True]}])


def test_build_list_required():
    with pytest.raises(ConfigError, match="list of one-key mappings"):
        build_transforms({"DecodeImage": None})


@pytest.mark.parametrize("ops, message", [
    ([{"ResizeImage": {"size": 8}}], "must start with DecodeImage"),
    ([{"DecodeImage": None}, {"ToCHWImage": None}, {"CropImage": {"size": 4}}],
     r"transform_ops\.2 \(CropImage\).*move ToCHWImage"),
    ([{"DecodeImage": {"channel_first": True}}, {"RandFlipImage": None}], "channel_first"),
    ([{"DecodeImage": None}, {"NormalizeImage": {"order": "chw"}}], "order"),
    ([{"DecodeImage": None}, {"DecodeImage": None}], "only once"),
])
def test_build_rejects_ops_whose_layouts_do_not_chain(ops, message):
    with pytest.raises(ConfigError, match=message):
        build_transforms(ops)


def test_rand_crop_log_aspect_is_seeded_and_within_bounds():
    op = RandCropImage(size=8, ratio=[0.5, 2.0], use_log_aspect=True)
    np.random.seed(3)
    first = [op._aspect_ratio() for _ in range(400)]
    np.random.seed(3)
    assert [op._aspect_ratio() for _ in range(400)] == first
    assert all(0.5 <= r <= 2.0 for r in first)
    # uniform in log space: as many ratios below 1 as above it (not so when uniform)
    below = sum(r < 1 for r in first)
    assert 150 < below < 250
    plain = RandCropImage(size=8, ratio=[0.5, 2.0])
    assert sum(plain._aspect_ratio() < 1 for _ in range(400)) < 200 - 50
    # and the crop itself is seeded
    image = np.random.default_rng(2).integers(0, 256, (30, 40, 3), dtype=np.uint8)
    np.random.seed(5)
    a = op(image)
    np.random.seed(5)
    np.testing.assert_array_equal(a, op(image))
    with pytest.raises(ConfigError, match="use_log_aspect"):
        RandCropImage(size=8, use_log_aspect="yes")


def test_rand_crop_random_interpolation_draws_bilinear_or_bicubic(monkeypatch):
    from paddle_googlenet import pixels

    used = []
    real_resize = pixels.resize

    def recording_resize(img, width, height, resample):
        used.append(resample)
        return real_resize(img, width, height, resample)

    monkeypatch.setattr(pixels, "resize", recording_resize)
    image = np.random.default_rng(4).integers(0, 256, (20, 20, 3), dtype=np.uint8)
    op = RandCropImage(size=8, interpolation="RANDOM")
    np.random.seed(11)
    outputs = [op(image) for _ in range(40)]
    first_used = list(used)
    assert {r.name for r in first_used} == {"bilinear", "bicubic"}
    used.clear()
    np.random.seed(11)  # numpy's RNG alone decides, so a seed repeats the choices
    for out in outputs:
        np.testing.assert_array_equal(out, op(image))
    assert used == first_used
    with pytest.raises(ConfigError, match="'random'"):
        RandCropImage(size=8, interpolation="sometimes")


def test_rand_crop_keeps_progress_sizes_and_crops_at_size():
    op = RandCropImage(size=12, progress_size=[8, 10, [12, 14]])
    assert op.progress_size == [(8, 8), (10, 10), (12, 14)]
    image = np.zeros((30, 30, 3), dtype=np.uint8)
    assert op(image).shape == (12, 12, 3)
    for bad in ([], "171", [0]):
        with pytest.raises(ConfigError):
            RandCropImage(size=12, progress_size=bad)
