"""timm's RandAugment and AutoAugment policies, named by ``config_str`` as in
PaddleClas's ``TimmAutoAugment``."""

import re
from typing import Any, Callable, Dict, List, Optional, Union

import numpy as np
from PIL import Image, ImageOps

from ...errors import ConfigError
from ...validators import closest, count, is_number, number, probability
from ..transforms import TRANSFORMS
from .pil_ops import (BICUBIC, BILINEAR, MAX_LEVEL, PilOp, affine_resample, brightness_op,
                      color_op, contrast_op, posterize, rotate, sharpness_op, shear_x, shear_y,
                      solarize_add, translate_x, translate_y)

__all__ = ["TimmAutoAugment"]


# ------------------------------------------------------------- timm's augmentations

def _randomly_negate(value: float) -> float:
    return -value if np.random.random_sample() > 0.5 else value


# Magnitude (0..10) -> the operation's argument, as in timm.
def _enhance(m, _):
    return m / MAX_LEVEL * 1.8 + 0.1


def _enhance_increasing(m, _):
    return 1.0 + _randomly_negate(m / MAX_LEVEL * 0.9)


def _posterize_bits(m, _):
    return int(m / MAX_LEVEL * 4)


def _solarize_threshold(m, _):
    return int(m / MAX_LEVEL * 256)


_TIMM_LEVELS = {
    "AutoContrast": None, "Equalize": None, "Invert": None,
    "Rotate": lambda m, _: _randomly_negate(m / MAX_LEVEL * 30.0),
    "Posterize": _posterize_bits,
    "PosterizeIncreasing": lambda m, h: 4 - _posterize_bits(m, h),
    "PosterizeOriginal": lambda m, h: _posterize_bits(m, h) + 4,
    "Solarize": _solarize_threshold,
    "SolarizeIncreasing": lambda m, h: 256 - _solarize_threshold(m, h),
    "SolarizeAdd": lambda m, _: int(m / MAX_LEVEL * 110),
    "Color": _enhance, "ColorIncreasing": _enhance_increasing,
    "Contrast": _enhance, "ContrastIncreasing": _enhance_increasing,
    "Brightness": _enhance, "BrightnessIncreasing": _enhance_increasing,
    "Sharpness": _enhance, "SharpnessIncreasing": _enhance_increasing,
    "ShearX": lambda m, _: _randomly_negate(m / MAX_LEVEL * 0.3),
    "ShearY": lambda m, _: _randomly_negate(m / MAX_LEVEL * 0.3),
    "TranslateX": lambda m, h: _randomly_negate(m / MAX_LEVEL * h["translate_const"]),
    "TranslateY": lambda m, h: _randomly_negate(m / MAX_LEVEL * h["translate_const"]),
    "TranslateXRel": lambda m, h: _randomly_negate(m / MAX_LEVEL * h["translate_pct"]),
    "TranslateYRel": lambda m, h: _randomly_negate(m / MAX_LEVEL * h["translate_pct"]),
}

# Operations that move pixels take the resampling filter and the fill colour.
_TIMM_GEOMETRY = {
    "Rotate": rotate, "ShearX": shear_x, "ShearY": shear_y,
    "TranslateX": translate_x, "TranslateY": translate_y,
    "TranslateXRel": lambda img, pct, resample, fill: translate_x(img, pct * img.size[0],
                                                                  resample, fill),
    "TranslateYRel": lambda img, pct, resample, fill: translate_y(img, pct * img.size[1],
                                                                  resample, fill),
}
_TIMM_PIXELS = {
    "AutoContrast": lambda img, _: ImageOps.autocontrast(img),
    "Equalize": lambda img, _: ImageOps.equalize(img),
    "Invert": lambda img, _: ImageOps.invert(img),
    "Posterize": posterize, "PosterizeIncreasing": posterize, "PosterizeOriginal": posterize,
    "Solarize": ImageOps.solarize, "SolarizeIncreasing": ImageOps.solarize,
    "SolarizeAdd": solarize_add,
    "Color": color_op, "ColorIncreasing": color_op, "Contrast": contrast_op,
    "ContrastIncreasing": contrast_op, "Brightness": brightness_op,
    "BrightnessIncreasing": brightness_op, "Sharpness": sharpness_op,
    "SharpnessIncreasing": sharpness_op,
}

