"""Config pieces every generating step shares: where problems come from, which engine, how to sample,
where the output goes, and how a step grows its problem set until it keeps enough rows.

Each step's config is a dataclass built from these (``GenerateConfig(OutputConfig, ProblemsConfig,
EngineConfig, SamplingConfig)``), so ``--temperature`` means the same thing, with the same help and
the same checks, in every command and every recipe.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from generators.engines.base import SamplingParams
from generators.models import DEFAULT_MODEL
from generators.problems import DIFFICULTIES, FAMILIES, LANGUAGES
from r1f.config import MAX_ROWS, Config, option
from r1f.errors import ConfigError


def output_option(default: str = "") -> Any:
    """The ``out`` field of a generating step (its default differs per step; its meaning does not)."""
    return option(
        default, help="Dataset directory to write (atomically); its run store sits beside it.", fingerprint=False
    )


@dataclass
class OutputConfig(Config):
    out: str = output_option()


@dataclass
class ProblemsConfig(Config):
    problems: str = option(
        "builtin",
        help="builtin, heldout (builtin/v1, heldout/v1: the first version), rg:TASK,TASK=WEIGHT (reasoning-gym), a "
        "named dataset (gsm8k, math500, math, numina, openr1-math, aime24, aime25, amc23, svamp; NAME=PATH reads a "
        "local copy), a jsonl/parquet/csv file, a dataset directory, or a Hub dataset name.",
    )
    n_problems: int | None = option(
        None,
        low=1,
        high=MAX_ROWS,
        help="How many problems (built-in: made; files: the first N). Default: 32 built-in, all of a file.",
    )
    problem_column: str = option(
        "problem", help="Column with the problem text in a file or Hub dataset; several joined: Body,Question."
    )
    solution_column: str = option("solution", help="Column with the gold answer (kept as 'solution').")
    solution_format: str = option(
        "plain",
        help="How the solution column holds the gold: plain (it is the answer), gsm8k (after '####'), boxed (the "
        "last \\boxed{} of a worked solution).",
    )
    split: str = option(
        "", help="Split to read from a named dataset, Hub dataset or multi-split directory (default: its usual one)."
    )
    languages: list[str] = option(
        default_factory=lambda: list(LANGUAGES),
        help="Comma-separated languages for built-in problems (en, es, fr, de, zh).",
    )
    families: list[str] = option(
        default_factory=lambda: list(FAMILIES), help=f"Built-in problem families ({', '.join(FAMILIES)})."
    )
    difficulties: list[int] = option(
        default_factory=lambda: list(DIFFICULTIES), help="Built-in difficulty levels (1 easy .. 3 hard)."
    )
    problem_seed: int = option(0, help="Seed of the built-in problem generator.")

    def load_problems(self, n: int | None = None, *, every: bool = False) -> list[dict[str, Any]]:
        """The problem rows (``n`` overrides ``n_problems``, e.g. when a step grows its set; ``every``: all a
        file or dataset holds, which is how far a step may grow)."""
        from generators.sources import load_problems

        return load_problems(
            self.problems,
            n=None if every else n if n is not None else self.n_problems,
            seed=self.problem_seed,
            languages=self.languages,
            families=self.families,
            difficulties=self.difficulties,
            problem_column=self.problem_column,
            solution_column=self.solution_column,
            solution_format=self.solution_format,
            split=self.split or None,
        )


@dataclass
class EngineConfig(Config):
    model: str = option(
        DEFAULT_MODEL,
        help="Model alias (smollm2-135m), local directory or Hub id; for --engine openai, the served model name.",
    )
    engine: str = option(
        "transformers",
        help="transformers (in-process, default), openai (any OpenAI-compatible server), vllm (in-process).",
    )
    engine_options: dict[str, Any] = option(
        default_factory=dict,
        cli=False,
        help="The engine's own options (see generators/engines/options.py); on the command line each is a flag.",
    )

    def validate(self) -> None:
        super().validate()
        from generators.engines import check_engine

        check_engine(self.engine, self.engine_options)

    @classmethod
    def option_groups(cls) -> dict[str, Any]:
        from generators.engines.options import ENGINE_OPTIONS

        return {"engine_options": ENGINE_OPTIONS}

    def make_engine(self) -> Any:
        from generators.engines import make_engine

        return make_engine(self.engine, self.model, self.engine_options)


@dataclass
class SamplingConfig(Config):
    temperature: float = option(0.0, help="Sampling temperature; 0 is greedy (deterministic).")
    top_p: float = option(1.0, help="Nucleus sampling threshold.")
    max_new_tokens: int = option(256, low=1, high=MAX_ROWS, help="Most tokens per completion.")
    stop: list[str] = option(
        default_factory=list, multiple=True, help="Stop string (repeatable); the text is cut before it."
    )
    seed: int = option(0, help="Sampling seed (part of every row id).")

    #: samples per problem; steps name it n (generate) or k (sample)
    def samples(self) -> int:
        return int(getattr(self, "n", 1))

    def validate(self) -> None:
        super().validate()
        if any(not stop for stop in self.stop):
            raise ConfigError("--stop '': an empty stop string would cut every completion to nothing; drop it")
        self.params()

    def params(self) -> SamplingParams:
        return SamplingParams(
            n=self.samples(),
            temperature=self.temperature,
            top_p=self.top_p,
            max_new_tokens=self.max_new_tokens,
            stop=tuple(self.stop),
            seed=self.seed,
        )


@dataclass
class GrowthConfig(Config):
    """For steps that keep only some of what they draw: grow the problem set until enough rows are kept."""

    target_rows: int | None = option(
        None,
        low=1,
        high=MAX_ROWS,
        help="Keep drawing problems in rounds until at least this many rows are kept (each round sized from the "
        "yield so far), up to --max-problems.",
    )
    max_problems: int | None = option(
        None, low=1, high=MAX_ROWS, help="Most problems --target-rows may grow to (default: 8x the first round's)."
    )

    def next_size(self, drawn: int, kept: int, available: int | None, first: int) -> int | None:
        """Problems for the next round, or None when the target is met or nothing more can be drawn.

        The yield measured so far (kept per problem) sizes the round, with 10 % to spare; a round with no
        kept row at all quadruples the set. Growth is at most 4x per round and stops at ``max_problems``.

        >>> GrowthConfig(target_rows=10).next_size(16, 2, None, 16)
        64
        >>> GrowthConfig(target_rows=10).next_size(16, 12, None, 16) is None
        True
        """
        if self.target_rows is None or kept >= self.target_rows:
            return None
        cap = self.max_problems or 8 * first
        if available is not None:
            cap = min(cap, available)
        if drawn >= cap:
            return None
        wanted = math.ceil(drawn * self.target_rows / kept * 1.1) if kept else 4 * drawn
        return max(drawn + 1, min(wanted, 4 * drawn, cap))
