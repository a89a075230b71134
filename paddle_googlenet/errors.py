"""The one exception type the command-line tools turn into a plain message.

Anything a user can get wrong (a config key, a path, a file of the wrong network)
raises ``UserError`` with a message that names the culprit and says what would be
valid. The tools print that message and exit non-zero; any other exception is a
bug and keeps its traceback.
"""


class UserError(Exception):
    """A problem with the user's input, explained in the message."""


class ConfigError(UserError, ValueError):
    """A config file, key or value that cannot be used."""


class WeightsError(UserError, ValueError):
    """A weights file that is missing or does not fit the model."""


class DataError(UserError, ValueError):
    """A dataset, list file or image that cannot be used."""
