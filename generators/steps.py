"""The generating steps: problems, generate, cold-start, sample, distill.

Every generating step works the same way: its shards generate into the run store (chunks planned over
the whole request list, so any shard, and any resumed run, hands the engine the same batches), and its
``finish`` reads every row back, scores through the score cache, decides through
:mod:`filters.decide` and writes the dataset. The SFT generators can grow their problem set round by
round until they keep ``target_rows`` (the embedded model keeps few samples, so a fixed budget often
yields nothing).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from generators.coldstart import ColdStartConfig
from generators.config import GrowthConfig
from generators.distill import DistillConfig
from generators.generate import GenerateConfig, RunSummary
from generators.problems import DIFFICULTIES, FAMILIES, LANGUAGES
from generators.sampling import SampleConfig
from r1f.config import MAX_ROWS, Config, option
from r1f.errors import ConfigError
from r1f.step import DATASET, MODEL, Slot, Step, StepContext, StepResult, StepStats

# -- problems ---------------------------------------------------------------------------------------


@dataclass
class ProblemSetConfig(Config):
    """``r1f problems``: a set of problems with exact gold answers, optionally labelled with measured pass rates."""

    out: str = option("", help="Where to write: a .jsonl or .parquet file, or a dataset directory.", fingerprint=False)
    source: str = option(
        "builtin",
        help="builtin (v2), heldout (the fixed held-out split), builtin/v1 or heldout/v1 (the first version), "
        "reasoning-gym tasks (rg:basic_arithmetic,chain_sum=2,gsm_symbolic), a named dataset (gsm8k, math500, math, "
        "numina, openr1-math, aime24, aime25, amc23, svamp; NAME=PATH for a local copy), a file or a Hub dataset.",
    )
    problem_column: str = option(
        "problem", help="Files: column(s) with the problem text, several joined with a space (Body,Question)."
    )
    solution_column: str = option("solution", help="Files: column with the gold answer.")
    solution_format: str = option(
        "plain", help="Files: how the gold is written: plain, gsm8k (after '####'), boxed (last \\boxed{})."
    )
    split: str = option("", help="Split of a named or Hub dataset (default: its usual one).")
    levels: list[int] = option(default_factory=list, help="Keep problems of these levels (MATH: 1..5).")
    subjects: list[str] = option(default_factory=list, help="Keep problems of these subjects (MATH: Algebra, ...).")
    n: int | None = option(
        None, low=1, high=MAX_ROWS, help="How many problems (default: 100 made; all 200 of the held-out split)."
    )
    seed: int = option(0, help="Seed; the same seed and options always give the same problems.")
    languages: list[str] = option(
        default_factory=lambda: list(LANGUAGES), help="Comma-separated languages (en, es, fr, de, zh)."
    )
    families: list[str] = option(default_factory=lambda: list(FAMILIES), help=f"Families: {', '.join(FAMILIES)}.")
    difficulties: list[int] = option(
        default_factory=lambda: list(DIFFICULTIES), help="Difficulty levels (1 easy .. 3 hard)."
    )
    pass_rates: str | None = option(
        None,
        help="A dataset made by `r1f sample`: label each problem with the pass rate it measured (and its model).",
    )
    pass_rate: str | None = option(
        None, help="With --pass-rates: keep problems whose measured pass rate lies in LOW:HIGH (e.g. 0.1:0.9)."
    )

    def validate(self) -> None:
        if self.pass_rate and not self.pass_rates:
            raise ConfigError("--pass-rate needs --pass-rates DATASET (a dataset made by r1f sample)")
        from generators.sampling import parse_pass_rate

        parse_pass_rate(self.pass_rate)


def _keep_labelled(
    rows: list[dict[str, Any]], stats: StepStats, column: str, wanted: list[Any], option: str
) -> list[dict[str, Any]]:
    """Rows whose label is one of ``wanted`` (all when none is wanted); refuses a source without that label."""
    if not wanted:
        return rows
    if not any(column in r for r in rows):
        raise ConfigError(f"--{option}: these problems have no {column} label (MATH-style sources have one)")
    norm = {str(w).strip().lower() for w in wanted}
    keep = [r for r in rows if str(r.get(column, "")).strip().lower() in norm]
    stats.drop(f"{column}_not_wanted", len(rows) - len(keep))
    return keep


class ProblemsStep(Step[ProblemSetConfig]):
    """Problems (built-in, held-out, reasoning-gym) as a dataset, with difficulty labels."""

    name = "problems"
    config_class = ProblemSetConfig
    summary = "problems with exact gold answers"

    def finish(self, ctx: StepContext) -> StepResult:
        from generators.datasets import provenance
        from generators.sampling import label_pass_rates, parse_pass_rate
        from generators.sources import load_problems
        from r1f.io import write_rows
        from r1f.manifest import build_manifest
        from r1f.ngrams import normalize

        config = self.config
        heldout = config.source.split("/")[0] == "heldout"
        rows = load_problems(
            config.source,
            n=config.n if config.n or heldout else 100,
            seed=config.seed,
            languages=config.languages,
            families=config.families,
            difficulties=config.difficulties,
            problem_column=config.problem_column,
            solution_column=config.solution_column,
            solution_format=config.solution_format,
            split=config.split or None,
        )
        stats = StepStats(total=len(rows))
        rows = _keep_labelled(rows, stats, "level", config.levels, "levels")
        rows = _keep_labelled(rows, stats, "subject", config.subjects, "subjects")
        if config.pass_rates:
            rows, unmeasured = label_pass_rates(rows, config.pass_rates)
            stats.extra["unmeasured"] = unmeasured
            window = parse_pass_rate(config.pass_rate)
            if window:
                keep = [r for r in rows if r.get("pass_rate") is not None and window[0] <= r["pass_rate"] <= window[1]]
                stats.drop("pass_rate_out_of_range", len(rows) - len(keep))
                rows = keep
        repeats = len(rows) - len({normalize(r["problem"]) for r in rows})
        stats.kept = len(rows)
        stats.extra["repeats"] = repeats
        manifest = build_manifest(
            "problems",
            parameters=config.fingerprint_dict(),
            counts={"rows": len(rows)},
            sources=provenance(config.source, config.split or None),
        )
        write_rows(config.out, rows, manifest)
        summary: list[tuple[str, Any]] = [("problems", len(rows))]
        if config.pass_rates:
            summary.append(("with a measured pass rate", len(rows) - stats.extra["unmeasured"]))
        if repeats:
            summary.append(("repeat an earlier one", repeats))
        return StepResult(
            self.output, stats, summary, title=f"{len(rows)} problems -> {config.out}", data={"rows": rows}
        )


# -- the generating steps ---------------------------------------------------------------------------


#: the configs of the steps that generate: each has problems, an engine and sampling settings
G = TypeVar("G", GenerateConfig, ColdStartConfig, SampleConfig, DistillConfig)


class GeneratingStep(Step[G]):
    """Shards generate into the run store; ``finish`` builds the dataset from it."""

    inputs = {
        "problems": Slot("problems", DATASET, help="problems (or, for refinement, raw completions)"),
        "model": Slot("model", MODEL, help="the model that generates"),
    }
    kind = "generations"
    grow_hint = (
        "Set target_rows: N on it (it then grows its problem set round by round until it keeps N), or raise "
        "n_problems, n/k or max_new_tokens, or use easier problems (difficulties: [1])."
    )

    def __init__(self, config: Config, engine: Any = None) -> None:
        super().__init__(config)
        self._engine = engine
        self._owns_engine = engine is None
        self._size: int | None = None
        self._first: int | None = None
        self._problems: list[dict[str, Any]] | None = None

    # -- pieces subclasses choose ------------------------------------------------------------------

    def prompt(self) -> Any:
        return getattr(self.config, "template", "r1-zero")

    def generator(self) -> str:
        prompt = self.prompt()
        return f"generate/{prompt}" if isinstance(prompt, str) else f"{self.name}/{getattr(prompt, 'name', 'custom')}"

    def to_generate(self) -> list[dict[str, Any]]:
        """The rows to prompt this round (problems; for LLM refinement, the drafts)."""
        return self.problems()

    def on_rows(self) -> Callable[[list[dict[str, Any]]], None] | None:
        return None

    # -- shared machinery ----------------------------------------------------------------------------

    @property
    def engine(self) -> Any:
        if self._engine is None:
            self._engine = self.config.make_engine()
        return self._engine

    def close(self) -> None:
        if self._owns_engine and self._engine is not None:
            self._engine.close()
            self._engine = None

    def shards(self) -> int:
        return 1 << 20

    def shard_state(self) -> dict[str, Any]:
        return {"size": self._size, "first": self._first}

    def set_shard_state(self, state: dict[str, Any]) -> None:
        if state.get("size") != self._size:
            self._size, self._problems = state.get("size"), None
        self._first = state.get("first", self._first)

    def problems(self) -> list[dict[str, Any]]:
        """This round's problems (the first ``n_problems``, more once the step has grown)."""
        if self._problems is None:
            self._problems = self.config.load_problems(n=self._size)
            if self._first is None:
                self._first = len(self._problems)
        return self._problems

    def store(self) -> Any:
        from r1f.store import RunStore

        return RunStore(self.store_root())

    def _generate(
        self,
        rows: list[dict[str, Any]],
        shard: tuple[int, int],
        ctx: StepContext,
        on_rows: Any = None,
        tokens_before: int = 0,
    ) -> RunSummary:
        """``tokens_before``: what the shards already generated, so the bar's last word is not "0 new tokens"
        when the collecting pass finds every row done."""
        from generators.generate import generate_rows

        params = self.config.params()
        store = self.store()
        store.write_params({"step": self.name, "sampling": params.as_dict(), **self.engine.identity()})
        return generate_rows(
            rows,
            engine=self.engine,
            params=params,
            store=store,
            prompt=self.prompt(),
            generator=self.generator(),
            shard=shard,
            on_chunk=lambda done, total, tokens: ctx.report(done, total, f"{tokens_before + tokens} new tokens"),
            on_rows=on_rows,
        )

    def run(self, ctx: StepContext) -> StepStats:
        rows = self.to_generate()
        if not rows:
            return StepStats()
        summary = self._generate(rows, (ctx.rank, ctx.world_size), ctx, self.on_rows())
        self._after_shard()
        return StepStats(
            extra={
                "generated": summary.generated,
                "new_tokens": summary.new_tokens,
                "generation_seconds": round(summary.generation_seconds, 3),
            }
        )

    def _after_shard(self) -> None:
        """Hook: wait for background work started by :meth:`on_rows`."""

    def collect(self, ctx: StepContext) -> RunSummary:
        """Every generated row of this round, with the counts of what the shards generated."""
        rows = self.to_generate()
        shard = ctx.stats.extra
        shard_tokens = int(shard.get("new_tokens", 0))
        if rows:
            summary = self._generate(rows, (0, 1), ctx, tokens_before=shard_tokens)
        else:
            summary = RunSummary(out_dir=self.output, rows=[])
        summary.generated = int(shard.get("generated", 0)) + summary.generated
        summary.reused = max(0, len(summary.rows) - summary.generated)
        summary.new_tokens += shard_tokens
        summary.generation_seconds += float(shard.get("generation_seconds", 0.0))
        return summary

    def grow(self, kept: int, ctx: StepContext) -> bool:
        """Ask for another round with more problems when fewer than ``target_rows`` rows were kept."""
        config = self.config
        if not isinstance(config, GrowthConfig) or config.target_rows is None:
            return False
        drawn = len(self.problems())
        available = None
        if config.problems not in ("builtin",):
            available = len(config.load_problems(every=True))
        size = config.next_size(drawn, kept, available, self._first or drawn)
        if size is None:
            return False
        ctx.report(kept, config.target_rows, f"kept of target; growing to {size} problems")
        self._size, self._problems = size, None
        return True

    def manifest(self, summary: RunSummary | None, **extra: Any) -> dict[str, Any]:
        from generators.datasets import provenance
        from generators.generate import generation_manifest
        from r1f.manifest import build_manifest

        parameters = self.config.fingerprint_dict()
        source = getattr(self.config, "problems", None)
        inputs = {"problems": source, "rows": len(self.problems())}
        extra.setdefault("sources", provenance(source, getattr(self.config, "split", "") or None))
        if summary is None:
            return build_manifest(self.kind, parameters=parameters, inputs=inputs, **extra)
        manifest = generation_manifest(
            summary,
            engine=self.engine,
            params=self.config.params(),
            prompt=self.prompt(),
            store=self.store(),
            kind=self.kind,
            inputs=inputs,
            parameters=parameters,
        )
        manifest.update(extra)
        return manifest

    def sft_result(self, counts: dict[str, Any], title: str) -> StepResult:
        stats = StepStats(total=counts["samples_drawn"], kept=counts["kept"])
        stats.dropped.update(counts["dropped_by_reason"])
        summary: list[tuple[str, Any]] = [
            ("samples drawn", counts["samples_drawn"]),
            ("kept", counts["kept"]),
            ("dropped", counts["dropped"]),
        ]
        summary += [(f"  dropped: {reason}", n) for reason, n in sorted(counts["dropped_by_reason"].items())]
        if counts.get("pass_rate") is not None:
            summary.append(("mean pass rate", counts["pass_rate"]))
        summary.append(("mean kept length (tokens)", counts["mean_kept_completion_tokens"]))
        summary += [(f"mean {name}", s["mean"]) for name, s in counts["rewards"].items()]
        stats.extra.update({k: v for k, v in counts.items() if k in ("pass_rate", "generated", "reused")})
        return StepResult(self.output, stats, summary, title=title, data={"counts": counts})

    def score_cache(self, rewards: list[Any]) -> Any:
        from filters.scoring import ScoreCache

        return ScoreCache(self.store_root() / "scores", rewards)


