"""ResizeImage's ``dct_scaling``: a large JPEG decoded at a fraction of its size.

Off, the list gives PaddleClas's pixels (tests/test_pipeline_parity.py); on, it gives
the same shapes, exactly the same pixels for files it leaves alone, and, for large
photographs, predictions that a trained classifier keeps.
"""

import io
import os

import cv2
import numpy as np
import paddle
import pytest
from PIL import Image

from paddle_googlenet import image_io, pixels
from paddle_googlenet.data import photographic_jpeg
from paddle_googlenet.data.transforms import build_transforms
from paddle_googlenet.errors import ConfigError, ImageDecodeError


def eval_list(dct_scaling, resize_short=256, crop=224, **decode):
    return build_transforms([
        {"DecodeImage": {"to_rgb": True, "channel_first": False, **decode}},
        {"ResizeImage": {"resize_short": resize_short, "dct_scaling": dct_scaling}},
        {"CropImage": {"size": crop}}])


def jpeg(img: np.ndarray, quality=90, **save) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(img).save(buffer, "JPEG", quality=quality, **save)
    return buffer.getvalue()


def test_the_scaled_decode_is_used_only_when_asked():
    assert type(eval_list(False).steps[0]) is pixels.DecodeImage
    assert type(eval_list(True).steps[0]) is pixels.DecodeScaledResize
    # Where it cannot apply, the list is refused rather than quietly decoded whole.
    for decode in ({"to_rgb": False}, {"backend": "pil"}):
        with pytest.raises(ConfigError, match=r"transform_ops.1 \(ResizeImage\): dct_scaling "
                                              r"works on a ResizeImage right after a DecodeImage"):
            eval_list(True, **decode)
    with pytest.raises(ConfigError, match="dct_scaling"):
        eval_list("yes")


@pytest.mark.parametrize("width,height,factor", [
    (500, 375, 1),     # ImageNet's size: less than twice 256, decoded whole
    (1024, 768, 2),    # 768 / 2 = 384 >= 256
    (2100, 1400, 4),   # 1400 / 4 = 350; / 8 = 175 < 256
    (768, 2304, 2),    # portrait
    (2304, 2048, 8)])  # 2048 / 8 = 256
def test_the_largest_factor_that_keeps_the_output_size_is_taken(width, height, factor):
    data = photographic_jpeg(width, height, np.random.default_rng(width))
    out = eval_list(True)(data)
    expected = eval_list(False)(data)
    assert out.shape == expected.shape == (224, 224, 3)
    reduced = cv2.imdecode(np.frombuffer(data, np.uint8), image_io._CV2_REDUCED[factor])
    short = pixels.short_side_size(width, height, 256)
    resized = cv2.cvtColor(cv2.resize(reduced, short, interpolation=cv2.INTER_LINEAR),
                           cv2.COLOR_BGR2RGB)
    np.testing.assert_array_equal(out, pixels.center_crop(resized, 224, 224))
    if factor == 1:
        np.testing.assert_array_equal(out, expected)
    else:  # smoother than cv2's shrink of the whole image, but the same picture
        difference = np.abs(out.astype(int) - expected)
        assert 0 < difference.mean() < 16


def test_files_it_does_not_scale_get_the_two_operators_pixels():
    rng = np.random.default_rng(1)
    img = np.asarray(Image.open(io.BytesIO(photographic_jpeg(1200, 900, rng))))
    rotated = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(img).save(rotated, "JPEG", quality=90, exif=exif)
    cmyk = io.BytesIO()
    Image.fromarray(img).convert("CMYK").save(cmyk, "JPEG", quality=90)
    png = io.BytesIO()
    Image.fromarray(img).save(png, "PNG")
    for data in (rotated.getvalue(), cmyk.getvalue(), png.getvalue()):
        np.testing.assert_array_equal(eval_list(True)(data), eval_list(False)(data))
    grey = jpeg(img[:, :, 0])  # grey JPEGs are scaled, as three equal channels
    out = eval_list(True)(grey)
    assert out.shape == (224, 224, 3) and (out[:, :, 0] == out[:, :, 2]).all()
    with pytest.raises(ImageDecodeError):
        eval_list(True)(jpeg(img)[:-5000])  # truncated: PIL says so, as without


# ------------------------------------------------------- the guard in evaluation

