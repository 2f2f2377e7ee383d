"""Prompt templates: how a problem becomes chat messages.

Templates are looked up by name so the CLI, recipes and manifests all say the same thing. The
R1-Zero wording is ours, written after the R1 report's description of its training template.
"""

from __future__ import annotations

from collections.abc import Callable

from r1f.errors import ConfigError
from r1f.schema import Messages

R1_ZERO_SYSTEM = (
    "You are a helpful assistant. When the user gives you a problem, first reason about it step by step, "
    "then give the final answer. Put your reasoning inside <think> </think> tags and the final answer "
    "inside <answer> </answer> tags, like this: <think> reasoning here </think><answer> answer here </answer>"
)
STEP_BY_STEP_SYSTEM = (
    "You are a careful math tutor. Solve the problem step by step, check your result, "
    "and finish with a line of the form 'The answer is N.'"
)


def _plain(problem: str) -> Messages:
    return [{"role": "user", "content": problem}]


def _r1_zero(problem: str) -> Messages:
    return [{"role": "system", "content": R1_ZERO_SYSTEM}, {"role": "user", "content": problem}]


def _step_by_step(problem: str) -> Messages:
    return [{"role": "system", "content": STEP_BY_STEP_SYSTEM}, {"role": "user", "content": problem}]


TEMPLATES: dict[str, Callable[[str], Messages]] = {
    "r1-zero": _r1_zero,
    "step-by-step": _step_by_step,
    "plain": _plain,
}


def build_prompt(template: str, problem: str) -> Messages:
    """The chat messages for ``problem`` under the template named ``template``."""
    try:
        return TEMPLATES[template](problem)
    except KeyError:
        raise ConfigError(f"unknown prompt template {template!r}; choose one of: {', '.join(TEMPLATES)}") from None
