"""The one interface every generation engine implements.

An engine turns chat prompts into ``n`` completions each. The runner (``generators.generate``)
owns ids, batching into durable chunks, resume and output; an engine only generates, so a new
backend is one class with one method.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

from r1f.errors import ConfigError
from r1f.schema import Messages


@dataclass(frozen=True)
class SamplingParams:
    """How to sample. Every field changes the output, so every field is part of the row id."""

    n: int = 1
    temperature: float = 0.0
    top_p: float = 1.0
    max_new_tokens: int = 256
    stop: tuple[str, ...] = field(default_factory=tuple)
    seed: int = 0

    def __post_init__(self) -> None:
        if self.n < 1:
            raise ConfigError(f"--n must be at least 1, got {self.n}")
        if self.temperature < 0:
            raise ConfigError(f"--temperature must be >= 0 (0 means greedy), got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ConfigError(f"--top-p must be in (0, 1], got {self.top_p}")
        if self.max_new_tokens < 1:
            raise ConfigError(f"--max-new-tokens must be at least 1, got {self.max_new_tokens}")
        if self.n > 1 and self.temperature == 0:
            raise ConfigError(
                f"--n {self.n} with --temperature 0 gives {self.n} identical greedy samples; set --temperature > 0"
            )

    @property
    def greedy(self) -> bool:
        return self.temperature == 0

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["stop"] = list(self.stop)
        return out


#: finish reason of a prompt that leaves no room for an answer in the model's context (nothing was generated)
PROMPT_TOO_LONG = "prompt_too_long"


@dataclass
class Completion:
    """One sampled completion; token counts include the EOS token when the model stopped on it."""

    text: str
    finish_reason: str  # "stop" (EOS or a stop string) | "length" (hit max_new_tokens) | "prompt_too_long"
    prompt_tokens: int | None
    completion_tokens: int | None
    #: False when the prompt ended with an assistant prefix (a forced start) that the backend could not continue
    prefix_applied: bool = True


class Engine(ABC):
    """A generation backend. Subclasses set ``name`` and implement :meth:`generate`."""

    name: ClassVar[str]
    #: requests per durable chunk the runner hands to :meth:`generate`
    batch_size: int = 32

    @abstractmethod
    def generate(self, prompts: Sequence[Messages], params: SamplingParams) -> list[list[Completion]]:
        """Return ``params.n`` completions for each prompt, in prompt order."""

    def identity(self) -> dict[str, Any]:
        """What, besides the sampling parameters, changes this engine's outputs (goes into row ids)."""
        return {"engine": self.name}

    def describe(self) -> dict[str, Any]:
        """What manifests record about the engine: its identity, and where it ran when that is not part of it."""
        return self.identity()

    def sort_key(self, prompt: Messages) -> int:
        """Order prompts so that a chunk holds prompts of similar length (less padding)."""
        return sum(len(m.get("content") or "") for m in prompt)

    def close(self) -> None:
        """Release servers, threads or memory the engine holds."""
