"""The config the benchmark uses when none is given.

In a clone that is ``configs/googlenet.yaml`` beside ``tools/``; from an install,
where there is no such file, the same demo config is built here (a test keeps the
two equal).
"""

import os
from typing import Optional, Sequence

CLONE_CONFIG = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "configs", "googlenet.yaml")

_NORMALIZE = {"NormalizeImage": {"scale": "1.0/255.0", "mean": [0.485, 0.456, 0.406],
                                 "std": [0.229, 0.224, 0.225], "order": ""}}
_DECODE = {"DecodeImage": {"to_rgb": True, "channel_first": False}}
_EVAL_TRANSFORMS = [_DECODE, {"ResizeImage": {"resize_short": 72}}, {"CropImage": {"size": 64}},
                    _NORMALIZE]
_DEMO = "./dataset/googlenet_demo"


def _loader(split: str, transforms: list, batch_size: int, shuffle: bool) -> dict:
    return {"dataset": {"name": "ImageNetDataset", "image_root": f"{_DEMO}/",
                        "cls_label_path": f"{_DEMO}/{split}_list.txt",
                        "transform_ops": transforms},
            "sampler": {"name": "DistributedBatchSampler", "batch_size": batch_size,
                        "drop_last": False, "shuffle": shuffle},
            "loader": {"num_workers": 0, "use_shared_memory": True}}


def demo_config_dict() -> dict:
    """configs/googlenet.yaml as a dict: GoogLeNet on the generated demo dataset."""
    train_transforms = [_DECODE, {"RandCropImage": {"size": 64, "scale": [0.6, 1.0]}},
                        {"RandFlipImage": {"flip_code": 1}}, _NORMALIZE]
    return {
        "Global": {"checkpoints": None, "pretrained_model": None, "output_dir": "./output/",
                   "device": "auto", "save_interval": 1, "eval_during_train": True,
                   "eval_interval": 2, "epochs": 7, "print_batch_step": 10,
                   "use_visualdl": False, "image_shape": [3, 64, 64],
                   "save_inference_dir": "./inference", "seed": 42, "demo_dataset": _DEMO},
        "Arch": {"name": "GoogLeNet", "class_num": 6, "adaptive_pool": True},
        "Loss": {"Train": [{"GoogLeNetLoss": {"weight": 1.0}}],
                 "Eval": [{"GoogLeNetLoss": {"weight": 1.0}}]},
        "Optimizer": {"name": "Adam", "lr": {"name": "Cosine", "learning_rate": 0.0005,
                                             "warmup_epoch": 1}},
        "DataLoader": {"Train": _loader("train", train_transforms, 32, True),
                       "Eval": _loader("val", _EVAL_TRANSFORMS, 64, False)},
        "Infer": {"infer_imgs": f"{_DEMO}/images/val/", "batch_size": 10,
                  "transforms": _EVAL_TRANSFORMS + [{"ToCHWImage": None}],
                  "PostProcess": {"name": "Topk", "topk": 5,
                                  "class_id_map_file": f"{_DEMO}/label_list.txt"}},
        "Metric": {"Train": [{"TopkAcc": {"topk": [1, 5]}}],
                   "Eval": [{"TopkAcc": {"topk": [1, 5]}}]},
    }


def resolve_config(path: Optional[str], overrides: Sequence[str]) -> (dict, str):
    """``(config, where it came from)``: ``path``, else the clone's demo config, else
    the built-in one; overrides applied and validated."""
    import json

    from paddle_googlenet.config import apply_overrides, load_config, validate_config

    if path:
        return load_config(path, overrides), path
    if os.path.isfile(CLONE_CONFIG):
        return load_config(CLONE_CONFIG, overrides), CLONE_CONFIG
    config = apply_overrides(json.loads(json.dumps(demo_config_dict())), overrides)
    return validate_config(config, source="built-in demo config"), "built-in demo config"
