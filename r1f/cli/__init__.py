"""The ``r1f`` command line: the core's commands (``inspect``, ``stats``, ``run``) and whatever the stage packages
mount (entry points ``r1f.commands``: each package's ``commands`` module), all thin layers over library calls.

Errors the user can fix (:class:`R1FactoryError`) print as one line and exit 1 (``R1F_DEBUG=1`` shows
the traceback instead). SIGINT and SIGTERM stop any command the same way: finished work is kept, one
line says how to resume, the exit code is 130 or 143. Nothing imports this package but ``r1f``'s
entry points.
"""

from __future__ import annotations

import errno
import os
import sys

import typer

from r1f.errors import Interrupted, R1FactoryError
from r1f.heap import reuse_freed_memory
from r1f.redact import redact

app = typer.Typer(
    name="r1f",
    help="r1-factory: build DeepSeek-R1 style datasets (cold-start, rejection-sampled, distilled) and tiny R1 models, "
    "offline. `r1f run tiny-r1-demo` runs the whole recipe.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _register() -> None:
    """The core's own commands, then each stage package's (entry points ``r1f.commands``), then ``run``."""
    from r1f.cli import data, run
    from r1f.plugins import COMMANDS, entry_points, load

    data.register(app)
    for target in entry_points(COMMANDS).values():
        load(target)(app)
    run.register(app)


_register()


def _usage_and_abort_types() -> tuple[tuple[type[BaseException], ...], tuple[type[BaseException], ...]]:
    """Usage errors and aborts as this typer raises them: typer >= 0.2x vendors click (``typer._click``), whose
    exceptions are not click's own, so catching ``click.ClickException`` alone let a mistyped option end in a
    traceback."""
    usage: list[type[BaseException]] = [typer.TyperException] if hasattr(typer, "TyperException") else []
    aborts: list[type[BaseException]] = [typer.Abort]
    try:
        import click
    except ImportError:  # typer that vendors click does not install it
        pass
    else:
        usage.append(click.exceptions.ClickException)
        aborts.append(click.exceptions.Abort)
    return tuple(usage), tuple(aborts)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app, turning user-fixable errors into one line and signals into a clean stop."""
    # OpenMP threads that spin while waiting collapse when other work shares the cores (generation beside
    # scoring threads, verifier workers, a second process): measured 33 -> 175 tok/s on a busy 2-core box,
    # about 3 % slower idle. Set before anything imports torch; an explicit setting wins.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    reuse_freed_memory()
    from r1f.console import console
    from r1f.signals import graceful

    usage_errors, aborts = _usage_and_abort_types()

    try:
        with graceful():
            code = app(args=argv, standalone_mode=False)
    except Interrupted as stop:
        what = "SIGTERM" if stop.exit_code == 143 else "interrupted"
        console.print(
            f"[yellow]{what}[/]: stopped; finished work is kept (run store, finished stages). "
            "Run the same command again to resume."
        )
        sys.exit(stop.exit_code)
    except R1FactoryError as err:
        if os.environ.get("R1F_DEBUG"):
            raise
        sys.stderr.write(f"error: {redact(str(err))}\n")
        sys.exit(1)
    except OSError as err:
        if err.errno != errno.ENOSPC or os.environ.get("R1F_DEBUG"):
            raise
        where = f" holding {err.filename}" if err.filename else ""
        sys.stderr.write(
            f"error: no space left on the device{where}; finished work is kept: free some space and run again\n"
        )
        sys.exit(1)
    except aborts:
        sys.stderr.write("aborted\n")
        sys.exit(130)
    except usage_errors as err:
        if hasattr(err, "show"):
            err.show()  # click's form: usage, a hint to --help, the error
        else:
            sys.stderr.write(f"error: {redact(err.format_message())}\n")
        sys.exit(getattr(err, "exit_code", 2))
    sys.exit(code if isinstance(code, int) else 0)
