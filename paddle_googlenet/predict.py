"""Predict the classes of image files with the dynamic-graph model and the config's
``Infer`` section (transforms, batch size, top-k and class names)."""

import glob
import os
from typing import Dict, Iterator, List

import numpy as np
import paddle

from .config import required_weights
from .data import IMAGE_EXTENSIONS, build_transforms, read_class_id_map
from .errors import ConfigError, DataError, UserError
from .models import build_main_head

__all__ = ["expand_images", "Predictor"]


def expand_images(spec) -> List[str]:
    """Image paths from a file, a folder (searched recursively) or a glob, or a list of them."""
    specs = spec if isinstance(spec, (list, tuple)) else [spec]
    paths = []
    for item in specs:
        item = str(item)
        if os.path.isdir(item):
            found = [os.path.join(root, name) for root, _, names in os.walk(item)
                     for name in names if name.lower().endswith(IMAGE_EXTENSIONS)]
        elif any(c in item for c in "*?["):
            found = [p for p in glob.glob(item, recursive=True) if os.path.isfile(p)]
        else:
            found = [item]  # a single file: a missing one is reported per file later
        if not found:
            raise DataError(f"Infer.infer_imgs: no images found at {item!r}")
        paths += sorted(found)
    return paths


class Predictor:
    """The configured model's main head, with softmax, over the Infer transforms."""

    def __init__(self, config: dict):
        infer = config.get("Infer")
        if not infer:
            raise ConfigError("Infer: needed to predict (transforms, batch_size, PostProcess)")
        weights = required_weights(config, "predict with")
        post = infer.get("PostProcess") or {}
        id_map = post.get("class_id_map_file")
        self.class_names: Dict[int, str] = read_class_id_map(id_map) if id_map else {}
        self.batch_size = infer["batch_size"]
        self.transform = build_transforms(infer["transforms"], where="Infer.transforms")
        self.model = build_main_head(config["Arch"], weights, softmax=True)
        self.topk = min(int(post.get("topk", 5)), self.model.net.num_classes)

    def _prepare(self, path: str) -> np.ndarray:
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError as err:
            raise DataError(f"cannot read {path}: {err.strerror}") from None
        try:
            return self.transform(data)
        except UserError as err:
            raise DataError(f"{path}: {err}") from None

    def predict(self, paths: List[str]) -> Iterator[dict]:
        """Yield per file ``{"file", "topk": [{"class_id", "label", "score"}]}``, or
        ``{"file", "error"}`` for a file that cannot be read; the others go on."""
        for start in range(0, len(paths), self.batch_size):
            batch, ready = paths[start:start + self.batch_size], []
            errors = {}
            for path in batch:
                try:
                    ready.append((path, self._prepare(path)))
                except DataError as err:
                    errors[path] = str(err)
            scores = {}
            if ready:
                with paddle.no_grad():
                    probs = self.model(paddle.to_tensor(np.stack([a for _, a in ready]))).numpy()
                scores = {path: p for (path, _), p in zip(ready, probs)}
            for path in batch:
                if path in errors:
                    yield {"file": path, "error": errors[path]}
                    continue
                order = np.argsort(-scores[path])[: self.topk]
                yield {"file": path, "topk": [
                    {"class_id": int(c), "label": self.class_names.get(int(c), str(c)),
                     "score": float(scores[path][c])} for c in order]}
