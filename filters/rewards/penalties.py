"""Penalties: ``repetition_penalty`` (n-gram repetition) and ``soft_overlong_punishment`` (DAPO)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from filters.text import completion_text
from r1f.errors import ConfigError


class RepetitionPenalty:
    """``max_penalty * (1 - distinct n-grams / n-grams)`` over lower-cased words; 0 when too short.

    Args:
        ngram_size: words per n-gram (>= 1).
        max_penalty: the penalty of a completion that is one n-gram repeated; must be <= 0.

    >>> r = RepetitionPenalty(ngram_size=2, max_penalty=-1.0)
    >>> r(["a b c d e", "a b a b a b a b", "hi"])
    [0.0, -0.7142857142857143, 0.0]
    """

    __name__ = "repetition_penalty"

    def __init__(self, ngram_size: int = 3, max_penalty: float = -1.0) -> None:
        if max_penalty > 0:
            raise ConfigError(f"repetition_penalty max_penalty must be <= 0 (it is a penalty), got {max_penalty}")
        if ngram_size < 1:
            raise ConfigError(f"repetition_penalty ngram_size must be >= 1, got {ngram_size}")
        self.ngram_size = ngram_size
        self.max_penalty = max_penalty

    def __call__(self, completions: Sequence[Any], **columns: Any) -> list[float | None]:
        out: list[float | None] = []
        n = self.ngram_size
        for completion in completions:
            words = completion_text(completion).lower().split()
            if len(words) < n or self.max_penalty == 0:
                out.append(0.0)
                continue
            grams = [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]
            out.append((1.0 - len(set(grams)) / len(grams)) * self.max_penalty + 0.0)  # + 0.0: no -0.0
        return out


class SoftOverlongPunishment:
    """DAPO's soft overlong punishment, in tokens.

    0 up to ``max_completion_len - soft_punish_cache`` tokens, then a linear ramp down to -1 at
    ``max_completion_len``, and -1 past it. Token counts come from TRL's ``completion_ids``, else a
    ``completion_tokens`` column (factory datasets); without either the length cannot be judged (None).

    >>> r = SoftOverlongPunishment(max_completion_len=100, soft_punish_cache=20)
    >>> r(["a", "b", "c", "d"], completion_tokens=[50, 90, 100, 130])
    [0.0, -0.5, -1.0, -1.0]
    """

    __name__ = "soft_overlong_punishment"

    def __init__(self, max_completion_len: int = 256, soft_punish_cache: int = 64) -> None:
        if not 0 < soft_punish_cache <= max_completion_len:
            raise ConfigError(
                "soft_overlong_punishment needs 0 < soft_punish_cache <= max_completion_len, "
                f"got {soft_punish_cache} and {max_completion_len}"
            )
        self.max_completion_len = max_completion_len
        self.soft_punish_cache = soft_punish_cache

    def __call__(self, completions: Sequence[Any], **columns: Any) -> list[float | None]:
        ids = columns.get("completion_ids")
        counts = [len(x) for x in ids] if ids is not None else columns.get("completion_tokens")
        if counts is None:
            return [None] * len(completions)
        start = self.max_completion_len - self.soft_punish_cache
        out: list[float | None] = []
        for count in counts:
            if count is None:
                out.append(None)
            elif count <= start:
                out.append(0.0)
            elif count <= self.max_completion_len:
                out.append((start - count) / self.soft_punish_cache)
            else:
                out.append(-1.0)
        return out
