"""Peak memory of this process, per stage.

Linux keeps a process's peak resident set (``VmHWM``) and lets the process reset it by writing ``5`` to
``/proc/self/clear_refs``; reading it after a stage gives that stage's peak even though every stage runs in
the same process. Elsewhere the peak is unknown (None), never guessed.
"""

from __future__ import annotations

from pathlib import Path


def reset_peak() -> bool:
    """Start a new peak measurement; False when the kernel does not allow it."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def peak_mb() -> float | None:
    """The peak resident set since the last :func:`reset_peak`, in MiB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None
