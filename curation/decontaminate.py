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

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from r1f.errors import DataError
from r1f.ngrams import NGRAM, word_ngrams

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


def _ngram_hashes(texts: Sequence[str], n: int) -> Any:
    """A polars frame (row, hash) with one line per n-gram of each text.

    Words are hashed once by polars; the hash of the n-gram starting at word ``i`` is a position-weighted
    sum of the word hashes ``i .. i+n-1`` (uint64 arithmetic, wrapping), computed for all windows at once
    in numpy; windows that cross from one text into the next are dropped.
    """
    import numpy as np
    import polars as pl

    frame = pl.DataFrame({"text": list(texts)}, schema={"text": pl.String}).with_row_index("row")
    words = frame.select(
        "row", words=pl.col("text").str.to_lowercase().str.replace_all(r"\s+", " ").str.strip_chars().str.split(" ")
    ).with_columns(count=pl.col("words").list.len())
    words = words.filter(pl.col("words").list.first() != "")
    short = words.filter(pl.col("count") < n).select("row", hash=pl.col("words").list.join(" ").hash(seed=0))
    flat = words.filter(pl.col("count") >= n).select("row", "words").explode("words")
    rows = flat["row"].to_numpy()
    word_hashes = flat["words"].hash(seed=1).to_numpy()
    windows = len(rows) - n + 1
    if windows <= 0:
        return short
    multipliers = [np.uint64((_MULTIPLIERS[k % 4] * (2 * k + 1)) % 2**64 | 1) for k in range(n)]
    with np.errstate(over="ignore"):
        combined = np.zeros(windows, dtype=np.uint64)
        for k in range(n):
            combined += word_hashes[k : k + windows] * multipliers[k]
    inside = rows[:windows] == rows[n - 1 :]
    grams = pl.DataFrame({"row": rows[:windows][inside], "hash": combined[inside]})
    return pl.concat([short, grams.cast({"row": short.schema["row"]})])


class Decontaminator:
    """An index of the evaluation sets' n-grams that reports, for each training text, what it hits."""

    def __init__(self, eval_sets: Sequence[EvalSet], n: int = NGRAM) -> None:
        import polars as pl

        if n < 1:
            raise ValueError("n-gram size must be at least 1")
        self.n = n
        self.eval_sets = list(eval_sets)
        parts = []
        for set_index, eval_set in enumerate(self.eval_sets):
            hashes = _ngram_hashes(eval_set.texts, n)
            parts.append(hashes.with_columns(eval_set=pl.lit(set_index, pl.UInt32)).rename({"row": "item"}))
        self.index = (
            pl.concat(parts).unique(subset=["hash", "eval_set"], keep="first")
            if parts
            else pl.DataFrame(schema={"item": pl.UInt32, "hash": pl.UInt64, "eval_set": pl.UInt32})
        )

    def check(self, texts: Sequence[str]) -> list[dict[str, Any] | None]:
        """For each text: None when clean, else ``{"sets": [names], "items": [ids of the first hit per set]}``."""
        import polars as pl

        hits = (
            _ngram_hashes(texts, self.n)
            .join(self.index, on="hash", how="inner")
            .group_by("row", "eval_set")
            .agg(pl.col("item").min())
            .sort("row", "eval_set")
        )
        out: list[dict[str, Any] | None] = [None] * len(texts)
        for row, set_index, item in hits.iter_rows():
            eval_set = self.eval_sets[set_index]
            entry = out[row] or {"sets": [], "items": []}
            entry["sets"].append(eval_set.name)
            entry["items"].append(eval_set.ids[item])
            out[row] = entry
        return out


def python_baseline(texts: Sequence[str], eval_sets: Sequence[EvalSet], n: int = NGRAM) -> list[list[str]]:
    """The straightforward per-row rule (a Python set of n-gram strings per row), kept for the benchmark."""
    lookup: dict[str, str] = {}
    for eval_set in eval_sets:
        for text in eval_set.texts:
            for gram in word_ngrams(text, n):
                lookup.setdefault(gram, eval_set.name)
    out = []
    for text in texts:
        out.append(sorted({lookup[g] for g in set(word_ngrams(text, n)) if g in lookup}))
    return out
