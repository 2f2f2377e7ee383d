"""Rejection sampling (R1 stage 2 data): k completions per problem, verified, the best kept.

Scoring overlaps generation (see ``generators.steps.SampleStep``): each finished chunk's rows go to a
scoring thread while the engine generates the next chunk (the accuracy reward's work happens in its
worker processes, so the thread mostly waits on pipes and the GIL stays free for generation).
"""

from __future__ import annotations

import re
import statistics
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from filters.text import completion_text
from generators import assemble
from generators.config import EngineConfig, GrowthConfig, OutputConfig, ProblemsConfig, SamplingConfig, output_option
from r1f.config import MAX_SAMPLES, option
from r1f.errors import ConfigError, DataError
from r1f.schema import stable_id

SELECT = ("all", "best")


def parse_pass_rate(spec: str | None) -> tuple[float, float] | None:
    """``"0.2:0.8"`` -> (0.2, 0.8): keep problems whose pass rate lies in that closed range."""
    if not spec:
        return None
    try:
        low, high = (float(x) for x in spec.split(":"))
    except ValueError:
        raise ConfigError(f"--pass-rate must look like 0.2:0.8, got {spec!r}") from None
    if not 0 <= low <= high <= 1:
        raise ConfigError(f"--pass-rate needs 0 <= low <= high <= 1, got {spec!r}")
    return low, high


def rank_key(row: dict[str, Any]) -> tuple:
    """Best first: correct, then well formed, then language-consistent, then shorter."""
    return (
        -(row.get("reward_accuracy") or 0.0),
        -(row.get("reward_format") or 0.0),
        -(row.get("reward_language_consistency") or 0.0),
        len(completion_text(row.get("completion"))),
        row["id"],
    )


@dataclass
class SampleConfig(SamplingConfig, EngineConfig, ProblemsConfig, GrowthConfig, OutputConfig):
    """``r1f sample``: rejection sampling -- k completions per problem, verified, the correct (or best) kept."""

    out: str = output_option("datasets_out/rejection_sampled")
    k: int = option(4, low=1, high=MAX_SAMPLES, help="Completions drawn per problem.")
    select: str = option("all", help="all (every correct sample) or best (the best --best-m per problem).")
    best_m: int = option(
        1, help="With --select best: samples kept per problem (correct first, then format, language, shorter)."
    )
    pass_rate: str | None = option(
        None, help="Keep only problems whose pass rate (correct/k) lies in LOW:HIGH, e.g. 0.2:0.8."
    )
    format: str = option("think", help="Form the completions must have: think (<think>/<answer> tags) or r1.")
    template: str = option("r1-zero", help="Prompt template: r1-zero, r1-zero-fewshot, sft-think, step-by-step, plain.")
    lang_threshold: float = option(0.95, help="Drop samples whose language consistency is below this.")
    mix: str | None = option(
        None, help="Non-reasoning SFT data to mix in: builtin-chat, or a file with prompt and response columns."
    )
    mix_ratio: float = option(0.0, help="Share of the final dataset that --mix rows make up.")
    pseudo_gold: str | None = option(
        None,
        help="For problems without a gold answer: majority (the k samples' most common answer becomes the gold "
        "when its share reaches --pseudo-gold-threshold; rows say gold_source: majority).",
    )
    pseudo_gold_threshold: float = option(0.5, help="Share of the k answers the majority answer needs.")
    temperature: float = option(0.7, help="Sampling temperature; 0 is greedy (deterministic).")
    top_p: float = option(0.95, help="Nucleus sampling threshold.")

    def samples(self) -> int:
        return self.k

    def validate(self) -> None:
        super().validate()
        if self.select not in SELECT:
            raise ConfigError(f"--select must be all or best, got {self.select!r}")
        if self.best_m < 1:
            raise ConfigError(f"--best-m must be >= 1, got {self.best_m}")
        parse_pass_rate(self.pass_rate)
        if self.pseudo_gold not in (None, "majority"):
            raise ConfigError(f"--pseudo-gold {self.pseudo_gold!r}: the one method is majority")
        if not 0 < self.pseudo_gold_threshold <= 1:
            raise ConfigError(f"--pseudo-gold-threshold must be in (0, 1], got {self.pseudo_gold_threshold}")
        if self.mix_ratio and not 0 < self.mix_ratio < 1:
            raise ConfigError(f"--mix-ratio must be in (0, 1), got {self.mix_ratio}")
        from generators.coldstart import check_format
        from generators.prompts import TEMPLATES

        check_format(self.format)
        if self.template not in TEMPLATES:
            raise ConfigError(f"unknown prompt template {self.template!r}; choose one of: {', '.join(TEMPLATES)}")


