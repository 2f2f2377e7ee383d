"""Answer verification with math-verify, bounded in time without SIGALRM.

math-verify's own timeouts use ``signal.alarm``, which raises outside the main thread (trainers,
thread pools) and cannot stop C-level sympy loops anyway. Here every check runs in a worker process
with math-verify's timeouts off; the parent watches the clock and, when one item overruns its
budget, kills that worker, scores the item 0.0 (an answer we cannot verify is not correct), and
starts a fresh worker for the rest. Workers cache parsed gold answers, so each distinct gold is
parsed once per worker rather than once per completion; the parent also sends each distinct
(gold, answer) pair once. Nothing is ever ``eval``-ed: parsing goes through math-verify's
LaTeX/expression grammars only.
"""

from __future__ import annotations

import atexit
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from fractions import Fraction
from functools import lru_cache
from multiprocessing.connection import Connection, wait
from typing import Any

#: per-item budget (seconds) before a worker is killed and the item scored 0.0
DEFAULT_TIMEOUT = 3.0
#: items handed to a worker at a time
CHUNK = 16
#: text longer than this is cut (from the front) before parsing: answers live at the end
MAX_ANSWER_CHARS = 2000
TRAILING_PUNCT_RE = re.compile(r"[\s.。!！]+$")
PLAIN_NUMBER_RE = re.compile(r"^\s*-?\d{1,30}(?:\.\d{1,30})?(?:\s*/\s*\d{1,30})?\s*$")


def fast_check(gold: str, answer: str) -> float | None:
    """Exact verdict for plain numbers on both sides (``14``, ``-2.5``, ``7/12``); None when not plain.

    Plain numbers compare as exact fractions, which is what math-verify concludes for them too, so the
    common case needs no sympy and no worker round trip.
    """
    answer = TRAILING_PUNCT_RE.sub("", answer)
    if not (PLAIN_NUMBER_RE.match(gold) and PLAIN_NUMBER_RE.match(answer)):
        return None
    try:
        return 1.0 if Fraction(gold.replace(" ", "")) == Fraction(answer.replace(" ", "")) else 0.0
    except (ValueError, ZeroDivisionError):
        return None


# -- worker side ----------------------------------------------------------------------------------


def _answer_config(explicit: bool) -> list[Any]:
    """open-r1's answer extraction (LaTeX + expressions, boxed first, units/equations normalised).

    Inside an explicit answer region (``<answer>`` tags, the R1 summary) bare LaTeX such as
    ``\\frac{1}{2}`` is the answer, so LaTeX is extracted without anchors there; in free text it
    needs an anchor ("the answer is", ``\\boxed``) so that a stray number in the reasoning is not taken.
    """
    from math_verify import ExprExtractionConfig, LatexExtractionConfig
    from math_verify.parser import NormalizationConfig

    return [
        LatexExtractionConfig(
            normalization_config=NormalizationConfig(
                nits=False, malformed_operators=False, basic_latex=True, equations=True, boxed="all", units=True
            ),
            boxed_match_priority=0,
            try_extract_without_anchor=explicit,
        ),
        ExprExtractionConfig(),
    ]


@lru_cache(maxsize=4096)
def parse_gold(gold: str) -> Any:
    """Parse a gold answer (plain number, fraction, LaTeX with or without ``$``); ``None`` if unparseable.

    Only real parses count (``no_fallback``): a gold that is prose is "cannot be judged", not a string
    that some completion might happen to repeat.
    """
    from math_verify import parse

    return parse(gold, parsing_timeout=None, fallback_mode="no_fallback") or None


@lru_cache(maxsize=2)
def _config(explicit: bool) -> list[Any]:
    return _answer_config(explicit)


def check(gold: str, answer: str, explicit: bool = False) -> float | None:
    """1.0 if ``answer`` verifies against ``gold``, 0.0 if not, None if gold is unparseable.

    ``explicit`` says ``answer`` is an answer region cut out of the completion, not free text.
    """
    from math_verify import parse, verify

    gold_parsed = parse_gold(gold)
    if gold_parsed is None:
        return None
    # a sentence-final period would make "7/10." parse as 7/10.0, which then fails to verify
    answer = TRAILING_PUNCT_RE.sub("", answer[-MAX_ANSWER_CHARS:])
    if not answer.strip():
        return 0.0
    parsed = parse(answer, extraction_config=_config(explicit), parsing_timeout=None)
    if not parsed:
        return 0.0
    return 1.0 if verify(gold_parsed, parsed, timeout_seconds=None) else 0.0


def serve(fd: int) -> None:
    """Worker entry point: answer verification requests on the socket ``fd`` until it closes.

    Ctrl-C reaches the whole process group; the parent decides when workers stop (it closes their socket,
    or dies and the socket closes), so a worker ignores SIGINT instead of printing a traceback.
    """
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _worker(Connection(fd))


def _worker(conn: Connection) -> None:
    import logging

    logging.disable(logging.WARNING)  # math-verify warns once per process that timeouts are off
    while True:
        try:
            batch = conn.recv()
        except EOFError:
            return
        if batch is None:
            return
        for index, gold, answer, explicit in batch:
            started = time.perf_counter()
            try:
                result = check(gold, answer, explicit)
            except Exception:
                result = 0.0
            conn.send((index, result, time.perf_counter() - started))


