"""The keep/drop decision, in one place for every step that keeps or drops rows.

A :class:`Decision` is an ordered list of rules (the R1 removal rules, the score requirements of the
SFT generators) and an optional ``--keep`` expression. A row is kept when every rule passes and the
expression holds; otherwise the first failure is its ``reject_reason``. ``r1f filter``, cold start,
rejection sampling and distillation all decide through it, so a reason means the same everywhere.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from filters.expression import KeepExpression
from filters.rules import Rule, parse_rules

#: the R1 report's removal rules every SFT generator applies before its score requirements
SFT_RULES = "prompt_too_long,empty,truncated,code_block,overlong_paragraph"


def require_score(name: str) -> Rule:
    """A rule that drops a row unless ``reward_<name>`` is 1.0 (reasons: ``incorrect`` for accuracy, else
    ``bad_<name>``; ``<name>_not_judged`` when it could not be judged)."""

    def check(row: dict[str, Any]) -> str | None:
        value = row.get(f"reward_{name}")
        if value is None:
            return f"{name}_not_judged"
        if value < 1.0:
            return "incorrect" if name == "accuracy" else f"bad_{name}"
        return None

    return Rule(f"require_{name}", check, needs=(name,), help=f"reward {name} is 1")


@dataclass
class Decision:
    """Rules in order, then the keep expression; the first failure is the reason."""

    rules: Sequence[Rule] = ()
    keep: KeepExpression | None = None

    def reason(self, row: dict[str, Any]) -> str | None:
        """None to keep ``row``, else why it is dropped."""
        for rule in self.rules:
            found = rule.check(row)
            if found:
                return found
        if self.keep is not None:
            failed = self.keep.check(row)
            if failed:
                return f"keep: {failed}"
        return None

    def split(self, rows: Iterable[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """(kept, rejected); rejected rows carry their ``reject_reason``."""
        kept, rejected = [], []
        for row in rows:
            why = self.reason(row)
            if why is None:
                kept.append(row)
            else:
                rejected.append({**row, "reject_reason": why})
        return kept, rejected

    @property
    def needs(self) -> list[str]:
        """Rewards the rules read (the scorer must compute them)."""
        return list(dict.fromkeys(name for rule in self.rules for name in rule.needs))


def sft_decision(*, require: Sequence[str] = ("accuracy",), lang_threshold: float = 0.95) -> Decision:
    """What an SFT row must pass: the R1 removal rules, the required scores, language consistency."""
    rules = parse_rules(SFT_RULES)
    rules += [require_score(name) for name in require]
    rules += parse_rules(f"mixed_language(threshold={lang_threshold})")
    return Decision(rules=rules)
