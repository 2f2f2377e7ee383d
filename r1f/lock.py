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

    def __init__(
        self,
        target: str | Path,
        *,
        what: str | None = None,
        owned_by: tuple[str, ...] | None = None,
        option: str = "the output",
    ) -> None:
        self.target = Path(target)
        self.owned_by = owned_by
        self.option = option
        self.path = lock_path(self.target)
        self.what = what or str(self.target)
        self._fd: int | None = None
        self.took_over: dict[str, Any] | None = None

    def acquire(self) -> OutputLock:
        check_writable(self.target)
        if self.owned_by is not None:
            check_owned(self.target, self.owned_by, self.option)
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


def sidecar(target: str | Path) -> Path:
    """The file beside a ``.jsonl``/``.parquet`` output that says the factory wrote it (so a rerun may replace it)."""
    target = Path(target)
    return target.parent / f".{target.name}.r1f"


def check_writable(target: str | Path) -> None:
    """Refuse, before any work, an output that cannot be written: under a file, or in a read-only place."""
    target = Path(target)
    if target.exists() and not target.is_dir() and not sidecar(target).exists():
        raise ConfigError(
            f"{target}: is a file, not a directory, and r1-factory did not write it; nothing was changed: choose "
            "another output"
        )
    parent = target.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise ConfigError(f"{target}: {parent} is a file, so nothing can be written under it; choose another output")
    if os.statvfs(parent).f_flag & os.ST_RDONLY:
        raise ConfigError(f"{target}: cannot write in {parent} (a read-only file system); choose another output")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ConfigError(f"{target}: cannot write in {parent} (permission denied); choose another output")


def check_owned(target: str | Path, markers: tuple[str, ...], option: str = "the output") -> None:
    """Refuse an output folder the factory did not write: only an empty folder, or one holding one of ``markers``
    (a dataset's ``manifest.json``, a model's training fingerprint, ``eval.json``, a run's ``.r1f``), may be
    written into or replaced. ``--force`` does not widen this: a user's files are never the factory's to delete.
    """
    target = Path(target)
    resolved = target.resolve()
    if target.name in ("", ".", "..") or resolved in (Path.cwd().resolve(), Path.home().resolve(), Path("/")):
        raise ConfigError(
            f"{target}: {option} must name a folder of its own (e.g. {target / 'out'}), not the working, home or "
            "root directory; nothing was written"
        )
    if not target.is_dir():
        return
    try:
        entries = [p.name for p in target.iterdir()]
    except OSError as err:
        raise ConfigError(f"{target}: cannot read this folder ({err.strerror}); choose another output") from None
    if not entries or any(name in entries for name in markers):
        return
    shown = ", ".join(sorted(entries)[:3]) + (", ..." if len(entries) > 3 else "")
    raise ConfigError(
        f"{target}: exists and was not written by r1-factory (it holds {shown}; no {' or '.join(markers)}); "
        "nothing was changed: choose a new folder, or move those files away yourself"
    )


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
