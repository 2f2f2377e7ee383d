"""One error type for everything a user can fix.

The CLI prints these as a single line and exits 1; anything else is a bug and keeps its traceback.
"""


class R1FactoryError(Exception):
    """A failure the user can act on: the message names the file, row or option and the fix."""


class ConfigError(R1FactoryError):
    """An option or recipe value is wrong."""


class DataError(R1FactoryError):
    """An input file or dataset cannot be used as given."""


class EngineError(R1FactoryError):
    """A generation engine or endpoint failed after its retries."""
