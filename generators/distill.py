"""Distillation data: a teacher's verified reasoning traces, sized for a student.

The DeepSeek recipe for its distilled models: sample the teacher at temperature ~0.6 with no system
prompt, the response forced to open with ``<think>\\n`` where the chat template allows, keep only
verified traces, and train the student on them with SFT only. Lengths are measured with the
student's tokenizer, because that is the budget the student trains under.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from generators.config import EngineConfig, GrowthConfig, OutputConfig, ProblemsConfig, SamplingConfig, output_option
from generators.models import DEFAULT_MODEL
from r1f.config import MAX_ROWS, MAX_SAMPLES, option
from r1f.errors import ConfigError
from r1f.schema import Messages

THINK_PREFIX = "<think>\n"


@dataclass(frozen=True)
class TeacherPrompt:
    """No system prompt (unless the teacher was trained with one); the problem as the user turn; optionally a
    forced ``<think>\\n`` start."""

    force_think: bool = True
    system_template: str | None = None
    name: str = "distill"

    def __call__(self, problem: dict[str, Any]) -> Messages:
        from generators.prompts import build_prompt

        if self.system_template:
            messages: Messages = build_prompt(self.system_template, problem["problem"], problem.get("lang"))
        else:
            messages = [{"role": "user", "content": problem["problem"]}]
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


@dataclass
class DistillConfig(SamplingConfig, EngineConfig, ProblemsConfig, GrowthConfig, OutputConfig):
    """``r1f distill``: a teacher's (--model) verified reasoning traces, sized for a student."""

    out: str = output_option("datasets_out/distill")
    student: str = option(
        DEFAULT_MODEL, help="The student whose tokenizer measures lengths (alias, directory or Hub id)."
    )
    max_student_tokens: int = option(2048, help="Drop traces longer than this in the student's tokens.")
    force_think: bool = option(
        True,
        help="Start the teacher's answer with '<think>' and a newline (openai: needs a server that honours "
        "continue_final_message, e.g. vLLM).",
    )
    teacher_template: str | None = option(
        None,
        help="System prompt the teacher gets: a template name (e.g. sft-think, for a teacher trained with it); "
        "default none, as in the DeepSeek recipe. The student's rows never have one.",
    )
    n: int = option(1, low=1, high=MAX_SAMPLES, help="Traces per problem.")
    lang_threshold: float = option(0.95, help="Drop traces whose language consistency is below this.")
    temperature: float = option(0.6, help="Sampling temperature; 0 is greedy (deterministic).")
    top_p: float = option(0.95, help="Nucleus sampling threshold.")
    max_new_tokens: int = option(1024, low=1, high=MAX_ROWS, help="Most tokens per completion.")

    def validate(self) -> None:
        super().validate()
        if self.max_student_tokens < 16:
            raise ConfigError(f"--max-student-tokens must be >= 16, got {self.max_student_tokens}")
        if self.teacher_template is not None:
            from generators.prompts import TEMPLATES

            if self.teacher_template not in TEMPLATES:
                raise ConfigError(
                    f"unknown teacher_template {self.teacher_template!r}; choose one of: {', '.join(TEMPLATES)}"
                )

    def prompt(self) -> TeacherPrompt:
        return TeacherPrompt(force_think=self.force_think, system_template=self.teacher_template)


def fit_student(
    candidates: list[dict[str, Any]], student: str, max_student_tokens: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(rows within the student's budget, rows ``too_long_for_student``), each with ``student_tokens``."""
    kept, rejected = [], []
    for row, length in zip(candidates, student_lengths(student, candidates) if candidates else []):
        row["student_tokens"] = length
        if length > max_student_tokens:
            rejected.append({**row, "reject_reason": "too_long_for_student"})
        else:
            kept.append(row)
    return kept, rejected
