"""Decontamination against evaluation sets: word n-grams shared with an evaluation item, measured relative to
the shorter of the two texts, on cleaned text, with and without numbers.

open-r1's rule (a row is contaminated when any one of its word 8-grams occurs in any evaluation item) was
measured on real data (bench/decontam.py: 2 000 clean GSM8K-train rows against GSM8K-test and MATH-500): it
flags rows that only share stock phrasing ("how much money will she have left over after she buys"), and
masking digits makes that worse ("0 hours a day for 0 days a week"). A copy shares most of its n-grams with
the item it copies; stock phrasing shares one or two. So a row is flagged when at least ``overlap`` (default
half) of the n-grams of the shorter text are shared with one evaluation item. Before counting:

- harness prompts and boilerplate instructions are removed ("Return your final response within \\boxed{}.",
  "Please reason step by step, ...") from both sides, so a prefixed copy of a benchmark matches its item;
- text is lower-cased and split into words and math operators, punctuation dropped (``million,`` is ``million``);
- the digits-masked rule does the same with every number replaced by one placeholder, which catches a copy with
  other numbers;
- a text shorter than n words is its own single n-gram, so short problems match by exact (cleaned) text.

``overlap=0`` gives open-r1's any-shared-n-gram rule back. Every n-gram is hashed to a 64-bit integer by
polars and matched with one join; the hit says which evaluation set and which of its items (by the item's own
id: ``unique_id``, ``idx``, ...) each flagged row copies.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from r1f.errors import DataError
from r1f.ngrams import NGRAM

HELDOUT = "heldout"
TEXT_COLUMNS = ("problem", "question", "prompt", "text")
#: an evaluation item's own id, when its file has one
ID_COLUMNS = ("id", "unique_id", "idx", "ID", "uuid", "problem_id")
#: share of the shorter text's n-grams a row must share with one evaluation item
OVERLAP = 0.5


@dataclass(frozen=True)
class EvalSet:
    """Texts of one evaluation set, with the item ids a hit reports."""

    name: str
    texts: list[str]
    ids: list[str]


def load_eval_set(spec: str, column: str | None = None) -> EvalSet:
    """``heldout`` (the built-in held-out split), a named benchmark (``math500``, ``gsm8k``: its test split, from a
    local copy or the Hub), a local table or factory dataset, or a Hub name (online).

    The text column is ``column`` when given, else the first of problem / question / prompt / text; items are
    named by the file's own id column when it has one, else by row number (from 1).
    """
    from generators.datasets import preset_of

    if spec == HELDOUT:
        from generators.problems import heldout_problems

        rows = heldout_problems()
    elif preset_of(spec) is not None:
        from generators.sources import load_problems

        preset = preset_of(spec)
        assert preset is not None
        rows = load_problems(spec, split=preset.benchmark_split)
        rows = [{**r, "id": r.get("source_id", r["id"])} for r in rows]
        spec = preset.name
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
    key = next((c for c in ID_COLUMNS if c in rows[0]), None)
    ids = [str(row[key]) if key and row.get(key) is not None else f"row {i + 1}" for i, row in enumerate(rows)]
    from r1f.redact import public_path

    return EvalSet(public_path(spec), texts, ids)


def _has_split(spec: str, split: str) -> bool:
    from pathlib import Path

    from r1f.io import dataset_files

    path = Path(spec)
    return path.is_dir() and split in dataset_files(path)


# -- cleaning --------------------------------------------------------------------------------------------

#: instructions harnesses wrap benchmark problems in; they say nothing about the problem
BOILERPLATE = (
    r"return your final (?:response|answer) within \\boxed\{\}\.?",
    r"please reason step by step,? and put your final answer within \\boxed\{\}\.?",
    r"(?:please )?put your final answer within \\boxed\{\}\.?",
    r"let'?s think step by step\.?",
    r"solve the following math problem[^.:\n]*[.:]",
    r"the last line of your response should be of the following format:[^\n]*",
    r"mark your solution with \\boxed\.?",
)
BOILERPLATE_RE = "(?i)" + "|".join(BOILERPLATE)
#: a word (letters and digits), one CJK character, or a math operator; punctuation is dropped
TOKEN_RE = r"[㐀-鿿]|[^\W_㐀-鿿]+|[+\-*/=^<>%]"
NUMBER_RE = r"\d+(?:[.,/]\d+)*"
#: what a number becomes in the digits-masked rule
NUMBER = "0"


def mask_digits(text: str) -> str:
    """The text with every number replaced by one placeholder: "same problem, other numbers" then matches.

    >>> mask_digits("A train at 80 km/h for 3.5 hours.") == mask_digits("A train at 95 km/h for 2 hours.")
    True
    """
    return re.sub(NUMBER_RE, NUMBER, text)


def tokens(text: str, masked: bool = False) -> list[str]:
    r"""The words the rules compare: boilerplate removed, lower case, punctuation dropped, numbers masked or not.

    >>> tokens(r"Return your final response within \boxed{}. What is 2+3, Ann?")
    ['what', 'is', '2', '+', '3', 'ann']
    """
    text = re.sub(BOILERPLATE_RE, " ", text)
    if masked:
        text = mask_digits(text)
    return re.findall(TOKEN_RE, text.lower())


#: one fixed odd 64-bit multiplier per n-gram position, so "a b" and "b a" hash apart
_MULTIPLIERS = [0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0xD6E8FEB86659FD93]


def _gram_hashes(texts: Sequence[str], n: int, masked: bool) -> Any:
    """A polars frame (row, hash) with one line per distinct n-gram of each cleaned text (a text shorter than n
    words is one n-gram). Tokens are found and hashed by polars; the hash of the n-gram at word ``i`` is a
    position-weighted sum of word hashes ``i .. i+n-1`` (uint64, wrapping) for all windows at once in numpy;
    windows that cross from one text into the next are dropped. Masked, a window needs half its tokens to be
    words, and every text is also its own whole-text n-gram, so a formula-heavy copy still matches as a whole."""
    import numpy as np
    import polars as pl

    text = pl.col("text").str.replace_all(BOILERPLATE_RE, " ")
    if masked:
        text = text.str.replace_all(NUMBER_RE, NUMBER)
    frame = pl.DataFrame({"text": list(texts)}, schema={"text": pl.String}).with_row_index("row")
    words = frame.select("row", words=text.str.to_lowercase().str.extract_all(TOKEN_RE)).with_columns(
        count=pl.col("words").list.len()
    )
    words = words.filter(pl.col("count") > 0)
    whole = words if masked else words.filter(pl.col("count") < n)
    short = whole.select("row", hash=pl.col("words").list.join(" ").hash(seed=0))
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
    if masked:  # a window of masked numbers and operators says nothing about wording: half of it must be words
        wordy = flat["words"].str.contains(r"[^\W\d_]").cast(pl.Int64).to_numpy()
        running = np.concatenate([[0], np.cumsum(wordy)])
        inside &= (running[n : n + windows] - running[:windows]) >= max(1, n // 2)
    grams = pl.DataFrame({"row": rows[:windows][inside], "hash": combined[inside]})
    return pl.concat([short, grams.cast({"row": short.schema["row"]})]).unique()


#: the rules a hit can come from, as ``contaminated_by`` names them: "gsm8k", "gsm8k (digits-masked)"
RULES = ("ngram", "digits-masked")


class Decontaminator:
    """An index of the evaluation sets' n-grams that reports, for each training text, the evaluation item it
    copies: the one sharing the largest part of the shorter text's n-grams, at least ``overlap`` of them.

    Two rules, reported separately: the n-gram rule on cleaned text, and (``masked``) the same on texts whose
    numbers are masked, which catches a copied problem with other numbers (Light-R1 did this against MATH-500).
    """

    def __init__(
        self, eval_sets: Sequence[EvalSet], n: int = NGRAM, masked: bool = True, overlap: float = OVERLAP
    ) -> None:
        if n < 1:
            raise ValueError("n-gram size must be at least 1")
        if not 0 <= overlap <= 1:
            raise ValueError("overlap must be in [0, 1]")
        self.n, self.overlap, self.masked = n, overlap, masked
        self.eval_sets = list(eval_sets)
        self.index = self._index(False)
        self.masked_index = self._index(True) if masked else None

    def _index(self, masked: bool) -> tuple[Any, Any]:
        """(item hashes with their set, n-gram count per item) over every evaluation set."""
        import polars as pl

        parts = []
        for set_index, eval_set in enumerate(self.eval_sets):
            hashes = _gram_hashes(eval_set.texts, self.n, masked)
            parts.append(hashes.with_columns(eval_set=pl.lit(set_index, pl.UInt32)).rename({"row": "item"}))
        if not parts:
            empty = pl.DataFrame(schema={"item": pl.UInt32, "hash": pl.UInt64, "eval_set": pl.UInt32})
            return empty, empty.group_by("eval_set", "item").len(name="item_grams")
        index = pl.concat(parts)
        return index, index.group_by("eval_set", "item").len(name="item_grams")

    def _hits(self, texts: Sequence[str], masked: bool) -> Any:
        import polars as pl

        index, item_grams = self.masked_index if masked else self.index
        grams = _gram_hashes(texts, self.n, masked)
        row_grams = grams.group_by("row").len(name="row_grams")
        shared = grams.join(index, on="hash", how="inner").group_by("row", "eval_set", "item").len(name="shared")
        scored = (
            shared.join(row_grams, on="row")
            .join(item_grams, on=["eval_set", "item"])
            .with_columns(
                share=pl.col("shared") / pl.min_horizontal("row_grams", "item_grams"),
            )
        )
        if self.overlap > 0:
            scored = scored.filter(pl.col("share") >= self.overlap - 1e-9)
        return (
            scored.sort(["row", "eval_set", "share", "item"], descending=[False, False, True, False])
            .group_by("row", "eval_set", maintain_order=True)
            .first()
            .select("row", "eval_set", "item", "share")
        )

    def check(self, texts: Sequence[str]) -> list[dict[str, Any] | None]:
        """For each text: None when clean, else ``{"sets": [names], "items": [ids], "rules": [rule],
        "overlap": [share]}`` with one entry per evaluation set hit (the n-gram rule first; digits-masked only where
        the n-gram rule missed)."""
        out: list[dict[str, Any] | None] = [None] * len(texts)
        found: set[tuple[int, int]] = set()
        passes = [("ngram", False)] + ([("digits-masked", True)] if self.masked else [])
        for rule, masked in passes:
            for row, set_index, item, share in self._hits(texts, masked).iter_rows():
                if (row, set_index) in found:
                    continue
                found.add((row, set_index))
                eval_set = self.eval_sets[set_index]
                entry = out[row] or {"sets": [], "items": [], "rules": [], "overlap": []}
                entry["sets"].append(eval_set.name if rule == "ngram" else f"{eval_set.name} (digits-masked)")
                entry["items"].append(eval_set.ids[item])
                entry["rules"].append(rule)
                entry["overlap"].append(round(float(share), 3))
                out[row] = entry
        return out


def python_baseline(
    texts: Sequence[str],
    eval_sets: Sequence[EvalSet],
    n: int = NGRAM,
    masked: bool = False,
    overlap: float = OVERLAP,
) -> list[list[str]]:
    """The same rules written per row with Python sets of n-gram strings: the reference the columnar version is
    tested against, and the baseline of the speed bench."""

    def grams(text: str, masking: bool) -> set[str]:
        words = tokens(text, masking)
        if not words:
            return set()
        whole = {"\x00" + " ".join(words)} if masking or len(words) < n else set()
        windows = (words[i : i + n] for i in range(len(words) - n + 1))
        need = max(1, n // 2) if masking else 0
        return whole | {" ".join(w) for w in windows if sum(bool(WORDY.search(t)) for t in w) >= need}

    rules = (False, True) if masked else (False,)
    indexes = []
    for masking in rules:
        lookup: dict[str, set[tuple[int, int]]] = {}
        sizes: dict[tuple[int, int], int] = {}
        for s, eval_set in enumerate(eval_sets):
            for i, text in enumerate(eval_set.texts):
                item_grams = grams(text, masking)
                sizes[(s, i)] = len(item_grams)
                for gram in item_grams:
                    lookup.setdefault(gram, set()).add((s, i))
        indexes.append((masking, lookup, sizes))
    out = []
    for text in texts:
        found: set[str] = set()
        for masking, lookup, sizes in indexes:
            own = grams(text, masking)
            shared = Counter(key for gram in own for key in lookup.get(gram, ()))
            for (s, i), count in shared.items():
                if overlap == 0 or count / min(len(own), sizes[(s, i)]) >= overlap - 1e-9:
                    name = eval_sets[s].name
                    found.add(f"{name} (digits-masked)" if masking else name)
        out.append(sorted(found))
    return out


WORDY = re.compile(r"[^\W\d_]")