_RAND_OPS = ["AutoContrast", "Equalize", "Invert", "Rotate", "Posterize", "Solarize",
             "SolarizeAdd", "Color", "Contrast", "Brightness", "Sharpness", "ShearX", "ShearY",
             "TranslateXRel", "TranslateYRel"]
_RAND_INCREASING_OPS = ["AutoContrast", "Equalize", "Invert", "Rotate", "PosterizeIncreasing",
                        "SolarizeIncreasing", "SolarizeAdd", "ColorIncreasing",
                        "ContrastIncreasing", "BrightnessIncreasing", "SharpnessIncreasing",
                        "ShearX", "ShearY", "TranslateXRel", "TranslateYRel"]
# timm's weight set 0 for 'w0' (in _RAND_OPS order; the increasing variants share them).
_RAND_WEIGHTS = [0.025, 0.005, 0, 0.3, 0, 0.005, 0.005, 0.025, 0.005, 0.005, 0.025, 0.2, 0.2,
                 0.1, 0.1]

# timm's AutoAugment policies: v0 (TPU EfficientNet) and original (the paper); the 'r'
# variants use the posterize whose severity increases with magnitude.
_AUTO_V0 = [
    (("Equalize", 0.8, 1), ("ShearY", 0.8, 4)), (("Color", 0.4, 9), ("Equalize", 0.6, 3)),
    (("Color", 0.4, 1), ("Rotate", 0.6, 8)), (("Solarize", 0.8, 3), ("Equalize", 0.4, 7)),
    (("Solarize", 0.4, 2), ("Solarize", 0.6, 2)), (("Color", 0.2, 0), ("Equalize", 0.8, 8)),
    (("Equalize", 0.4, 8), ("SolarizeAdd", 0.8, 3)), (("ShearX", 0.2, 9), ("Rotate", 0.6, 8)),
    (("Color", 0.6, 1), ("Equalize", 1.0, 2)), (("Invert", 0.4, 9), ("Rotate", 0.6, 0)),
    (("Equalize", 1.0, 9), ("ShearY", 0.6, 3)), (("Color", 0.4, 7), ("Equalize", 0.6, 0)),
    (("Posterize", 0.4, 6), ("AutoContrast", 0.4, 7)), (("Solarize", 0.6, 8), ("Color", 0.6, 9)),
    (("Solarize", 0.2, 4), ("Rotate", 0.8, 9)), (("Rotate", 1.0, 7), ("TranslateYRel", 0.8, 9)),
    (("ShearX", 0.0, 0), ("Solarize", 0.8, 4)), (("ShearY", 0.8, 0), ("Color", 0.6, 4)),
    (("Color", 1.0, 0), ("Rotate", 0.6, 2)), (("Equalize", 0.8, 4), ("Equalize", 0.0, 8)),
    (("Equalize", 1.0, 4), ("AutoContrast", 0.6, 2)), (("ShearY", 0.4, 7), ("SolarizeAdd", 0.6, 7)),
    (("Posterize", 0.8, 2), ("Solarize", 0.6, 10)), (("Solarize", 0.6, 8), ("Equalize", 0.6, 1)),
    (("Color", 0.8, 6), ("Rotate", 0.4, 5)),
]
_AUTO_ORIGINAL = [
    (("PosterizeOriginal", 0.4, 8), ("Rotate", 0.6, 9)),
    (("Solarize", 0.6, 5), ("AutoContrast", 0.6, 5)), (("Equalize", 0.8, 8), ("Equalize", 0.6, 3)),
    (("PosterizeOriginal", 0.6, 7), ("PosterizeOriginal", 0.6, 6)),
    (("Equalize", 0.4, 7), ("Solarize", 0.2, 4)), (("Equalize", 0.4, 4), ("Rotate", 0.8, 8)),
    (("Solarize", 0.6, 3), ("Equalize", 0.6, 7)),
    (("PosterizeOriginal", 0.8, 5), ("Equalize", 1.0, 2)),
    (("Rotate", 0.2, 3), ("Solarize", 0.6, 8)),
    (("Equalize", 0.6, 8), ("PosterizeOriginal", 0.4, 6)),
    (("Rotate", 0.8, 8), ("Color", 0.4, 0)), (("Rotate", 0.4, 9), ("Equalize", 0.6, 2)),
    (("Equalize", 0.0, 7), ("Equalize", 0.8, 8)), (("Invert", 0.6, 4), ("Equalize", 1.0, 8)),
    (("Color", 0.6, 4), ("Contrast", 1.0, 8)), (("Rotate", 0.8, 8), ("Color", 1.0, 2)),
    (("Color", 0.8, 8), ("Solarize", 0.8, 7)), (("Sharpness", 0.4, 7), ("Invert", 0.6, 8)),
    (("ShearX", 0.6, 5), ("Equalize", 1.0, 9)), (("Color", 0.4, 0), ("Equalize", 0.6, 3)),
    (("Equalize", 0.4, 7), ("Solarize", 0.2, 4)), (("Solarize", 0.6, 5), ("AutoContrast", 0.6, 5)),
    (("Invert", 0.6, 4), ("Equalize", 1.0, 8)), (("Color", 0.6, 4), ("Contrast", 1.0, 8)),
    (("Equalize", 0.8, 8), ("Equalize", 0.6, 3)),
]


