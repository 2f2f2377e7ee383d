"""Scoring rows with the reward registry, resumably.

Rows are scored in batches: each reward sees a whole batch (completions plus every other column, as
in a GRPO step), so the accuracy reward fans out to its worker pool. Scores are cached in a run store
keyed by the row, its completion and the reward configuration, so a killed scoring run continues where
it stopped, a rerun re-scores nothing, and a changed reward set or an edited completion is scored afresh.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from filters.registry import NamedReward
from r1f.errors import DataError
from r1f.schema import ID, stable_id
from r1f.store import RunStore

BATCH = 256


def score_batch(rows: Sequence[dict[str, Any]], rewards: Sequence[NamedReward], completion_column: str) -> list[dict]:
    """Reward columns for ``rows``: every reward gets the batch's completions and columns (TRL style)."""
    if any(completion_column not in r for r in rows):
        raise DataError(
            f"rows have no {completion_column!r} column (columns: {', '.join(rows[0])}); pass --completion-column"
        )
    columns: dict[str, list[Any]] = {key: [r.get(key) for r in rows] for key in rows[0] if key != completion_column}
    if "prompt" in columns:
        columns.setdefault("prompts", columns["prompt"])
    completions = [r[completion_column] for r in rows]
    scores: list[dict[str, Any]] = [{} for _ in rows]
    for reward in rewards:
        values = reward.fn(completions, **columns)
        if len(values) != len(rows):
            raise DataError(f"reward {reward.name!r} returned {len(values)} scores for {len(rows)} rows")
        for target, value in zip(scores, values):
            target[reward.column] = None if value is None else float(value)
    return scores


class ScoreCache:
    """Scores of rows under one reward configuration, persisted chunk by chunk in a run store."""

    def __init__(self, root: str | Path, rewards: Sequence[NamedReward], completion_column: str = "completion") -> None:
        self.rewards = list(rewards)
        self.completion_column = completion_column
        self.fingerprint = stable_id([r.fingerprint() for r in self.rewards], completion_column)
        self.store = RunStore(root)

    def key(self, row: dict[str, Any]) -> str:
        own = row.get(ID) or stable_id(row)  # the gold is part of it: a relabelled row is scored afresh
        return stable_id(own, str(row.get(self.completion_column)), row.get("solution"), self.fingerprint)

    def missing(self, rows: Sequence[dict[str, Any]]) -> int:
        done = self.store.rows()
        return sum(1 for row in rows if self.key(row) not in done)

    def scores(
        self, rows: Sequence[dict[str, Any]], on_progress: Callable[[int, int], None] | None = None
    ) -> list[dict[str, Any]]:
        """``reward_<name>`` columns for every row, in order; scores only what the cache lacks."""
        if not rows or not self.rewards:
            return [{} for _ in rows]
        keys = [self.key(row) for row in rows]
        done = self.store.rows()
        todo = [i for i, k in enumerate(keys) if k not in done]
        reused = len(rows) - len(todo)
        if on_progress:
            on_progress(reused, len(rows))
        for start in range(0, len(todo), BATCH):
            batch = todo[start : start + BATCH]
            found = score_batch([rows[i] for i in batch], self.rewards, self.completion_column)
            fresh = {keys[i]: {ID: keys[i], "scores": s} for i, s in zip(batch, found)}
            self.store.append(fresh.values())
            if on_progress:
                on_progress(reused + start + len(batch), len(rows))
        done = self.store.rows()
        return [dict(done[k]["scores"]) for k in keys]

    def apply(self, rows: list[dict[str, Any]], on_progress: Callable[[int, int], None] | None = None) -> None:
        """Add the reward columns to ``rows`` in place."""
        for row, scores in zip(rows, self.scores(rows, on_progress)):
            row.update(scores)


def reward_stats(rows: Sequence[dict[str, Any]], rewards: Sequence[NamedReward]) -> dict[str, dict[str, Any]]:
    """Mean, min, max and the count of rows that could not be judged, per reward."""
    out = {}
    for reward in rewards:
        values = [r.get(reward.column) for r in rows]
        present = [v for v in values if v is not None]
        out[reward.name] = {
            "mean": round(sum(present) / len(present), 4) if present else None,
            "min": min(present) if present else None,
            "max": max(present) if present else None,
            "not_judged": len(values) - len(present),
        }
    return out
