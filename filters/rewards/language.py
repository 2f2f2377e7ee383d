"""``language_consistency``: the R1 report's reward for reasoning that stays in the prompt's language.

The reasoning is cut into sentence chunks; math (numbers, LaTeX, operators, single-letter variables) is
removed first, because formulas are no language and must not be punished. Each chunk is detected and
counts with its word count; the reward is the share of words in chunks whose language is the target. A
Spanish sentence with one English word is still a Spanish sentence (little cost); a CoT that is half
English scores one half. The target is the ``lang`` column when given, else the prompt's language.

Two rules for text that says little, documented because they decide rewards:

- no words at all (pure math) scores 1.0: nothing in it is in another language;
- one or two words (after removing math) cannot be judged: ``None`` (a detector's guess on one word is
  noise, and 0.0 would punish a terse but consistent answer).

Work is bounded per item, whatever the input: at most :data:`MAX_CHARS` characters are read (evenly spaced
windows of a longer text, so a switch of language anywhere is still seen in proportion), and at most
:data:`MAX_CHUNKS` detector calls are made (neighbouring sentences merge). The detector is a setting:
``lingua`` (the default) or ``langdetect`` (seeded, so its results repeat too). On the five languages'
mixed-language bench (``bench/language.py``) lingua errs less, above all on short sentences (mean error
0.016 vs 0.028; 0.033 vs 0.055 on short ones), and runs about 20 times faster; it is made for short and
mixed text, which is what a chain of thought's sentences are.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

from filters.text import completion_text, prompt_text, reasoning_region
from r1f.errors import ConfigError

#: languages the detectors may choose from; restricting the candidates makes short chunks reliable
CANDIDATES = ("en", "es", "fr", "de", "zh", "it", "pt", "nl", "ru", "ja", "ko")
SENTENCE_RE = re.compile(r"(?<=[.!?。！？;；])\s+|\n+|(?<=[。！？；])")
MATH_RE = re.compile(
    r"\$[^$]*\$|\\\(.*?\\\)|\\\[.*?\\\]|\\[a-zA-Z]+|<[^>]{1,20}>|[0-9]+(?:[.,][0-9]+)?|[=+\-*/^_{}()\[\]%<>|×÷·]"
)
WORD_RE = re.compile(r"[^\W\d_]{2,}")
CJK_RE = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")
HANGUL_RE = re.compile(r"[\uac00-\ud7af\u1100-\u11ff]")
KANA_RE = re.compile(r"[\u3040-\u30ff]")
LATIN_RE = re.compile(r"[A-Za-z\u00c0-\u024f]")
#: a chunk shorter than this merges with the next
MIN_WORDS = 3
#: fewer words than this (after removing math) cannot be judged
MIN_JUDGE_WORDS = 3
#: a chunk counts as the target language when the detector gives it at least this probability
TARGET_PROB = 0.3
#: characters of reasoning read per item, and the windows a longer text is read in
MAX_CHARS = 4000
WINDOWS = 8
#: detector calls per item
MAX_CHUNKS = 16
DETECTORS = ("lingua", "langdetect")
DEFAULT_DETECTOR = "lingua"


def _normalise(code: str) -> str:
    return "zh" if code.lower().startswith("zh") else code.lower()


def _script_language(text: str) -> str | None:
    """CJK is decided by script (langdetect calls Han-only text Korean); None for alphabetic text."""
    cjk = len(CJK_RE.findall(text))
    if not cjk or cjk < len(LATIN_RE.findall(text)) / 4:
        return None
    if HANGUL_RE.search(text):
        return "ko"
    return "ja" if KANA_RE.search(text) else "zh"


@lru_cache(maxsize=1)
def _langdetect() -> Callable[[str], dict[str, float]]:
    try:
        from langdetect import DetectorFactory
        from langdetect.detector_factory import init_factory
    except ImportError:
        raise ConfigError("language_consistency needs langdetect: pip install 'r1-factory[rewards]'") from None
    DetectorFactory.seed = 0
    init_factory()
    from langdetect import detector_factory

    factory = detector_factory._factory
    priors = {code: 1.0 for code in ("en", "es", "fr", "de", "zh-cn", "zh-tw", "it", "pt", "nl", "ru", "ja", "ko")}

    def probabilities(text: str) -> dict[str, float]:
        detector = factory.create()
        detector.set_prior_map(priors)
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

    return probabilities


@lru_cache(maxsize=1)
def _lingua() -> Callable[[str], dict[str, float]]:
    try:
        from lingua import IsoCode639_1, Language, LanguageDetectorBuilder
    except ImportError:
        raise ConfigError("detector lingua needs lingua-language-detector: pip install 'r1-factory[lingua]'") from None
    languages = [Language.from_iso_code_639_1(getattr(IsoCode639_1, c.upper())) for c in CANDIDATES]
    detector = LanguageDetectorBuilder.from_languages(*languages).build()

    def probabilities(text: str) -> dict[str, float]:
        return {
            v.language.iso_code_639_1.name.lower(): v.value for v in detector.compute_language_confidence_values(text)
        }

    return probabilities


def detector(name: str = DEFAULT_DETECTOR) -> Callable[[str], dict[str, float]]:
    """``text -> {language: probability}`` among :data:`CANDIDATES` (CJK decided by script, deterministic)."""
    if name not in DETECTORS:
        raise ConfigError(f"language detector {name!r}: choose one of {', '.join(DETECTORS)}")
    base = _langdetect() if name == "langdetect" else _lingua()

    def probabilities(text: str) -> dict[str, float]:
        script = _script_language(text)
        return {script: 1.0} if script else base(text)

    return probabilities


def detect(text: str, name: str = DEFAULT_DETECTOR) -> dict[str, float]:
    """Language probabilities of ``text`` (see :func:`detector`)."""
    return detector(name)(text)


def _word_count(text: str) -> int:
    return len(WORD_RE.findall(CJK_RE.sub(" ", text))) + len(CJK_RE.findall(text))


def sample_text(text: str, max_chars: int = MAX_CHARS, windows: int = WINDOWS) -> str:
    """``text`` itself when short; else ``windows`` evenly spaced windows of it, ``max_chars`` in all.

    >>> len(sample_text("abc " * 10_000)) <= MAX_CHARS + WINDOWS
    True
    """
    if len(text) <= max_chars:
        return text
    size = max_chars // windows
    step = (len(text) - size) / max(1, windows - 1)
    return "\n".join(text[int(i * step) : int(i * step) + size] for i in range(windows))


def chunks(text: str, max_chunks: int = MAX_CHUNKS) -> list[tuple[str, int]]:
    """Sentence chunks of the math-free text with their word counts; short ones merge with the next, and
    neighbours merge until there are at most ``max_chunks``."""
    out: list[tuple[str, int]] = []
    buffer: list[str] = []
    count = 0
    for piece in SENTENCE_RE.split(text):
        clean = MATH_RE.sub(" ", piece or "")
        words = _word_count(clean)
        if not words:
            continue
        buffer.append(clean)
        count += words
        if count >= MIN_WORDS:
            out.append((" ".join(buffer).strip(), count))
            buffer, count = [], 0
    if count:
        if out:
            last, last_count = out.pop()
            out.append((f"{last} {' '.join(buffer)}", last_count + count))
        else:
            out.append((" ".join(buffer).strip(), count))
    if len(out) > max_chunks:
        per = sum(n for _, n in out) / max_chunks
        merged: list[tuple[str, int]] = []
        parts: list[str] = []
        count = 0
        for chunk, n in out:
            parts.append(chunk)
            count += n
            if count >= per:
                merged.append((" ".join(parts), count))
                parts, count = [], 0
        if parts:
            merged.append((" ".join(parts), count))
        out = merged
    return out


def consistency(text: str, target: str, name: str = DEFAULT_DETECTOR) -> float | None:
    """Share of the words of ``text`` that sit in chunks written in ``target`` (see the module's rules)."""
    target = _normalise(target)
    probabilities = detector(name)
    parts = chunks(sample_text(text))
    total = sum(words for _, words in parts)
    if total == 0:
        return 1.0
    if total < MIN_JUDGE_WORDS:
        return None
    in_target = sum(words for chunk, words in parts if probabilities(chunk).get(target, 0.0) >= TARGET_PROB)
    return in_target / total


def detect_language(text: str, name: str = DEFAULT_DETECTOR) -> str | None:
    """The most likely language of a whole text (math removed), or None when it has no words."""
    clean = MATH_RE.sub(" ", sample_text(text))
    if not _word_count(clean):
        return None
    probs = detect(clean, name)
    return max(probs, key=probs.get) if probs else None


class LanguageConsistency:
    """The share of the reasoning's words that are in the target language (1.0 = all of them).

    Args:
        lang_column: column naming the target language (``en``, ``es``, ``zh``, ...); when absent
            or empty for a row, the language of the prompt (``prompts``/``prompt``/``problem``) is used.
        reasoning_only: score only the reasoning (``<think>`` or the R1 reasoning part), as the R1
            report does; otherwise the whole completion.
        detector: ``lingua`` (default) or ``langdetect``.

    >>> r = LanguageConsistency()
    >>> r(["<think>Primero multiplicamos tres por cuatro y luego sumamos dos.</think><answer>14</answer>"], lang=["es"])
    [1.0]
    >>> r(["<think>12 + 2 = 14</think>", "<think>Easy.</think>"], lang=["es", "es"])  # pure math; too short
    [1.0, None]
    """

    __name__ = "language_consistency"

    def __init__(
        self, lang_column: str = "lang", reasoning_only: bool = True, detector: str = DEFAULT_DETECTOR
    ) -> None:
        if detector not in DETECTORS:
            raise ConfigError(f"language_consistency detector {detector!r}: choose one of {', '.join(DETECTORS)}")
        self.lang_column = lang_column
        self.reasoning_only = reasoning_only
        self.detector = detector

    def __call__(self, completions: Sequence[Any], **columns: Any) -> list[float | None]:
        langs = columns.get(self.lang_column)
        prompts = columns.get("prompts") or columns.get("prompt") or columns.get("problem")
        out: list[float | None] = []
        for i, completion in enumerate(completions):
            target = langs[i] if langs is not None and langs[i] else None
            if target is None and prompts is not None:
                target = detect_language(prompt_text(prompts[i]), self.detector)
            if target is None:
                out.append(None)  # no language to be consistent with
                continue
            text = completion_text(completion)
            region = reasoning_region(text) if self.reasoning_only else text
            out.append(consistency(region, str(target), self.detector))
        return out
