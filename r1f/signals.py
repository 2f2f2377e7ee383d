"""SIGINT and SIGTERM, handled once for every long command and for ``r1f run``.

Both raise :class:`~r1f.errors.Interrupted` in the main thread, so whatever is running unwinds
through its ``finally`` blocks (engines closed, worker processes stopped, locks released) and the
CLI prints one line saying what was kept and how to resume, then exits 130 or 143. Finished chunks
are already on disk: the run store appends atomically, so there is nothing to flush.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from r1f.errors import Interrupted

HANDLED = (signal.SIGINT, signal.SIGTERM)


def _raise(signum: int, frame: Any) -> None:
    # a second signal while unwinding must not interrupt the cleanup of the first
    for sig in HANDLED:
        signal.signal(sig, signal.SIG_IGN)
    raise Interrupted(signum)


@contextmanager
def graceful() -> Iterator[None]:
    """Turn SIGINT/SIGTERM into :class:`Interrupted` while the block runs (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, _raise) for sig in HANDLED}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def ignore_interrupts() -> None:
    """For worker processes: the parent decides when they stop (it closes their pipe), so a Ctrl-C
    that reaches the whole process group does not print a traceback per worker."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def stop_process(process: Any, timeout: float) -> None:
    """Ask a child to stop (SIGTERM), wait ``timeout`` seconds, then kill it: no server we start outlives us."""
    import subprocess

    if process.poll() is None:
        process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
