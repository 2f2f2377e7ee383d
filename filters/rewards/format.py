"""Structure rewards: ``format`` (strict, loose, R1 cold-start form), ``tag_count``, ``reasoning_steps``."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from filters.text import SPECIAL_TOKEN_RE, completion_text
from r1f.errors import ConfigError

STRICT_RE = re.compile(
    r"^<think>\n(?!\s*</think>).*?\n</think>\n<answer>\n(?!\s*</answer>).*?\n</answer>\n?$", re.DOTALL
)
LOOSE_RE = re.compile(r"^\s*<think>(?!\s*</think>).+?</think>\s*<answer>(?!\s*</answer>).+?</answer>\s*$", re.DOTALL)
TAGS = ("<think>", "</think>", "<answer>", "</answer>")
FORMAT_MODES = ("strict", "loose", "r1")
TAG_PATTERNS = tuple(re.compile(p) for p in (r"<think>\n", r"\n</think>\n", r"\n<answer>\n", r"\n</answer>"))


def _tags_once(text: str) -> bool:
    return all(text.count(tag) == 1 for tag in TAGS)


def _r1_form(text: str) -> bool:
    """``|special_token| reasoning |special_token| summary`` with both parts non-empty, nothing before."""
    parts = SPECIAL_TOKEN_RE.split(text)
    return len(parts) == 3 and not parts[0].strip() and bool(parts[1].strip()) and bool(parts[2].strip())


class Format:
    """1.0 when the completion has the requested shape, else 0.0.

    Modes: ``strict`` (open-r1's newline form ``<think>\\n…\\n</think>\\n<answer>\\n…\\n</answer>``),
    ``loose`` (the same tags in order with any whitespace), ``r1`` (the R1 cold-start form
    ``|special_token|<reasoning>|special_token|<summary>``). Each tag must appear exactly once and
    enclose something.

    >>> Format("loose")(["<think> 3*4=12 </think> <answer>14</answer>", "14"])
    [1.0, 0.0]
    >>> Format("strict")(["<think> 3*4=12 </think> <answer>14</answer>"])
    [0.0]
    """

    def __init__(self, mode: str = "loose") -> None:
        if mode not in FORMAT_MODES:
            raise ConfigError(f"format mode must be one of {', '.join(FORMAT_MODES)}, got {mode!r}")
        self.mode = mode
        self.__name__ = "format" if mode == "loose" else f"format_{mode}"

    def __call__(self, completions: Sequence[Any], **columns: Any) -> list[float | None]:
        out: list[float | None] = []
        for completion in completions:
            text = completion_text(completion)
            if self.mode == "r1":
                ok = _r1_form(text)
            else:
                ok = _tags_once(text) and bool((STRICT_RE if self.mode == "strict" else LOOSE_RE).match(text))
            out.append(1.0 if ok else 0.0)
        return out


def tag_count_reward(completions: Sequence[Any], **columns: Any) -> list[float | None]:
    """0.25 for each of the four tags used exactly once, in open-r1's newline form: partial credit.

    Partial credit matters for tiny models: with all-or-nothing format rewards their GRPO groups are
    all zero and get no gradient.

    >>> tag_count_reward(["<think>\\nx\\n</think>\\n<answer>\\n1\\n</answer>", "<think>\\nx", ""])
    [1.0, 0.25, 0.0]
    """
    out: list[float | None] = []
    for completion in completions:
        text = completion_text(completion)
        out.append(sum((0.25 for pattern in TAG_PATTERNS if len(pattern.findall(text)) == 1), 0.0))
    return out


tag_count_reward.__name__ = "tag_count"

STEP_RE = re.compile(
    r"(?:\bStep\s*\d+\s*[:.]"  # Step 1:
    r"|^\s*\d+[.)]\s"  # 1. / 2)
    r"|^\s*[-*•]\s"  # bullets
    r"|\b(?:First|Second|Third|Next|Then|Finally|Primero|Luego|Después|Finalmente|D'abord|Ensuite|Enfin"
    r"|Zuerst|Dann|Schließlich)\b,?"
    r"|首先|然后|接着|最后)",
    re.MULTILINE,
)


def reasoning_steps_reward(completions: Sequence[Any], **columns: Any) -> list[float | None]:
    """min(1, indicators / 3): "Step N:", numbered lines, bullets and sequencing words (five languages).

    Line anchors are honoured: a numbered or bulleted line counts at the start of any line, the
    first line included (the seed's ``\\n-`` missed a bullet on the first line).

    >>> reasoning_steps_reward(["- a\\n- b\\nFinally, c", "Step 1: add", "no steps"])
    [1.0, 0.3333333333333333, 0.0]
    """
    return [min(1.0, len(STEP_RE.findall(completion_text(c))) / 3) for c in completions]


reasoning_steps_reward.__name__ = "reasoning_steps"
