"""Penalties: ``repetition_penalty`` (n-gram repetition) and ``soft_overlong_punishment`` (DAPO)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from filters.text import completion_text
from r1f.errors import ConfigError

#: characters of scripts written without spaces: each is a token (a word segmenter would do better; characters
#: already catch what the penalty is for, text that loops)
CJK_CHAR_RE = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")
TOKEN_RE = re.compile(
    r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]|[^\s\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]+"
)
CJK_LANGS = ("zh", "ja", "ko")


def repetition_tokens(text: str, lang: str | None = None) -> list[str]:
    """Lower-cased words; in Chinese, Japanese or Korean text (by the row's ``lang``, else by script) every
    CJK character is a token, so a loop like ``这个这个这个`` has n-grams to repeat (open-r1 segments words
    with jieba for ``language="zh"``; characters need no extra package).

    >>> repetition_tokens("这个这个 OK", "zh")
    ['这', '个', '这', '个', 'ok']
    """
    lowered = text.lower()
    cjk = (lang or "")[:2] in CJK_LANGS if lang else len(CJK_CHAR_RE.findall(lowered)) * 3 > len(lowered.split())
    return TOKEN_RE.findall(lowered) if cjk else lowered.split()


class RepetitionPenalty:
    """``max_penalty * (1 - distinct n-grams / n-grams)`` over tokens (lower-cased words; CJK characters in
    Chinese, Japanese and Korean text); 0 when too short.

    Args:
        ngram_size: tokens per n-gram (>= 1).
        max_penalty: the penalty of a completion that is one n-gram repeated; must be <= 0.
        lang_column: the column naming each row's language (without it, the script decides).

    >>> r = RepetitionPenalty(ngram_size=2, max_penalty=-1.0)
    >>> r(["a b c d e", "a b a b a b a b", "hi"])
    [0.0, -0.7142857142857143, 0.0]
    >>> r(["这个" * 50], lang=["zh"])[0] < -0.9
    True
    """

    __name__ = "repetition_penalty"

    def __init__(self, ngram_size: int = 3, max_penalty: float = -1.0, lang_column: str = "lang") -> None:
        if max_penalty > 0:
            raise ConfigError(f"repetition_penalty max_penalty must be <= 0 (it is a penalty), got {max_penalty}")
        if ngram_size < 1:
            raise ConfigError(f"repetition_penalty ngram_size must be >= 1, got {ngram_size}")
        self.ngram_size = ngram_size
        self.max_penalty = max_penalty
        self.lang_column = lang_column

    def __call__(self, completions: Sequence[Any], **columns: Any) -> list[float | None]:
        out: list[float | None] = []
        n = self.ngram_size
        langs = columns.get(self.lang_column) or [None] * len(completions)
        for completion, lang in zip(completions, langs):
            words = repetition_tokens(completion_text(completion), lang)
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
