"""``r1f pairs``: preference pairs from rejection-sampled data, in TRL's format (``prompt``, ``chosen``, ``rejected``).

Rejection sampling already drew k answers per problem and verified each, so preference data costs no more
generation: chosen is a correct, finished sample that passed the sampling run's filters (the shortest by
default, as SkyThought-T1-Flash did against overthinking), rejected an incorrect one, or the longest correct
one (``--rejected longest``: a length preference with the answer held fixed). Conversational columns, so TRL's
``DPOTrainer`` applies the model's chat template itself; the prompt is the chat the SFT rows of the same
problem use.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from r1f.config import Config, option
from r1f.errors import ConfigError, DataError

CHOSEN = ("shortest", "random")
REJECTED = ("incorrect", "longest")


@dataclass
class PairsConfig(Config):
    """``r1f pairs``: TRL preference pairs from a dataset made by ``r1f sample``."""

    source: str = option("", argument=True, help="A dataset made by `r1f sample` (its train and rejected splits).")
    out: str = option("", help="Dataset directory to write (atomically).", fingerprint=False)
    chosen: str = option("shortest", help="Which correct sample is chosen: shortest (fewest tokens) or random.")
    rejected: str = option(
        "incorrect", help="Which sample is rejected: incorrect (a wrong answer) or longest (the longest correct one)."
    )
    pairs_per_problem: int = option(1, help="Pairs per problem, at most (each rejected sample used once).")
    seed: int = option(0, help="Seed of the random choices.")

    def validate(self) -> None:
        if self.chosen not in CHOSEN:
            raise ConfigError(f"--chosen {self.chosen!r}: use one of {', '.join(CHOSEN)}")
        if self.rejected not in REJECTED:
            raise ConfigError(f"--rejected {self.rejected!r}: use one of {', '.join(REJECTED)}")
        if self.pairs_per_problem < 1:
            raise ConfigError(f"--pairs-per-problem must be at least 1, got {self.pairs_per_problem}")


def _length(row: dict[str, Any]) -> int:
    tokens = row.get("completion_tokens")
    return int(tokens) if isinstance(tokens, int) else len(str(row.get("completion") or ""))


#: rejection reasons of samples that passed every filter and were only not selected (still good answers)
NOT_SELECTED = (None, "not_best", "pass_rate_out_of_range")


def is_good(row: dict[str, Any]) -> bool:
    """Correct, finished, and passed the filters the sampling run applied (format, language, R1 rules)."""
    return (
        row.get("reward_accuracy") == 1.0
        and row.get("finish_reason") != "length"
        and row.get("reject_reason") in NOT_SELECTED
    )


def make_pairs(rows: Sequence[dict[str, Any]], config: PairsConfig) -> tuple[list[dict[str, Any]], Counter[str]]:
    """The pairs, and per reason how many problems gave none."""
    by_problem: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        if isinstance(row.get("completion"), str) and row.get("problem_id"):
            by_problem[row["problem_id"]].append(row)
    pairs: list[dict[str, Any]] = []
    skipped: Counter[str] = Counter()
    for problem_id, samples in by_problem.items():
        unique = list({s["completion"]: s for s in samples}.values())
        rng = random.Random(f"{config.seed}:{problem_id}")
        good = sorted((s for s in unique if is_good(s)), key=lambda s: (_length(s), s["completion"]))
        if config.chosen == "random":
            rng.shuffle(good)
        if not good:
            skipped["no_correct_sample"] += 1
            continue
        if config.rejected == "incorrect":
            losers = sorted((s for s in unique if s.get("reward_accuracy") == 0.0), key=lambda s: s["completion"])
            rng.shuffle(losers)
        else:
            losers = sorted(good, key=lambda s: (-_length(s), s["completion"]))[: max(0, len(good) - 1)]
        if not losers:
            skipped["no_incorrect_sample" if config.rejected == "incorrect" else "one_correct_sample"] += 1
            continue
        prompt = _prompt(samples)
        for index, loser in enumerate(losers[: config.pairs_per_problem]):
            winner = good[index % len(good)]
            if winner["completion"] == loser["completion"]:
                continue
            pairs.append(
                {
                    "prompt": prompt,
                    "chosen": [{"role": "assistant", "content": winner["completion"]}],
                    "rejected": [{"role": "assistant", "content": loser["completion"]}],
                    "problem_id": problem_id,
                    "problem": winner.get("problem"),
                    "solution": winner.get("solution"),
                    "lang": winner.get("lang"),
                    "chosen_tokens": winner.get("completion_tokens"),
                    "rejected_tokens": loser.get("completion_tokens"),
                    "rejected_kind": config.rejected,
                    "chosen_id": winner.get("id"),
                    "rejected_id": loser.get("id"),
                }
            )
    return pairs, skipped


def _prompt(samples: Sequence[dict[str, Any]]) -> list[dict[str, str]]:
    """The chat before the answer, as the problem's SFT rows have it (system + user), else the user turn."""
    for sample in samples:
        messages = sample.get("messages")
        if isinstance(messages, list) and messages and messages[-1].get("role") == "assistant":
            return [dict(m) for m in messages[:-1]]
    return [{"role": "user", "content": str(samples[0].get("problem") or "")}]


def read_samples(source: str) -> list[dict[str, Any]]:
    """Every verified sample of a rejection-sampling dataset: kept rows and the rejected ones."""
    from pathlib import Path

    from r1f.io import dataset_files, read_rows

    rows = read_rows(source, split="train", allow_empty=True)
    if Path(source).is_dir() and "rejected" in dataset_files(Path(source)):
        rows += read_rows(source, split="rejected", allow_empty=True)
    if not rows:
        raise DataError(f"{source}: no samples; make it with `r1f sample`")
    if not any("reward_accuracy" in row for row in rows):
        raise DataError(f"{source}: no reward_accuracy column; pairs need verified samples (made by `r1f sample`)")
    return rows
