"""Rejection sampling (R1 stage 2 data): k completions per problem, verified, the best kept.

Scoring overlaps generation: each finished chunk's rows go to a scoring thread while the engine
generates the next chunk (the accuracy reward's work happens in its worker processes, so the
thread mostly waits on pipes and the GIL stays free for generation).
"""

from __future__ import annotations

import statistics
import sys
from collections import defaultdict
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from filters.text import completion_text
from generators import assemble
from generators.prompts import SFT_SYSTEM
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


def run_sample(
    problems: Sequence[dict[str, Any]],
    *,
    engine: Any,
    params: Any,
    out_dir: str,
    prompt: Any = "r1-zero",
    select: str = "all",
    best_m: int = 1,
    pass_rate: str | None = None,
    lang_threshold: float = 0.95,
    fmt: str = "think",
    mix: Sequence[dict[str, Any]] | None = None,
    mix_ratio: float = 0.0,
    force: bool = False,
    command: Sequence[str] | None = None,
    inputs: dict[str, Any] | None = None,
    on_chunk: Any = None,
) -> dict[str, Any]:
    """Draw ``params.n`` completions per problem, verify them, keep all correct (or the best ``best_m``).

    Returns the manifest's counts. Output splits: ``train`` (SFT ``messages``), ``rejected`` (with
    ``reject_reason``) and ``problems`` (one row per problem: pass rate, kept count).
    """
    from generators.generate import generate_rows, generation_manifest, open_store

    if select not in SELECT:
        raise ConfigError(f"--select must be all or best, got {select!r}")
    if best_m < 1:
        raise ConfigError(f"--best-m must be >= 1, got {best_m}")
    missing = [i + 1 for i, p in enumerate(problems) if not str(p.get("solution") or "").strip()]
    if missing:
        raise DataError(
            f"rejection sampling needs a gold answer per problem; rows {missing[:5]} have no 'solution' "
            "(pass --solution-column NAME)"
        )
    window = parse_pass_rate(pass_rate)
    rewards = assemble.verifier(fmt)
    rules = assemble.default_rules()
    store = open_store(out_dir, force=force)
    scoring = ThreadPoolExecutor(max_workers=1, thread_name_prefix="r1f-score")
    futures: list[Future] = []
    scores: dict[str, dict[str, Any]] = {}

    def score_rows(rows: list[dict[str, Any]]) -> None:
        batch = [dict(r) for r in rows]
        assemble.score(batch, rewards)
        for row in batch:
            scores[row["id"]] = {k: v for k, v in row.items() if k.startswith("reward_")}

    try:
        summary = generate_rows(
            problems,
            engine=engine,
            params=params,
            store=store,
            prompt=prompt,
            generator="rejection-sampling",
            on_chunk=on_chunk,
            on_rows=lambda rows: futures.append(scoring.submit(score_rows, rows)),
        )
        for future in futures:
            future.result()
    finally:
        scoring.shutdown(wait=True)
    unscored = [r for r in summary.rows if r["id"] not in scores]
    if unscored:
        score_rows(unscored)
    for row in summary.rows:
        row.update(scores[row["id"]])

    by_problem: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in summary.rows:
        by_problem[row["problem_id"]].append(row)
    kept, rejected, table = [], [], []
    system = SFT_SYSTEM["think"] if fmt == "think" else SFT_SYSTEM["r1"]
    for problem_id, samples in by_problem.items():
        correct = sum(1 for s in samples if s.get("reward_accuracy") == 1.0)
        rate = correct / len(samples)
        eligible, dropped = [], []
        for sample in samples:
            sample["pass_rate"] = rate
            reason = assemble.first_failure(sample, rules, lang_threshold=lang_threshold)
            (dropped if reason else eligible).append((sample, reason))
        in_window = window is None or window[0] <= rate <= window[1]
        eligible.sort(key=lambda pair: rank_key(pair[0]))
        chosen = eligible if select == "all" else eligible[:best_m]
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
                "kept": sum(1 for s, _ in chosen if in_window),
                "in_pass_rate_window": in_window,
            }
        )
    mixed = _mix(mix or [], mix_ratio, len(kept), system, params.seed)
    manifest = generation_manifest(
        summary,
        engine=engine,
        params=params,
        prompt=prompt,
        store=store,
        kind="rejection_sampled",
        command=command or sys.argv,
        inputs=inputs,
    )
    drawn = len(summary.rows)
    manifest["parameters"].update(
        select=select,
        best_m=best_m,
        pass_rate=pass_rate,
        lang_threshold=lang_threshold,
        format=fmt,
        rules=[r.name for r in rules],
        rewards=[r.name for r in rewards],
        mix_ratio=mix_ratio,
        mixed_rows=len(mixed),
    )
    rates = [t["pass_rate"] for t in table]
    extra = {
        "problems": len(table),
        "pass_rate": round(statistics.mean(rates), 4) if rates else None,
        "problems_in_window": sum(1 for t in table if t["in_pass_rate_window"]),
        "non_reasoning_rows": len(mixed),
    }
    return assemble.write_sft(
        out_dir,
        kept,
        rejected,
        manifest,
        rewards,
        drawn=drawn,
        extra_counts=extra,
        extra_train=mixed,
        extra_splits={"problems": table},
        extra_plots={"pass_rate": rates},
    )


def _mix(rows: Sequence[dict[str, Any]], ratio: float, reasoning_rows: int, system: str, seed: int) -> list[dict]:
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
        }
        for r in chosen
    ]