class GenerateStep(GeneratingStep[GenerateConfig]):
    """Completions for problems, one row per sample."""

    name = "generate"
    config_class = GenerateConfig
    model_template_key = "template"
    summary = "completions for problems (resumable)"

    def finish(self, ctx: StepContext) -> StepResult:
        from r1f.io import write_dataset

        summary = self.collect(ctx)
        write_dataset(self.output, {"train": summary.rows}, self.manifest(summary))
        counts = summary.counts()
        stats = StepStats(total=len(summary.rows), kept=len(summary.rows), extra=summary.timings())
        table: list[tuple[str, Any]] = [
            ("rows", counts["rows"]),
            ("problems", counts["problems"]),
            ("generated now", counts["generated"]),
            ("reused", counts["reused"]),
            ("finish reasons", ", ".join(f"{k}: {v}" for k, v in sorted(counts["finish_reasons"].items()))),
            ("mean tokens", counts["mean_completion_tokens"]),
            ("tok/s", f"{summary.tokens_per_second:.1f}"),
        ]
        return StepResult(self.output, stats, table, title=f"Generation summary -> {self.output}")


class ColdStartStep(GeneratingStep[ColdStartConfig]):
    """Cold-start SFT data: few-shot, direct, or refinement (rules or an LLM) of R1-Zero outputs."""

    name = "cold-start"
    config_class = ColdStartConfig
    format_key = "format"
    makes_sft_template = "format"
    kind = "cold_start"
    summary = "cold-start SFT rows (few-shot, direct, refine, worked, solutions)"

    @property
    def cfg(self) -> ColdStartConfig:
        return self.config

    def prompt(self) -> Any:
        return self.cfg.prompt()

    def generator(self) -> str:
        return "cold-start/refine-llm" if self.cfg.method == "refine" else f"cold-start/{self.cfg.method}"

    def to_generate(self) -> list[dict[str, Any]]:
        from generators.coldstart import drafts_from

        if not self.cfg.needs_engine:  # worked solutions and the rule refiner run no model
            return []
        if self.cfg.method == "refine":
            return drafts_from(self.problems(), "llm", self.cfg.problems)[0]
        return self.problems()

    def finish(self, ctx: StepContext) -> StepResult:
        from filters.decide import sft_decision
        from generators import assemble
        from generators.coldstart import apply_rewrites, drafts_from, from_drafts, from_generations, strip_work_columns
        from generators.prompts import SFT_SYSTEM

        config = self.cfg
        summary = None
        if config.method in ("few-shot", "direct"):
            summary = self.collect(ctx)
            candidates, rejected = from_generations(summary.rows, config.method, config.format)
            drawn = len(summary.rows)
        elif config.method == "worked":
            from generators.worked import worked_candidates

            candidates, rejected = worked_candidates(self.problems(), config)
            drawn = len(self.problems())
        elif config.method == "solutions":
            from generators.solutions import solution_candidates

            candidates, rejected = solution_candidates(self.problems(), config.format)
            drawn = len(self.problems())
        else:
            drafts, rejected = drafts_from(self.problems(), config.refiner, config.problems)
            if config.refiner == "llm" and drafts:
                summary = self.collect(ctx)
                drafts, changed = apply_rewrites(drafts, summary.rows)
                rejected += changed
            candidates = from_drafts(drafts, config.format)
            drawn = len(self.problems())
        rewards = assemble.verifier(config.format)
        self.score_cache([r for r in rewards if r.name != "format"]).apply(candidates)
        # few-shot must reproduce the form it was shown; direct and refine outputs are re-formed by parsing
        require = ("accuracy", "format") if config.method == "few-shot" else ("accuracy",)
        kept, dropped = sft_decision(require=require, lang_threshold=config.lang_threshold).split(candidates)
        if self.grow(len(kept), ctx):
            return StepResult(self.output, more=True)
        rejected += dropped
        for row in kept:
            row["messages"] = assemble.sft_messages(SFT_SYSTEM[config.format], row["problem"], row["completion"])
        strip_work_columns(kept + rejected)
        manifest = self.manifest(summary, sft_template=f"sft-{config.format}")
        counts = assemble.write_sft(str(self.output), kept, rejected, manifest, rewards, drawn=drawn)
        return self.sft_result(counts, f"cold-start ({config.method}) -> {self.output}")


