"""Control rewards: what a reported gain must be measured against.

Published work shows that format-only and even random rewards "improve" some models under GRPO by double digits;
a gain from the accuracy reward means something only net of those. ``random`` pays 1 with probability ``p``
(set it to the accuracy arm's mean reward), drawn from a hash of the seed, the prompt and the completion, so a
run is reproducible and a completion's reward never depends on the others in its batch. The format-only control
is the ``format`` reward alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from filters.text import completion_text, prompt_text
from r1f.errors import ConfigError
from r1f.schema import stable_id


class RandomReward:
    """1.0 with probability ``p``, else 0.0, seeded per (prompt, completion).

    >>> reward = RandomReward(p=0.5, seed=1)
    >>> reward(["a", "b"], prompts=["q", "q"]) == reward(["a", "b"], prompts=["q", "q"])
    True
    >>> sum(RandomReward(p=0.25)([str(i) for i in range(4000)])) / 4000  # doctest: +ELLIPSIS
    0.2...
    """

    def __init__(self, p: float = 0.5, seed: int = 0) -> None:
        if not 0.0 <= float(p) <= 1.0:
            raise ConfigError(f"random reward: p must be in [0, 1], got {p}")
        self.p, self.seed = float(p), int(seed)
        self.__name__ = "random"

    def __call__(self, completions: Sequence[Any], prompts: Sequence[Any] | None = None, **_: Any) -> list[float]:
        out = []
        for i, completion in enumerate(completions):
            prompt = prompt_text(prompts[i]) if prompts is not None and i < len(prompts) else ""
            draw = int(stable_id(self.seed, prompt, completion_text(completion), length=13), 16) / 16**13
            out.append(1.0 if draw < self.p else 0.0)
        return out
