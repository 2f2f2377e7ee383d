"""The commands of the generators package: data to work with, the generating steps, and ``r1f serve``."""

from __future__ import annotations

from typing import Any


def register(app: Any) -> None:
    """Mount ``r1f models | problems | generate | cold-start | sample | distill | serve`` on the CLI."""
    from generators.commands import data, serve, steps

    data.register(app)
    steps.register(app)
    serve.register(app)
