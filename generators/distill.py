"""Distillation data: a teacher's verified reasoning traces, sized for a student.

The DeepSeek recipe for its distilled models: sample the teacher at temperature ~0.6 with no system
prompt, the response forced to open with ``<think>\\n`` where the chat template allows, keep only
verified traces, and train the student on them with SFT only. Lengths are measured with the
student's tokenizer, because that is the budget the student trains under.
"""

from __future__ import annotations

import statistics
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from generators import assemble
from r1f.errors import ConfigError, DataError
from r1f.schema import Messages

THINK_PREFIX = "<think>\n"


@dataclass(frozen=True)
class TeacherPrompt:
    """No system prompt; the problem as the user turn; optionally a forced ``<think>\\n`` start."""

    force_think: bool = True
    name: str = "distill"

    def __call__(self, problem: dict[str, Any]) -> Messages:
        messages: Messages = [{"role": "user", "content": problem["problem"]}]
        if self.force_think:
            messages.append({"role": "assistant", "content": THINK_PREFIX})
        return messages


def student_lengths(student: str, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Tokens each SFT row takes in the student's chat template (what training will see)."""
    from transformers import AutoTokenizer

    from generators.models import resolve_model

    tokenizer = AutoTokenizer.from_pretrained(resolve_model(student).path)
    lengths = []
    for row in rows:
        text = tokenizer.apply_chat_template(row["messages"], tokenize=False)
        lengths.append(len(tokenizer(text, add_special_tokens=False)["input_ids"]))
    return lengths


def run_distill(
    problems: Sequence[dict[str, Any]],
    *,
    engine: Any,
    params: Any,
    out_dir: str,
    student: str = "smollm2-135m",
    max_student_tokens: int = 2048,
    force_think: bool = True,
    lang_threshold: float = 0.95,
    force: bool = False,
    command: Sequence[str] | None = None,
    inputs: dict[str, Any] | None = None,
    on_chunk: Any = None,
) -> dict[str, Any]:
    """Teacher traces for ``problems``, verified, filtered to the student's length budget; returns counts."""
    from generators.generate import generate_rows, generation_manifest, open_store

    if max_student_tokens < 16:
        raise ConfigError(f"--max-student-tokens must be >= 16, got {max_student_tokens}")
    if any(not str(p.get("solution") or "").strip() for p in problems):
        raise DataError("distillation verifies every trace: each problem needs a 'solution' (--solution-column)")
    store = open_store(out_dir, force=force)
    prompt = TeacherPrompt(force_think=force_think)
    summary = generate_rows(
        problems, engine=engine, params=params, store=store, prompt=prompt, generator="distill", on_chunk=on_chunk
    )
    rows = [dict(r) for r in summary.rows]
    rewards = assemble.verifier("think")
    assemble.score(rows, rewards)
    rules = assemble.default_rules()
    candidates, rejected = [], []
    for row in rows:
        reason = assemble.first_failure(row, rules, lang_threshold=lang_threshold)
        row["messages"] = assemble.sft_messages(None, row["problem"], row["completion"])
        (rejected if reason else candidates).append({**row, "reject_reason": reason} if reason else row)
    kept = []
    for row, length in zip(candidates, student_lengths(student, candidates) if candidates else []):
        row["student_tokens"] = length
        if length > max_student_tokens:
            rejected.append({**row, "reject_reason": "too_long_for_student"})
        else:
            kept.append(row)
    manifest = generation_manifest(
        summary,
        engine=engine,
        params=params,
        prompt=prompt,
        store=store,
        kind="distill",
        command=command or sys.argv,
        inputs=inputs,
    )
    correct = [r.get("reward_accuracy") == 1.0 for r in rows]
    manifest["teacher"] = {**engine.identity(), "sampling": params.as_dict(), "force_think": force_think}
    manifest["parameters"].update(
        student=student,
        max_student_tokens=max_student_tokens,
        lang_threshold=lang_threshold,
        rules=[r.name for r in rules],
    )
    pass_rate = round(statistics.mean(correct), 4) if correct else None
    return assemble.write_sft(
        out_dir, kept, rejected, manifest, rewards, drawn=len(rows), extra_counts={"pass_rate": pass_rate}
    )
