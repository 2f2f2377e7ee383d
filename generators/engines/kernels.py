"""The engine's C kernels: compiled on first use by the machine's C compiler, for this CPU.

Each source (``decode_attention.c``, ``decode_linear.c``) is built with ``-march=native`` into the cache
directory under a name that hashes the source, the compiler and the CPU, so a shared home on another
machine compiles its own, and loaded with ctypes. Where no compiler works the caller falls back to torch
and says so once.
"""

from __future__ import annotations

import ctypes
import hashlib
import logging
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

#: -fassociative-math lets the compiler vectorise sums; no -ffast-math: softmax needs infinities
FLAGS = ["-O3", "-march=native", "-fno-math-errno", "-fassociative-math", "-fno-signed-zeros", "-fno-trapping-math"]


def compiler() -> str | None:
    """``CC``, else the first of cc, gcc and clang on PATH."""
    return os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")


def build(source: Path) -> Path:
    """The shared library of ``source`` for this CPU, compiled once (raises OSError when it cannot be)."""
    from generators.engines.cpu import _cpuinfo
    from generators.models import cache_dir

    cc = compiler()
    if cc is None:
        raise OSError("no C compiler (cc, gcc or clang) on PATH")
    version = subprocess.run([cc, "--version"], capture_output=True, text=True, timeout=30).stdout
    name, flags = _cpuinfo()
    key = hashlib.sha256(
        "\0".join([source.read_text(), cc, version, name, " ".join(sorted(flags)), *FLAGS]).encode()
    ).hexdigest()[:16]
    target = cache_dir() / "kernels" / f"{source.stem.replace('_', '-')}-{key}.so"
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    # compile beside the target and rename: two processes compiling at once each write their own file
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".build-", suffix=".so")
    os.close(fd)
    try:
        done = subprocess.run(
            [cc, *FLAGS, "-shared", "-fPIC", "-o", tmp, str(source), "-lpthread", "-lm"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        if done.returncode != 0:
            raise OSError(done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"rc {done.returncode}")
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target


def load(source: Path) -> ctypes.CDLL:
    """Build ``source`` if needed and load it (raises OSError or SubprocessError when it cannot be)."""
    return ctypes.CDLL(str(build(source)))


class Kernel:
    """One C source's library, built and loaded on first call; None where this machine cannot build it, said once
    as "<what> unavailable (why); the transformers engine uses <fallback>"."""

    def __init__(self, source: Path, symbol: str, what: str, fallback: str) -> None:
        self.source, self.symbol, self.what, self.fallback = source, symbol, what, fallback
        self._library: Any = None  # None: not tried yet; False: tried and unavailable

    def __call__(self) -> Any:
        if self._library is None:
            try:
                lib = load(self.source)
                getattr(lib, self.symbol).restype = ctypes.c_int
                self._library = lib
            except (OSError, subprocess.SubprocessError) as err:
                log.warning("%s unavailable (%s); the transformers engine uses %s", self.what, err, self.fallback)
                self._library = False
        return self._library or None
