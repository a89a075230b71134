"""DecodeImage followed by RandCropImage runs as one step (DecodeRandCrop) that draws
the same regions and flips, decodes a JPEG only at the scale the crop needs, and gives
the two operators' pixels exactly where no DCT scaling applies."""

import io
import warnings

import cv2
import numpy as np
import pytest
from PIL import Image

from paddle_googlenet import image_io
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
    draw and every pixel is the separate operators'."""
    files = photographs([(500, 375), (375, 500)] * 10)
    fused, separate = run_both(TRAIN_OPS, files, seed=3)
    for (a, state_a), (b, state_b) in zip(fused, separate):
        np.testing.assert_array_equal(state_a, state_b)
        np.testing.assert_array_equal(a, b)


@pytest.mark.slow
def test_large_photographs_are_decoded_at_the_scale_the_crop_needs(monkeypatch):
    """A 1600x1200 photograph cropped to 64: DCT scaling by 2 to 8, never below the
    output size, and the same regions (same draws after every image). DCT scaling
    averages like a box filter, so the result is closer to the region's area average
    than the bilinear resize of the whole region (what cv2 and PaddleClas give, which
    skips most source pixels when shrinking that far) is."""
    reductions = []
    decode = image_io.decode_jpeg_bgr

    def recording_decode(data, reduction=1, **options):
        reductions.append(reduction)
        return decode(data, reduction, **options)

    monkeypatch.setattr(image_io, "decode_jpeg_bgr", recording_decode)
    files = photographs([(1600, 1200), (1200, 1600)] * 4, seed=1)
    ops = [DECODE, {"RandCropImage": {"size": 64, "scale": [0.3, 1.0]}}]
    fused, separate = run_both(ops, files, seed=5)
    fused_reductions = reductions[:len(files)]  # the separate operators decode at 1
    assert 8 in fused_reductions
    crop = build_transforms(ops).ops[1]
    np.random.seed(5)
    for data, reduction, (a, state_a), (b, state_b) in zip(files, fused_reductions, fused,
                                                           separate):
        np.testing.assert_array_equal(state_a, state_b)
        assert a.shape == b.shape == (64, 64, 3) and a.dtype == b.dtype == np.uint8
        whole = image_io.decode_rgb(data)
        left, top, width, height, _ = crop.sample(whole.shape[1], whole.shape[0])
        # the largest factor that keeps the region at least the output size
        assert min(width, height) >= 64 * reduction
        assert reduction == 8 or min(width, height) < 64 * reduction * 2
        area = cv2.resize(whole[top:top + height, left:left + width], (64, 64),
                          interpolation=cv2.INTER_AREA).astype(int)
        assert np.abs(a - area).mean() < 0.5 * np.abs(b - area).mean()


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


def test_a_jpeg_claiming_billions_of_pixels_is_refused_before_decoding():
    """OpenCV would allocate what the header claims; PIL's decompression-bomb limit is
    checked first, by DecodeImage and by the fused training step alike."""
    import struct
    import tracemalloc

    small = io.BytesIO()
    Image.new("RGB", (16, 16)).save(small, "JPEG")
    data = bytearray(small.getvalue())
    at = data.index(b"\xff\xc0")  # the frame header: precision, height, width
    data[at + 5:at + 9] = struct.pack(">HH", 60000, 60000)
    for ops in ([DECODE], TRAIN_OPS):
        compose = build_transforms(ops)
        tracemalloc.start()
        with pytest.raises(ImageDecodeError, match="decompression bomb"):
            compose(bytes(data))
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert peak < 8 << 20


def _jpeg_variants():
    """JPEGs PIL writes in the forms a dataset holds: colour, grey, CMYK, progressive,
    with and without EXIF orientation, big-endian EXIF, a comment and an ICC profile."""
    base = Image.open(io.BytesIO(photographs([(120, 90)], seed=5)[0]))
    variants = {"colour": (base, {}), "grey": (base.convert("L"), {}),
                "cmyk": (base.convert("CMYK"), {}), "progressive": (base, {"progressive": True}),
                "comment": (base, {"comment": b"x" * 300}),
                "icc": (base, {"icc_profile": bytes(range(256)) * 40})}
    for orientation in (1, 3, 6, 8):
        exif = Image.Exif()
        exif[0x0112] = orientation
        exif[0x010F] = "camera"
        variants[f"orientation {orientation}"] = (base, {"exif": exif})
    no_orientation = Image.Exif()
    no_orientation[0x0110] = "model"
    variants["EXIF without orientation"] = (base, {"exif": no_orientation})
    found = {}
    for name, (image, options) in variants.items():
        out = io.BytesIO()
        image.save(out, "JPEG", quality=85, **options)
        found[name] = out.getvalue()
    tiff = bytearray(b"MM\x00\x2a\x00\x00\x00\x08\x00\x01\x01\x12\x00\x03\x00\x00\x00\x01"
                     b"\x00\x06\x00\x00\x00\x00\x00\x00")
    colour = found["colour"]
    segment = b"Exif\x00\x00" + bytes(tiff)
    found["big-endian EXIF"] = (colour[:2] + b"\xff\xe1" + (len(segment) + 2).to_bytes(2, "big")
                                + segment + colour[2:])
    return found


@pytest.mark.parametrize("name,data", list(_jpeg_variants().items()))
def test_the_jpeg_header_reader_agrees_with_pil(name, data):
    header = image_io.jpeg_header(data)
    image = Image.open(io.BytesIO(data))
    components = {"L": 1, "RGB": 3, "CMYK": 4}[image.mode]
    assert header == (image.width, image.height, components, image.getexif().get(0x0112, 1))


def test_the_jpeg_header_reader_survives_any_damage():
    """Truncated, bit-flipped and spliced headers give None or a header, never an
    exception or a read beyond the data; where PIL reads the size, it is the same."""
    rng = np.random.default_rng(11)
    files = list(_jpeg_variants().values())
    checked = agreed = 0
    for _ in range(3000):
        data = bytearray(files[rng.integers(len(files))])
        cut = int(rng.integers(2, 700))
        kind = rng.integers(3)
        if kind == 0:
            data = data[:cut]
        elif kind == 1:
            for at in rng.integers(0, cut, 4):
                data[at] = int(rng.integers(256))
        else:
            data[cut:cut] = rng.integers(0, 256, int(rng.integers(1, 40)), dtype=np.uint8).tobytes()
        header = image_io.jpeg_header(bytes(data))
        checked += 1
        if header is None:
            continue
        assert header.width > 0 and header.height > 0
        try:
            with warnings.catch_warnings():  # PIL warns about what the damage broke
                warnings.simplefilter("ignore")
                size = Image.open(io.BytesIO(bytes(data))).size
        except Exception:
            continue
        agreed += size == (header.width, header.height)
        assert size == (header.width, header.height)
    assert checked == 3000 and agreed > 100
