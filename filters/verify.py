"""Answer verification, bounded in time without SIGALRM.

What counts as the same value is :mod:`filters.answers` (golds and answers read whole, never a fragment);
this module runs it safely. math-verify's own timeouts use ``signal.alarm``, which raises outside the main
thread (trainers, thread pools) and cannot stop C-level sympy loops anyway. Here every check that needs
sympy runs in a worker process with math-verify's timeouts off; the parent watches the clock from the
moment a worker is ready (imports done) and, when one item overruns its budget, kills that worker and
retries the item once on a fresh one; a second overrun scores it 0.0 (an answer we cannot verify is not
correct). Plain numbers on both sides are settled in the parent with exact fractions. Workers cache
parsed golds; the parent sends each distinct item once. Nothing is ever ``eval``-ed.
"""

from __future__ import annotations

import atexit
import os
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from functools import lru_cache
from multiprocessing.connection import Connection, wait
from typing import Any

#: per-item budget (seconds), counted from when the worker is ready, before an item is retried (then scored 0.0)
DEFAULT_TIMEOUT = 3.0
#: seconds a fresh worker may take to import math-verify and sympy (not part of any item's budget)
STARTUP_TIMEOUT = 120.0
#: items handed to a worker at a time
CHUNK = 16
#: an answer region longer than this is not one value (a 1 MB "answer" scores 0 without being parsed)
MAX_ANSWER_CHARS = 200_000

#: one item: (index, gold, answer regions, explicit); regions None asks only whether the gold parses
Item = tuple[int, str, "tuple[str, ...] | None", bool]


def gold_text(gold: str) -> str:
    r"""The answer part of a gold: the last ``\boxed{}`` of a worked solution, what follows GSM8K's ``####``,
    else the whole string.

    >>> gold_text("so $x = \\boxed{\\frac{1}{2}}$."), gold_text("3 + 4 = 7 apples\n#### 7"), gold_text("4a-2")
    ('\\frac{1}{2}', '7', '4a-2')
    """
    from filters.text import last_boxed

    if "\\boxed" in gold or "\\fbox" in gold:
        boxed = last_boxed(gold)
        if boxed is not None:
            return boxed
    if "####" in gold:
        return gold.rsplit("####", 1)[1].strip()
    return gold


def fast_check(gold: str, regions: tuple[str, ...] | None) -> float | None:
    """Exact verdict when the gold and every answer region are plain numbers (``14``, ``1,000``, ``-2.5``,
    ``7/12``, ``68%``); None when anything needs the worker. No sympy, no round trip: the common case."""
    from filters.answers import plain_number

    if regions is None:
        return None
    value = plain_number(gold_text(gold))
    if value is None:
        return None
    if not regions or not any(r.strip() for r in regions):
        return 0.0
    if any(len(r) > MAX_ANSWER_CHARS for r in regions):
        return 0.0
    answers = [plain_number(r) for r in regions]
    if any(a is None for a in answers):
        return None
    if len(set(answers)) > 1:  # several different values: a hedge
        return 0.0
    return 1.0 if answers[0] == value else 0.0


# -- worker side ----------------------------------------------------------------------------------


@lru_cache(maxsize=4096)
def parse_gold(gold: str) -> Any:
    """The gold read whole (:func:`filters.answers.parse_value`), or None: "cannot be judged", never a fragment."""
    from filters.answers import parse_value

    text = gold_text(gold)
    if len(text) > 20_000:
        return None
    return parse_value(text)


def check(gold: str, regions: tuple[str, ...] | None, explicit: bool = False) -> float | None:
    """1.0 if the answer regions state the gold's value, 0.0 if not (or if they state several different values),
    None if the gold cannot be read whole. ``regions`` None only asks whether the gold parses (1.0 or None).

    ``explicit`` says the regions were cut out of the completion (``<answer>``, a box, an anchored line), so a
    region that is not one value may still name exactly one number (``14 apples``); free text never does.
    """
    from filters.answers import candidates_of, same

    gold_value = parse_gold(gold)
    if gold_value is None:
        return None
    if regions is None:
        return 1.0
    values = []
    for region in regions:
        if not region.strip() or len(region) > MAX_ANSWER_CHARS:
            return 0.0
        values.extend(candidates_of(region, explicit))
    if not values:
        return 0.0
    first = values[0]
    if any(not same(first, other) for other in values[1:]):
        return 0.0
    return 1.0 if same(gold_value, first) else 0.0


#: what a worker runs per item: the reward's verifier, or the audit's independent second checker
CHECKERS = ("primary", "second")


def _second(gold: str, regions: tuple[str, ...] | None, explicit: bool = False) -> float | None:
    from filters.crosscheck import check as second_check

    return second_check(gold, regions[0] if regions else "")


def serve(fd: int, checker: str = "primary") -> None:
    """Worker entry point: answer verification requests on the socket ``fd`` until it closes.

    Ctrl-C reaches the whole process group; the parent decides when workers stop (it closes their socket,
    or dies and the socket closes), so a worker ignores SIGINT instead of printing a traceback.
    """
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _worker(Connection(fd), _second if checker == "second" else check)


def _worker(conn: Connection, check: Any = check) -> None:
    import logging

    logging.disable(logging.WARNING)  # math-verify warns once per process that timeouts are off
    try:  # import and warm math-verify and sympy before saying ready: that time is nobody's item budget
        check("\\frac{1}{2}", ("0.5",), True)
    except Exception:
        pass
    conn.send("ready")
    while True:
        try:
            batch = conn.recv()
        except EOFError:
            return
        if batch is None:
            return
        for index, gold, regions, explicit in batch:
            started = time.perf_counter()
            try:
                result = check(gold, regions, explicit)
            except Exception:  # RecursionError included: deep nesting is "cannot verify", not a crash
                result = 0.0 if regions is not None else None
            conn.send((index, result, time.perf_counter() - started))