@pytest.fixture(scope="module")
def large_eval_data(tmp_path_factory):
    """6 classes of 160-pixel images: more than twice the default Eval list's
    resize_short (72), so that dct_scaling decodes them at half size."""
    from paddle_googlenet.data import make_demo_dataset

    root = tmp_path_factory.mktemp("large") / "set"
    make_demo_dataset(str(root), num_classes=6, train_per_class=1, eval_per_class=5,
                      image_size=160, seed=4)
    return str(root)


def evaluate(data, weights, out, dct_scaling, monkeypatch, needed):
    from paddle_googlenet.config import load_config
    from paddle_googlenet.engine import Engine, trainer
    from tiny import DEFAULT_CONFIG, tiny_overrides

    monkeypatch.setattr(trainer, "SCALED_DECODING_AGREEMENT", needed)
    engine = Engine(load_config(DEFAULT_CONFIG, tiny_overrides(data, out, **{
        "Global.pretrained_model": weights,
        "DataLoader.Eval.dataset.transform_ops.1.ResizeImage.dct_scaling": dct_scaling})))
    return engine, engine.evaluate()


def test_evaluation_checks_the_agreement_and_decodes_whole_below_it(
        large_eval_data, tiny_data, trained_run, tmp_path, monkeypatch, capsys):
    from paddle_googlenet.engine.evaluation import scaled_decoding_agreement

    weights = os.path.join(trained_run, "latest")
    out = str(tmp_path)
    _, whole = evaluate(large_eval_data, weights, out, False, monkeypatch, 0.995)
    engine, scaled = evaluate(large_eval_data, weights, out, True, monkeypatch, 0.0)
    assert "dct_scaling: the top-1 class is full decoding's for" in capsys.readouterr().out
    # On images too small to scale, the check says none was.
    tiny_engine, _ = evaluate(tiny_data, weights, out, True, monkeypatch, 0.995)
    tiny_check = scaled_decoding_agreement(tiny_engine.network, tiny_engine.eval_loader)
    assert tiny_check == (6, 6, 0)
    assert "DCT scaling changed the pixels of 0)" in capsys.readouterr().out
    assert scaled["images"] == whole["images"] == 30
    assert scaled["loss"] != whole["loss"]  # other pixels: DCT-scaled

    # The count, by hand: every evaluation image read both ways.
    dataset = engine.eval_loader.dataset
    lists = {True: dataset.transform, False: dataset.transform.full_decoding()}
    top1 = {}
    for scaled_list, pipeline in lists.items():
        dataset.transform = pipeline
        images = np.stack([dataset[i][0] for i in range(len(dataset))])
        with paddle.no_grad():
            engine.network.eval()
            top1[scaled_list] = engine.network(engine.eval_loader.normalize(images))[0] \
                .numpy().argmax(axis=1)
    dataset.transform = lists[True]
    agreeing = int((top1[True] == top1[False]).sum())
    check = scaled_decoding_agreement(engine.network, engine.eval_loader)
    assert (check.agreeing, check.checked, check.scaled) == (agreeing, 30, 30)  # all 160 px

    # Needing more than can agree: this evaluation decodes whole, and says so.
    capsys.readouterr()
    engine, refused = evaluate(large_eval_data, weights, out, True, monkeypatch, 1.01)
    printed = capsys.readouterr()
    assert "this evaluation decodes every image whole" in printed.out + printed.err
    assert f"for only {agreeing} of 30 evaluation images" in printed.out + printed.err
    assert refused == whole
    assert engine.eval_loader.dataset.transform.scales_decoding  # the next evaluation checks


def test_prediction_and_deployment_refuse_scaled_decoding():
    from paddle_googlenet.deploy.preprocess import Preprocess
    from paddle_googlenet.errors import DeployError

    ops = [{"DecodeImage": {"to_rgb": True, "channel_first": False}},
           {"ResizeImage": {"resize_short": 256, "dct_scaling": True}},
           {"CropImage": {"size": 224}}]
    with pytest.raises(DeployError, match="dct_scaling is for the DataLoader.Eval list"):
        Preprocess(ops)
    with pytest.raises(ConfigError, match="Infer.transforms: ResizeImage's dct_scaling"):
        build_transforms(ops, where="Infer.transforms").refuse_scaled_decoding()
