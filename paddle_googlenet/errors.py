"""The one exception hierarchy the command-line tools turn into a plain message.

Anything a user can get wrong (a config key, a path, a file of the wrong network,
an exported model directory) raises a ``UserError`` subclass with a message that
names the culprit and says what would be valid. The tools print that message and
exit 2 (``cli.runner.run_tool``); any other exception is a bug and keeps its
traceback. This module imports only the standard library, so deployment can use it
without Paddle.
"""

import contextlib


def shown(text, keep: str = "") -> str:
    """``text`` (a path, a name read from a file) with every unprintable character but
    those in ``keep`` escaped as Python would write it: a newline in a file name cannot
    split a one-line message, nor an escape sequence drive the terminal."""
    text = text if isinstance(text, str) else str(text)
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() or c in keep else repr(c)[1:-1] for c in text)


def brief(value, limit: int = 40) -> str:
    """``value`` (read from a file, so of any size) as a message may show it: text and
    numbers quoted and escaped, cut to ``limit`` characters; containers by kind and
    length. Nothing here walks or copies more than ``limit`` characters of it."""
    if isinstance(value, str):
        cut = value[:limit]
        more = f"... ({len(value)} characters)" if len(value) > limit else ""
        return repr(shown(cut)) + more
    if isinstance(value, (bool, int, float)) or value is None:
        text = repr(value) if not isinstance(value, int) or value.bit_length() < 128 \
            else f"an integer of {value.bit_length()} bits"
        return text[:limit]
    if isinstance(value, (bytes, bytearray)):
        return f"{len(value)} bytes"
    if hasattr(value, "dtype") and hasattr(value, "shape"):  # a NumPy array or scalar
        return f"an array of shape {tuple(value.shape)} ({value.dtype})"
    size = len(value) if hasattr(value, "__len__") else None
    kind = type(value).__name__
    return f"a {kind} of {size} items" if size is not None else f"a {kind}"


class UserError(Exception):
    """A problem with the user's input, explained in the message."""


class ConfigError(UserError, ValueError):
    """A config file, key or value that cannot be used."""


class WeightsError(UserError, ValueError):
    """A weights file that is missing or does not fit the model."""


class DataError(UserError, ValueError):
    """A dataset, list file or image that cannot be used."""


class ImageError(DataError):
    """An image file that cannot be read or prepared; the message names the file."""


class ImageDecodeError(DataError):
    """Bytes that are not a readable image (a dataset may skip such a file)."""


class DeployError(UserError, ValueError):
    """An exported model directory, deployment config, precision or option that cannot
    be used."""


# What to say when Paddle is missing: the package itself and ONNX Runtime deployment
# run without it, the model and training code do not.
PADDLE_MISSING = (
    "paddle_googlenet needs PaddlePaddle, which is not installed. It comes in two "
    "distributions that both provide the 'paddle' module: 'paddlepaddle' (CPU) and "
    "'paddlepaddle-gpu' (CUDA). Install one, e.g. `pip install paddle_googlenet[cpu]` "
    "(or `pip install paddlepaddle`) for CPU; for GPU, install the paddlepaddle-gpu "
    "build for your CUDA version as PaddlePaddle's install guide describes, then "
    "`pip install paddle_googlenet`.")


@contextlib.contextmanager
def located(key: str):
    """Prefix a UserError raised inside with the config key it concerns, so that every
    tool names the key the same way (``Global.pretrained_model: ...``)."""
    try:
        yield
    except UserError as err:
        raise type(err)(f"{key}: {err}") from err
