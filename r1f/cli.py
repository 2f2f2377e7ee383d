"""The ``r1f`` command line. Each command parses options, calls one library function and renders.

Errors the user can fix (:class:`R1FactoryError`) print as one line and exit 1; set ``R1F_DEBUG=1``
to see the traceback instead.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Any

import click
import typer

from curation.dedup import NEAR_THRESHOLD
from r1f.console import console, print_rows, print_stats, print_table, progress_bar
from r1f.errors import ConfigError, R1FactoryError
from r1f.ngrams import NGRAM

app = typer.Typer(
    name="r1f",
    help="r1-factory: build DeepSeek-R1 style datasets (cold-start, rejection-sampled, distilled) offline.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

LANGS_HELP = "Comma-separated languages for built-in problems (en, es, fr, de, zh)."


def _split_csv(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


@app.command()
def models(
    name: Annotated[
        str | None,
        typer.Argument(help="Resolve this alias, local path or Hub id (converting the embedded model if needed)."),
    ] = None,
) -> None:
    """List the embedded model aliases, or resolve NAME to the directory engines and trainers load."""
    from generators.models import EMBEDDED, converted_dir, resolve_model

    if name:
        resolved = resolve_model(name)
        console.print(f"{resolved.name} -> {resolved.path} ({resolved.kind})")
        return
    rows = []
    for alias, model in EMBEDDED.items():
        target = converted_dir(model)
        ready = (target / "config.json").is_file()
        rows.append(
            [alias, model.description, str(target) if ready else "not converted yet (first use converts, ~30 s)"]
        )
    print_table(
        "Embedded models (any Hugging Face id or local model directory also works)", ["alias", "model", "cache"], rows
    )


@app.command()
def problems(
    out: Annotated[Path, typer.Option(help="Where to write: a .jsonl or .parquet file, or a dataset directory.")],
    n: Annotated[int, typer.Option(help="How many problems to make.")] = 100,
    seed: Annotated[int, typer.Option(help="Seed; the same seed and options always give the same problems.")] = 0,
    languages: Annotated[str, typer.Option(help=LANGS_HELP)] = "en,es,fr,de,zh",
    families: Annotated[
        str, typer.Option(help="Comma-separated families: arithmetic, distance, money, percent, fraction, equation.")
    ] = "arithmetic,distance,money,percent,fraction,equation",
    difficulties: Annotated[str, typer.Option(help="Comma-separated difficulty levels (1 easy .. 3 hard).")] = "1,2,3",
    heldout: Annotated[
        bool,
        typer.Option(
            "--heldout", help="Write the fixed held-out split instead (200 problems; ignores the other options)."
        ),
    ] = False,
) -> None:
    """Make a built-in set of math word problems with exact gold answers."""
    from generators.problems import heldout_problems, make_problems

    try:
        levels = [int(d) for d in _split_csv(difficulties)]
    except ValueError:
        raise ConfigError(f"--difficulties must be integers like 1,2,3, got {difficulties!r}") from None
    rows = (
        heldout_problems()
        if heldout
        else make_problems(
            n, seed=seed, languages=_split_csv(languages), families=_split_csv(families), difficulties=levels
        )
    )
    _write_rows(
        out, rows, {"kind": "problems", "command": sys.argv, "parameters": {"n": n, "seed": seed, "heldout": heldout}}
    )
    print_stats(rows, columns=["lang", "family", "difficulty"], title=f"{len(rows)} problems -> {out}")
    from r1f.ngrams import normalize

    repeats = len(rows) - len({normalize(r["problem"]) for r in rows})
    if repeats:
        console.print(
            f"[yellow]note:[/] {repeats} problems repeat an earlier one: the small value spaces (e.g. distance and "
            "percent at difficulty 1) ran out; ask for fewer, or add families/difficulties. `r1f curate` removes them."
        )


def _write_rows(out: Path, rows: list[dict[str, Any]], manifest: dict[str, Any]) -> None:
    import json

    from r1f.io import write_dataset

    if out.suffix == ".jsonl":
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(".jsonl.tmp")
        tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
        tmp.replace(out)
    elif out.suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        out.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pylist(rows), out)
    else:
        write_dataset(out, {"train": rows}, manifest)


# Options shared by every command that generates: defined once, used by each signature.
OutOpt = Annotated[Path, typer.Option(help="Dataset directory to write (atomically); its run store sits beside it.")]
DatasetOutOpt = Annotated[Path, typer.Option(help="Dataset directory to write (atomically, replacing an older one).")]
ProblemsOpt = Annotated[
    str,
    typer.Option(
        "--problems", help="builtin, heldout, a jsonl/parquet/csv file, a dataset directory, or a Hub dataset name."
    ),
]
NProblemsOpt = Annotated[
    int | None,
    typer.Option(help="How many problems (built-in: made; files: the first N). Default: 32 built-in, all of a file."),
]
ProblemColOpt = Annotated[str, typer.Option(help="Column with the problem text in a file or Hub dataset.")]
SolutionColOpt = Annotated[str, typer.Option(help="Column with the gold answer (kept as 'solution').")]
SplitOpt = Annotated[str, typer.Option(help="Split to read from a Hub dataset or multi-split directory.")]
LangsOpt = Annotated[str, typer.Option(help=LANGS_HELP)]
ProblemSeedOpt = Annotated[int, typer.Option(help="Seed of the built-in problem generator.")]
ModelOpt = Annotated[
    str,
    typer.Option(
        help="Model alias (smollm2-135m), local directory or Hub id; for --engine openai, the served model name."
    ),
]
EngineOpt = Annotated[
    str,
    typer.Option(
        help="transformers (in-process, default), openai (any OpenAI-compatible server), vllm (in-process, optional "
        "extra)."
    ),
]
TemperatureOpt = Annotated[float, typer.Option(help="Sampling temperature; 0 is greedy (deterministic).")]
TopPOpt = Annotated[float, typer.Option(help="Nucleus sampling threshold.")]
MaxNewOpt = Annotated[int, typer.Option(help="Most tokens per completion.")]
StopOpt = Annotated[list[str] | None, typer.Option(help="Stop string (repeatable); the text is cut before it.")]
SeedOpt = Annotated[int, typer.Option(help="Sampling seed (part of every row id).")]
BatchOpt = Annotated[
    int | None, typer.Option(help="Requests per durable chunk (a kill loses at most one chunk). Default per engine.")
]
ActiveOpt = Annotated[int, typer.Option(help="transformers: sequences decoded at once; others join as rows finish.")]
DtypeOpt = Annotated[
    str, typer.Option(help="transformers/vllm weights dtype: auto (fp32 on CPU, bf16 on GPU), float32, bfloat16.")
]
BaseUrlOpt = Annotated[str, typer.Option(help="openai: the server's /v1 URL.")]
KeyEnvOpt = Annotated[str, typer.Option(help="openai: environment variable holding the API key (never printed).")]
ConcurrencyOpt = Annotated[int, typer.Option(help="openai: requests in flight at once.")]
TimeoutOpt = Annotated[float, typer.Option(help="openai: seconds to wait for one response.")]
RetriesOpt = Annotated[int, typer.Option(help="openai: retries on 429/5xx/timeouts, with exponential backoff.")]
ForceOpt = Annotated[bool, typer.Option("--force", help="Ignore finished chunks in the run store and start again.")]


def _make_engine(
    engine: str,
    model: str,
    *,
    batch_size: int | None,
    max_active: int,
    dtype: str,
    base_url: str,
    api_key_env: str,
    concurrency: int,
    timeout: float,
    max_retries: int,
) -> Any:
    from generators.engines import make_engine

    options: dict[str, Any] = {"model": model}
    if engine == "openai":
        options.update(
            base_url=base_url,
            api_key_env=api_key_env,
            concurrency=concurrency,
            timeout=timeout,
            max_retries=max_retries,
        )
    elif engine == "transformers":
        options.update(max_active=max_active, dtype=dtype)
    elif engine == "vllm":
        options.update(dtype=dtype)
    if batch_size is not None:
        options["batch_size"] = batch_size
    return make_engine(engine, **options)


def _load(
    source: str, n: int | None, seed: int, languages: str, problem_column: str, solution_column: str, split: str
) -> list[dict[str, Any]]:
    from generators.sources import load_problems

    return load_problems(
        source,
        n=n,
        seed=seed,
        languages=_split_csv(languages),
        problem_column=problem_column,
        solution_column=solution_column,
        split=split,
    )


class _Progress:
    """A progress bar over rows that the runners' ``on_chunk(done, total, tokens)`` callback drives."""

    def __init__(self, label: str) -> None:
        self.bar = progress_bar(label)
        self.task = None

    def __enter__(self) -> _Progress:
        self.bar.__enter__()
        self.task = self.bar.add_task("rows", total=None, tokens=0)
        return self

    def __exit__(self, *exc: Any) -> None:
        self.bar.__exit__(*exc)

    def __call__(self, done: int, total: int, tokens: int) -> None:
        self.bar.update(self.task, completed=done, total=total, tokens=tokens)


