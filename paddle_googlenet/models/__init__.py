"""Networks, and a registry that builds them by name from an ``Arch`` mapping."""

from .googlenet import GoogLeNet, Inception, InputShapeError, MainHeadOnly
from .registry import MODELS, build_main_head, build_model, register_model
from .weights import load_weights, read_state_dict

__all__ = ["GoogLeNet", "Inception", "InputShapeError", "MainHeadOnly", "MODELS",
           "build_model", "build_main_head", "register_model", "load_weights", "read_state_dict"]
