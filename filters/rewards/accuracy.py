"""Correctness rewards: ``accuracy`` and the length-aware ``cosine`` and ``length`` (Kimi 1.5).

All three compute correctness themselves through the shared :class:`~filters.verify.VerifyPool`,
so they work as TRL ``reward_funcs`` (which pass only completions and dataset columns) and as
dataset filters alike. A gold answer that cannot be parsed gives ``None``: "cannot be judged",
never a made-up score.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from typing import Any

from filters.text import answer_regions, completion_text, normalize_answer, prompt_text
from filters.verify import shared_pool
from r1f.errors import ConfigError


def correctness(completions: Sequence[Any], golds: Sequence[Any]) -> list[float | None]:
    """1.0 / 0.0 per completion, None where the gold is missing or cannot be read whole."""
    if len(golds) != len(completions):
        raise ConfigError(f"got {len(completions)} completions but {len(golds)} gold answers; pass one per completion")
    items, where = [], []
    results: list[float | None] = [None] * len(completions)
    for i, (completion, gold) in enumerate(zip(completions, golds)):
        if gold is None or not str(gold).strip():
            continue
        regions, explicit = answer_regions(completion_text(completion))
        items.append((normalize_answer(str(gold)), tuple(normalize_answer(r) for r in regions), explicit))
        where.append(i)
    for i, value in zip(where, shared_pool().verify(items)):
        results[i] = value
    return results


def unreadable_golds(golds: Sequence[Any]) -> list[int]:
    """Indices of golds that cannot be read whole (their rows score None): loaders report them up front."""
    present = [(i, normalize_answer(str(g))) for i, g in enumerate(golds) if g is not None and str(g).strip()]
    ok = shared_pool().gold_parses([g for _, g in present]) if present else []
    return [i for (i, _), good in zip(present, ok) if not good]


def gold_warning(golds: Sequence[Any], source: Any) -> str | None:
    """One line naming how many golds of ``source`` cannot be judged, with examples; None when all can."""
    bad = unreadable_golds(golds)
    if not bad:
        return None
    examples = ", ".join(f"row {i}: {str(golds[i])[:40]!r}" for i in bad[:3])
    return (
        f"{source}: {len(bad)} of {len(golds)} gold answers cannot be read as one value ({examples}); "
        "their rows score None under accuracy (check the solution column and --solution-format)"
    )


def warn_unreadable_golds(golds: Sequence[Any], source: Any) -> None:
    """Say up front (one line on stderr) how many golds cannot be read as one value: those rows score None."""
    if not any(g is not None for g in golds):
        return
    line = gold_warning(golds, source)
    if line:
        print(f"warning: {line}", file=sys.stderr)


class Accuracy:
    """Is the final answer mathematically equal to the gold? (math-verify, gold parsed once.)

    Args:
        solution_column: the column with gold answers (TRL passes it as a keyword argument).

    >>> Accuracy()(["<answer>14</answer>", "<answer>15</answer>"], solution=["14", "14"])
    [1.0, 0.0]
    """

    __name__ = "accuracy"

    def __init__(self, solution_column: str = "solution") -> None:
        self.solution_column = solution_column

    def __call__(self, completions: Sequence[Any], **columns: Any) -> list[float | None]:
        golds = columns.get(self.solution_column)
        if golds is None:
            raise ConfigError(
                f"the accuracy reward needs a {self.solution_column!r} column with gold answers; "
                f"columns given: {', '.join(sorted(columns)) or '(none)'}"
            )
        return correctness(completions, golds)


class Cosine:
    """Length-scaled correctness: short correct beats long correct, short wrong is punished hardest.

    The reward follows half a cosine from the short end to ``max_len`` characters and stays flat past it.
    Correct completions go from ``max_value_correct`` (short) down to ``min_value_correct`` (long);
    wrong ones from ``min_value_wrong`` (short: a quick guess) up to ``max_value_wrong`` (long: at least
    it tried). open-r1's command-line defaults invert the wrong branch; these do not.

    >>> r = Cosine(max_len=100)
    >>> short_ok, long_ok = r(["<answer>4</answer>", "x" * 90 + "<answer>4</answer>"], solution=["4", "4"])
    >>> short_bad, long_bad = r(["<answer>5</answer>", "x" * 90 + "<answer>5</answer>"], solution=["4", "4"])
    >>> short_ok > long_ok > 0 > long_bad > short_bad
    True
    """

    __name__ = "cosine"

    def __init__(
        self,
        min_value_wrong: float = -1.0,
        max_value_wrong: float = -0.5,
        min_value_correct: float = 0.5,
        max_value_correct: float = 1.0,
        max_len: int = 1000,
        solution_column: str = "solution",
    ) -> None:
        if not min_value_wrong <= max_value_wrong <= min_value_correct <= max_value_correct:
            raise ConfigError(
                "cosine reward needs min_value_wrong <= max_value_wrong <= min_value_correct <= max_value_correct, "
                f"got {min_value_wrong}, {max_value_wrong}, {min_value_correct}, {max_value_correct}"
            )
        if max_len < 1:
            raise ConfigError(f"cosine reward max_len must be >= 1, got {max_len}")
        self.min_value_wrong, self.max_value_wrong = min_value_wrong, max_value_wrong
        self.min_value_correct, self.max_value_correct = min_value_correct, max_value_correct
        self.max_len = max_len
        self.accuracy = Accuracy(solution_column)

    def __call__(self, completions: Sequence[Any], **columns: Any) -> list[float | None]:
        correct = self.accuracy(completions, **columns)
        out: list[float | None] = []
        for completion, ok in zip(completions, correct):
            if ok is None:
                out.append(None)
                continue
            progress = min(len(completion_text(completion)) / self.max_len, 1.0)
            shape = 0.5 * (1.0 + math.cos(progress * math.pi))  # 1 when short, 0 at max_len
            if ok:
                out.append(self.min_value_correct + (self.max_value_correct - self.min_value_correct) * shape)
            else:
                out.append(self.max_value_wrong - (self.max_value_wrong - self.min_value_wrong) * shape)
        return out


class Length:
    """Kimi 1.5's length reward, relative within each prompt's group of completions.

    With ``lambda = 0.5 - (len - min_len) / (max_len - min_len)`` over the group: correct answers get
    ``lambda`` (shorter is better), wrong ones ``min(0, lambda)`` (never a bonus). A group whose
    completions all have one length gets 0. Groups are the completions that share a prompt (TRL's
    ``prompts``, else ``problem``); without either, the batch is one group.
    """

    __name__ = "length"

    def __init__(self, solution_column: str = "solution") -> None:
        self.accuracy = Accuracy(solution_column)

    def __call__(self, completions: Sequence[Any], **columns: Any) -> list[float | None]:
        correct = self.accuracy(completions, **columns)
        keys = columns.get("prompts") or columns.get("prompt") or columns.get("problem")
        groups: dict[str, list[int]] = {}
        for i in range(len(completions)):
            key = prompt_text(keys[i]) if keys is not None else ""
            groups.setdefault(key, []).append(i)
        lengths = [len(completion_text(c)) for c in completions]
        out: list[float | None] = [None] * len(completions)
        for members in groups.values():
            lo, hi = min(lengths[i] for i in members), max(lengths[i] for i in members)
            for i in members:
                if correct[i] is None:
                    continue
                lam = 0.0 if hi == lo else 0.5 - (lengths[i] - lo) / (hi - lo)
                out[i] = lam if correct[i] else min(0.0, lam)
        return out