def _increasing_posterize(policy):
    rename = {"Posterize": "PosterizeIncreasing", "PosterizeOriginal": "PosterizeIncreasing"}
    return [tuple((rename.get(name, name), p, m) for name, p, m in pair) for pair in policy]


_AUTO_POLICIES = {"v0": _AUTO_V0, "v0r": _increasing_posterize(_AUTO_V0),
                  "original": _AUTO_ORIGINAL, "originalr": _increasing_posterize(_AUTO_ORIGINAL)}


class _TimmOp:
    """One of timm's operations at a magnitude, applied with a probability; the
    magnitude gets Gaussian noise of ``magnitude_std`` and is clipped to [0, 10]."""

    def __init__(self, name: str, prob: float, magnitude: float, hparams: Dict[str, Any]):
        self.name, self.prob, self.magnitude = name, prob, magnitude
        self.hparams = hparams
        self.level = _TIMM_LEVELS[name]

    def __call__(self, img: Image.Image) -> Image.Image:
        if self.prob < 1.0 and np.random.random_sample() > self.prob:
            return img
        magnitude = self.magnitude
        if self.hparams["magnitude_std"] > 0:
            magnitude = np.random.normal(magnitude, self.hparams["magnitude_std"])
        magnitude = min(MAX_LEVEL, max(0.0, magnitude))
        arg = self.level(magnitude, self.hparams) if self.level else None
        if self.name in _TIMM_GEOMETRY:
            resample = self.hparams["resample"]
            if resample is None:  # 'random': bilinear or bicubic, per operation
                resample = BILINEAR if np.random.randint(2) == 0 else BICUBIC
            return _TIMM_GEOMETRY[self.name](img, arg, resample, self.hparams["fill"])
        return _TIMM_PIXELS[self.name](img, arg)


def _config_sections(config_str: str, known: Dict[str, Callable], kind: str) -> Dict[str, Any]:
    """Parse ``key<number>`` sections such as 'm9', 'mstd0.5', 'inc1'."""
    values = {}
    for section in config_str.split("-")[1:]:
        match = re.fullmatch(r"([a-z]+)(\d.*)", section)
        if not match or match.group(1) not in known:
            raise ConfigError(f"config_str {config_str!r}: unknown {kind} section {section!r}; "
                              f"sections are {', '.join(k + '<number>' for k in known)}")
        key, text = match.groups()
        try:
            values[key] = known[key](text)
        except ValueError:
            kind_of_number = "a whole number" if known[key] is int else "a number"
            raise ConfigError(f"config_str {config_str!r}: section {section!r} needs "
                              f"{kind_of_number} after {key!r}") from None
    return values


