"""The one registry of reward functions, by name, shared by the CLI, the filter step and training.

A spec names rewards and, optionally, their parameters: ``accuracy,format,cosine(max_len=500)``.
Weights come separately (``1,0.5,0.5``), in the same order, as TRL's ``reward_weights`` do. A name
that is not registered may be a dotted path to any callable with the TRL signature
(``my_pkg.rewards:my_reward``).
"""

from __future__ import annotations

import ast
import importlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from filters.rewards.accuracy import Accuracy, Cosine, Length
from filters.rewards.control import RandomReward
from filters.rewards.format import Format, reasoning_steps_reward, tag_count_reward
from filters.rewards.language import LanguageConsistency
from filters.rewards.penalties import RepetitionPenalty, SoftOverlongPunishment
from r1f.errors import ConfigError
from r1f.schema import stable_id

RewardFn = Callable[..., list]


def _fixed(fn: RewardFn) -> Callable[..., RewardFn]:
    def make(**params: Any) -> RewardFn:
        if params:
            raise ConfigError(f"reward {fn.__name__!r} takes no parameters, got {', '.join(params)}")
        return fn

    return make


REWARDS: dict[str, tuple[Callable[..., RewardFn], str]] = {
    "accuracy": (Accuracy, "1 if the final answer equals the gold (math-verify), 0 if not, None if gold unparseable"),
    "format": (
        lambda **p: Format(p.pop("mode", "loose"), **p),
        "1 if <think>…</think><answer>…</answer> (any spacing)",
    ),
    "format_strict": (
        lambda **p: Format("strict", **p),
        "1 if open-r1's newline form <think>\\n…\\n</think>\\n<answer>…",
    ),
    "format_r1": (
        lambda **p: Format("r1", **p),
        "1 if the R1 cold-start form |special_token|reasoning|special_token|summary",
    ),
    "tag_count": (_fixed(tag_count_reward), "0.25 per think/answer tag used once (partial credit)"),
    "reasoning_steps": (_fixed(reasoning_steps_reward), "min(1, step indicators / 3)"),
    "cosine": (Cosine, "correctness scaled by length: short correct best, short wrong worst"),
    "length": (Length, "Kimi 1.5 group-relative length reward"),
    "repetition_penalty": (RepetitionPenalty, "n-gram repetition penalty in [max_penalty, 0]"),
    "soft_overlong_punishment": (SoftOverlongPunishment, "DAPO soft overlong punishment in tokens, in [-1, 0]"),
    "language_consistency": (LanguageConsistency, "share of reasoning words in the target language"),
    "random": (RandomReward, "control arm: 1 with probability p (seeded per prompt and completion), else 0"),
}


@dataclass
class NamedReward:
    """A reward function with the name its column and metrics use, and its weight."""

    name: str
    fn: RewardFn
    weight: float = 1.0
    params: dict[str, Any] | None = None

    @property
    def column(self) -> str:
        return f"reward_{self.name}"

    def fingerprint(self) -> str:
        return stable_id(self.name, self.params or {})


def make_reward(name: str, **params: Any) -> RewardFn:
    """Build one reward by registry name or dotted path.

    Raises:
        ConfigError: unknown name (the message lists the registered ones) or bad parameters.
    """
    if name in REWARDS:
        try:
            return REWARDS[name][0](**params)
        except TypeError as err:
            raise ConfigError(f"reward {name!r}: {err}") from None
    if "." in name or ":" in name:
        module_name, _, attr = name.replace(":", ".").rpartition(".")
        try:
            target = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as err:
            raise ConfigError(f"cannot import reward {name!r}: {err}") from None
        return target(**params) if params else target
    raise ConfigError(f"unknown reward {name!r}; registered rewards: {', '.join(REWARDS)} (or a dotted path)")


def _split_top_level(spec: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for char in spec:
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
            continue
        depth += {"(": 1, ")": -1}.get(char, 0)
        current += char
    parts.append(current)
    return [p.strip() for p in parts if p.strip()]


SPEC_RE = re.compile(r"^([\w.:]+)(?:\((.*)\))?$", re.DOTALL)


def parse_rewards(spec: str, weights: str | None = None) -> list[NamedReward]:
    """``"accuracy,format,cosine(max_len=500)"`` + ``"1,0.5,0.5"`` -> built rewards with weights."""
    items = _split_top_level(spec)
    if not items:
        raise ConfigError("no rewards given; e.g. --rewards accuracy,format,language_consistency")
    out = []
    for item in items:  # names first: an unknown reward is named, whatever the weights say
        match = SPEC_RE.match(item)
        if not match:
            raise ConfigError(f"cannot read reward {item!r}; write name or name(key=value, ...)")
        name, args = match.group(1), match.group(2)
        params = _parse_params(item, args) if args else {}
        fn = make_reward(name, **params)
        out.append(NamedReward(name=name.split(".")[-1].split(":")[-1], fn=fn, weight=1.0, params=params))
    if weights:
        try:
            weight_values = [float(w) for w in weights.split(",")]
        except ValueError:
            raise ConfigError(f"--weights must be numbers like 1,0.5,0.5, got {weights!r}") from None
        if len(weight_values) != len(items):
            raise ConfigError(f"{len(items)} rewards but {len(weight_values)} weights; give one weight per reward")
        for reward, weight in zip(out, weight_values):
            reward.weight = weight
    names = [r.name for r in out]
    if len(set(names)) != len(names):
        raise ConfigError(f"a reward appears twice in {spec!r}")
    return out


def _parse_params(item: str, args: str) -> dict[str, Any]:
    try:
        call = ast.parse(f"f({args})", mode="eval").body
        assert isinstance(call, ast.Call) and not call.args
        return {kw.arg: ast.literal_eval(kw.value) for kw in call.keywords if kw.arg}
    except (SyntaxError, ValueError, AssertionError):
        raise ConfigError(
            f"cannot read parameters of {item!r}; write name(key=value, ...) with literal values"
        ) from None
