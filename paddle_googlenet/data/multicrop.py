"""Multi-crop evaluation's reading side: one decode per image, every crop cut from it.

``CropPlan`` reads the evaluation list (``DecodeImage``, optionally ``ResizeImage``,
``CropImage``, then what follows, usually ``NormalizeImage``) for the crop size, the
resize and the interpolation, and lays out the crops of the asked protocols
(``crop_geometry``). ``MultiCropTransform`` is what a dataset reads an image's bytes
through instead of the list: it decodes once, resizes once per scale, and returns
the crops stacked, ``[crops, H, W, 3]`` ``uint8`` when the list ends in
NormalizeImage (``normalize_crops`` does that step on the batch's crops), else
each crop through the rest of the list, ``[crops, C, H, W]``.
``multi_crop_dataset`` gives a dataset's copy that reads so, for a loader whose
workers then share the decoding and cutting.
"""

import copy
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np

from ..errors import ConfigError
from ..pixels import (CHW, HWC, Compose, CropImage, DecodeImage, NormalizeImage,
                      ResizeImage, Resampler, ToCHWImage, model_input)
from ..pixels import normalize as normalize_values
from .crop_geometry import (CROP_COUNTS, Crop, paper_crops, paper_scales, single_crop,
                            ten_crops, union)

__all__ = ["CropPlan", "MultiCropTransform", "multi_crop_dataset", "check_crop_count",
           "normalize_crops", "CROP_COUNTS"]


def check_crop_count(value, where: str = "Eval.crops") -> int:
    """``value`` when it is one of the protocols' crop counts, else a ConfigError."""
    if isinstance(value, bool) or value not in CROP_COUNTS:
        raise ConfigError(f"{where}: {value!r} is not a crop count this evaluation has; "
                          f"valid: {', '.join(map(str, CROP_COUNTS))}")
    return value


class CropPlan:
    """The crops of protocols ``counts`` (each of 1, 10, 144) for images read
    through the evaluation list ``pipeline`` (a Compose from bytes).

    ``crops(width, height)`` lays out every distinct crop of the protocols for an
    image of that decoded size, ``chosen[count]`` are the positions of a protocol's
    crops among them (the same for every image), ``forward_passes`` how many crops
    an image gives. ResizeImage's ``dct_scaling`` is not taken: the paper's larger
    scales need the whole decoded image.
    """

    def __init__(self, pipeline: Compose, counts: Sequence[int], where: str = "DataLoader.Eval"):
        self.where = f"{where}.dataset.transform_ops"
        self.counts = tuple(check_crop_count(c) for c in counts)
        ops = list(pipeline.ops)
        if not ops or not isinstance(ops[0], DecodeImage) or ops[0].channel_first:
            raise ConfigError(f"{self.where}: multi-crop evaluation needs the list to start "
                              f"with DecodeImage (channel_first false)")
        self.decode: DecodeImage = ops.pop(0)
        self.resize: Optional[ResizeImage] = ops.pop(0) if ops and isinstance(
            ops[0], ResizeImage) else None
        if not ops or not isinstance(ops[0], CropImage):
            raise ConfigError(f"{self.where}: multi-crop evaluation takes its crop size from "
                              f"a CropImage after DecodeImage (and ResizeImage, if any); "
                              f"the list has {pipeline!r}")
        width, height = ops.pop(0).size
        if width != height:
            raise ConfigError(f"{self.where}: CropImage size {width}x{height}: multi-crop "
                              f"evaluation cuts square crops; give one side")
        self.side = width
        self.resampler = self.resize.resampler if self.resize else Resampler()
        self.normalize, self.rest = _split_normalize(ops)
        resize_short = getattr(self.resize, "resize_short", None)
        if resize_short is not None and resize_short < self.side:
            raise ConfigError(f"{self.where}: ResizeImage resize_short {resize_short} is "
                              f"smaller than the CropImage size {self.side}")
        self.scales = paper_scales(self.side)
        # The positions depend on the crops' keys alone: any size every protocol fits.
        probe, self.chosen = union(self.protocols(self.side * 4, self.side * 3))
        self.forward_passes = len(probe)

    def protocols(self, width: int, height: int) -> Dict[int, List[Crop]]:
        size = (self.side, self.side)
        resize = self.resize.output_size if self.resize else None
        layouts = {1: lambda: single_crop(width, height, size, resize),
                   10: lambda: ten_crops(width, height, size, resize),
                   144: lambda: paper_crops(width, height, self.side, self.scales)}
        return {count: layouts[count]() for count in self.counts}

    def crops(self, width: int, height: int) -> List[Crop]:
        return union(self.protocols(width, height))[0]

    def describe(self) -> str:
        """The crop size, the resizes of the plan's protocols and the interpolation."""
        resize = (f"resize_short {self.resize.resize_short}" if getattr(
            self.resize, "resize_short", None) else "no resize")
        listed = " and ".join(str(c) for c in self.counts if c != 144)
        parts = [f"{resize} for {listed} crop{'s' if listed != '1' else ''}"] if listed else []
        if 144 in self.counts:
            parts.append(f"shorter sides {', '.join(map(str, self.scales))} for 144")
        return (f"{self.side}-pixel crops ({', '.join(parts)}), {self.resampler.name} "
                f"interpolation")


