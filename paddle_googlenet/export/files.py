"""The names of the files an export writes (what ``tools/infer.py`` reads is
``deploy``'s: these must agree with it)."""

from ..deploy.infer import DEPLOY_CONFIG

__all__ = ["MODEL_FILES", "DEPLOY_CONFIG"]

MODEL_FILES = ("inference.json", "inference.pdiparams")
