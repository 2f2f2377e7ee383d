"""Where problems come from: the built-in generator (v2, or v1 for old datasets), its held-out split,
reasoning-gym's procedural tasks, local files, or the Hub.

Sources are named by one string, the same on the command line and in recipes:

- ``builtin`` / ``heldout``: the built-in generator and its held-out split (v2); ``builtin/v1`` and
  ``heldout/v1`` remake datasets from the first version exactly;
- ``rg:basic_arithmetic,chain_sum=2,gsm_symbolic``: reasoning-gym tasks with weights (share of the problems),
  seeded by the problem seed, offline. Gold answers are checked by *our* verifier: reasoning-gym's own scorer
  gives partial credit for an answer that merely contains the right one (oracle "4", answer "14" -> 0.5), which
  we do not import; rows keep the task's entry so its scorer can be compared (``rg_score``);
- a jsonl/json/parquet/csv file, a factory dataset directory or a Hub name, with a column map and a
  ``solution_format``: ``plain`` (the column is the answer), ``gsm8k`` (the answer follows ``####``) or
  ``boxed`` (the last ``\\boxed{}`` of a worked solution, as in MATH).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from generators.datasets import GOLD_FORMATS
from generators.problems import DIFFICULTIES, FAMILIES, LANGUAGES
from r1f.errors import ConfigError, DataError
from r1f.io import read_rows
from r1f.schema import stable_id

BUILTIN = "builtin"
HELDOUT = "heldout"
VERSIONS = ("v2", "v1")
RG = "rg:"


def is_builtin(source: str) -> bool:
    return source.split("/")[0] in (BUILTIN, HELDOUT)


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
    solution_format: str = "plain",
    split: str | None = None,
) -> list[dict[str, Any]]:
    """Problems as rows with ``id``, ``problem`` and (when the source has one) ``solution``.

    Args:
        source: see the module docstring.
        n: how many (built-in and reasoning-gym: how many to make; files: the first ``n``).
        seed: seed of the built-in generator and of reasoning-gym.
        languages, families, difficulties: what the built-in generator draws from.
        problem_column, solution_column: the columns holding the problem and the gold in a file or Hub dataset.
        solution_format: how the solution column holds the gold (``plain``, ``gsm8k``, ``boxed``).
        split: the split to read from a Hub dataset or a multi-split directory.
    """
    if is_builtin(source):
        return builtin_problems(source, n, seed, languages, families, difficulties)
    if source.startswith(RG):
        return reasoning_gym_problems(source, n or 32, seed)
    if solution_format not in GOLD_FORMATS:
        raise ConfigError(f"--solution-format {solution_format!r}: use one of {', '.join(GOLD_FORMATS)}")
    rows, name = _table_problems(source, n, problem_column, solution_column, solution_format, split)
    for i, row in enumerate(rows):
        if not isinstance(row["problem"], str):
            raise DataError(
                f"{source}: row {i + 1}: column {problem_column!r} is {type(row['problem']).__name__}, expected text"
            )
        if not row["problem"].strip():
            raise DataError(
                f"{source}: row {i + 1}: the problem ({problem_column!r}) is empty; fill it or drop the row"
            )
        if row.get("id") is None and row.get("source_id") is not None:
            row["id"] = f"{name}/{row['source_id']}"
        if row.get("id") is None:
            row["id"] = stable_id(name, row["problem"], row.get("solution"))
        row.setdefault("source", name)
    seen: dict[str, int] = {}
    for i, row in enumerate(rows):
        first = seen.setdefault(str(row["id"]), i)
        if first != i and (rows[first]["problem"], rows[first].get("solution")) != (
            row["problem"],
            row.get("solution"),
        ):
            raise DataError(
                f"{source}: rows {first + 1} and {i + 1} share the id {row['id']!r} but are different problems; "
                "give each problem its own id (or drop the id column and the factory makes them)"
            )
    from filters.rewards.accuracy import warn_unreadable_golds

    warn_unreadable_golds([row.get("solution") for row in rows], name)
    return rows


def _table_problems(
    source: str,
    n: int | None,
    problem_column: str,
    solution_column: str | None,
    solution_format: str,
    split: str | None,
) -> tuple[list[dict[str, Any]], str]:
    """Rows of a preset, file or Hub dataset mapped to the factory's columns, and the name rows record."""
    from generators.datasets import Schema, apply_schema, preset_of, preset_schema, read_preset, say, sniff, split_spec

    preset = preset_of(source)
    if preset is not None:
        _, path = split_spec(source)
        rows = read_preset(preset, split or preset.split, path, limit=n)
        return apply_schema(rows, preset_schema(preset), preset.name), preset.name
    rows = read_rows(source, split=split or "train", limit=n)
    defaults = problem_column == "problem" and solution_column in ("solution", None) and solution_format == "plain"
    schema = sniff(rows) if defaults else None
    name = _public_source(str(source))
    if schema is not None:
        say(f"{name}: {schema.describe()}; pass --problem-column/--solution-column/--solution-format to choose")
    else:
        gold = (
            solution_column
            if solution_column and (solution_column in rows[0] or solution_column != "solution")
            else None
        )
        problem = tuple(c.strip() for c in problem_column.split(",") if c.strip())
        schema = Schema("given", problem, gold, solution_format)
    return apply_schema(rows, schema, str(source)), name


