"""The names of the files an export writes: those ``deploy`` reads (``tools/infer.py``),
taken from there so that the two cannot disagree."""

from ..deploy.infer import DEPLOY_CONFIG
from ..deploy.precisions import PARAMS_FILE, PROGRAM_FILES

__all__ = ["MODEL_FILES", "DEPLOY_CONFIG"]

# what paddle.jit.save writes with PIR on (Paddle 3): the program as JSON, and the weights
MODEL_FILES = (PROGRAM_FILES[0], PARAMS_FILE)
