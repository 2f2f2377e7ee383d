"""Text normalisation and word n-grams: the one definition the generator's held-out guard and
decontamination share, so "never overlaps the held-out split" means the same thing in both places."""

from __future__ import annotations

import re

WHITESPACE = re.compile(r"\s+")
#: open-r1's default n-gram size for decontamination
NGRAM = 8


def normalize(text: str) -> str:
    """Lower case, whitespace collapsed, trimmed: the key of exact dedup and decontamination.

    >>> normalize("  What is\\n2 +  2? ")
    'what is 2 + 2?'
    """
    return WHITESPACE.sub(" ", text.lower()).strip()


def word_ngrams(text: str, n: int = NGRAM) -> list[str]:
    """The word n-grams open-r1 compares; a text shorter than ``n`` words is one n-gram (open-r1 would
    give it none, so it could never be flagged).

    >>> word_ngrams("A  B c d", 3)
    ['a b c', 'b c d']
    >>> word_ngrams("What is 2 + 2?")
    ['what is 2 + 2?']
    """
    words = normalize(text).split(" ")
    if words == [""]:
        return []
    if len(words) < n:
        return [" ".join(words)]
    return [" ".join(words[i : i + n]) for i in range(len(words) - n + 1)]