def require_gold(problems: Sequence[dict[str, Any]], what: str) -> None:
    """Refuse problems without a gold answer, naming the rows, before anything is generated."""
    missing = [i + 1 for i, p in enumerate(problems) if not str(p.get("solution") or "").strip()]
    if missing:
        raise DataError(
            f"{what} needs a gold answer per problem; rows {missing[:5]} have no 'solution' "
            "(pass --solution-column NAME)"
        )


def select(
    rows: Sequence[dict[str, Any]], config: SampleConfig, decision: Any, system: str
) -> tuple[list[dict], list[dict], list[dict]]:
    """Per problem: pass rate, eligible samples (the decision), the chosen ones, the window.

    Returns (kept rows with SFT ``messages``, rejected rows with reasons, the per-problem table).
    """
    window = parse_pass_rate(config.pass_rate)
    by_problem: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_problem[row["problem_id"]].append(row)
    kept, rejected, table = [], [], []
    for problem_id, samples in by_problem.items():
        correct = sum(1 for s in samples if s.get("reward_accuracy") == 1.0)
        rate = correct / len(samples)
        eligible, dropped = [], []
        for sample in samples:
            sample["pass_rate"] = rate
            reason = decision.reason(sample)
            (dropped if reason else eligible).append((sample, reason))
        in_window = window is None or window[0] <= rate <= window[1]
        eligible.sort(key=lambda pair: rank_key(pair[0]))
        chosen = eligible if config.select == "all" else eligible[: config.best_m]
        for sample, _ in eligible[len(chosen) :]:
            dropped.append((sample, "not_best"))
        for sample, _ in chosen:
            if in_window:
                sample["messages"] = assemble.sft_messages(system, sample["problem"], sample["completion"])
                kept.append(sample)
            else:
                dropped.append((sample, "pass_rate_out_of_range"))
        for sample, reason in dropped:
            rejected.append({**sample, "reject_reason": reason})
        first = samples[0]
        table.append(
            {
                "problem_id": problem_id,
                "problem": first["problem"],
                "solution": first.get("solution"),
                "lang": first.get("lang"),
                "k": len(samples),
                "correct": correct,
                "pass_rate": rate,
                "kept": sum(1 for _ in chosen) if in_window else 0,
                "in_pass_rate_window": in_window,
            }
        )
    return kept, rejected, table


def pass_rate_counts(table: Sequence[dict[str, Any]]) -> dict[str, Any]:
    rates = [t["pass_rate"] for t in table]
    return {
        "problems": len(table),
        "pass_rate": round(statistics.mean(rates), 4) if rates else None,
        "problems_in_window": sum(1 for t in table if t["in_pass_rate_window"]),
    }


def load_mix(spec: str | None) -> list[dict[str, Any]]:
    """Non-reasoning rows: ``builtin-chat`` (shipped), or a file/dataset with prompt and response columns."""
    from generators.chat import BUILTIN_CHAT, chat_rows
    from r1f.io import read_rows

    if not spec:
        return []
    return chat_rows() if spec == BUILTIN_CHAT else read_rows(spec)


