"""``language_consistency``: the R1 report's reward for reasoning that stays in the prompt's language.

The reasoning is cut into sentence chunks; math (numbers, LaTeX, operators, single-letter
variables) is removed first, because formulas are no language and must not be punished. Each chunk
is detected with langdetect (seeded, so results repeat) and counts with its word count; the reward
is the share of words in chunks whose language is the target. A Spanish sentence with one English
word is still a Spanish sentence (little cost); a CoT that is half English scores one half. Text
with no words at all (pure math) scores 1.0. The target is the ``lang`` column when given, else the
language detected in the prompt.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from filters.text import completion_text, prompt_text, reasoning_region
from r1f.errors import ConfigError

#: languages the detector may choose from; restricting the candidates makes short chunks reliable
CANDIDATES = ("en", "es", "fr", "de", "zh-cn", "zh-tw", "it", "pt", "nl", "ru", "ja", "ko")
SENTENCE_RE = re.compile(r"(?<=[.!?。！？;；])\s+|\n+|(?<=[。！？；])")
MATH_RE = re.compile(
    r"\$[^$]*\$|\\\(.*?\\\)|\\\[.*?\\\]|\\[a-zA-Z]+|<[^>]{1,20}>|[0-9]+(?:[.,][0-9]+)?|[=+\-*/^_{}()\[\]%<>|×÷·]"
)
WORD_RE = re.compile(r"[^\W\d_]{2,}")
CJK_RE = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")
MIN_WORDS = 3
#: a chunk counts as the target language when the detector gives it at least this probability
TARGET_PROB = 0.3


def _normalise(code: str) -> str:
    return "zh" if code.startswith("zh") else code


@lru_cache(maxsize=1)
def _factory() -> Any:
    try:
        from langdetect import DetectorFactory
        from langdetect.detector_factory import init_factory
    except ImportError:
        raise ConfigError("language_consistency needs langdetect: pip install 'r1-factory[rewards]'") from None
    DetectorFactory.seed = 0
    init_factory()
    from langdetect import detector_factory

    return detector_factory._factory


HANGUL_RE = re.compile(r"[\uac00-\ud7af\u1100-\u11ff]")
KANA_RE = re.compile(r"[\u3040-\u30ff]")
LATIN_RE = re.compile(r"[A-Za-z\u00c0-\u024f]")


def _script_language(text: str) -> str | None:
    """CJK is decided by script (langdetect calls Han-only text Korean); None for alphabetic text."""
    cjk = len(CJK_RE.findall(text))
    if not cjk or cjk < len(LATIN_RE.findall(text)) / 4:
        return None
    if HANGUL_RE.search(text):
        return "ko"
    return "ja" if KANA_RE.search(text) else "zh"


def detect(text: str) -> dict[str, float]:
    """Language probabilities of ``text`` among :data:`CANDIDATES` (deterministic)."""
    script = _script_language(text)
    if script:
        return {script: 1.0}
    factory = _factory()
    detector = factory.create()
    detector.set_prior_map({code: 1.0 for code in CANDIDATES})
    detector.append(text)
    try:
        found = detector.get_probabilities()
    except Exception:  # langdetect raises on text without features
        return {}
    probs: dict[str, float] = {}
    for item in found:
        code = _normalise(item.lang)
        probs[code] = probs.get(code, 0.0) + item.prob
    return probs


def _word_count(text: str) -> int:
    return len(WORD_RE.findall(CJK_RE.sub(" ", text))) + len(CJK_RE.findall(text))


def chunks(text: str) -> list[tuple[str, int]]:
    """Sentence chunks of the math-free text with their word counts; short ones merge with the next."""
    out: list[tuple[str, int]] = []
    buffer, count = "", 0
    for piece in SENTENCE_RE.split(text):
        clean = MATH_RE.sub(" ", piece or "")
        words = _word_count(clean)
        if not words:
            continue
        buffer, count = f"{buffer} {clean}".strip(), count + words
        if count >= MIN_WORDS:
            out.append((buffer, count))
            buffer, count = "", 0
    if count:
        if out:
            last, last_count = out.pop()
            out.append((f"{last} {buffer}", last_count + count))
        else:
            out.append((buffer, count))
    return out


def consistency(text: str, target: str) -> float:
    """Share of the words of ``text`` that sit in chunks written in ``target``."""
    target = _normalise(target)
    total = in_target = 0
    for chunk, words in chunks(text):
        probs = detect(chunk)
        total += words
        if probs.get(target, 0.0) >= TARGET_PROB:
            in_target += words
    return 1.0 if total == 0 else in_target / total


def detect_language(text: str) -> str | None:
    """The most likely language of a whole text (math removed), or None when it has no words."""
    clean = MATH_RE.sub(" ", text)
    if not _word_count(clean):
        return None
    probs = detect(clean)
    return max(probs, key=probs.get) if probs else None


class LanguageConsistency:
    """The share of the reasoning's words that are in the target language (1.0 = all of them).

    Args:
        lang_column: column naming the target language (``en``, ``es``, ``zh``, ...); when absent
            or empty for a row, the language of the prompt (``prompts``/``prompt``/``problem``) is used.
        reasoning_only: score only the reasoning (``<think>`` or the R1 reasoning part), as the R1
            report does; otherwise the whole completion.

    >>> r = LanguageConsistency()
    >>> r(["<think>Primero multiplicamos tres por cuatro y luego sumamos dos.</think><answer>14</answer>"], lang=["es"])
    [1.0]
    """

    __name__ = "language_consistency"

    def __init__(self, lang_column: str = "lang", reasoning_only: bool = True) -> None:
        self.lang_column = lang_column
        self.reasoning_only = reasoning_only

    def __call__(self, completions: Sequence[Any], **columns: Any) -> list[float | None]:
        langs = columns.get(self.lang_column)
        prompts = columns.get("prompts") or columns.get("prompt") or columns.get("problem")
        out: list[float | None] = []
        for i, completion in enumerate(completions):
            target = langs[i] if langs is not None and langs[i] else None
            if target is None and prompts is not None:
                target = detect_language(prompt_text(prompts[i]))
            if target is None:
                out.append(None)  # no language to be consistent with
                continue
            text = completion_text(completion)
            out.append(consistency(reasoning_region(text) if self.reasoning_only else text, str(target)))
        return out