# -- parent side ----------------------------------------------------------------------------------


class _Worker:
    """One verifier process. Started as ``python -c ...`` rather than through multiprocessing, so it
    never re-imports the caller's ``__main__`` (scripts without a main guard keep working)."""

    def __init__(self) -> None:
        parent, child = socket.socketpair()
        code = "import sys; from filters.verify import serve; serve(int(sys.argv[1]))"
        self.process = subprocess.Popen(
            [sys.executable, "-c", code, str(child.fileno())],
            pass_fds=(child.fileno(),),
            stdin=subprocess.DEVNULL,
        )
        child.close()
        self.conn = Connection(parent.detach())
        self.pending: list[tuple[int, str, str, bool]] = []
        self.since = 0.0

    def give(self, items: list[tuple[int, str, str, bool]]) -> None:
        self.pending = list(items)
        self.since = time.monotonic()
        self.conn.send(items)

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(timeout=5)
        self.conn.close()


class VerifyPool:
    """Persistent worker processes that verify (gold, answer) pairs with a per-item time budget.

    Args:
        workers: processes to run (default: the CPUs this process may use).
        timeout: seconds one item may take before its worker is killed and the item scored 0.0.
    """

    def __init__(self, workers: int | None = None, timeout: float = DEFAULT_TIMEOUT) -> None:
        # R1F_THREADS: executors give each of their workers a share of the cores, and the pool keeps to it
        self.size = workers or int(os.environ.get("R1F_THREADS") or 0) or max(1, len(os.sched_getaffinity(0)))
        self.timeout = timeout
        self._workers: list[_Worker] = []
        self.timeouts = 0
        #: seconds each item of the last :meth:`verify` call took in its worker (overruns count as timeout)
        self.durations: list[float] = []

    def _ensure(self) -> None:
        while len(self._workers) < self.size:
            self._workers.append(_Worker())

    def verify(self, pairs: Sequence[tuple[str, str] | tuple[str, str, bool]]) -> list[float | None]:
        """Scores in input order for ``(gold, answer[, explicit])``; each distinct item is checked once."""
        self.durations = []
        unique: dict[tuple[str, str, bool], int] = {}
        keys = [(p[0], p[1], bool(p[2]) if len(p) > 2 else False) for p in pairs]
        for key in keys:
            unique.setdefault(key, len(unique))
        results: dict[int, float | None] = {}
        items = []
        for key, i in unique.items():
            started = time.perf_counter()
            quick = fast_check(key[0], key[1])
            if quick is None:
                items.append((i, *key))
            else:
                results[i] = quick
                self.durations.append(time.perf_counter() - started)
        results.update(self._run(items) if items else {})
        return [results[unique[key]] for key in keys]

    def _run(self, items: list[tuple[int, str, str, bool]]) -> dict[int, float | None]:
        results: dict[int, float | None] = {}
        queue = [items[i : i + CHUNK] for i in range(0, len(items), CHUNK)]
        queue.reverse()
        self._ensure()
        for worker in self._workers:
            if queue:
                worker.give(queue.pop())
        while any(w.pending for w in self._workers):
            busy = {w.conn: w for w in self._workers if w.pending}
            deadline = min(w.since for w in busy.values()) + self.timeout
            ready = wait(list(busy), timeout=max(0.0, deadline - time.monotonic()))
            for conn in ready:
                worker = busy[conn]
                try:
                    index, value, seconds = conn.recv()
                except (EOFError, OSError):  # the worker died (e.g. out of memory): treat as overrun
                    self._replace(worker, results, queue)
                    continue
                results[index] = value
                self.durations.append(seconds)
                worker.pending.pop(0)
                worker.since = time.monotonic()
                if not worker.pending and queue:
                    worker.give(queue.pop())
            now = time.monotonic()
            for worker in list(busy.values()):
                if worker.pending and now - worker.since > self.timeout:
                    self._replace(worker, results, queue)
        return results

    def _replace(self, worker: _Worker, results: dict[int, float | None], queue: list) -> None:
        """Kill an overrunning worker: its current item scores 0.0, the rest go to a fresh worker."""
        self.timeouts += 1
        culprit, *rest = worker.pending
        results[culprit[0]] = 0.0
        self.durations.append(self.timeout)
        worker.kill()
        fresh = _Worker()
        self._workers[self._workers.index(worker)] = fresh
        if rest:
            fresh.give(rest)
        elif queue:
            fresh.give(queue.pop())

    def close(self) -> None:
        for worker in self._workers:
            try:
                worker.conn.send(None)
            except OSError:
                pass
            try:
                worker.process.wait(timeout=2)
            except subprocess.TimeoutExpired:
                worker.process.kill()
        self._workers = []


_POOL: VerifyPool | None = None


def shared_pool() -> VerifyPool:
    """The process-wide pool every accuracy-based reward uses (started on first use)."""
    global _POOL
    if _POOL is None:
        _POOL = VerifyPool()
        atexit.register(_POOL.close)
    return _POOL
