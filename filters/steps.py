"""``score`` and ``filter`` as steps: reward columns on every row, then keep or drop with a reason.

Scores are cached in the run store (``.<out>.run/scores``), so a killed run continues where it
stopped. ``filter`` then decides each row through :class:`filters.decide.Decision` (removal rules
first, then the keep expression) and writes kept rows to ``train`` and dropped ones, each with its
``reject_reason``, to ``rejected``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from r1f.config import Config, option
from r1f.step import DATASET, Slot, Step, StepContext, StepResult, StepStats

#: rewards that judge answers against the gold (their rows score None where the gold cannot be read)
GOLD_REWARDS = ("accuracy", "cosine", "length")
REWARDS_HELP = (
    "Comma-separated rewards, optionally with parameters: accuracy,format,cosine(max_len=500). See `r1f rewards`."
)


@dataclass
class ScoreConfig(Config):
    """``r1f score``: add one ``reward_<name>`` column per reward to every row."""

    source: str = option(
        "", argument=True, help="Dataset with completions: a directory, jsonl/parquet/csv file or Hub name."
    )
    out: str = option(
        "", help="Dataset directory to write (atomically; its score cache sits beside it).", fingerprint=False
    )
    rewards: str = option("accuracy,format,language_consistency", help=REWARDS_HELP)
    completion_column: str = option("completion", help="Column holding the completions.")
    split: str = option("train", help="Split to read.")

    def validate(self) -> None:
        from filters.registry import parse_rewards

        parse_rewards(self.rewards)


@dataclass
class FilterConfig(ScoreConfig):
    """``r1f filter``: score, then keep or drop every row with a recorded reason."""

    keep: str | None = option(
        None,
        help='Keep rows where this holds, e.g. "accuracy == 1 and format == 1 and language_consistency >= 0.95". '
        "Unjudged (None) scores fail.",
    )
    rules: str | None = option(
        None,
        help="R1 removal rules run first: empty, truncated, code_block, overlong_paragraph(max_words=200), "
        "mixed_language(threshold=0.95).",
    )
    save_rejected: bool = option(True, help="Also write dropped rows with their reject_reason (split 'rejected').")

    def validate(self) -> None:
        super().validate()
        from filters.expression import KeepExpression
        from filters.rules import parse_rules

        if self.keep:
            KeepExpression(self.keep)
        if self.rules:
            parse_rules(self.rules)


S = TypeVar("S", bound=ScoreConfig)


class ScoreStep(Step[S]):
    """Reward columns on every row of a dataset (resumable)."""

    name = "score"
    config_class = ScoreConfig
    inputs = {"source": Slot("source", DATASET, help="rows with completions", columns=("{completion_column}",))}
    summary = "add reward_<name> columns"
    drop: ClassVar[bool] = False
    golds_checked = False

    def decision(self) -> Any:
        return None

    def shards(self) -> int:
        return 1 << 20

    def _prepare(self) -> tuple[list[Any], Any, list[dict[str, Any]]]:
        """(rewards, the decision or None, the rows with golds as text); checked before anything is scored."""
        from filters.registry import NamedReward, make_reward, parse_rewards
        from r1f.errors import DataError
        from r1f.io import gold_of, read_rows

        config = self.config
        decision = self.decision()
        rewards = parse_rewards(config.rewards)
        have = {r.name for r in rewards}
        for name in decision.needs if decision else []:
            if name not in have:
                rewards.append(NamedReward(name, make_reward(name)))
                have.add(name)
        rows = read_rows(config.source, split=config.split)
        if any("solution" in row for row in rows):  # golds as text: one type per column, one meaning per answer
            for i, row in enumerate(rows):
                row["solution"] = gold_of(row.get("solution"), config.source, i, "solution")
            if not self.golds_checked and any(r.name in GOLD_REWARDS for r in rewards):
                self.golds_checked = True  # run and finish both read the rows: one warning
                from filters.rewards.accuracy import warn_unreadable_golds

                warn_unreadable_golds([row.get("solution") for row in rows], config.source)
        if decision is not None and decision.keep is not None:
            unknown = [n for n in decision.keep.names if n not in have and n not in rows[0]]
            if unknown:
                raise DataError(
                    f"--keep uses {', '.join(unknown)}, which is neither a reward in --rewards "
                    f"({', '.join(sorted(have))}) nor a column ({', '.join(rows[0])})"
                )
        return rewards, decision, rows

    def _cache(self, rewards: list[Any]) -> Any:
        from filters.scoring import ScoreCache

        return ScoreCache(self.store_root() / "scores", rewards, self.config.completion_column)

    def run(self, ctx: StepContext) -> StepStats:
        """Score this shard's rows (every ``world_size``-th row from ``rank``) into the score cache."""
        from r1f.executor import shard_of

        rewards, _, rows = self._prepare()
        mine = shard_of(rows, ctx.rank, ctx.world_size)
        cache = self._cache(rewards)
        missing = cache.missing(mine)
        stats = StepStats()
        with stats.timed("scoring"):
            cache.scores(mine, on_progress=lambda done, total: ctx.report(done, total, "rows scored"))
        stats.extra["scored_now"] = missing
        return stats

    def finish(self, ctx: StepContext) -> StepResult:
        from filters.scoring import reward_stats
        from r1f.io import write_dataset
        from r1f.manifest import build_manifest
        from r1f.plots import dataset_plots

        config = self.config
        stats = StepStats(timings=dict(ctx.stats.timings))
        rewards, decision, rows = self._prepare()
        self._cache(rewards).apply(rows)  # every shard has scored its rows: this reads the cache
        from filters import rg

        rg.annotate(rows, config.completion_column)
        scored = int(ctx.stats.extra.get("scored_now", 0))
        kept, rejected = decision.split(rows) if decision is not None else (rows, [])
        stats.total, stats.kept = len(rows), len(kept)
        for row in rejected:
            stats.drop(row["reject_reason"])
        stats.extra.update(scored_now=scored, reused=len(rows) - scored)
        splits: dict[str, list[dict[str, Any]]] = {"train": kept}
        if rejected and getattr(config, "save_rejected", True):
            splits["rejected"] = rejected
        counts = {"rows": len(rows), **stats.to_dict()}
        counts.pop("timings")
        manifest = build_manifest(
            "filter" if self.drop else "scores",
            parameters={
                **config.fingerprint_dict(),
                "rewards": [{"name": r.name, "params": r.params or {}, "weight": r.weight} for r in rewards],
            },
            inputs={"source": config.source, "split": config.split},
            counts=counts,
            timings=stats.timings,
            rewards=reward_stats(rows, rewards),
            run_store=str(self.store_root()),
        )
        plots = dataset_plots(rows, [r.column for r in rewards])
        write_dataset(config.out, splits, manifest, extra_files=plots)
        summary: list[tuple[str, Any]] = [(f"mean {n}", s["mean"]) for n, s in manifest["rewards"].items()]
        summary += [("kept", len(kept))] + [(f"dropped: {r}", n) for r, n in stats.dropped.most_common()]
        summary += [("scored now", scored), ("reused", len(rows) - scored)]
        return StepResult(self.output, stats, summary)


class FilterStep(ScoreStep[FilterConfig]):
    """Score, then keep or drop each row with a reason."""

    name = "filter"
    config_class = FilterConfig
    summary = "score, then keep/drop rows with a reason"
    drop = True

    def decision(self) -> Any:
        from filters.decide import Decision
        from filters.expression import KeepExpression
        from filters.rules import parse_rules

        config = self.config
        return Decision(
            rules=parse_rules(config.rules) if config.rules else [],
            keep=KeepExpression(config.keep) if config.keep else None,
        )
