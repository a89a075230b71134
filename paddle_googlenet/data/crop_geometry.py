"""Where the crops of multi-crop evaluation lie in an image: pure geometry, no pixels.

Three protocols, named by their crop count (``Eval.crops``):

* **1**: the evaluation list's own crop (resize, then the centre crop).
* **10**: resized as the list resizes (``resize_short`` 256 for 224 crops), the four
  corners and the centre at the crop size, and the mirror of each (AlexNet's).
* **144**: the GoogLeNet paper's (Szegedy et al. 2014, section 7): the shorter side
  resized to 256, 288, 320 and 352; the left, centre and right squares (top,
  centre and bottom of a portrait image); from each square the four corners and the
  centre at 224 and the square itself resized to 224; and the mirror of each:
  4 x 3 x 6 x 2 = 144. For another crop size the four scales keep their ratio to
  224 (``paper_scales``).

Each crop is a ``Crop``: the size the decoded image is resized to, a box in the
resized image, and whether the cut is mirrored; the box is resized to the crop
size when it is larger (only the paper's whole squares are). A crop also has a
``key`` that says what it is independently of the image, so that protocols that
share a crop (the 1-crop is the 10-crop's unmirrored centre) cut it once.
"""

from typing import Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple

from ..errors import DataError
from ..pixels import short_side_size

__all__ = ["Crop", "CROP_COUNTS", "PAPER_CROP", "PAPER_SCALES", "TEN_CROP_SHORT",
           "paper_scales", "single_crop", "ten_crops", "paper_crops", "centre_box",
           "corner_boxes", "squares", "union"]

CROP_COUNTS = (1, 10, 144)
PAPER_CROP = 224
PAPER_SCALES = (256, 288, 320, 352)  # the shorter side, for 224-pixel crops
TEN_CROP_SHORT = 256                 # 10-crop's shorter side for 224-pixel crops

Size = Tuple[int, int]               # (width, height)
Box = Tuple[int, int, int, int]      # (left, top, width, height)


class Crop(NamedTuple):
    key: tuple                 # what the crop is, the same for every image
    resized: Optional[Size]    # the decoded image is resized to this first (None: kept)
    box: Box                   # cut from the resized image
    mirror: bool               # flipped left to right after the cut


def paper_scales(crop: int) -> Tuple[int, ...]:
    """The paper's four shorter sides for crops of ``crop`` pixels (256..352 at 224)."""
    return tuple(round(crop * scale / PAPER_CROP) for scale in PAPER_SCALES)


def centre_box(width: int, height: int, crop: Size) -> Box:
    """The centred ``crop`` in a ``width`` x ``height`` image, placed as CropImage
    places it (the odd pixel left over goes to the right and bottom)."""
    return ((width - crop[0]) // 2, (height - crop[1]) // 2, *crop)


def corner_boxes(width: int, height: int, crop: Size) -> List[Box]:
    """Top-left, top-right, bottom-left, bottom-right ``crop`` of the image."""
    right, bottom = width - crop[0], height - crop[1]
    return [(0, 0, *crop), (right, 0, *crop), (0, bottom, *crop), (right, bottom, *crop)]


def _with_mirrors(crops: List[Crop]) -> List[Crop]:
    return crops + [c._replace(key=c.key + ("mirror",), mirror=True) for c in crops]


def _fits(size: Size, crop: Size, what: str) -> None:
    if size[0] < crop[0] or size[1] < crop[1]:
        raise DataError(f"{what} is {size[0]}x{size[1]}, smaller than the "
                         f"{crop[0]}x{crop[1]} crop")


def single_crop(width: int, height: int, crop: Size,
                resize: Optional[Callable[[int, int], Size]] = None) -> List[Crop]:
    """The evaluation list's one crop: the image resized by ``resize(width, height)``
    (ResizeImage.output_size; None keeps it), then its centre ``crop``."""
    size = resize(width, height) if resize else (width, height)
    _fits(size, crop, "the resized image")
    return [Crop(("list", "centre"), size if resize else None,
                 centre_box(*size, crop), False)]


def ten_crops(width: int, height: int, crop: Size,
              resize: Optional[Callable[[int, int], Size]] = None) -> List[Crop]:
    """The image resized by ``resize`` (by default the shorter side to 256/224 of the
    crop), its four corners and centre, and their mirrors. The unmirrored centre is
    ``single_crop`` with the same ``resize``, and has its key."""
    if resize is None:
        short = round(max(crop) * TEN_CROP_SHORT / PAPER_CROP)
        size, key = short_side_size(width, height, short), ("short", short)
    else:
        size, key = resize(width, height), "list"
    _fits(size, crop, "the resized image")
    corners = [Crop((key, "corner", i), size, box, False)
               for i, box in enumerate(corner_boxes(*size, crop))]
    centre = Crop((key, "centre"), size, centre_box(*size, crop), False)
    return _with_mirrors(corners + [centre])


def squares(width: int, height: int) -> List[Box]:
    """The left, centre and right squares of a landscape image (top, centre, bottom
    of a portrait one; three times the image itself when it is square)."""
    side = min(width, height)
    along = [0, (max(width, height) - side) // 2, max(width, height) - side]
    if width >= height:
        return [(offset, 0, side, side) for offset in along]
    return [(0, offset, side, side) for offset in along]


def paper_crops(width: int, height: int, crop: int = PAPER_CROP,
                scales: Optional[Sequence[int]] = None) -> List[Crop]:
    """The paper's 144 crops of a ``width`` x ``height`` image, for ``crop``-pixel
    inputs: per scale (``paper_scales(crop)`` by default) and square, four corners,
    centre and the whole square; then the mirror of each."""
    crops = []
    size = (crop, crop)
    for short in scales or paper_scales(crop):
        resized = short_side_size(width, height, short)
        _fits(resized, size, f"the image resized to a shorter side of {short}")
        for s, (left, top, side, _) in enumerate(squares(*resized)):
            key = ("short", short, "square", s)
            inside = corner_boxes(side, side, size) + [centre_box(side, side, size)]
            for i, (x, y, w, h) in enumerate(inside):
                crops.append(Crop(key + (i,), resized, (left + x, top + y, w, h), False))
            crops.append(Crop(key + ("whole",), resized, (left, top, side, side), False))
    return _with_mirrors(crops)


def union(protocols: Dict[int, List[Crop]]) -> Tuple[List[Crop], Dict[int, List[int]]]:
    """Every distinct crop of the protocols (by key, in first-seen order) and, for
    each protocol, the positions of its crops in that list."""
    crops, position, chosen = [], {}, {}
    for count, taken in protocols.items():
        chosen[count] = []
        for one in taken:
            if one.key not in position:
                position[one.key] = len(crops)
                crops.append(one)
            chosen[count].append(position[one.key])
    return crops, chosen