class SampleStep(GeneratingStep[SampleConfig]):
    """Rejection sampling: k per problem, verified, the correct (or best) kept, pass rates recorded."""

    name = "sample"
    config_class = SampleConfig
    format_key = "format"
    model_template_key = "template"
    makes_sft_template = "format"
    kind = "rejection_sampled"
    summary = "rejection sampling (k per problem, verified)"
    inputs = {
        **GeneratingStep.inputs,
        "mix": Slot(
            "mix", DATASET, help="non-reasoning rows (prompt, response) to mix in", columns=("prompt", "response")
        ),
    }

    @property
    def cfg(self) -> SampleConfig:
        return self.config

    def generator(self) -> str:
        return "rejection-sampling"

    def rewards(self) -> list[Any]:
        from generators import assemble

        return assemble.verifier(self.cfg.format)

    def to_generate(self) -> list[dict[str, Any]]:
        from generators.sampling import require_gold

        rows = self.problems()
        if self.cfg.pseudo_gold is None:
            require_gold(rows, "rejection sampling")
        return rows

    def pseudo_label(self, rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Give problems without a gold their majority answer; (rows to select from, rows left unlabeled)."""
        from generators.sampling import majority_golds

        golds = majority_golds(rows, self.cfg.pseudo_gold_threshold)
        labeled, unlabeled = [], []
        for row in rows:
            if row["problem_id"] not in golds:
                labeled.append({**row, "gold_source": "given", "gold_agreement": None})
                continue
            answer, share = golds[row["problem_id"]]
            if answer is None:
                unlabeled.append({**row, "gold_source": None, "gold_agreement": share, "reject_reason": "no_majority"})
            else:
                labeled.append({**row, "solution": answer, "gold_source": "majority", "gold_agreement": share})
        return labeled, unlabeled

    def on_rows(self) -> Callable[[list[dict[str, Any]]], None] | None:
        """Score each finished chunk in a thread while the engine generates the next one (with pseudo-golds,
        scoring waits for the majority answers, which need every sample of a problem)."""
        from concurrent.futures import ThreadPoolExecutor

        self._futures = []
        if self.cfg.pseudo_gold:
            return None
        cache = self.score_cache(self.rewards())
        self._scoring = ThreadPoolExecutor(max_workers=1, thread_name_prefix="r1f-score")
        return lambda rows: self._futures.append(self._scoring.submit(cache.apply, [dict(r) for r in rows]))

    def _after_shard(self) -> None:
        scoring = getattr(self, "_scoring", None)
        try:
            for future in getattr(self, "_futures", []):
                future.result()
        finally:
            if scoring is not None:
                scoring.shutdown(wait=True)

    def finish(self, ctx: StepContext) -> StepResult:
        from filters.decide import sft_decision
        from generators import assemble
        from generators.prompts import SFT_SYSTEM
        from generators.sampling import load_mix, mix_rows, pass_rate_counts, select

        config = self.cfg
        summary = self.collect(ctx)
        rows = [dict(r) for r in summary.rows]
        unlabeled: list[dict[str, Any]] = []
        if config.pseudo_gold:
            rows, unlabeled = self.pseudo_label(rows)
        rewards = self.rewards()
        self.score_cache(rewards).apply(rows)
        from filters import rg

        rg.annotate(rows)  # reasoning-gym rows: their scorer beside ours (ours decides)
        system = SFT_SYSTEM[config.format]
        kept, rejected, table = select(rows, config, sft_decision(lang_threshold=config.lang_threshold), system)
        rejected += unlabeled
        if self.grow(len(kept), ctx):
            return StepResult(self.output, more=True)
        mixed = mix_rows(load_mix(config.mix), config.mix_ratio, len(kept), config.seed)
        manifest = self.manifest(summary, sft_template=f"sft-{config.format}")
        extra = {**pass_rate_counts(table), "non_reasoning_rows": len(mixed)}
        extra.update(generated=summary.generated, reused=summary.reused)
        counts = assemble.write_sft(
            str(self.output),
            kept,
            rejected,
            manifest,
            rewards,
            drawn=len(rows),
            extra_counts=extra,
            extra_train=mixed,
            extra_splits={"problems": table},
            extra_plots={"pass_rate": [t["pass_rate"] for t in table]},
        )
        return self.sft_result(counts, f"rejection sampling -> {self.output} (per-problem table: split 'problems')")


class DistillStep(GeneratingStep[DistillConfig]):
    """A teacher's verified traces, sized for a student (SFT rows without a system prompt)."""

    name = "distill"
    config_class = DistillConfig
    model_template_key = "teacher_template"
    makes_sft_template = "plain"
    kind = "distill"
    summary = "distillation traces from a teacher, sized for a student"
    inputs = {
        **GeneratingStep.inputs,
        "model": Slot("model", MODEL, help="the teacher"),
        "student": Slot("student", MODEL, help="the student whose tokenizer measures lengths"),
    }

    @property
    def cfg(self) -> DistillConfig:
        return self.config

    def prompt(self) -> Any:
        return self.cfg.prompt()

    def generator(self) -> str:
        return "distill"

    def to_generate(self) -> list[dict[str, Any]]:
        from generators.sampling import require_gold

        rows = self.problems()
        require_gold(rows, "distillation (it verifies every trace)")
        return rows

    def finish(self, ctx: StepContext) -> StepResult:
        import statistics

        from filters.decide import sft_decision
        from generators import assemble
        from generators.distill import fit_student

        config = self.cfg
        summary = self.collect(ctx)
        rows = [dict(r) for r in summary.rows]
        rewards = assemble.verifier("think")
        self.score_cache(rewards).apply(rows)
        for row in rows:
            row["messages"] = assemble.sft_messages(None, row["problem"], row["completion"])
        candidates, rejected = sft_decision(lang_threshold=config.lang_threshold).split(rows)
        kept, too_long = fit_student(candidates, config.student, config.max_student_tokens)
        if self.grow(len(kept), ctx):
            return StepResult(self.output, more=True)
        rejected += too_long
        correct = [r.get("reward_accuracy") == 1.0 for r in rows]
        teacher = {**self.engine.describe(), "sampling": config.params().as_dict(), "force_think": config.force_think}
        manifest = self.manifest(summary, teacher=teacher, sft_template="plain")
        pass_rate = round(statistics.mean(correct), 4) if correct else None
        counts = assemble.write_sft(
            str(self.output), kept, rejected, manifest, rewards, drawn=len(rows), extra_counts={"pass_rate": pass_rate}
        )
        return self.sft_result(counts, f"distillation -> {self.output}")


__all__ = [
    "ColdStartStep",
    "DistillStep",
    "GenerateStep",
    "GeneratingStep",
    "ProblemSetConfig",
    "ProblemsStep",
    "SampleStep",
]
