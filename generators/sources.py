"""Where problems come from: the built-in generator, its held-out split, local files, or the Hub."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from generators.problems import DIFFICULTIES, FAMILIES, LANGUAGES, heldout_problems, make_problems
from r1f.errors import DataError
from r1f.io import gold_of, map_columns, read_rows
from r1f.schema import stable_id

BUILTIN = "builtin"
HELDOUT = "heldout"


def load_problems(
    source: str = BUILTIN,
    *,
    n: int | None = None,
    seed: int = 0,
    languages: Sequence[str] = LANGUAGES,
    families: Sequence[str] = FAMILIES,
    difficulties: Sequence[int] = DIFFICULTIES,
    problem_column: str = "problem",
    solution_column: str | None = "solution",
    split: str = "train",
) -> list[dict[str, Any]]:
    """Problems as rows with ``id``, ``problem`` and (when the source has one) ``solution``.

    Args:
        source: ``builtin``, ``heldout``, a jsonl/parquet/csv file, a factory dataset directory or a Hub name.
        n: how many (built-in: how many to make; files: the first ``n``).
        seed: seed of the built-in generator.
        languages, families, difficulties: what the built-in generator draws from.
        problem_column: the column holding the problem text in a file or Hub dataset.
        solution_column: the column holding the gold answer; ``None`` when there is none.
        split: the split to read from a Hub dataset or a multi-split directory.
    """
    if source == BUILTIN:
        return make_problems(n or 32, seed=seed, languages=languages, families=families, difficulties=difficulties)
    if source == HELDOUT:
        rows = heldout_problems()
        return rows[:n] if n else rows
    rows = read_rows(source, split=split, limit=n)
    mapping = {"problem": problem_column}
    if solution_column and (solution_column in rows[0] or solution_column != "solution"):
        mapping["solution"] = solution_column
    rows = map_columns(rows, mapping, source=source)
    for i, row in enumerate(rows):
        if not isinstance(row["problem"], str):
            raise DataError(
                f"{source}: row {i + 1}: column {problem_column!r} is {type(row['problem']).__name__}, expected text"
            )
        if not row["problem"].strip():
            raise DataError(
                f"{source}: row {i + 1}: the problem ({problem_column!r}) is empty; fill it or drop the row"
            )
        if "solution" in row:
            row["solution"] = gold_of(row["solution"], source, i, solution_column or "solution")
        row.setdefault("id", stable_id(str(Path(source).name), row["problem"], row.get("solution")))
        row.setdefault("source", str(source))
    return rows
