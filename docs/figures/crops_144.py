"""Draw docs/figures/crops_144.png: the paper's 144 crops of one photograph, as the
package cuts them (data/crop_geometry.py, data/multicrop.py).

    python docs/figures/crops_144.py [PHOTOGRAPH]     # default: a drawn 500x375 scene

Top: the photograph resized to each of the four shorter sides, with the left, centre
and right squares and, in the first square, its four corner and centre crops. Below:
the 144 crops in the order evaluation stacks them, a row per scale and square (four
corners, centre, the whole square resized; then the same six mirrored).
"""

import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(os.path.dirname(HERE)))

from paddle_googlenet.data.multicrop import CropPlan, MultiCropTransform  # noqa: E402
from paddle_googlenet.data.transforms import build_transforms  # noqa: E402

EVAL_LIST = [{"DecodeImage": {"to_rgb": True, "channel_first": False}},
             {"ResizeImage": {"resize_short": 256}}, {"CropImage": {"size": 224}},
             {"NormalizeImage": {"order": ""}}]
SQUARE_COLOURS = ("tab:red", "tab:green", "tab:blue")


def draw(data: bytes, path: str):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    plan = CropPlan(build_transforms(EVAL_LIST), (144,))
    stack = MultiCropTransform(plan)(data)
    image = plan.decode(data)
    height, width = image.shape[:2]
    crops = plan.crops(width, height)
    fig = plt.figure(figsize=(18, 22))
    grid = fig.add_gridspec(2, 1, height_ratios=[3.4, 18], hspace=0.06)
    top = grid[0].subgridspec(1, 4, wspace=0.05)
    for i, short in enumerate(plan.scales):
        ax = fig.add_subplot(top[i])
        at_scale = [c for c in crops if min(c.resized) == short and not c.mirror]
        size = at_scale[0].resized
        ax.imshow(plan.resampler(image, *size))
        for s, colour in enumerate(SQUARE_COLOURS):
            left, top_, side, _ = at_scale[6 * s + 5].box
            ax.add_patch(Rectangle((left, top_), side, side, fill=False, color=colour, lw=2))
        for crop in at_scale[:5]:
            x, y, w, h = crop.box
            ax.add_patch(Rectangle((x, y), w, h, fill=False, color="white", lw=1,
                                   linestyle="--"))
        ax.set_title(f"shorter side {short}: {size[0]}x{size[1]}")
        ax.axis("off")
    cells = grid[1].subgridspec(12, 12, wspace=0.04, hspace=0.04)
    unmirrored = [i for i, c in enumerate(crops) if not c.mirror]
    mirrored = [i for i, c in enumerate(crops) if c.mirror]
    labels = ("top-left", "top-right", "bottom-left", "bottom-right", "centre", "square")
    for row in range(12):  # scale x square
        order = unmirrored[6 * row:6 * row + 6] + mirrored[6 * row:6 * row + 6]
        for column, index in enumerate(order):
            ax = fig.add_subplot(cells[row, column])
            ax.imshow(stack[index])
            ax.set_xticks([]), ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_color(SQUARE_COLOURS[row % 3])
                spine.set_linewidth(2)
            if row == 0:
                ax.set_title(("mirror " if column >= 6 else "") + labels[column % 6],
                             fontsize=8)
            if column == 0:
                ax.set_ylabel(f"{plan.scales[row // 3]}, {('left', 'centre', 'right')[row % 3]}",
                              fontsize=8)
    fig.suptitle(f"The 144 crops of a {width}x{height} photograph (4 scales x 3 squares x "
                 f"6 crops x 2 mirrors), 224x224 each", fontsize=16, y=0.995)
    fig.savefig(path, dpi=40, bbox_inches="tight")
    plt.close(fig)


def scene(width: int = 500, height: int = 375) -> bytes:
    """A drawn landscape JPEG whose crops and mirrors are easy to tell apart: sky,
    sun, a house and writing."""
    import io

    from PIL import Image, ImageDraw

    sky = np.linspace([90, 150, 230], [200, 225, 250], height).astype(np.uint8)
    pixels = np.repeat(sky[:, None, :], width, axis=1)
    picture = Image.fromarray(pixels)
    draw = ImageDraw.Draw(picture)
    draw.rectangle([0, int(height * 0.7), width, height], fill=(70, 140, 60))
    draw.ellipse([width * 0.75, height * 0.08, width * 0.92, height * 0.31], fill=(250, 210, 40))
    draw.rectangle([width * 0.12, height * 0.45, width * 0.38, height * 0.75], fill=(180, 60, 50))
    draw.polygon([(width * 0.08, height * 0.46), (width * 0.25, height * 0.25),
                  (width * 0.42, height * 0.46)], fill=(90, 50, 40))
    draw.rectangle([width * 0.22, height * 0.58, width * 0.28, height * 0.75], fill=(60, 40, 30))
    draw.text((width * 0.5, height * 0.5), "GoogLeNet 144", fill=(20, 20, 20),
              font_size=int(height * 0.09))
    buffer = io.BytesIO()
    picture.save(buffer, format="JPEG", quality=92)
    return buffer.getvalue()


if __name__ == "__main__":
    photograph = open(sys.argv[1], "rb").read() if len(sys.argv) > 1 else scene()
    draw(photograph, os.path.join(HERE, "crops_144.png"))
    print(os.path.join(HERE, "crops_144.png"))
