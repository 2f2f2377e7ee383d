"""The R1 report's removal rules for rejection-sampled data, as ready-made row checks.

Each rule looks at one row and returns None to keep it or a snake_case reason to drop it, so the
filter step can count drops per reason. Rules that need a score (``mixed_language``) name the
reward they read; the filter step computes it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from filters.text import completion_text, reasoning_region
from r1f.errors import ConfigError

CODE_FENCE_RE = re.compile(r"```|^\s*(?:def |class |import |#include|for \(|public static)", re.MULTILINE)


@dataclass
class Rule:
    name: str
    check: Callable[[dict[str, Any]], str | None]
    needs: tuple[str, ...] = ()
    help: str = ""


def _empty(row: dict[str, Any]) -> str | None:
    return "empty" if not completion_text(row.get("completion")).strip() else None


def _prompt_too_long(row: dict[str, Any]) -> str | None:
    return "prompt_too_long" if row.get("finish_reason") == "prompt_too_long" else None


def _truncated(row: dict[str, Any]) -> str | None:
    return "truncated" if row.get("finish_reason") == "length" else None


def _code_block(row: dict[str, Any]) -> str | None:
    text = completion_text(row.get("completion"))
    return "code_block" if CODE_FENCE_RE.search(text) else None


def make_overlong_paragraph(max_words: int = 200) -> Callable[[dict[str, Any]], str | None]:
    def check(row: dict[str, Any]) -> str | None:
        text = reasoning_region(completion_text(row.get("completion")))
        longest = max((len(p.split()) for p in re.split(r"\n\s*\n", text)), default=0)
        return "overlong_paragraph" if longest > max_words else None

    return check


def make_mixed_language(threshold: float = 0.95) -> Callable[[dict[str, Any]], str | None]:
    def check(row: dict[str, Any]) -> str | None:
        score = row.get("reward_language_consistency")
        return "mixed_language" if score is not None and score < threshold else None

    return check


RULES: dict[str, Callable[..., Rule]] = {
    "prompt_too_long": lambda: Rule(
        "prompt_too_long", _prompt_too_long, help="the prompt left no room for an answer in the model's context"
    ),
    "empty": lambda: Rule("empty", _empty, help="completion is empty or whitespace"),
    "truncated": lambda: Rule("truncated", _truncated, help="generation hit max_new_tokens (finish_reason == length)"),
    "code_block": lambda: Rule("code_block", _code_block, help="code fences or code lines in a math answer"),
    "overlong_paragraph": lambda max_words=200: Rule(
        "overlong_paragraph", make_overlong_paragraph(max_words), help=f"a reasoning paragraph over {max_words} words"
    ),
    "mixed_language": lambda threshold=0.95: Rule(
        "mixed_language",
        make_mixed_language(threshold),
        needs=("language_consistency",),
        help=f"language_consistency below {threshold}",
    ),
}


def parse_rules(spec: str) -> list[Rule]:
    """``"empty,truncated,overlong_paragraph(max_words=150)"`` -> rules (same syntax as rewards)."""
    from filters.registry import SPEC_RE, _parse_params, _split_top_level

    rules = []
    for item in _split_top_level(spec):
        match = SPEC_RE.match(item)
        name = match.group(1) if match else item
        if name not in RULES:
            raise ConfigError(f"unknown rule {name!r}; rules: {', '.join(RULES)}")
        params = _parse_params(item, match.group(2)) if match and match.group(2) else {}
        try:
            rules.append(RULES[name](**params))
        except TypeError as err:
            raise ConfigError(f"rule {name!r}: {err}") from None
    return rules
