"""The ``r1f`` command line. Each command parses options, calls one library function and renders.

Errors the user can fix (:class:`R1FactoryError`) print as one line and exit 1; set ``R1F_DEBUG=1``
to see the traceback instead.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import click
import typer

from r1f.console import console, print_rows, print_stats, print_table, progress_bar
from r1f.errors import ConfigError, R1FactoryError

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


@app.command()
def generate(
    out: Annotated[
        Path, typer.Option(help="Dataset directory to write (atomically); its run store sits beside it as .NAME.run/.")
    ] = Path("datasets_out/generations"),
    problems_source: Annotated[
        str,
        typer.Option(
            "--problems", help="builtin, heldout, a jsonl/parquet/csv file, a dataset directory, or a Hub dataset name."
        ),
    ] = "builtin",
    n_problems: Annotated[
        int | None,
        typer.Option(
            help="How many problems (built-in: made; files: the first N). Default: 32 built-in, all of a file."
        ),
    ] = None,
    problem_column: Annotated[
        str, typer.Option(help="Column with the problem text in a file or Hub dataset.")
    ] = "problem",
    solution_column: Annotated[
        str, typer.Option(help="Column with the gold answer (kept as 'solution').")
    ] = "solution",
    split: Annotated[str, typer.Option(help="Split to read from a Hub dataset or multi-split directory.")] = "train",
    languages: Annotated[str, typer.Option(help=LANGS_HELP)] = "en,es,fr,de,zh",
    problem_seed: Annotated[int, typer.Option(help="Seed of the built-in problem generator.")] = 0,
    model: Annotated[
        str,
        typer.Option(
            help="Model alias (smollm2-135m), local directory or Hub id; for --engine openai, the served model name."
        ),
    ] = "smollm2-135m",
    engine: Annotated[
        str,
        typer.Option(
            help="transformers (in-process, default), openai (any OpenAI-compatible server), "
            "vllm (in-process, optional extra)."
        ),
    ] = "transformers",
    template: Annotated[
        str, typer.Option(help="Prompt template: r1-zero (think/answer tags), step-by-step, plain.")
    ] = "r1-zero",
    n: Annotated[int, typer.Option(help="Samples per problem.")] = 1,
    temperature: Annotated[float, typer.Option(help="Sampling temperature; 0 is greedy (deterministic).")] = 0.0,
    top_p: Annotated[float, typer.Option(help="Nucleus sampling threshold.")] = 1.0,
    max_new_tokens: Annotated[int, typer.Option(help="Most tokens per completion.")] = 256,
    stop: Annotated[list[str] | None, typer.Option(help="Stop string (repeatable); the text is cut before it.")] = None,
    seed: Annotated[int, typer.Option(help="Sampling seed (part of every row id).")] = 0,
    batch_size: Annotated[
        int | None,
        typer.Option(help="Requests per durable chunk (a kill loses at most one chunk). Default per engine."),
    ] = None,
    max_active: Annotated[
        int, typer.Option(help="transformers: sequences decoded at once; others join as rows finish.")
    ] = 64,
    dtype: Annotated[
        str,
        typer.Option(help="transformers/vllm weights dtype: auto (fp32 on CPU, bf16 on GPU), float32, bfloat16."),
    ] = "auto",
    base_url: Annotated[str, typer.Option(help="openai: the server's /v1 URL.")] = "http://127.0.0.1:8000/v1",
    api_key_env: Annotated[
        str, typer.Option(help="openai: environment variable holding the API key (never printed).")
    ] = "OPENAI_API_KEY",
    concurrency: Annotated[int, typer.Option(help="openai: requests in flight at once.")] = 8,
    timeout: Annotated[float, typer.Option(help="openai: seconds to wait for one response.")] = 600.0,
    max_retries: Annotated[
        int, typer.Option(help="openai: retries on 429/5xx/timeouts, with exponential backoff.")
    ] = 5,
    force: Annotated[
        bool, typer.Option("--force", help="Ignore finished chunks in the run store and generate everything again.")
    ] = False,
) -> None:
    """Run problems through an engine and write a dataset of completions (resumable: rerun to continue)."""
    from generators.engines import SamplingParams, make_engine
    from generators.generate import run_generation
    from generators.sources import load_problems

    params = SamplingParams(
        n=n, temperature=temperature, top_p=top_p, max_new_tokens=max_new_tokens, stop=tuple(stop or ()), seed=seed
    )
    rows = load_problems(
        problems_source,
        n=n_problems,
        seed=problem_seed,
        languages=_split_csv(languages),
        problem_column=problem_column,
        solution_column=solution_column,
        split=split,
    )
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
    console.print(f"[bold]r1f generate[/]: {len(rows)} problems x {n} samples, engine {engine}, model {model}")
    loaded = time.time()
    eng = make_engine(engine, **options)
    console.print(f"engine ready in {time.time() - loaded:.1f}s; writing {out}")
    try:
        with progress_bar("generating") as bar:
            task = bar.add_task("rows", total=len(rows) * n, tokens=0)

            def on_chunk(done: int, total: int, tokens: int) -> None:
                bar.update(task, completed=done, total=total, tokens=tokens)

            summary = run_generation(
                rows,
                engine=eng,
                params=params,
                out_dir=out,
                template=template,
                force=force,
                inputs={"problems": problems_source, "n_problems": len(rows)},
                on_chunk=on_chunk,
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
