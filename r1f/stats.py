"""Summary statistics: per-column descriptions of any table (``r1f inspect``, cards) and interval estimates
for rates (evaluations, the recipe report)."""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Sequence
from typing import Any

CATEGORY_LIMIT = 12


def column_type(values: Sequence[Any]) -> str:
    """A short human type name for a column (the first non-null value decides)."""
    for value in values:
        if value is None:
            continue
        if isinstance(value, bool):
            return "bool"
        if isinstance(value, int):
            return "int"
        if isinstance(value, float):
            return "float"
        if isinstance(value, str):
            return "str"
        if isinstance(value, list):
            return "messages" if value and isinstance(value[0], dict) and "role" in value[0] else "list"
        return type(value).__name__
    return "null"


def describe(rows: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per-column statistics: numbers get min/mean/max, text gets lengths, small vocabularies get counts.

    >>> describe([{"a": 1, "b": "x"}, {"a": 3, "b": "x"}])["a"]["mean"]
    2.0
    """
    columns: list[str] = []
    for row in rows:
        for key in row:
            if key not in columns:
                columns.append(key)
    out: dict[str, dict[str, Any]] = {}
    for column in columns:
        values = [row.get(column) for row in rows]
        present = [v for v in values if v is not None]
        kind = column_type(values)
        info: dict[str, Any] = {"type": kind, "nulls": len(values) - len(present)}
        if kind in ("int", "float") and present:
            info.update(min=min(present), mean=round(sum(present) / len(present), 3), max=max(present))
        elif kind == "str" and present:
            lengths = [len(v) for v in present]
            info["mean_chars"] = round(sum(lengths) / len(lengths), 1)
            info["empty"] = sum(1 for v in present if not v.strip())
        elif kind in ("messages", "list") and present:
            info["mean_items"] = round(sum(len(v) for v in present) / len(present), 2)
        if kind in ("str", "int", "bool") and present:
            counts = Counter(present)
            # value counts only where they say something: few distinct values, each seen several times
            if len(counts) <= CATEGORY_LIMIT and len(counts) <= max(1, len(present) // 3):
                info["counts"] = dict(counts.most_common())
        out[column] = info
    return out


def wilson(successes: float, n: int, z: float = 1.96) -> tuple[float, float] | None:
    """The Wilson score interval (95 % by default) of a proportion ``successes / n``; None when n is 0.

    It stays inside [0, 1] and is honest at 0/n and n/n, where the normal approximation collapses to a point.

    >>> [round(x, 3) for x in wilson(0, 30)]
    [0.0, 0.114]
    >>> [round(x, 3) for x in wilson(15, 30)]
    [0.332, 0.668]
    """
    if n <= 0:
        return None
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * ((p * (1 - p) / n + z * z / (4 * n * n)) ** 0.5) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def mean_interval(values: list[float]) -> list[float] | None:
    """A 95 % normal interval of a mean over problems (each value a problem's share of correct samples)."""
    if len(values) < 2:
        return None
    mean = statistics.mean(values)
    half = 1.96 * statistics.stdev(values) / len(values) ** 0.5
    return [round(max(0.0, mean - half), 4), round(min(1.0, mean + half), 4)]
