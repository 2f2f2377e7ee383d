"""One writer per output.

A run takes an exclusive ``flock`` on ``.<name>.lock`` beside its output for as long as it runs. The
kernel drops the lock when the process dies, however it dies, so a lock left by ``kill -9`` is not
held and the next run takes it over; a live holder is refused in one line that names its pid. The
file records who holds it (pid, command) only to say so in that line.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from r1f.errors import ConfigError, LockedError


def lock_path(target: str | Path) -> Path:
    target = Path(target)
    return target.parent / f".{target.name}.lock"


class OutputLock:
    """``with OutputLock(out):`` — refuse if another live run writes ``out``; take over a dead one's lock."""

    def __init__(self, target: str | Path, *, what: str | None = None) -> None:
        self.target = Path(target)
        self.path = lock_path(self.target)
        self.what = what or str(self.target)
        self._fd: int | None = None
        self.took_over: dict[str, Any] | None = None

    def acquire(self) -> OutputLock:
        check_writable(self.target)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read(fd)
            os.close(fd)
            pid = holder.get("pid", "?")
            raise LockedError(
                f"{self.what} is being written by another run (pid {pid}, started {holder.get('started', '?')}); "
                f"wait for it to finish or stop it (kill {pid}), then run again"
            ) from None
        previous = _read(fd)
        if previous.get("pid") and previous.get("pid") != os.getpid():
            self.took_over = previous  # its process is gone: the kernel released its lock
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        info = {"pid": os.getpid(), "started": time.strftime("%Y-%m-%d %H:%M:%S"), "command": sys.argv[:3]}
        os.write(fd, json.dumps(info).encode())
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            try:
                os.ftruncate(self._fd, 0)
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            finally:
                os.close(self._fd)
                self._fd = None

    def __enter__(self) -> OutputLock:
        return self.acquire()

    def __exit__(self, *exc: Any) -> None:
        self.release()


def check_writable(target: str | Path) -> None:
    """Refuse, before any work, an output that cannot be written: under a file, or in a read-only place."""
    target = Path(target)
    if target.exists() and not target.is_dir():
        raise ConfigError(f"{target}: is a file, not a directory; choose another output")
    parent = target.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise ConfigError(f"{target}: {parent} is a file, so nothing can be written under it; choose another output")
    if os.statvfs(parent).f_flag & os.ST_RDONLY:
        raise ConfigError(f"{target}: cannot write in {parent} (a read-only file system); choose another output")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ConfigError(f"{target}: cannot write in {parent} (permission denied); choose another output")


def _read(fd: int) -> dict[str, Any]:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        data = os.read(fd, 4096)
        return json.loads(data) if data.strip() else {}
    except (OSError, ValueError):
        return {}


def remove_stale_temps(target: str | Path) -> list[Path]:
    """Delete ``.NAME.tmp-PID`` / ``.NAME.old-PID`` directories a killed or failed write left beside ``target``
    (an ``.old`` one is moved back first when the kill came between the two renames and ``target`` is missing).

    Call it only while holding the output's lock: then no other writer can own one of them.
    """
    target = Path(target)
    removed: list[Path] = []
    if not target.parent.is_dir():
        return removed
    olds = sorted(target.parent.glob(f".{target.name}.old-*"))
    if olds and not target.exists():  # killed between moving the old dataset aside and moving the new one in
        olds[-1].rename(target)
    for path in target.parent.glob(f".{target.name}.*-*"):
        if path.name.startswith((f".{target.name}.tmp-", f".{target.name}.old-")):
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            removed.append(path)
    return removed
