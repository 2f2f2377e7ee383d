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


R1_TOKEN = "|special_token|"


def render(reasoning: str, summary: str, answer: str, fmt: str) -> str:
    """An assistant turn in output form ``fmt``: ``r1`` (special tokens) or ``think`` (think/answer tags).

    >>> render("2 * 6 = 12.", "The answer is 12.", "12", "r1")
    '|special_token| 2 * 6 = 12. |special_token| The answer is 12.'
    >>> render("2 * 6 = 12.", "The answer is 12.", "12", "think")
    '<think>\\n2 * 6 = 12.\\n</think>\\n<answer>\\n12\\n</answer>'
    """
    if fmt == "r1":
        return f"{R1_TOKEN} {reasoning.strip()} {R1_TOKEN} {summary.strip()}"
    return f"<think>\n{reasoning.strip()}\n</think>\n<answer>\n{answer.strip()}\n</answer>"


def _r1_zero_fewshot(problem: str, lang: str | None = None) -> Messages:
    """The R1-Zero prompt plus two worked examples in the tag format, as earlier turns.

    A 135M model never uses the tags zero-shot, so every GRPO reward is 0 and there is no gradient;
    with two examples it uses them about 3 times in 5 (FACTS.md), which gives GRPO a signal. The examples
    are in the problem's language (English when it has none), so the language-consistency reward is not
    fought by English examples in front of a Chinese problem.
    """
    from generators.examples import EXAMPLES

    messages = [{"role": "system", "content": R1_ZERO_SYSTEM}]
    same = [e for e in EXAMPLES if e["lang"] == lang] or [e for e in EXAMPLES if e["lang"] == "en"]
    for example in same[:2]:
        messages.append({"role": "user", "content": example["problem"]})
        messages.append(
            {
                "role": "assistant",
                "content": render(example["reasoning"], example["summary"], example["answer"], "think"),
            }
        )
    messages.append({"role": "user", "content": problem})
    return messages


#: the system turn of SFT rows (cold start, rejection sampling): it names the output form to use
SFT_SYSTEM = {
    "r1": (
        "Solve the problem. Write your reasoning between two |special_token| markers, then a one-line "
        "summary with the final answer: |special_token| reasoning |special_token| summary"
    ),
    "think": (
        "Solve the problem. Reason inside <think> </think> tags, then give only the final answer inside "
        "<answer> </answer> tags."
    ),
}


def _plain(problem: str, lang: str | None = None) -> Messages:
    return [{"role": "user", "content": problem}]


def _r1_zero(problem: str, lang: str | None = None) -> Messages:
    return [{"role": "system", "content": R1_ZERO_SYSTEM}, {"role": "user", "content": problem}]


def _step_by_step(problem: str, lang: str | None = None) -> Messages:
    return [{"role": "system", "content": STEP_BY_STEP_SYSTEM}, {"role": "user", "content": problem}]


#: template name -> (problem, lang) -> messages
TEMPLATES: dict[str, Callable[..., Messages]] = {
    "r1-zero": _r1_zero,
    "r1-zero-fewshot": _r1_zero_fewshot,
    "step-by-step": _step_by_step,
    "plain": _plain,
    # what models trained on the factory's SFT data see: evaluate them with the same system turn
    "sft-think": lambda problem, lang=None: [
        {"role": "system", "content": SFT_SYSTEM["think"]},
        {"role": "user", "content": problem},
    ],
    "sft-r1": lambda problem, lang=None: [
        {"role": "system", "content": SFT_SYSTEM["r1"]},
        {"role": "user", "content": problem},
    ],
}


def build_prompt(template: str, problem: str, lang: str | None = None) -> Messages:
    """The chat messages for ``problem`` (written in ``lang``) under the template named ``template``."""
    if template not in TEMPLATES:
        raise ConfigError(f"unknown prompt template {template!r}; choose one of: {', '.join(TEMPLATES)}")
    return TEMPLATES[template](problem, lang=lang)
