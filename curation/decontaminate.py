"""Decontamination against evaluation sets with open-r1's n-gram rule, vectorised in polars.

The rule (open-r1's ``scripts/decontaminate.py``): lower-case, collapse whitespace, split on spaces,
take word n-grams (n = 8 by default); a training row is contaminated when any of its n-grams occurs
in any evaluation item. One deliberate difference: a text shorter than n words is its own single
n-gram, so short problems ("What is 2 + 9 * 9?") are checked by exact normalised match instead of
never matching at all.

Every n-gram is hashed to a 64-bit integer by polars and matched with one join, so the work is
columnar instead of a Python set per row; the hit table says which evaluation set (and which item)
each flagged row hits.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from r1f.errors import DataError
from r1f.ngrams import NGRAM, normalize, word_ngrams

HELDOUT = "heldout"
TEXT_COLUMNS = ("problem", "question", "prompt", "text")


@dataclass(frozen=True)
class EvalSet:
    """Texts of one evaluation set, with the item ids a hit reports."""

    name: str
    texts: list[str]
    ids: list[str]


def load_eval_set(spec: str, column: str | None = None) -> EvalSet:
    """``heldout`` (the built-in held-out split), a local table or factory dataset, or a Hub name (online).

    The text column is ``column`` when given, else the first of problem / question / prompt / text.
    """
    if spec == HELDOUT:
        from generators.problems import heldout_problems

        rows = heldout_problems()
    else:
        from r1f.io import read_rows

        rows = read_rows(spec, split="test" if _has_split(spec, "test") else "train")
    candidates = (column,) if column else TEXT_COLUMNS
    name = next((c for c in candidates if c in rows[0]), None)
    if name is None:
        raise DataError(
            f"{spec}: no text column ({', '.join(candidates)}); columns are {', '.join(rows[0])}; pass --eval-column"
        )
    from filters.text import completion_text

    texts = [v if isinstance(v, str) else completion_text(v) for v in (row.get(name) for row in rows)]
    ids = [str(row.get("id", i)) for i, row in enumerate(rows)]
    return EvalSet(spec, texts, ids)


def _has_split(spec: str, split: str) -> bool:
    from pathlib import Path

    from r1f.io import dataset_files

    path = Path(spec)
    return path.is_dir() and split in dataset_files(path)


#: one fixed odd 64-bit multiplier per n-gram position, so "a b" and "b a" hash apart
_MULTIPLIERS = [0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0xD6E8FEB86659FD93]


def _ngram_hashes(texts: Sequence[str], n: int, min_words: int = 0) -> Any:
    """A polars frame (row, hash) with one line per n-gram of each text.

    Words are hashed once by polars; the hash of the n-gram starting at word ``i`` is a position-weighted
    sum of the word hashes ``i .. i+n-1`` (uint64 arithmetic, wrapping), computed for all windows at once
    in numpy; windows that cross from one text into the next are dropped. ``min_words`` drops windows with
    fewer tokens that contain a letter (a window of masked numbers and operators says nothing about wording);
    with it, every text is also its own whole-text n-gram, so a copy of a formula-heavy problem ("Determine
    what 0 + 0 * 0 equals.") whose windows are all too mathy still matches as a whole.
    """
    import numpy as np
    import polars as pl

    frame = pl.DataFrame({"text": list(texts)}, schema={"text": pl.String}).with_row_index("row")
    words = frame.select(
        "row", words=pl.col("text").str.to_lowercase().str.replace_all(r"\s+", " ").str.strip_chars().str.split(" ")
    ).with_columns(count=pl.col("words").list.len())
    words = words.filter(pl.col("words").list.first() != "")
    whole = words if min_words else words.filter(pl.col("count") < n)
    short = whole.select("row", hash=pl.col("words").list.join(" ").hash(seed=0))
    flat = words.filter(pl.col("count") >= n).select("row", "words").explode("words")
    rows = flat["row"].to_numpy()
    word_hashes = flat["words"].hash(seed=1).to_numpy()
    wordy = flat["words"].str.contains(r"[^\W\d_]").cast(pl.Int64).to_numpy() if min_words else None
    windows = len(rows) - n + 1
    if windows <= 0:
        return short
    multipliers = [np.uint64((_MULTIPLIERS[k % 4] * (2 * k + 1)) % 2**64 | 1) for k in range(n)]
    with np.errstate(over="ignore"):
        combined = np.zeros(windows, dtype=np.uint64)
        for k in range(n):
            combined += word_hashes[k : k + windows] * multipliers[k]
    inside = rows[:windows] == rows[n - 1 :]
    if wordy is not None:
        running = np.concatenate([[0], np.cumsum(wordy)])
        inside &= (running[n : n + windows] - running[:windows]) >= min_words
    grams = pl.DataFrame({"row": rows[:windows][inside], "hash": combined[inside]})
    return pl.concat([short, grams.cast({"row": short.schema["row"]})])


NUMBER_RE = re.compile(r"\d+(?:[.,/]\d+)*")
#: what a number becomes in the digits-masked rule
NUMBER = "0"


def mask_digits(text: str) -> str:
    """The text with every number replaced by one placeholder: "same problem, other numbers" then matches.

    >>> mask_digits("A train at 80 km/h for 3.5 hours.") == mask_digits("A train at 95 km/h for 2 hours.")
    True
    """
    return NUMBER_RE.sub(NUMBER, text)


#: the rules a hit can come from, as ``contaminated_by`` names them: "heldout", "heldout (digits-masked)"
RULES = ("ngram", "digits-masked")


class Decontaminator:
    """An index of the evaluation sets' n-grams that reports, for each training text, what it hits.

    Two rules, reported separately: open-r1's word n-gram rule, and (``masked``) the same rule on texts whose
    numbers are masked, which catches a copied problem with other numbers (Light-R1 did this against MATH-500),
    short problems included (a text shorter than n words is one n-gram).
    """

    def __init__(self, eval_sets: Sequence[EvalSet], n: int = NGRAM, masked: bool = True) -> None:
        if n < 1:
            raise ValueError("n-gram size must be at least 1")
        self.n = n
        self.eval_sets = list(eval_sets)
        self.masked = masked
        #: digits-masked windows need this many tokens with letters (half the window): wording, not just math
        self.min_words = max(1, n // 2)
        self.index = self._index([s.texts for s in self.eval_sets])
        masked_sets = [[mask_digits(t) for t in s.texts] for s in self.eval_sets]
        self.masked_index = self._index(masked_sets, self.min_words) if masked else None

    def _index(self, sets: Sequence[Sequence[str]], min_words: int = 0) -> Any:
        import polars as pl

        parts = []
        for set_index, texts in enumerate(sets):
            hashes = _ngram_hashes(texts, self.n, min_words)
            parts.append(hashes.with_columns(eval_set=pl.lit(set_index, pl.UInt32)).rename({"row": "item"}))
        if not parts:
            return pl.DataFrame(schema={"item": pl.UInt32, "hash": pl.UInt64, "eval_set": pl.UInt32})
        return pl.concat(parts).unique(subset=["hash", "eval_set"], keep="first")

    def _hits(self, texts: Sequence[str], index: Any, min_words: int = 0) -> Any:
        import polars as pl

        return (
            _ngram_hashes(texts, self.n, min_words)
            .join(index, on="hash", how="inner")
            .group_by("row", "eval_set")
            .agg(pl.col("item").min())
            .sort("row", "eval_set")
        )

    def check(self, texts: Sequence[str]) -> list[dict[str, Any] | None]:
        """For each text: None when clean, else ``{"sets": [names], "items": [ids], "rules": [rule]}`` with one
        entry per evaluation set hit (the n-gram rule first; digits-masked only where the n-gram rule missed)."""
        out: list[dict[str, Any] | None] = [None] * len(texts)
        found: set[tuple[int, int]] = set()
        passes = [("ngram", list(texts), self.index, 0)]
        if self.masked_index is not None:
            passes.append(("digits-masked", [mask_digits(t) for t in texts], self.masked_index, self.min_words))
        for rule, inputs, index, min_words in passes:
            for row, set_index, item in self._hits(inputs, index, min_words).iter_rows():
                if (row, set_index) in found:
                    continue
                found.add((row, set_index))
                eval_set = self.eval_sets[set_index]
                entry = out[row] or {"sets": [], "items": [], "rules": []}
                entry["sets"].append(eval_set.name if rule == "ngram" else f"{eval_set.name} (digits-masked)")
                entry["items"].append(eval_set.ids[item])
                entry["rules"].append(rule)
                out[row] = entry
        return out


def python_baseline(
    texts: Sequence[str], eval_sets: Sequence[EvalSet], n: int = NGRAM, masked: bool = False
) -> list[list[str]]:
    """The straightforward per-row rules (a Python set of n-gram strings per row), kept for the benchmark and
    as the reference the columnar version is tested against; with ``masked``, the digits-masked rule too."""
    min_words = max(1, n // 2)

    def grams(text: str, masking: bool) -> set[str]:
        if not masking:
            return set(word_ngrams(text, n))
        words = normalize(mask_digits(text)).split(" ")
        if words == [""]:
            return set()
        out = {" ".join(words)}
        for i in range(len(words) - n + 1):
            window = words[i : i + n]
            if sum(bool(WORDY.search(w)) for w in window) >= min_words:
                out.add(" ".join(window))
        return out

    rules = (False, True) if masked else (False,)
    lookups: list[dict[str, str]] = []
    for masking in rules:
        lookup: dict[str, str] = {}
        for eval_set in eval_sets:
            name = f"{eval_set.name} (digits-masked)" if masking else eval_set.name
            for text in eval_set.texts:
                for gram in grams(text, masking):
                    lookup.setdefault(gram, name)
        lookups.append(lookup)
    out = []
    for text in texts:
        found: set[str] = set()
        for masking, lookup in zip(rules, lookups):
            found |= {lookup[g] for g in grams(text, masking) if g in lookup}
        out.append(sorted(found))
    return out


WORDY = re.compile(r"[^\W\d_]")