def _split_normalize(ops: list) -> Tuple[Optional[NormalizeImage], Compose]:
    """The list's final float32 3-channel NormalizeImage (a ToCHWImage may follow),
    run on whole batches, and the operators between the crop and it."""
    tail = list(ops)
    if tail and isinstance(tail[-1], ToCHWImage):
        tail.pop()
    last = tail[-1] if tail else None
    if (isinstance(last, NormalizeImage) and last.input_layout == HWC
            and last.dtype == np.float32 and last.channel_num == 3):
        return tail.pop(), Compose(tail, input_layout=HWC)
    return None, Compose(ops, input_layout=HWC)


class MultiCropTransform:
    """Image bytes -> the plan's crops of it, stacked (see the module's docstring)."""

    input_layout = "bytes"

    def __init__(self, plan: CropPlan):
        self.plan = plan
        self.output_layout = HWC if plan.normalize is not None else CHW

    def __call__(self, data: bytes) -> np.ndarray:
        image = self.plan.decode(data)
        height, width = image.shape[:2]
        resized = {None: image}
        crops = self.plan.crops(width, height)
        out = None
        for position, crop in enumerate(crops):
            if crop.resized not in resized:
                resized[crop.resized] = self.plan.resampler(image, *crop.resized)
            left, top, w, h = crop.box
            cut = resized[crop.resized][top:top + h, left:left + w]
            if (w, h) != (self.plan.side, self.plan.side):
                cut = self.plan.resampler(cut, self.plan.side, self.plan.side)
            if crop.mirror:
                cut = cut[:, ::-1]
            cut = self._finish(cut)
            if out is None:  # each crop is copied once, into its place
                out = np.empty((len(crops), *cut.shape), cut.dtype)
            out[position] = cut
        return out

    def _finish(self, cut: np.ndarray) -> np.ndarray:
        if self.plan.rest.ops:
            cut = self.plan.rest(np.ascontiguousarray(cut))
        if self.plan.normalize is not None:
            return cut
        return model_input(cut, self.plan.rest.output_layout)


def normalize_crops(crops: np.ndarray, normalize: NormalizeImage) -> np.ndarray:
    """``[N, H, W, 3]`` ``uint8`` crops -> ``[N, 3, H, W]`` float32, each value looked up
    in ``normalize``'s table (the numbers NormalizeImage gives). One crop at a time,
    each channel straight into its plane: on 144 crops of 224 about twice as fast as
    one lookup over the whole batch, whose planes outgrow the caches."""
    if crops.dtype != np.uint8:  # a list whose operators after the crop make floats
        values = normalize_values(crops, normalize.scale, normalize.mean, normalize.std)
        return np.ascontiguousarray(values.transpose(0, 3, 1, 2))
    out = np.empty((crops.shape[0], 3, *crops.shape[1:3]), np.float32)
    for crop, planes in zip(crops, out):
        for channel, plane in enumerate(cv2.split(crop)):
            cv2.LUT(plane, normalize.table[:, channel], dst=planes[channel])
    return out


def multi_crop_dataset(dataset, plan: CropPlan):
    """A shallow copy of ``dataset`` (an ImageNetDataset or ImageFolderDataset) that
    reads each sample through ``MultiCropTransform(plan)``: ``[crops, ...]`` arrays,
    left as they are (``item_layout``). The copy shares the list and the marks of
    unreadable images with the original."""
    crops = copy.copy(dataset)
    crops.transform = MultiCropTransform(plan)
    crops.item_layout = crops.transform.output_layout
    return crops