def _public_source(source: str) -> str:
    """What rows record as their source: a dataset name, or a file's name (never the local path)."""
    return Path(source).name if Path(source).exists() else source


def builtin_problems(
    source: str,
    n: int | None,
    seed: int,
    languages: Sequence[str],
    families: Sequence[str],
    difficulties: Sequence[int],
) -> list[dict[str, Any]]:
    """``builtin[/v1]`` (made, ``n`` of them, default 32) or ``heldout[/v1]`` (the fixed split, first ``n``)."""
    kind, _, version = source.partition("/")
    version = version or VERSIONS[0]
    if version not in VERSIONS:
        raise ConfigError(f"{source}: unknown version {version!r}; the built-in problems have {', '.join(VERSIONS)}")
    if version == "v1":
        from generators import problems_v1 as module

        families = [f for f in families if f in module.FAMILIES] or list(module.FAMILIES)
    else:
        from generators import problems as module  # type: ignore[no-redef]
    if kind == HELDOUT:
        rows = module.heldout_problems()
        return rows[:n] if n else rows
    return module.make_problems(n or 32, seed=seed, languages=languages, families=families, difficulties=difficulties)


def parse_rg_spec(spec: str) -> list[tuple[str, float]]:
    """``rg:basic_arithmetic,chain_sum=2`` -> ``[("basic_arithmetic", 1.0), ("chain_sum", 2.0)]``."""
    tasks = []
    for item in spec.removeprefix(RG).split(","):
        name, _, weight = item.strip().partition("=")
        if not name:
            continue
        try:
            tasks.append((name, float(weight) if weight else 1.0))
        except ValueError:
            raise ConfigError(f"{spec}: weight of {name!r} must be a number, got {weight!r}") from None
    if not tasks or any(w <= 0 for _, w in tasks):
        raise ConfigError(
            f"{spec}: name reasoning-gym tasks with positive weights, e.g. rg:basic_arithmetic,chain_sum=2"
        )
    return tasks


def reasoning_gym_problems(spec: str, n: int, seed: int) -> list[dict[str, Any]]:
    """``n`` problems from reasoning-gym tasks, split by weight (largest remainders), seeded, offline."""
    try:
        import reasoning_gym
    except ImportError:
        raise ConfigError("rg: sources need reasoning-gym: pip install 'r1-factory[rg]'") from None
    tasks = parse_rg_spec(spec)
    total = sum(w for _, w in tasks)
    shares = [n * w / total for _, w in tasks]
    counts = [int(s) for s in shares]
    for i in sorted(range(len(tasks)), key=lambda i: counts[i] - shares[i])[: n - sum(counts)]:
        counts[i] += 1
    rows = []
    for (task, _), count in zip(tasks, counts):
        if not count:
            continue
        try:
            dataset = reasoning_gym.create_dataset(task, size=count, seed=seed)
        except Exception as err:  # an unknown task name, or options the task refuses
            raise ConfigError(f"{spec}: reasoning-gym task {task!r}: {str(err).splitlines()[0][:200]}") from None
        for index, entry in enumerate(dataset):
            question, answer = str(entry["question"]), str(entry["answer"])
            metadata = entry.get("metadata") or {}
            rows.append(
                {
                    "id": stable_id("reasoning-gym", task, seed, index, question),
                    "problem": question,
                    "solution": answer,
                    "family": task,
                    "difficulty": metadata.get("difficulty") if isinstance(metadata.get("difficulty"), int) else None,
                    "lang": "en",
                    "source": f"reasoning-gym/{task}",
                    "rg_entry": json.dumps(entry, default=str),
                }
            )
    return rows