@app.command()
def generate(
    out: OutOpt = Path("datasets_out/generations"),
    problems_source: ProblemsOpt = "builtin",
    n_problems: NProblemsOpt = None,
    problem_column: ProblemColOpt = "problem",
    solution_column: SolutionColOpt = "solution",
    split: SplitOpt = "train",
    languages: LangsOpt = "en,es,fr,de,zh",
    problem_seed: ProblemSeedOpt = 0,
    model: ModelOpt = "smollm2-135m",
    engine: EngineOpt = "transformers",
    template: Annotated[
        str, typer.Option(help="Prompt template: r1-zero (think/answer tags), step-by-step, plain.")
    ] = "r1-zero",
    n: Annotated[int, typer.Option(help="Samples per problem.")] = 1,
    temperature: TemperatureOpt = 0.0,
    top_p: TopPOpt = 1.0,
    max_new_tokens: MaxNewOpt = 256,
    stop: StopOpt = None,
    seed: SeedOpt = 0,
    batch_size: BatchOpt = None,
    max_active: ActiveOpt = 128,
    dtype: DtypeOpt = "auto",
    base_url: BaseUrlOpt = "http://127.0.0.1:8000/v1",
    api_key_env: KeyEnvOpt = "OPENAI_API_KEY",
    concurrency: ConcurrencyOpt = 8,
    timeout: TimeoutOpt = 600.0,
    max_retries: RetriesOpt = 5,
    force: ForceOpt = False,
) -> None:
    """Run problems through an engine and write a dataset of completions (resumable: rerun to continue)."""
    from generators.engines import SamplingParams
    from generators.generate import run_generation

    params = SamplingParams(
        n=n, temperature=temperature, top_p=top_p, max_new_tokens=max_new_tokens, stop=tuple(stop or ()), seed=seed
    )
    rows = _load(problems_source, n_problems, problem_seed, languages, problem_column, solution_column, split)
    console.print(f"[bold]r1f generate[/]: {len(rows)} problems x {n} samples, engine {engine}, model {model}")
    eng = _make_engine(
        engine,
        model,
        batch_size=batch_size,
        max_active=max_active,
        dtype=dtype,
        base_url=base_url,
        api_key_env=api_key_env,
        concurrency=concurrency,
        timeout=timeout,
        max_retries=max_retries,
    )
    try:
        with _Progress("generating") as progress:
            summary = run_generation(
                rows,
                engine=eng,
                params=params,
                out_dir=out,
                template=template,
                force=force,
                inputs={"problems": problems_source, "n_problems": len(rows)},
                on_chunk=progress,
            )
    except KeyboardInterrupt:
        console.print("[yellow]interrupted[/]: finished chunks are saved; rerun the same command to resume")
        raise typer.Exit(130) from None
    finally:
        eng.close()
    counts = summary.counts()
    print_table(
        f"Generation summary -> {out}",
        ["rows", "problems", "generated now", "reused", "finish reasons", "mean tokens", "tok/s", "wall"],
        [
            [
                counts["rows"],
                counts["problems"],
                counts["generated"],
                counts["reused"],
                ", ".join(f"{k}: {v}" for k, v in sorted(counts["finish_reasons"].items())),
                counts["mean_completion_tokens"],
                f"{summary.tokens_per_second:.1f}",
                f"{summary.seconds:.1f}s",
            ]
        ],
    )


def _print_sft_summary(title: str, counts: dict[str, Any]) -> None:
    rows = [["samples drawn", counts["samples_drawn"]], ["kept", counts["kept"]], ["dropped", counts["dropped"]]]
    rows += [[f"  dropped: {reason}", c] for reason, c in sorted(counts["dropped_by_reason"].items())]
    if counts.get("pass_rate") is not None:
        rows.append(["mean pass rate", counts["pass_rate"]])
    rows.append(["mean kept length (tokens)", counts["mean_kept_completion_tokens"]])
    for name, stats in counts["rewards"].items():
        rows.append([f"mean {name}", stats["mean"]])
    print_table(title, ["", "value"], rows)


@app.command("cold-start")
def cold_start(
    out: OutOpt = Path("datasets_out/cold_start"),
    method: Annotated[
        str,
        typer.Option(
            help="few-shot (k worked examples), direct (reason, reflect, verify) or refine (clean R1-Zero outputs "
            "given by --problems)."
        ),
    ] = "few-shot",
    output_format: Annotated[
        str,
        typer.Option(
            "--format",
            help="Assistant form: r1 (|special_token| reasoning |special_token| summary) or think "
            "(<think>..</think><answer>..</answer>).",
        ),
    ] = "r1",
    k: Annotated[
        int, typer.Option(help="few-shot: worked examples per prompt (same language first; never the target).")
    ] = 2,
    examples: Annotated[
        Path | None,
        typer.Option(
            help="few-shot: a jsonl pool of examples (problem, reasoning, summary, lang) instead of the built-in one."
        ),
    ] = None,
    refiner: Annotated[
        str,
        typer.Option(
            help="refine: rules (strip filler, fix tags, number steps) or llm (a model rewrites; rejected if the "
            "answer changes)."
        ),
    ] = "rules",
    lang_threshold: Annotated[float, typer.Option(help="Minimum language consistency of kept rows.")] = 0.95,
    problems_source: ProblemsOpt = "builtin",
    n_problems: NProblemsOpt = None,
    problem_column: ProblemColOpt = "problem",
    solution_column: SolutionColOpt = "solution",
    split: SplitOpt = "train",
    languages: LangsOpt = "en,es,fr,de,zh",
    problem_seed: ProblemSeedOpt = 0,
    model: ModelOpt = "smollm2-135m",
    engine: EngineOpt = "transformers",
    n: Annotated[int, typer.Option(help="Candidates per problem (with --temperature > 0); each is verified.")] = 1,
    temperature: TemperatureOpt = 0.0,
    top_p: TopPOpt = 1.0,
    max_new_tokens: MaxNewOpt = 256,
    seed: SeedOpt = 0,
    batch_size: BatchOpt = None,
    max_active: ActiveOpt = 128,
    dtype: DtypeOpt = "auto",
    base_url: BaseUrlOpt = "http://127.0.0.1:8000/v1",
    api_key_env: KeyEnvOpt = "OPENAI_API_KEY",
    concurrency: ConcurrencyOpt = 8,
    timeout: TimeoutOpt = 600.0,
    max_retries: RetriesOpt = 5,
    force: ForceOpt = False,
) -> None:
    """Make cold-start SFT data: verified long-CoT samples in train, the rest in rejected with reasons."""
    from generators.coldstart import EXAMPLES, run_cold_start
    from generators.engines import SamplingParams
    from r1f.io import read_rows

    rows = _load(problems_source, n_problems, problem_seed, languages, problem_column, solution_column, split)
    pool = read_rows(examples) if examples else EXAMPLES
    needs_engine = method != "refine" or refiner == "llm"
    eng = (
        _make_engine(
            engine,
            model,
            batch_size=batch_size,
            max_active=max_active,
            dtype=dtype,
            base_url=base_url,
            api_key_env=api_key_env,
            concurrency=concurrency,
            timeout=timeout,
            max_retries=max_retries,
        )
        if needs_engine
        else None
    )
    params = SamplingParams(n=n, temperature=temperature, top_p=top_p, max_new_tokens=max_new_tokens, seed=seed)
    try:
        with _Progress(f"cold-start/{method}") as progress:
            counts = run_cold_start(
                method,
                rows,
                out_dir=str(out),
                engine=eng,
                params=params,
                fmt=output_format,
                k=k,
                pool=pool,
                refiner=refiner,
                lang_threshold=lang_threshold,
                force=force,
                command=sys.argv,
                inputs={"source": problems_source, "rows": len(rows)},
                on_chunk=progress,
            )
    finally:
        if eng is not None:
            eng.close()
    _print_sft_summary(f"cold-start ({method}) -> {out}", counts)


@app.command()
def sample(
    out: OutOpt = Path("datasets_out/rejection_sampled"),
    k: Annotated[int, typer.Option("--k", help="Completions drawn per problem.")] = 4,
    select: Annotated[
        str, typer.Option(help="all (every correct sample) or best (the best --best-m per problem).")
    ] = "all",
    best_m: Annotated[
        int,
        typer.Option(
            help="With --select best: samples kept per problem (correct first, then format, language, shorter)."
        ),
    ] = 1,
    pass_rate: Annotated[
        str | None,
        typer.Option(help="Keep only problems whose pass rate (correct/k) lies in LOW:HIGH, e.g. 0.2:0.8."),
    ] = None,
    output_format: Annotated[
        str, typer.Option("--format", help="Form the completions must have: think (<think>/<answer> tags) or r1.")
    ] = "think",
    template: Annotated[str, typer.Option(help="Prompt template: r1-zero, step-by-step, plain.")] = "r1-zero",
    lang_threshold: Annotated[
        float, typer.Option(help="Drop samples whose language consistency is below this.")
    ] = 0.95,
    mix: Annotated[
        str | None, typer.Option(help="Non-reasoning SFT data to mix in: a file with prompt and response columns.")
    ] = None,
    mix_ratio: Annotated[float, typer.Option(help="Share of the final dataset that --mix rows make up.")] = 0.0,
    problems_source: ProblemsOpt = "builtin",
    n_problems: NProblemsOpt = None,
    problem_column: ProblemColOpt = "problem",
    solution_column: SolutionColOpt = "solution",
    split: SplitOpt = "train",
    languages: LangsOpt = "en,es,fr,de,zh",
    problem_seed: ProblemSeedOpt = 0,
    model: ModelOpt = "smollm2-135m",
    engine: EngineOpt = "transformers",
    temperature: TemperatureOpt = 0.7,
    top_p: TopPOpt = 0.95,
    max_new_tokens: MaxNewOpt = 256,
    seed: SeedOpt = 0,
    batch_size: BatchOpt = None,
    max_active: ActiveOpt = 128,
    dtype: DtypeOpt = "auto",
    base_url: BaseUrlOpt = "http://127.0.0.1:8000/v1",
    api_key_env: KeyEnvOpt = "OPENAI_API_KEY",
    concurrency: ConcurrencyOpt = 8,
    timeout: TimeoutOpt = 600.0,
    max_retries: RetriesOpt = 5,
    force: ForceOpt = False,
) -> None:
    """Rejection sampling: k completions per problem, verified; keep the correct ones, record pass rates."""
    from generators.engines import SamplingParams
    from generators.sampling import run_sample
    from r1f.io import read_rows

    rows = _load(problems_source, n_problems, problem_seed, languages, problem_column, solution_column, split)
    params = SamplingParams(n=k, temperature=temperature, top_p=top_p, max_new_tokens=max_new_tokens, seed=seed)
    mix_rows = read_rows(mix) if mix else None
    eng = _make_engine(
        engine,
        model,
        batch_size=batch_size,
        max_active=max_active,
        dtype=dtype,
        base_url=base_url,
        api_key_env=api_key_env,
        concurrency=concurrency,
        timeout=timeout,
        max_retries=max_retries,
    )
    try:
        with _Progress("sampling") as progress:
            counts = run_sample(
                rows,
                engine=eng,
                params=params,
                out_dir=str(out),
                prompt=template,
                select=select,
                best_m=best_m,
                pass_rate=pass_rate,
                lang_threshold=lang_threshold,
                fmt=output_format,
                mix=mix_rows,
                mix_ratio=mix_ratio,
                force=force,
                command=sys.argv,
                inputs={"source": problems_source, "problems": len(rows)},
                on_chunk=progress,
            )
    finally:
        eng.close()
    _print_sft_summary(f"rejection sampling -> {out} (per-problem table: split 'problems')", counts)


@app.command()
def distill(
    out: OutOpt = Path("datasets_out/distill"),
    student: Annotated[
        str, typer.Option(help="The student whose tokenizer measures lengths (alias, directory or Hub id).")
    ] = "smollm2-135m",
    max_student_tokens: Annotated[
        int, typer.Option(help="Drop traces longer than this in the student's tokens.")
    ] = 2048,
    force_think: Annotated[
        bool,
        typer.Option(
            help="Start the teacher's answer with '<think>' and a newline (openai: needs a server that honours "
            "continue_final_message, e.g. vLLM)."
        ),
    ] = True,
    n: Annotated[int, typer.Option(help="Traces per problem.")] = 1,
    lang_threshold: Annotated[float, typer.Option(help="Drop traces whose language consistency is below this.")] = 0.95,
    problems_source: ProblemsOpt = "builtin",
    n_problems: NProblemsOpt = None,
    problem_column: ProblemColOpt = "problem",
    solution_column: SolutionColOpt = "solution",
    split: SplitOpt = "train",
    languages: LangsOpt = "en,es,fr,de,zh",
    problem_seed: ProblemSeedOpt = 0,
    model: ModelOpt = "smollm2-135m",
    engine: EngineOpt = "transformers",
    temperature: TemperatureOpt = 0.6,
    top_p: TopPOpt = 0.95,
    max_new_tokens: MaxNewOpt = 1024,
    seed: SeedOpt = 0,
    batch_size: BatchOpt = None,
    max_active: ActiveOpt = 128,
    dtype: DtypeOpt = "auto",
    base_url: BaseUrlOpt = "http://127.0.0.1:8000/v1",
    api_key_env: KeyEnvOpt = "OPENAI_API_KEY",
    concurrency: ConcurrencyOpt = 8,
    timeout: TimeoutOpt = 600.0,
    max_retries: RetriesOpt = 5,
    force: ForceOpt = False,
) -> None:
    """Distillation data: a teacher's (--model) verified reasoning traces, sized for a student."""
    from generators.distill import run_distill
    from generators.engines import SamplingParams

    rows = _load(problems_source, n_problems, problem_seed, languages, problem_column, solution_column, split)
    params = SamplingParams(n=n, temperature=temperature, top_p=top_p, max_new_tokens=max_new_tokens, seed=seed)
    eng = _make_engine(
        engine,
        model,
        batch_size=batch_size,
        max_active=max_active,
        dtype=dtype,
        base_url=base_url,
        api_key_env=api_key_env,
        concurrency=concurrency,
        timeout=timeout,
        max_retries=max_retries,
    )
    try:
        with _Progress("distilling") as progress:
            counts = run_distill(
                rows,
                engine=eng,
                params=params,
                out_dir=str(out),
                student=student,
                max_student_tokens=max_student_tokens,
                force_think=force_think,
                lang_threshold=lang_threshold,
                force=force,
                command=sys.argv,
                inputs={"source": problems_source, "problems": len(rows)},
                on_chunk=progress,
            )
    finally:
        eng.close()
    _print_sft_summary(f"distillation -> {out}", counts)


@app.command()
def inspect(
    path: Annotated[str, typer.Argument(help="A dataset directory, a jsonl/parquet/csv file, or a Hub dataset name.")],
    rows: Annotated[int, typer.Option("--rows", help="How many example rows to show.")] = 3,
    split: Annotated[str, typer.Option(help="Split to show for multi-split datasets.")] = "train",
) -> None:
    """Show row count, columns, example rows and per-column statistics of any readable dataset."""
    from r1f.io import read_manifest, read_rows

    data = read_rows(path, split=split)
    manifest = read_manifest(path) if Path(path).is_dir() else None
    console.print(f"[bold]{path}[/]: {len(data)} rows, {len(data[0])} columns")
    if manifest:
        counts = manifest.get("counts", {})
        console.print(f"made by: {manifest.get('kind', '?')} | model: {manifest.get('model', {})} | counts: {counts}")
    print_rows(data[:rows])
    print_stats(data, title="Column statistics")


REWARDS_HELP = (
    "Comma-separated rewards, optionally with parameters: accuracy,format,cosine(max_len=500). See `r1f rewards`."
)


