"""``r1f run RECIPE``: the whole R1 recipe (or any recipe) as one resumable pipeline, and its report."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from r1f.console import console, print_table


def run(
    recipe: Annotated[str, typer.Argument(help="A recipe file or a shipped recipe: tiny-r1-demo, tiny-r1.")],
    run_dir: Annotated[
        str | None, typer.Option(help="Where stage outputs, state and the report go (default datasets_out/runs/NAME).")
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            help="Override a key (repeatable): STAGE.KEY=VALUE for a stage's config (STAGE.review=true adds a review "
            "gate), KEY=VALUE for a top-level key (format=r1).",
        ),
    ] = None,
    only: Annotated[str | None, typer.Option("--only", help="Run just this stage (its inputs must be done).")] = None,
    start: Annotated[str | None, typer.Option("--from", help="Run this stage and every stage after it.")] = None,
    until: Annotated[str | None, typer.Option("--until", help="Run stages up to and including this one.")] = None,
    force: Annotated[
        list[str] | None, typer.Option("--force", help="Rerun this stage from scratch (repeatable).")
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Print the plan (each stage done / to run / to rerun, and why); run nothing."),
    ] = False,
    executor: Annotated[
        str | None, typer.Option(help="local or ray; overrides the recipe's executor: key (default local).")
    ] = None,
    workers: Annotated[int | None, typer.Option(help="ray: workers per stage (shards per round).")] = None,
    ray_address: Annotated[
        str | None, typer.Option(help="ray: an existing cluster's address; default starts one.")
    ] = None,
    resources: Annotated[
        str | None, typer.Option(help='ray: what each worker asks for, as JSON: {"num_cpus": 1}, {"num_gpus": 1}.')
    ] = None,
) -> None:
    """Run a recipe's stages in order, skipping those whose config and inputs are unchanged; write report.md/html.

    Stops with exit code 75 at a human review gate (review in Argilla, then run the same command again).
    """
    from r1f.config import parse_overrides
    from r1f.recipe import load_pipeline
    from r1f.runner import REVIEW_EXIT, ReviewPending, Runner

    pipeline = load_pipeline(recipe, run_dir=run_dir, overrides=parse_overrides(set_))
    given = {"executor": executor, "workers": workers, "ray_address": ray_address, "resources": resources}
    runner = Runner(pipeline, echo=console.print, executor=pipeline_executor(pipeline, given))
    plan = runner.plan()
    print_table(
        f"Plan of {pipeline.name} ({len(plan)} stages) -> {pipeline.run_dir}",
        ["#", "stage", "step", "inputs", "state", "why"],
        [
            [i + 1, item.stage.name, item.stage.step, ", ".join(item.stage.upstream) or "–", item.action, item.reason]
            for i, item in enumerate(plan)
        ],
    )
    if dry_run:
        runner.select(plan, only=only, start=start, until=until)
        return
    ran: dict[str, bool] = {}
    try:
        _execute(runner, only=only, start=start, until=until, force=tuple(force or ()), ran=ran)
    except ReviewPending as gate:
        _finish(pipeline, runner, ran)
        console.print(f"[yellow]review gate[/]: {gate}")
        raise typer.Exit(REVIEW_EXIT) from None
    except BaseException:
        if ran:
            _finish(pipeline, runner, ran, quiet=True)
        raise
    _finish(pipeline, runner, ran)


def pipeline_executor(pipeline: Any, given: dict[str, Any]) -> Any:
    """The recipe's ``executor:`` with the command line's flags on top."""
    import json

    from r1f.commands import make_executor

    recipe = dict(pipeline.executor)
    chosen = {
        "executor": recipe.get("name"),
        "workers": recipe.get("workers"),
        "ray_address": recipe.get("address"),
        "resources": json.dumps(recipe["resources"]) if isinstance(recipe.get("resources"), dict) else None,
    }
    chosen.update({k: v for k, v in given.items() if v is not None})
    return make_executor(chosen)


def _execute(runner: Any, *, only: Any, start: Any, until: Any, force: tuple[str, ...], ran: dict[str, bool]) -> None:
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn

    from r1f.console import LoggedProgress

    total = len(runner.select(runner.plan(), only=only, start=start, until=until))
    columns = [TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
    with LoggedProgress(*columns, console=console, transient=False) as bar:
        overall = bar.add_task("stages", total=total)
        current = bar.add_task("", total=None, visible=False)

        def progress(done: int, total: int | None, label: str) -> None:
            bar.update(current, completed=done, total=total, description=f"  {label}", visible=True)

        def on_stage(event: str, stage: Any, item: Any) -> None:
            if event == "start":
                bar.reset(current, total=None, visible=False, description="")
                if item.action in ("run", "rerun"):
                    console.print(f"[bold]▶ {stage.name}[/] ({stage.step}): {item.reason}")
                    ran[stage.name] = True
                bar.update(overall, description=f"stages: {stage.name}")
            else:
                bar.advance(overall)

        runner.run(only=only, start=start, until=until, force=force, progress=progress, on_stage=on_stage)


def _finish(pipeline: Any, runner: Any, ran: dict[str, bool], quiet: bool = False) -> None:
    from r1f.report import write_report

    rows = []
    for name, stage in pipeline.stages.items():
        state = runner.states.load(name)
        stats = state.get("stats") or {}
        rows.append(
            [
                name,
                stage.step,
                "ran" if ran.get(name) else (state.get("status") or "not run"),
                stats.get("total", "–"),
                stats.get("kept", "–"),
                state.get("seconds", "–"),
                state.get("peak_rss_mb", "–"),
            ]
        )
    md, page = write_report(pipeline)
    if quiet:
        return
    print_table(
        f"{pipeline.name}: {sum(ran.values())} stages ran, report {page}",
        ["stage", "step", "state", "rows in", "rows out", "seconds", "peak MB"],
        rows,
    )


def register(app: typer.Typer) -> None:
    app.command("run")(run)
