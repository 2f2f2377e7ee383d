"""The commands of the curation package: ``curate``, ``pairs``, ``audit``, ``push`` and ``review``."""

from __future__ import annotations

from typing import Any


def register(app: Any) -> None:
    """Mount the curation commands on the CLI."""
    from curation.commands import publishing, review

    publishing.register(app)
    review.register(app)
