"""``r1f review serve | push | pull | status``: human review in Argilla.

``push`` and ``pull`` are steps (their flags come from their configs); the credentials are not part of
any config, so they never reach a manifest: they come from the local server's credentials file, or
``--api-url`` with the key in ``ARGILLA_API_KEY``.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Annotated, Any

import typer

from r1f.commands import command_from_config, run_step
from r1f.console import console, print_table
from r1f.errors import Interrupted

review_app = typer.Typer(
    help="Human review in Argilla: serve a local one, push rows, pull the curated result, follow progress.",
    no_args_is_help=True,
)
ApiUrlOpt = Annotated[
    str | None,
    typer.Option(
        envvar="ARGILLA_API_URL",
        help="An existing Argilla (HF Space, Docker). Default: the one `r1f review serve` started.",
    ),
]
ApiKeyOpt = Annotated[
    str | None, typer.Option(envvar="ARGILLA_API_KEY", help="Its API key (never printed).", show_envvar=True)
]
WorkspaceOpt = Annotated[str | None, typer.Option(help="Argilla workspace. Default: the owner's.")]
HomeOpt = Annotated[
    Path | None,
    typer.Option(help="Local Argilla home (venv, database, credentials). Default: $R1F_ARGILLA_HOME or the cache."),
]
API = [
    inspect.Parameter("api_url", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=ApiUrlOpt),
    inspect.Parameter("api_key", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=ApiKeyOpt),
]


@review_app.command("serve")
def review_serve(
    port: Annotated[int, typer.Option(help="Port for the web UI and API on 127.0.0.1.")] = 6900,
    reviewer: Annotated[
        list[str] | None,
        typer.Option(help="Create this annotator account (repeatable), with its own password and API key."),
    ] = None,
    home: HomeOpt = None,
) -> None:
    """Start a real local Argilla (server + Redis + worker, SQLite search) on 127.0.0.1 until Ctrl-C or SIGTERM
    (both stop all three processes)."""
    import time

    from curation.review.credentials import CREDENTIALS, check_reviewer, default_home
    from curation.review.server import local_argilla

    for name in reviewer or []:
        check_reviewer(name)  # before anything starts: a name is a file in the review home
    home = home or default_home()
    console.print(f"starting Argilla in {home} (the first start installs argilla-server into its own venv) …")
    with local_argilla(home, port=port, reviewers=tuple(reviewer or ())) as credentials:
        print_table(
            "Argilla is running (Ctrl-C stops it)",
            ["", ""],
            [
                ["web UI / API", credentials.api_url],
                ["owner", f"{credentials.username} (password and API key in {home / CREDENTIALS})"],
                [
                    "reviewers",
                    ", ".join(f"{r} ({home / 'reviewers' / (r + '.json')})" for r in reviewer or [])
                    or "none (add with --reviewer NAME)",
                ],
            ],
        )
        try:
            while True:
                time.sleep(1)
        except Interrupted:  # Ctrl-C or SIGTERM is how a server is stopped: a clean exit, everything stopped
            console.print("stopping Argilla …")


def _push(config: Any, extras: dict[str, Any]) -> None:
    from curation.steps import ReviewPushStep

    run_step(ReviewPushStep(config, credentials=config.credentials(extras.get("api_url"), extras.get("api_key"))))


def _pull(config: Any, extras: dict[str, Any]) -> None:
    from curation.steps import ReviewPullStep

    run_step(ReviewPullStep(config, credentials=config.credentials(extras.get("api_url"), extras.get("api_key"))))


@review_app.command("status")
def review_status(
    dataset_name: Annotated[str, typer.Argument(help="The Argilla dataset.")],
    api_url: ApiUrlOpt = None,
    api_key: ApiKeyOpt = None,
    workspace: WorkspaceOpt = None,
    home: HomeOpt = None,
) -> None:
    """Review progress: records completed / pending, and per reviewer submitted / discarded / draft."""
    from curation.review.client import status
    from curation.review.credentials import resolve_credentials

    progress = status(dataset_name, resolve_credentials(api_url, api_key, home), workspace=workspace)
    print_table(
        f"Argilla dataset {dataset_name!r}",
        ["records", "completed", "pending"],
        [[progress.get("total", 0), progress.get("completed", 0), progress.get("pending", 0)]],
    )
    rows = []
    for user, parts in sorted((progress.get("users") or {}).items()):
        done, pending = parts.get("completed", {}), parts.get("pending", {})
        rows.append([user] + [done.get(k, 0) + pending.get(k, 0) for k in ("submitted", "discarded", "draft")])
    print_table(
        "Per reviewer", ["reviewer", "submitted", "discarded", "draft"], rows or [["(no responses yet)", 0, 0, 0]]
    )


def register(app: typer.Typer) -> None:
    from curation.steps import ReviewPullConfig, ReviewPushConfig

    command_from_config(
        review_app,
        "push",
        ReviewPushConfig,
        _push,
        help="Push rows as Argilla records: problem / reasoning / answer / gold, scores as metadata and suggestions.",
        extra=API,
    )
    command_from_config(
        review_app,
        "pull",
        ReviewPullConfig,
        _pull,
        help="Build the curated dataset: accepted rows with corrections (re-verified), rejected with reasons.",
        extra=API,
    )
    app.add_typer(review_app, name="review")
