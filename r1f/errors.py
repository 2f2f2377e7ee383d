"""The few error types of the factory.

Everything a user can fix is an :class:`R1FactoryError`: the CLI prints it as one line and exits 1;
anything else is a bug and keeps its traceback. Configuration and data errors are also
``ValueError``s, so Python users who catch ``ValueError`` (as open-r1's tests do) catch them.
"""


class R1FactoryError(Exception):
    """A failure the user can act on: the message names the file, row or option and the fix."""


class ConfigError(R1FactoryError, ValueError):
    """An option or recipe value is wrong."""


class DataError(R1FactoryError, ValueError):
    """An input file or dataset cannot be used as given."""


class EngineError(R1FactoryError):
    """A generation engine or endpoint failed after its retries."""


class DiskFullError(R1FactoryError):
    """The device holding an output is full; what was finished is kept."""


class LockedError(R1FactoryError):
    """Another live run is writing the same output."""


class Interrupted(BaseException):
    """SIGINT or SIGTERM arrived; finished work is kept. A ``BaseException`` so that no ``except Exception``
    on the way up swallows it."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum
