"""The resumable generation run: problems in, a dataset of completions out.

Work is cut into chunks that depend only on the full request list (sorted by the engine's length
key, then cut every ``batch_size``), never on what is already done. A resumed run therefore hands
the engine exactly the chunks an uninterrupted run would have, and greedy results match row for
row. Each finished chunk is appended to the run store before the next one starts.
"""

from __future__ import annotations

import shutil
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from generators.config import EngineConfig, OutputConfig, ProblemsConfig, SamplingConfig, output_option
from generators.engines.base import Completion, Engine, SamplingParams
from generators.prompts import build_prompt
from r1f.config import MAX_SAMPLES, option
from r1f.errors import DataError
from r1f.io import write_dataset
from r1f.manifest import build_manifest
from r1f.schema import Messages, stable_id
from r1f.store import RunStore

#: columns the runner writes; input columns with these names are replaced
OWN_COLUMNS = (
    "id",
    "request_id",
    "problem_id",
    "prompt",
    "completion",
    "finish_reason",
    "prompt_tokens",
    "completion_tokens",
    "forced_prefix_applied",
    "sample_index",
    "generator",
    "model",
    "engine",
    "temperature",
    "top_p",
    "max_new_tokens",
    "seed",
)


@dataclass
class GenerateConfig(SamplingConfig, EngineConfig, ProblemsConfig, OutputConfig):
    """``r1f generate``: run problems through an engine and write a dataset of completions."""

    out: str = output_option("datasets_out/generations")
    template: str = option("r1-zero", help="Prompt template: r1-zero (think/answer tags), step-by-step, plain, ...")
    n: int = option(1, low=1, high=MAX_SAMPLES, help="Samples per problem.")

    def validate(self) -> None:
        super().validate()
        from generators.prompts import TEMPLATES

        if self.template not in TEMPLATES:
            from r1f.errors import ConfigError

            raise ConfigError(f"unknown prompt template {self.template!r}; choose one of: {', '.join(TEMPLATES)}")


@dataclass
class Request:
    """One prompt to sample ``n`` times, with the problem row it came from."""

    problem: dict[str, Any]
    messages: Messages
    key: str
    row_ids: list[str]


@dataclass
class RunSummary:
    """What a run did, for the summary table and the manifest."""

    out_dir: Path
    rows: list[dict[str, Any]]
    generated: int = 0
    reused: int = 0
    seconds: float = 0.0
    generation_seconds: float = 0.0
    new_tokens: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def tokens_per_second(self) -> float:
        return self.new_tokens / self.generation_seconds if self.generation_seconds else 0.0

    def timings(self) -> dict[str, Any]:
        return {
            "wall_seconds": round(self.seconds, 3),
            "generation_seconds": round(self.generation_seconds, 3),
            "new_tokens": self.new_tokens,
            "tokens_per_second": round(self.tokens_per_second, 2),
        }

    def counts(self) -> dict[str, Any]:
        reasons = Counter(r["finish_reason"] for r in self.rows)
        lengths = [r["completion_tokens"] for r in self.rows if r["completion_tokens"] is not None]
        return {
            "rows": len(self.rows),
            "problems": len({r["problem_id"] for r in self.rows}),
            "generated": self.generated,
            "reused": self.reused,
            "finish_reasons": dict(reasons),
            "empty_completions": sum(1 for r in self.rows if not (r["completion"] or "").strip()),
            "mean_completion_tokens": round(sum(lengths) / len(lengths), 1) if lengths else None,
        }


PromptFn = Callable[[dict[str, Any]], Messages]


def build_requests(
    problems: Sequence[dict[str, Any]], prompt: str | PromptFn, engine: Engine, params: SamplingParams
) -> list[Request]:
    """Prompts and stable ids: the id hashes the messages, the engine identity and every sampling field.

    ``prompt`` is a template name (``generators.prompts``) or a function from a problem row to messages;
    a trailing assistant message is a prefix the completion must continue (e.g. ``<think>\n``).
    """
    identity = engine.identity()
    sampling = params.as_dict()
    requests = []
    for i, problem in enumerate(problems):
        text = problem.get("problem")
        if not isinstance(text, str) or not text.strip():
            raise DataError(f"problem row {i + 1} has an empty or missing 'problem'; fix the input or its column map")
        messages = build_prompt(prompt, text, problem.get("lang")) if isinstance(prompt, str) else prompt(problem)
        key = stable_id(messages, identity, sampling)
        requests.append(Request(problem, messages, key, [stable_id(key, j) for j in range(params.n)]))
    return requests


def plan_chunks(requests: Sequence[Request], engine: Engine) -> list[list[Request]]:
    """Deterministic chunks over *all* requests, so a resumed run (or any shard) sees the same chunks;
    shard ``rank`` of ``world`` does chunks ``rank, rank + world, ...``."""
    unique = {r.key: r for r in requests}
    ordered = sorted(unique.values(), key=lambda r: (engine.sort_key(r.messages), r.key))
    size = max(1, engine.batch_size)
    return [ordered[i : i + size] for i in range(0, len(ordered), size)]


def _row(
    request: Request, j: int, completion: Completion, engine: Engine, generator: str, params: SamplingParams
) -> dict:
    problem = request.problem
    row = {k: v for k, v in problem.items() if k not in OWN_COLUMNS}
    identity = engine.identity()
    messages, prefix = request.messages, ""
    if messages and messages[-1]["role"] == "assistant":  # a forced start, e.g. "<think>\n"
        messages, prefix = messages[:-1], messages[-1]["content"]
        row["forced_prefix_applied"] = completion.prefix_applied
        if not completion.prefix_applied:
            prefix = ""  # the model never saw it: do not pretend it wrote it
    row.update(
        id=request.row_ids[j],
        request_id=request.key,
        problem_id=problem.get("id") or stable_id(problem.get("problem"), problem.get("solution")),
        prompt=messages,
        completion=prefix + completion.text,
        finish_reason=completion.finish_reason,
        prompt_tokens=completion.prompt_tokens,
        completion_tokens=completion.completion_tokens,
        sample_index=j,
        generator=generator,
        model=identity.get("model"),
        engine=identity["engine"],
        temperature=params.temperature,
        top_p=params.top_p,
        max_new_tokens=params.max_new_tokens,
        seed=params.seed,
    )
    return row


def generate_rows(
    problems: Sequence[dict[str, Any]],
    *,
    engine: Engine,
    params: SamplingParams,
    store: RunStore,
    prompt: str | PromptFn = "r1-zero",
    generator: str | None = None,
    on_chunk: Callable[[int, int, int], None] | None = None,
    on_rows: Callable[[list[dict[str, Any]]], None] | None = None,
    shard: tuple[int, int] = (0, 1),
) -> RunSummary:
    """Generate what ``store`` lacks (of shard ``rank`` of ``world``) and return every finished row of the
    whole run, in input order (then sample index); rows another shard has not finished yet are left out.

    Args:
        problems: rows with at least ``problem`` (and usually ``solution``, ``id``).
        engine: any :class:`Engine`.
        params: sampling parameters (part of every row id).
        store: the run store finished chunks go to and are reused from.
        prompt: a template name or a function from a problem row to chat messages.
        generator: the ``generator`` provenance column (default ``generate/<template>``).
        on_chunk: progress callback ``(rows_done, rows_total, new_tokens)`` after each chunk.
        on_rows: called with every finished chunk's rows (new or reused), e.g. to score them while the
            next chunk generates.
        shard: ``(rank, world)``: generate only this shard's chunks.
    """
    started = time.time()
    generator = generator or (f"generate/{prompt}" if isinstance(prompt, str) else "generate/custom")
    requests = build_requests(problems, prompt, engine, params)
    unique = list({r.key: r for r in requests}.values())
    done = store.rows()
    total_rows = sum(len(r.row_ids) for r in unique)
    summary = RunSummary(out_dir=store.root, rows=[])
    finished = sum(1 for r in unique for i in r.row_ids if i in done)
    summary.reused = finished
    if on_rows and finished:
        on_rows([done[i] for r in unique for i in r.row_ids if i in done])
    if on_chunk:
        on_chunk(finished, total_rows, 0)
    pending = finished < total_rows
    rank, world = shard
    for index, chunk in enumerate(plan_chunks(requests, engine) if pending else []):
        if index % world != rank:
            continue
        todo = [r for r in chunk if any(i not in done for i in r.row_ids)]
        if not todo:
            continue
        t0 = time.time()
        completions = engine.generate([r.messages for r in todo], params)
        summary.generation_seconds += time.time() - t0
        rows = [
            _row(req, j, comp, engine, generator, params)
            for req, comps in zip(todo, completions)
            for j, comp in enumerate(comps)
        ]
        store.append(rows)
        if on_rows:
            on_rows(rows)
        summary.generated += len(rows)
        summary.new_tokens += sum(r["completion_tokens"] or 0 for r in rows)
        finished += len(rows)
        if on_chunk:
            on_chunk(finished, total_rows, summary.new_tokens)
    done = store.rows()
    summary.rows = [done[row_id] for request in unique for row_id in request.row_ids if row_id in done]
    summary.seconds = time.time() - started
    return summary


def generation_manifest(
    summary: RunSummary,
    *,
    engine: Engine,
    params: SamplingParams,
    prompt: str | PromptFn,
    store: RunStore,
    kind: str = "generations",
    inputs: dict[str, Any] | None = None,
    parameters: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The manifest of a dataset made by generating: the prompt, sampling, engine, counts and timings."""
    return build_manifest(
        kind,
        parameters={
            **(parameters or {}),
            "prompt": prompt if isinstance(prompt, str) else getattr(prompt, "name", "custom"),
            "sampling": params.as_dict(),
            "batch_size": engine.batch_size,
        },
        inputs=inputs,
        counts=summary.counts(),
        model=engine.describe(),
        timings=summary.timings(),
        run_store=str(store.root),
    )


def open_store(out_dir: str | Path, *, force: bool = False) -> RunStore:
    """The run store beside ``out_dir``; ``force`` empties it first."""
    store = RunStore.beside(out_dir)
    if force:
        shutil.rmtree(store.root, ignore_errors=True)
        store = RunStore.beside(out_dir)
    return store


def run_generation(
    problems: Sequence[dict[str, Any]],
    *,
    engine: Engine,
    params: SamplingParams,
    out_dir: str | Path,
    template: str | PromptFn = "r1-zero",
    force: bool = False,
    inputs: dict[str, Any] | None = None,
    parameters: dict[str, Any] | None = None,
    on_chunk: Callable[[int, int, int], None] | None = None,
) -> RunSummary:
    """Generate completions for ``problems`` into the dataset ``out_dir``, resuming from its run store.

    The library form of the ``generate`` step, for callers that hold an engine already (the evaluator,
    benchmarks). See :func:`generate_rows` for the arguments; ``force`` discards the run store first.
    """
    started = time.time()
    store = open_store(out_dir, force=force)
    store.write_params({"prompt": str(template), "sampling": params.as_dict(), **engine.identity()})
    summary = generate_rows(problems, engine=engine, params=params, store=store, prompt=template, on_chunk=on_chunk)
    summary.out_dir = Path(out_dir)
    summary.seconds = time.time() - started
    manifest = generation_manifest(
        summary, engine=engine, params=params, prompt=template, store=store, inputs=inputs, parameters=parameters
    )
    write_dataset(out_dir, {"train": summary.rows}, manifest)
    return summary