@app.command()
def rewards() -> None:
    """List the registered reward functions (usable in --rewards, --keep and training recipes)."""
    from filters.registry import REWARDS
    from filters.rules import RULES

    print_table(
        "Rewards (TRL signature; None = cannot be judged)",
        ["name", "what it scores"],
        [[name, text] for name, (_, text) in REWARDS.items()],
    )
    print_table(
        "Removal rules (--rules)", ["name", "drops rows where"], [[n, make().help] for n, make in RULES.items()]
    )


def _score_or_filter(
    source: str,
    out: Path,
    rewards_spec: str,
    weights: str | None,
    keep: str | None,
    rules_spec: str | None,
    completion_column: str,
    save_rejected: bool,
    drop: bool,
    split: str,
) -> None:
    from filters.registry import parse_rewards
    from filters.rules import parse_rules
    from filters.step import reward_stats, run_filter
    from r1f.io import read_rows

    named = parse_rewards(rewards_spec, weights)
    rules = parse_rules(rules_spec) if rules_spec else []
    rows = read_rows(source, split=split)
    with progress_bar("scoring") as bar:
        task = bar.add_task("rows", total=len(rows), tokens=0)
        summary = run_filter(
            rows,
            rewards=named,
            out_dir=out,
            keep=keep,
            rules=rules,
            completion_column=completion_column,
            save_rejected=save_rejected,
            drop=drop,
            inputs={"source": source, "split": split},
            on_progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    everything = summary.kept + summary.rejected
    stats = reward_stats(everything, named)
    print_table(
        f"Rewards over {len(everything)} rows",
        ["reward", "mean", "min", "max", "not judged"],
        [[n, s["mean"], s["min"], s["max"], s["not_judged"]] for n, s in stats.items()],
    )
    if drop:
        rows_table = [["kept", len(summary.kept)]] + [[f"dropped: {r}", c] for r, c in summary.reasons().most_common()]
        print_table(f"Filter -> {out} (scored now {summary.scored}, reused {summary.reused})", ["", "rows"], rows_table)
    else:
        console.print(f"scores -> {out} (scored now {summary.scored}, reused {summary.reused})")


@app.command()
def score(
    source: Annotated[
        str, typer.Argument(help="Dataset with completions: a directory, jsonl/parquet/csv file or Hub name.")
    ],
    out: Annotated[Path, typer.Option(help="Dataset directory to write (all rows plus reward_<name> columns).")],
    rewards: Annotated[str, typer.Option("--rewards", help=REWARDS_HELP)] = "accuracy,format,language_consistency",
    completion_column: Annotated[str, typer.Option(help="Column holding the completions.")] = "completion",
    split: Annotated[str, typer.Option(help="Split to read.")] = "train",
) -> None:
    """Add one reward_<name> column per reward to every row (resumable: rerun to continue)."""
    _score_or_filter(source, out, rewards, None, None, None, completion_column, False, False, split)


@app.command("filter")
def filter_(
    source: Annotated[
        str, typer.Argument(help="Dataset with completions: a directory, jsonl/parquet/csv file or Hub name.")
    ],
    out: Annotated[
        Path, typer.Option(help="Dataset directory: kept rows in split 'train', dropped rows in 'rejected'.")
    ],
    rewards: Annotated[str, typer.Option("--rewards", help=REWARDS_HELP)] = "accuracy,format,language_consistency",
    keep: Annotated[
        str | None,
        typer.Option(
            help='Keep rows where this holds, e.g. "accuracy == 1 and format == 1 and '
            'language_consistency >= 0.95". Unjudged (None) scores fail.'
        ),
    ] = None,
    rules: Annotated[
        str | None,
        typer.Option(
            help="R1 removal rules run first: empty, truncated, code_block, "
            "overlong_paragraph(max_words=200), mixed_language(threshold=0.95)."
        ),
    ] = None,
    save_rejected: Annotated[
        bool, typer.Option(help="Also write dropped rows with their reject_reason (split 'rejected').")
    ] = True,
    completion_column: Annotated[str, typer.Option(help="Column holding the completions.")] = "completion",
    split: Annotated[str, typer.Option(help="Split to read.")] = "train",
) -> None:
    """Score rows, keep or drop each with a recorded reason, plot each reward (resumable)."""
    _score_or_filter(source, out, rewards, None, keep, rules, completion_column, save_rejected, True, split)


train_app = typer.Typer(
    help="Thin TRL stages configured by YAML recipes (flat keys; --set key=value overrides).", no_args_is_help=True
)
app.add_typer(train_app, name="train")

RecipeOpt = Annotated[
    str | None,
    typer.Option(help="A recipe YAML file or a shipped recipe name (training/recipes/), e.g. r1-zero-smollm2."),
]
SetOpt = Annotated[
    list[str] | None,
    typer.Option("--set", help="Override a recipe key (repeatable): --set max_steps=3 --set dataset=PATH."),
]
OutputDirOpt = Annotated[str | None, typer.Option(help="Where the model, checkpoints and model card go.")]
ResumeOpt = Annotated[bool, typer.Option("--resume", help="Continue from the last checkpoint in --output-dir.")]


def _print_training(summary: dict[str, Any]) -> None:
    logs = summary["final_logs"]
    rows = [["steps", summary["steps"]], ["seconds", summary["seconds"]], ["rows", summary["rows"]]]
    rows += [
        [k, round(v, 4) if isinstance(v, float) else v]
        for k, v in sorted(logs.items())
        if k.startswith(("rewards/", "reward", "loss", "train_loss", "grad_norm"))
    ]
    print_table(f"r1f train {summary['stage']} -> model card written", ["", "value"], rows)


@train_app.command("grpo")
def train_grpo(
    recipe: RecipeOpt = "r1-zero-smollm2",
    set_: SetOpt = None,
    output_dir: OutputDirOpt = None,
    resume: ResumeOpt = False,
) -> None:
    """GRPO (R1-Zero, reasoning RL) with rewards from the registry by name and weight."""
    from training.config import load_recipe
    from training.grpo import run_grpo

    _print_training(run_grpo(load_recipe(recipe, set_ or ()), output_dir=output_dir, resume=resume))


@train_app.command("sft")
def train_sft(
    recipe: RecipeOpt = "sft-cold-start-smollm2",
    set_: SetOpt = None,
    output_dir: OutputDirOpt = None,
    resume: ResumeOpt = False,
) -> None:
    """SFT on a factory dataset with messages (cold start, rejection sampled, distill)."""
    from training.config import load_recipe
    from training.sft import run_sft

    _print_training(run_sft(load_recipe(recipe, set_ or ()), output_dir=output_dir, resume=resume))


@app.command("eval")
def eval_(
    model: Annotated[str, typer.Argument(help="Model alias, local directory (a trained stage) or Hub id.")],
    out: Annotated[str | None, typer.Option(help="Where results and completions go (default MODEL/eval).")] = None,
    problems_source: ProblemsOpt = "heldout",
    n_problems: Annotated[int | None, typer.Option(help="Evaluate on the first N problems.")] = 50,
    k: Annotated[int, typer.Option("--k", help="Samples per problem for pass@k (1: greedy only).")] = 4,
    temperature: TemperatureOpt = 0.7,
    max_new_tokens: MaxNewOpt = 256,
    template: Annotated[
        str, typer.Option(help="Prompt template: r1-zero, r1-zero-fewshot, sft-think, sft-r1, step-by-step, plain.")
    ] = "r1-zero",
    dtype: DtypeOpt = "auto",
) -> None:
    """pass@1 (greedy) and pass@k (sampled), format and language-consistency means, as a table and JSON."""
    from training.evaluate import run_eval

    result = run_eval(
        model,
        out_dir=out,
        problems=problems_source,
        n_problems=n_problems,
        k=k,
        temperature=temperature,
        max_new_tokens=max_new_tokens,
        template=template,
        dtype=dtype,
    )
    print_table(
        f"eval {model} -> {result.pop('out_dir')}/eval.json",
        ["metric", "value"],
        [[key, value] for key, value in result.items()],
    )


@app.command()
def curate(
    inputs: Annotated[
        list[str], typer.Argument(help="Datasets to curate and mix: directories, jsonl/parquet/csv files, Hub names.")
    ],
    out: DatasetOutOpt,
    weights: Annotated[
        str | None,
        typer.Option(
            help="Shares of the output per input, e.g. 3,1 (three rows of the first per row of the "
            "second). Default: every surviving row."
        ),
    ] = None,
    total: Annotated[int | None, typer.Option(help="Rows in the mix (at most what the scarcest input allows).")] = None,
    dedup_on: Annotated[
        str,
        typer.Option(
            help="Dedup targets, in order: problem, completion, both, or none. On problems, several completions of "
            "one problem are one cluster (the best-scored stays); use completion to keep them all."
        ),
    ] = "problem,completion",
    near: Annotated[
        bool, typer.Option(help="Also drop near duplicates (MinHash LSH over word 3-grams), not only exact ones.")
    ] = True,
    near_threshold: Annotated[
        float, typer.Option(help="Jaccard similarity at which two texts are one.")
    ] = NEAR_THRESHOLD,
    eval_set: Annotated[
        list[str] | None,
        typer.Option(
            help="Evaluation set to decontaminate against (repeatable): heldout (built-in), a path or a Hub "
            "name. Default: heldout."
        ),
    ] = None,
    no_decontaminate: Annotated[bool, typer.Option("--no-decontaminate", help="Skip decontamination.")] = False,
    eval_column: Annotated[
        str | None, typer.Option(help="Text column of the evaluation sets (default: problem/question/prompt/text).")
    ] = None,
    ngram: Annotated[int, typer.Option(help="Word n-gram size of the contamination rule (open-r1 uses 8).")] = NGRAM,
    contaminated: Annotated[
        str, typer.Option(help="drop (to split 'rejected') or flag (keep, with contaminated_by).")
    ] = "drop",
    test_size: Annotated[
        float, typer.Option(help="Test split: a fraction (<1) or a row count; rows of one problem stay together.")
    ] = 0.0,
    seed: Annotated[int, typer.Option(help="Seed of the mix and shuffle and split.")] = 0,
    split: SplitOpt = "train",
) -> None:
    """Decontaminate, dedup, mix at a ratio and split: the dataset hygiene step before training or publishing."""
    from curation.curate import CurateConfig, run_curate

    try:
        parsed_weights = [float(w) for w in _split_csv(weights)] if weights else None
    except ValueError:
        raise ConfigError(f"--weights {weights!r}: give numbers separated by commas, e.g. 3,1") from None
    targets = [] if dedup_on.strip() == "none" else _split_csv(dedup_on.replace("both", "problem,completion"))
    config = CurateConfig(
        inputs=list(inputs),
        out=str(out),
        weights=parsed_weights,
        total=total,
        dedup_on=targets,
        near=near,
        near_threshold=near_threshold,
        eval_sets=[] if no_decontaminate else list(eval_set or ["heldout"]),
        eval_column=eval_column,
        ngram=ngram,
        contaminated=contaminated,
        test_size=test_size,
        seed=seed,
        split=split,
    )
    with progress_bar("curate", tokens=False) as bar:
        tasks: dict[str, Any] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        counts = run_curate(config, on_progress=progress)
    rows = [[f"input {path}", n] for path, n in counts["input_rows"].items()]
    rows += [[f"contaminated ({name})", n] for name, n in counts["contaminated_by_eval_set"].items()]
    rows += [[f"dropped: {reason}", n] for reason, n in counts["dropped_by_reason"].items()]
    rows += [[f"mixed from {path}", n] for path, n in counts["mixed_from"].items()]
    rows += [["train", counts["train"]], ["test", counts["test"]]]
    print_table(f"Curated -> {out}", ["", "rows"], rows)


@app.command("push")
def push_(
    path: Annotated[Path, typer.Argument(help="A dataset directory the factory wrote (data/, README.md, plots).")],
    repo: Annotated[str | None, typer.Option(help="Hub dataset repo, user/name or org/name.")] = None,
    private: Annotated[bool, typer.Option(help="Create the repo private (applies when it is created).")] = False,
    revision: Annotated[str | None, typer.Option(help="Branch to push to (created from main if missing).")] = None,
    message: Annotated[str | None, typer.Option(help="Commit message.")] = None,
    dry_run: Annotated[
        Path | None, typer.Option(help="Write exactly the files that would be uploaded into this folder; send nothing.")
    ] = None,
) -> None:
    """Publish a dataset with its card, plots and manifest to the Hugging Face Hub (token: HF_TOKEN or login)."""
    from curation.publish import dry_run as write_dry_run
    from curation.publish import publish

    if dry_run is not None:
        result = write_dry_run(path, dry_run)
        title = f"Dry run: {len(result.files)} files that a push would upload -> {dry_run}"
    else:
        if not repo:
            raise ConfigError("give --repo user/name (or --dry-run FOLDER to see what would be uploaded)")
        result = publish(path, repo, private=private, revision=revision, message=message)
        title = f"Pushed {path} -> {result.repo}@{result.revision} ({result.url})"
    print_table(title, ["file", "bytes"], [[name, (path / name).stat().st_size] for name in result.files])


@app.command()
def stats(
    path: Annotated[str, typer.Argument(help="A dataset directory the factory wrote (or any readable table).")],
) -> None:
    """Print the tables a dataset card holds: rows per split, drops per reason, lengths, rewards, languages."""
    from r1f.card import dropped_by_reason, statistics
    from r1f.io import dataset_files, read_manifest, read_rows

    directory = Path(path)
    names = list(dataset_files(directory)) if directory.is_dir() else ["train"]
    splits = {name: read_rows(path, split=name, allow_empty=True) for name in names}
    manifest = (read_manifest(path) if directory.is_dir() else None) or {}
    print_table(
        f"{path} ({manifest.get('kind', 'table')})",
        ["split", "rows"],
        [[name, len(rows)] for name, rows in splits.items()],
    )
    reasons = dropped_by_reason(splits, manifest)
    if reasons:
        print_table("Dropped by reason", ["reason", "rows"], sorted(reasons.items(), key=lambda kv: -kv[1]))
    lines = statistics(splits, manifest)
    if lines:
        print_table("Statistics", ["statistic"], [[line] for line in lines])
    if splits.get("train"):
        print_stats(splits["train"], title="Columns of train")


from r1f.review_cli import review_app  # noqa: E402 (the sub-app reads the shared options above)

app.add_typer(review_app, name="review")


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app, turning user-fixable errors into one line and exit code 1."""
    try:
        code = app(args=argv, standalone_mode=False)
    except R1FactoryError as err:
        if os.environ.get("R1F_DEBUG"):
            raise
        sys.stderr.write(f"error: {err}\n")
        sys.exit(1)
    except click.exceptions.Abort:
        sys.stderr.write("aborted\n")
        sys.exit(130)
    except click.exceptions.ClickException as err:
        err.show()
        sys.exit(err.exit_code)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