# -- parent side ----------------------------------------------------------------------------------


class _Worker:
    """One verifier process. Started as ``python -c ...`` rather than through multiprocessing, so it
    never re-imports the caller's ``__main__`` (scripts without a main guard keep working)."""

    def __init__(self, checker: str = "primary") -> None:
        parent, child = socket.socketpair()
        code = "import sys; from filters.verify import serve; serve(int(sys.argv[1]), sys.argv[2])"
        self.process = subprocess.Popen(
            [sys.executable, "-c", code, str(child.fileno()), checker],
            pass_fds=(child.fileno(),),
            stdin=subprocess.DEVNULL,
        )
        child.close()
        self.conn = Connection(parent.detach())
        self.ready = False
        self.pending: list[Item] = []
        self.since = 0.0

    def wait_ready(self, timeout: float = STARTUP_TIMEOUT) -> bool:
        """Block until the worker has imported and warmed its verifier (its first message)."""
        if not self.ready:
            try:
                self.ready = bool(self.conn.poll(timeout)) and self.conn.recv() == "ready"
            except (EOFError, OSError):
                self.ready = False
        return self.ready

    def give(self, items: list[Item]) -> None:
        self.wait_ready()
        self.pending = list(items)
        self.since = time.monotonic()
        self.conn.send(items)

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(timeout=5)
        self.conn.close()


class VerifyPool:
    """Persistent worker processes that verify (gold, answer regions) items with a per-item time budget.

    The budget starts when a worker is ready (math-verify and sympy imported), so a cold start on a busy
    machine costs no verdict. An item that overruns is retried once on a fresh, warm worker; only a second
    overrun scores it 0.0.

    Args:
        workers: processes to run (default: the CPUs this process may use).
        timeout: seconds one item may take before its worker is killed.
        checker: ``primary`` (the accuracy reward's verifier) or ``second`` (the audit's independent checker).
    """

    def __init__(self, workers: int | None = None, timeout: float = DEFAULT_TIMEOUT, checker: str = "primary") -> None:
        if checker not in CHECKERS:
            raise ValueError(f"checker must be one of {', '.join(CHECKERS)}, got {checker!r}")
        self.checker = checker
        # R1F_THREADS: executors give each of their workers a share of the cores, and the pool keeps to it
        self.size = workers or int(os.environ.get("R1F_THREADS") or 0) or max(1, len(os.sched_getaffinity(0)))
        self.timeout = timeout
        self._workers: list[_Worker] = []
        self.timeouts = 0
        #: items that overran twice and were scored 0.0
        self.gave_up = 0
        #: seconds each item of the last :meth:`verify` call took in its worker (overruns count as timeout)
        self.durations: list[float] = []

    def _ensure(self) -> None:
        while len(self._workers) < self.size:
            self._workers.append(_Worker(self.checker))
        for worker in self._workers:
            worker.wait_ready()

    def verify(self, items: Sequence[tuple[str, Any] | tuple[str, Any, bool]]) -> list[float | None]:
        """Scores in input order for ``(gold, answer[, explicit])``, where ``answer`` is a string or a tuple of
        answer regions (several: they must all state one value). Each distinct item is checked once."""
        self.durations = []
        unique: dict[tuple[str, tuple[str, ...] | None, bool], int] = {}
        keys = []
        for item in items:
            regions = item[1]
            if isinstance(regions, str):
                regions = (regions,)
            elif regions is not None:
                regions = tuple(regions)
            keys.append((item[0], regions, bool(item[2]) if len(item) > 2 else False))
        for key in keys:
            unique.setdefault(key, len(unique))
        results: dict[int, float | None] = {}
        work: list[Item] = []
        for key, i in unique.items():
            started = time.perf_counter()
            quick = fast_check(key[0], key[1]) if self.checker == "primary" else None
            if quick is None:
                work.append((i, *key))
            else:
                results[i] = quick
                self.durations.append(time.perf_counter() - started)
        results.update(self._run(work) if work else {})
        return [results[unique[key]] for key in keys]

    def gold_parses(self, golds: Sequence[str]) -> list[bool]:
        """Whether each gold can be read whole (the loaders report the ones that cannot)."""
        return [v is not None for v in self.verify([(g, None) for g in golds])]

    def _run(self, items: list[Item]) -> dict[int, float | None]:
        results: dict[int, float | None] = {}
        queue = [items[i : i + CHUNK] for i in range(0, len(items), CHUNK)]
        queue.reverse()
        retried: set[int] = set()
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
                    self._replace(worker, results, queue, retried)
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
                    self._replace(worker, results, queue, retried)
        return results

    def _replace(self, worker: _Worker, results: dict[int, float | None], queue: list, retried: set[int]) -> None:
        """Kill an overrunning worker; its item goes back for one retry on a fresh worker, then scores 0.0."""
        self.timeouts += 1
        culprit, *rest = worker.pending
        worker.kill()
        fresh = _Worker(self.checker)
        self._workers[self._workers.index(worker)] = fresh
        if culprit[0] in retried:
            results[culprit[0]] = 0.0 if culprit[2] is not None else None
            self.durations.append(self.timeout)
            self.gave_up += 1
        else:
            retried.add(culprit[0])
            rest = [culprit, *rest]
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
