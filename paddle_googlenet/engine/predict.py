"""Predict the classes of image files with the dynamic-graph model and the config's
``Infer`` section (transforms, batch size, top-k and class names)."""

from typing import Dict, Iterator, List

import numpy as np
import paddle

from .. import image_io, pixels
from ..config import required_weights
from ..data import BatchNormalize, build_transforms
from ..deploy import classify_files
from ..errors import ConfigError, located
from ..models import build_main_head
from ..weights.checkpoint import evaluated_weights
from .labels import class_id_map, class_names, fill_class_num

__all__ = ["expand_images", "Predictor"]


def expand_images(spec, where: str = "Infer.infer_imgs") -> List[str]:
    """Image paths from a file, a folder (searched recursively) or a glob, or a list of
    them: ``image_io.expand_images``, as ``tools/infer.py`` expands its ``--image``."""
    return image_io.expand_images(spec, where=where)


class Predictor:
    """The configured model's main head, with softmax, over the Infer transforms.

    A list that ends in NormalizeImage (a ToCHWImage may follow) runs without it
    per image, and each batch of ``uint8`` images is normalized at once, as the
    training loader does: the same numbers, on a GPU a quarter of the bytes to copy.
    """

    def __init__(self, config: dict):
        infer = config.get("Infer")
        if not infer:
            raise ConfigError("Infer: needed to predict (transforms, batch_size, PostProcess)")
        weights = evaluated_weights(required_weights(config, "predict with"),
                                    bool(config.get("EMA")))
        post = infer.get("PostProcess") or {}
        class_id_map(config)  # a labels file named there must exist: said before the work
        fill_class_num(config, "Eval")
        self.batch_size = infer["batch_size"]
        transform = build_transforms(infer["transforms"], where="Infer.transforms")
        transform.refuse_scaled_decoding()
        self.transform, final_normalize = transform.split_final_normalize()
        self.normalize = final_normalize and BatchNormalize(final_normalize,
                                                            self.transform.output_layout)
        with located("Global.pretrained_model"):
            self.model = build_main_head(config["Arch"], weights, softmax=True, heads="strict")
        self.topk = min(int(post.get("topk", 5)), self.model.net.num_classes)
        names, self.names_note = class_names(config, self.model.net.num_classes)
        self.class_names: Dict[int, str] = dict(enumerate(names))

    def _prepare(self, path: str) -> np.ndarray:
        image = image_io.read_image_file(path, self.transform)
        if self.normalize is not None:
            return image
        return np.ascontiguousarray(pixels.model_input(image, self.transform.output_layout),
                                    dtype=np.float32)

    def _probabilities(self, batch: np.ndarray) -> np.ndarray:
        images = (self.normalize(batch) if self.normalize is not None
                  else paddle.to_tensor(batch))
        with paddle.no_grad():
            return self.model(images).numpy()

    def predict(self, paths: List[str], progress=None) -> Iterator[dict]:
        """Yield per file ``{"file", "topk": [{"class_id", "label", "score"}]}``, or
        ``{"file", "error"}`` for a file that cannot be read; the others go on.
        ``progress`` (a ``progress.Progress``) is told of every batch."""
        return classify_files(paths, self._prepare, self._probabilities, self.batch_size,
                              self.topk, self.class_names, progress)
