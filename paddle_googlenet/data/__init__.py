"""Datasets, PaddleClas-style image transforms, the DataLoader builder and the demo set.

    from paddle_googlenet.data import build_dataloader, ensure_demo_dataset
    demo = ensure_demo_dataset("dataset/googlenet_demo")
    loader = build_dataloader({"dataset": {"name": "ImageNetDataset",
                                           "image_root": demo.root,
                                           "cls_label_path": demo.train_list,
                                           "transform_ops": [...]},
                               "sampler": {"name": "BatchSampler", "batch_size": 32,
                                           "shuffle": True}}, seed=0)

This package uses paddle, numpy, OpenCV and PIL only; it never imports the model, config or
engine modules.
"""

from .datasets import DATASETS, IMAGE_EXTENSIONS, ImageFolderDataset, ImageNetDataset
from .demo import (DEMO_DEFAULTS, SHAPES, DemoDataset, ensure_demo_dataset, make_demo_dataset,
                   photographic_jpeg, read_manifest)
from .labels import read_class_id_map
from .loader import (SAMPLERS, BatchNormalize, EpochDataLoader, build_dataloader,
                     check_dataloader)
from .batch_ops import (BATCH_TRANSFORMS, CutmixOperator, MixupOperator, OpSampler,
                        build_batch_transforms)
from .samplers import MultiScaleDataset, MultiScaleSampler, RASampler
from .transforms import (TRANSFORMS, Compose, CropImage, CropImageAtRatio, DecodeImage,
                         ImageDecodeError, NormalizeImage, RandCropImage, RandFlipImage,
                         ResizeImage, ToCHWImage, build_transforms)
# Imported for their registration in TRANSFORMS.
from .augment import (AutoAugment, ColorJitter, PCALighting, RandAugment, RandAugmentV2,
                      RandAugmentV3, TimmAutoAugment)
from .erasing import Cutout, GridMask, HideAndSeek, RandomErasing

__all__ = ["ImageNetDataset", "ImageFolderDataset", "DATASETS", "IMAGE_EXTENSIONS",
           "build_dataloader", "check_dataloader", "EpochDataLoader", "BatchNormalize",
           "SAMPLERS", "RASampler", "MultiScaleSampler",
           "MultiScaleDataset", "BATCH_TRANSFORMS", "MixupOperator", "CutmixOperator",
           "OpSampler", "build_batch_transforms", "TRANSFORMS", "Compose",
           "build_transforms", "DecodeImage", "ResizeImage", "CropImage", "RandCropImage",
           "RandFlipImage", "NormalizeImage", "ToCHWImage", "ImageDecodeError",
           "AutoAugment", "RandAugment", "RandAugmentV2", "RandAugmentV3", "TimmAutoAugment",
           "ColorJitter", "PCALighting", "CropImageAtRatio", "RandomErasing", "Cutout",
           "GridMask", "HideAndSeek", "SHAPES",
           "DEMO_DEFAULTS", "DemoDataset", "make_demo_dataset", "ensure_demo_dataset",
           "read_manifest", "read_class_id_map", "photographic_jpeg"]