@TRANSFORMS.register
class TimmAutoAugment(PilOp):
    """timm's RandAugment or AutoAugment, chosen and configured by ``config_str``.

    ``config_str`` is a dash-separated list whose first section is the method:

    * ``rand``: RandAugment. Sections: ``m<number>`` magnitude, 0..10 after noise
      (larger values are clipped to 10 per operation, as timm does; default 10),
      ``n<int>`` operations per image (default 2), ``mstd<float>`` standard deviation
      of Gaussian noise added to the magnitude per operation, ``inc<0|1>`` use the
      operations whose severity increases with magnitude, ``w0`` draw operations with
      timm's weights (without repetition). Each drawn operation is applied with
      probability 0.5. E.g. ``rand-m9-mstd0.5-inc1``.
    * ``v0``, ``v0r``, ``original``, ``originalr``: AutoAugment with timm's policy of
      that name; section ``mstd<float>``. E.g. ``original-mstd0.5``.

    Args:
        config_str: as above.
        interpolation: filter for rotations, shears and translations: 'bicubic'
            (default), 'bilinear', 'nearest', or 'random' (bilinear or bicubic, drawn
            per operation).
        img_size: training image size, an int or ``[w, h]``; absolute translations are
            up to 45% of its shorter side.
        mean: fill colour of uncovered areas, as fractions of 255 per channel.
        prob: probability of augmenting an image at all.
    """

    def __init__(self, config_str: Optional[str] = "rand-m9-mstd0.5-inc1",
                 interpolation: Optional[str] = "bicubic",
                 img_size: Union[int, List[int]] = 224,
                 mean: List[float] = (0.485, 0.456, 0.406), prob: float = 1.0):
        self.prob = probability(prob, "prob")
        sides = img_size if isinstance(img_size, (list, tuple)) else [img_size]
        if not sides or len(sides) > 2:
            raise ConfigError(f"img_size must be an integer or [w, h], got {img_size!r}")
        short_side = min(count(side, "img_size") for side in sides)
        if (not isinstance(mean, (list, tuple)) or len(mean) != 3
                or not all(is_number(v) and 0 <= v <= 1 for v in mean)):
            raise ConfigError(f"mean must be three fractions of 255 in [0, 1] (the fill "
                              f"colour), got {mean!r}")
        hparams = {"translate_const": int(short_side * 0.45), "translate_pct": 0.45,
                   "fill": tuple(min(255, round(255 * v)) for v in mean),
                   "resample": affine_resample("random" if interpolation is None
                                               else interpolation, allow_random=True),
                   "magnitude_std": 0.0}
        if not isinstance(config_str, str) or not config_str:
            raise ConfigError(f"config_str must be text such as 'rand-m9-mstd0.5-inc1' or "
                              f"'original-mstd0.5', got {config_str!r}")
        method = config_str.split("-")[0]
        self.choice_weights = None
        if method == "rand":
            sections = _config_sections(config_str, {"m": float, "n": int, "mstd": float,
                                                     "inc": int, "w": int}, "RandAugment")
            # Above 10 is allowed, and clipped per operation as timm does (PPHGNet_base
            # uses m15: the noise of mstd then only weakens it).
            magnitude = number(sections.get("m", MAX_LEVEL), "config_str magnitude m", 0)
            self.num_layers = count(sections.get("n", 2), "config_str layers n")
            names = _RAND_INCREASING_OPS if sections.get("inc", 0) else _RAND_OPS
            if "w" in sections:
                if sections["w"] != 0:
                    raise ConfigError(f"config_str {config_str!r}: only weight set w0 exists")
                self.choice_weights = np.asarray(_RAND_WEIGHTS) / np.sum(_RAND_WEIGHTS)
                if self.num_layers > np.count_nonzero(self.choice_weights):
                    raise ConfigError(f"config_str {config_str!r}: w0 draws without repetition"
                                      f" from {np.count_nonzero(self.choice_weights)} "
                                      f"operations; n is larger")
            hparams["magnitude_std"] = number(sections.get("mstd", 0), "config_str mstd", 0)
            self.ops = [_TimmOp(name, 0.5, magnitude, hparams) for name in names]
            self.policy = None
        elif method in _AUTO_POLICIES:
            sections = _config_sections(config_str, {"mstd": float}, "AutoAugment")
            hparams["magnitude_std"] = number(sections.get("mstd", 0), "config_str mstd", 0)
            self.policy = [[_TimmOp(name, p, m, hparams) for name, p, m in pair]
                           for pair in _AUTO_POLICIES[method]]
        else:
            valid = ["rand"] + list(_AUTO_POLICIES)
            raise ConfigError(f"config_str {config_str!r} starts with an unknown method "
                              f"{method!r}{closest(method, valid)}; valid: {', '.join(valid)} "
                              f"(augmix is not available)")

    def apply(self, img: Image.Image) -> Image.Image:
        if self.prob < 1.0 and np.random.random_sample() >= self.prob:
            return img
        if self.policy is not None:
            ops = self.policy[np.random.randint(len(self.policy))]
        else:
            picks = np.random.choice(len(self.ops), self.num_layers,
                                     replace=self.choice_weights is None, p=self.choice_weights)
            ops = [self.ops[i] for i in picks]
        for op in ops:
            img = op(img)
        return img


