"""Scoring and filtering a dataset of completions: ``r1f score`` and ``r1f filter``.

Rows are scored in batches (each reward sees a whole batch, as in a GRPO step, so the accuracy
reward fans out to its worker pool); every finished batch of scores is appended to the run store
beside the output, keyed by row id and the reward configuration, so a killed scoring run continues
where it stopped and a changed reward set is scored afresh. Then the rules and the keep expression
decide each row, and the dataset is written atomically with kept rows in ``train`` and dropped rows,
each with its ``reject_reason``, in ``rejected``.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from filters.expression import KeepExpression
from filters.registry import NamedReward, make_reward
from filters.rules import Rule
from r1f.errors import DataError
from r1f.io import write_dataset
from r1f.plots import dataset_plots
from r1f.schema import ID, stable_id
from r1f.store import RunStore

BATCH = 256


@dataclass
class FilterSummary:
    out_dir: Path
    kept: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    scored: int = 0
    reused: int = 0
    seconds: float = 0.0

    def reasons(self) -> Counter:
        return Counter(r["reject_reason"] for r in self.rejected)


def row_key(row: dict[str, Any]) -> str:
    """The row's own id, or a hash of its content for tables that have none."""
    return row.get(ID) or stable_id(row)


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


def run_filter(
    rows: Sequence[dict[str, Any]],
    *,
    rewards: Sequence[NamedReward],
    out_dir: str | Path,
    keep: str | None = None,
    rules: Sequence[Rule] = (),
    completion_column: str = "completion",
    save_rejected: bool = True,
    drop: bool = True,
    command: Sequence[str] | None = None,
    inputs: dict[str, Any] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> FilterSummary:
    """Score ``rows`` with ``rewards``; with ``drop``, split them into kept and rejected.

    Args:
        rows: the dataset rows (each with a completion).
        rewards: rewards to score with (one ``reward_<name>`` column each).
        out_dir: dataset directory to write atomically.
        keep: a keep expression over reward names and columns (see :mod:`filters.expression`).
        rules: removal rules run before the keep expression (see :mod:`filters.rules`).
        completion_column: the column holding completions.
        save_rejected: also write dropped rows (split ``rejected``) with their reasons.
        drop: False for ``r1f score``: add the columns and keep every row.
        command, inputs: recorded in the manifest.
        on_progress: ``(rows_scored, rows_total)`` after each batch.
    """
    started = time.time()
    expression = KeepExpression(keep) if keep else None
    needed = {r.name for r in rewards}
    extra = [n for rule in rules for n in rule.needs if n not in needed]
    rewards = list(rewards) + [NamedReward(n, make_reward(n)) for n in dict.fromkeys(extra)]
    if expression:
        unknown = [n for n in expression.names if n not in {r.name for r in rewards} and n not in rows[0]]
        if unknown:
            raise DataError(
                f"--keep uses {', '.join(unknown)}, which is neither a reward in --rewards "
                f"({', '.join(r.name for r in rewards)}) nor a column ({', '.join(rows[0])})"
            )
    fingerprint = stable_id([r.fingerprint() for r in rewards], completion_column)
    store = RunStore.beside(out_dir)
    done = store.rows()
    summary = FilterSummary(out_dir=Path(out_dir))
    keys = [stable_id(row_key(r), fingerprint) for r in rows]
    todo = [i for i, k in enumerate(keys) if k not in done]
    summary.reused = len(rows) - len(todo)
    if on_progress:
        on_progress(summary.reused, len(rows))
    for start in range(0, len(todo), BATCH):
        batch = todo[start : start + BATCH]
        scores = score_batch([rows[i] for i in batch], rewards, completion_column)
        store.append({ID: keys[i], "scores": s} for i, s in zip(batch, scores))
        summary.scored += len(batch)
        if on_progress:
            on_progress(summary.reused + summary.scored, len(rows))
    done = store.rows()
    for row, key in zip(rows, keys):
        merged = {**row, **done[key]["scores"]}
        reason = None
        if drop:
            for rule in rules:
                reason = rule.check(merged)
                if reason:
                    break
            if reason is None and expression is not None:
                failed = expression.check(merged)
                reason = f"keep: {failed}" if failed else None
        if reason is None:
            summary.kept.append(merged)
        else:
            summary.rejected.append({**merged, "reject_reason": reason})
    summary.seconds = time.time() - started
    splits: dict[str, list[dict[str, Any]]] = {"train": summary.kept}
    if drop and save_rejected and summary.rejected:
        splits["rejected"] = summary.rejected
    if not summary.kept:
        splits["train"] = []
    manifest = {
        "kind": "filter" if drop else "scores",
        "command": list(command or sys.argv),
        "inputs": inputs or {},
        "parameters": {
            "rewards": [{"name": r.name, "params": r.params or {}, "weight": r.weight} for r in rewards],
            "keep": keep,
            "rules": [rule.name for rule in rules],
            "completion_column": completion_column,
        },
        "counts": {
            "rows": len(rows),
            "kept": len(summary.kept),
            "dropped": len(summary.rejected),
            "dropped_by_reason": dict(summary.reasons()),
            "scored_now": summary.scored,
            "reused": summary.reused,
        },
        "rewards": reward_stats(summary.kept + summary.rejected, rewards),
        "timings": {"wall_seconds": round(summary.seconds, 3)},
        "run_store": str(store.root),
    }
    plots = dataset_plots(summary.kept + summary.rejected, [r.column for r in rewards])
    write_dataset(out_dir, splits, manifest, extra_files=plots)
    return summary


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
