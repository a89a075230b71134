"""Constants shared by the models, the data pipeline and deployment; imports nothing, so
reading one loads neither Paddle nor OpenCV."""

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD"]

# ImageNet's per-channel statistics (RGB order), PaddleClas's defaults.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