def mix_rows(rows: Sequence[dict[str, Any]], ratio: float, reasoning_rows: int, seed: int) -> list[dict]:
    """Non-reasoning SFT rows so that they make up ``ratio`` of the final dataset (seeded choice)."""
    if not rows or ratio <= 0:
        return []
    if not 0 < ratio < 1:
        raise ConfigError(f"--mix-ratio must be in (0, 1), got {ratio}")
    import random

    for key in ("prompt", "response"):
        if key not in rows[0]:
            raise DataError(f"--mix rows need 'prompt' and 'response' columns; columns are: {', '.join(rows[0])}")
    want = round(reasoning_rows * ratio / (1 - ratio))
    chosen = random.Random(seed).sample(list(rows), min(want, len(rows)))
    return [
        {
            "id": stable_id("mix", r["prompt"], r["response"]),
            "problem": r["prompt"],
            "completion": r["response"],
            "messages": [{"role": "user", "content": r["prompt"]}, {"role": "assistant", "content": r["response"]}],
            "generator": "non-reasoning-mix",
            "source": r.get("source", "mix"),
            "lang": r.get("lang"),
        }
        for r in chosen
    ]


def label_pass_rates(rows: list[dict[str, Any]], sampled: str) -> tuple[list[dict[str, Any]], int]:
    """Label problems with the pass rate a rejection-sampling run measured for them (matched by problem text).

    Adds ``pass_rate``, ``pass_rate_k`` and ``pass_rate_model`` (from that run's manifest); problems it did not
    sample keep ``pass_rate: None``. Returns (rows, how many were not measured).
    """
    from r1f.io import read_manifest, read_rows
    from r1f.ngrams import normalize

    table = read_rows(sampled, split="problems")
    model = ((read_manifest(sampled) or {}).get("model") or {}).get("model")
    measured = {normalize(t["problem"]): t for t in table}
    missing = 0
    for row in rows:
        hit = measured.get(normalize(row["problem"]))
        row["pass_rate"] = hit["pass_rate"] if hit else None
        row["pass_rate_k"] = hit["k"] if hit else None
        row["pass_rate_model"] = model if hit else None
        missing += hit is None
    return rows, missing


def answer_key(completion: Any) -> str | None:
    """What two answers must share to count as the same vote, or None when a sample states no answer.

    A plain number counts by exact value (``0.5`` = ``1/2``); an answer that works it out (``1 + 7 = 8``) by the
    number after its last ``=``, else its last number; a non-numeric answer by its folded text (case, spaces,
    Unicode digits and signs). An untagged completion longer than a short answer states nothing we can vote on.

    >>> answer_key("<answer>0.50</answer>"), answer_key("1 + 7 = 8"), answer_key("<answer>Paris</answer>")
    ('1/2', '8', 'paris')
    """
    from filters.text import answer_region, completion_text, normalize_answer

    text = completion_text(completion)
    region = answer_region(text)
    value = normalize_answer(region).strip().rstrip(".。").strip()
    if not value or len(value) > 60:
        return None
    exact = _number_key(value.replace(" ", ""))
    if exact is not None:
        return exact
    tail = value.rsplit("=", 1)[1] if "=" in value else value
    numbers = NUMBER_RE.findall(tail) or NUMBER_RE.findall(value)
    if numbers:
        return _number_key(numbers[0] if "=" in value and NUMBER_RE.findall(tail) else numbers[-1])
    return " ".join(value.lower().split())


NUMBER_RE = re.compile(r"-?\d+(?:\.\d+)?(?:/\d+)?")


def _number_key(text: str) -> str | None:
    from fractions import Fraction

    try:
        return str(Fraction(text))
    except (ValueError, ZeroDivisionError):
        return None


def majority_golds(rows: Sequence[dict[str, Any]], threshold: float) -> dict[str, tuple[str | None, float]]:
    """For each problem without a gold: (its majority answer when the share reaches ``threshold``, else None, share).

    Self-consistency as a labeller (Wang et al.): with no gold, the answer most samples agree on is the best guess,
    and the agreement says how much to trust it.
    """
    from collections import Counter

    votes: dict[str, list[str | None]] = defaultdict(list)
    for row in rows:
        if not str(row.get("solution") or "").strip():
            votes[row["problem_id"]].append(answer_key(row.get("completion")))
    out: dict[str, tuple[str | None, float]] = {}
    for problem_id, keys in votes.items():
        counted = Counter(k for k in keys if k is not None)
        if not counted:
            out[problem_id] = (None, 0.0)
            continue
        answer, count = counted.most_common(1)[0]
        share = count / len(keys)
        out[problem_id] = (answer if share >= threshold else None, round(share, 4))
    return out
