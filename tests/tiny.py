"""A tiny generated dataset and the overrides that point the default config at it."""

import os

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
DEFAULT_CONFIG = os.path.join(ROOT, "configs", "googlenet.yaml")


def tiny_overrides(data, out, epochs=2, **extra):
    """``-o`` options: tiny data, tiny batches, no workers, eval every epoch."""
    options = {
        "Global.demo_dataset": "None",
        "Global.output_dir": out,
        "Global.epochs": epochs,
        "Global.print_batch_step": 1,
        "Global.eval_interval": 1,
        "DataLoader.Train.dataset.image_root": data,
        "DataLoader.Train.dataset.cls_label_path": os.path.join(data, "train_list.txt"),
        "DataLoader.Eval.dataset.image_root": data,
        "DataLoader.Eval.dataset.cls_label_path": os.path.join(data, "val_list.txt"),
        "DataLoader.Train.sampler.batch_size": 4,
        "DataLoader.Eval.sampler.batch_size": 4,
        "DataLoader.Train.loader.num_workers": 0,
        "DataLoader.Eval.loader.num_workers": 0,
    }
    options.update(extra)
    return [f"{k}={v}" for k, v in options.items()]
