"""From verified candidates to an SFT dataset: shared by cold start, rejection sampling and distillation.

Candidates are scored with the reward registry (the same functions GRPO uses, through the resumable
score cache), decided by :mod:`filters.decide` (the R1 removal rules, then the required scores), and
written as TRL SFT rows: ``messages`` (system / user / assistant) plus ``problem``, ``solution``,
provenance and one ``reward_<name>`` column per score. Rows that fail keep their ``reject_reason`` in
the ``rejected`` split.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from filters.registry import NamedReward, parse_rewards
from filters.scoring import reward_stats
from r1f.plots import dataset_plots

#: rewards every SFT generator records; the keep decision reads them
VERIFY_REWARDS = "accuracy,format,language_consistency"


def verifier(fmt: str) -> list[NamedReward]:
    """accuracy + the format check for output form ``fmt`` (column ``reward_format``) + language consistency."""
    from filters.rewards.format import Format

    rewards = parse_rewards(VERIFY_REWARDS)
    for reward in rewards:
        if reward.name == "format":
            reward.fn, reward.params = Format("r1" if fmt == "r1" else "loose"), {"mode": fmt}
    return rewards


def sft_messages(system: str | None, problem: str, assistant: str) -> list[dict[str, str]]:
    messages = [{"role": "system", "content": system}] if system else []
    return messages + [{"role": "user", "content": problem}, {"role": "assistant", "content": assistant}]


def write_sft(
    out_dir: str,
    kept: list[dict[str, Any]],
    rejected: list[dict[str, Any]],
    manifest: dict[str, Any],
    rewards: Sequence[NamedReward],
    *,
    drawn: int,
    extra_counts: dict[str, Any] | None = None,
    extra_train: list[dict[str, Any]] | None = None,
    extra_splits: dict[str, list[dict[str, Any]]] | None = None,
    extra_plots: dict[str, list] | None = None,
) -> dict[str, Any]:
    """Write the dataset every SFT generator ends with: ``train`` (kept), ``rejected`` (with reasons),
    any extra splits, reward/length plots, and the manifest's counts. ``extra_train`` rows (e.g. mixed-in
    non-reasoning data) join ``train`` without counting as kept samples. Returns the counts."""
    from r1f.io import write_dataset

    manifest["counts"] = {
        **manifest.get("counts", {}),
        **counts(kept, rejected, drawn, rewards),
        **(extra_counts or {}),
    }
    splits = {"train": kept + list(extra_train or []), **(extra_splits or {})}
    if rejected:
        splits["rejected"] = rejected
    write_dataset(
        out_dir, splits, manifest, extra_files=dataset_plots(kept + rejected, [r.column for r in rewards], extra_plots)
    )
    return manifest["counts"]


def counts(kept: Sequence[dict], rejected: Sequence[dict], drawn: int, rewards: Sequence[NamedReward]) -> dict:
    lengths = [r.get("completion_tokens") for r in kept if r.get("completion_tokens") is not None]
    return {
        "samples_drawn": drawn,
        "kept": len(kept),
        "dropped": len(rejected),
        "dropped_by_reason": dict(Counter(r["reject_reason"] for r in rejected)),
        "mean_kept_completion_tokens": round(sum(lengths) / len(lengths), 1) if lengths else None,
        "rewards": reward_stats(list(kept) + list(rejected), rewards),
    }
