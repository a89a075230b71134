"""Colour and geometry augmentation policies with PaddleClas's names and arguments.

``AutoAugment``, ``RandAugment`` (and its ``V2``/``V3`` variants) in ``paddleclas``,
``TimmAutoAugment`` in ``timm``, ``ColorJitter`` and ``PCALighting`` in ``colour``, on
what ``pil_ops`` shares, work on the ``uint8`` HWC
pixels that DecodeImage and the crops produce, so they come before NormalizeImage,
as in PaddleClas's configs::

    transform_ops:
      - DecodeImage: {to_rgb: True, channel_first: False}
      - RandCropImage: {size: 224, interpolation: bicubic, backend: pil}
      - RandFlipImage: {flip_code: 1}
      - TimmAutoAugment: {config_str: rand-m9-mstd0.5-inc1, interpolation: bicubic,
                          img_size: 224}
      - NormalizeImage: {scale: 1.0/255.0, mean: [...], std: [...], order: ''}
      - RandomErasing: {EPSILON: 0.25, sl: 0.02, sh: 1.0/3.0, r1: 0.3, attempt: 10,
                        use_log_aspect: True, mode: pixel}

The image operations are PIL's (``ImageOps``, ``ImageEnhance``, affine transforms),
as in PaddleClas, so for a given choice of operations and magnitudes the pixels are
PaddleClas's. What differs on purpose:

* Every random choice is drawn from numpy's global RNG, never from python's
  ``random`` (PaddleClas mixes both), so the loader's per-sample seeding makes a run
  reproducible; the same seed does not give PaddleClas's sequence of choices.
* Arguments are checked when the list is built: an unknown policy section, a
  magnitude out of range, a probability outside [0, 1], an interpolation PIL cannot
  use for affine transforms (PaddleClas would fail on the first image).
* Layouts are checked when the list is built (these ops take and return HWC), but
  the dtype only when the first image arrives: a float array (the op listed after
  NormalizeImage) is refused with a message saying where the op belongs.
* TimmAutoAugment: ``inc0`` means off (timm tests the text '0', which is true);
  'nearest' is nearest (PaddleClas maps it to bilinear); AutoAugment policies are
  named by their first section as in timm (``original-mstd0.5``; PaddleClas requires
  the prefix 'auto' and then finds no such policy); AugMix is not available.
* Pillow 10+ refuses to posterize to 0 bits; that case gives black, as older Pillow.
"""

from .colour import ColorJitter, PCALighting
from .paddleclas import AutoAugment, RandAugment, RandAugmentV2, RandAugmentV3
from .timm import TimmAutoAugment

__all__ = ["AutoAugment", "RandAugment", "RandAugmentV2", "RandAugmentV3", "TimmAutoAugment",
           "ColorJitter", "PCALighting"]
