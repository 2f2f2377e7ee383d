"""Human review in Argilla as a gate of ``r1f run`` (entry point ``r1f.gates: review``).

A stage with ``review: true`` stops the run after it has written its dataset: the gate pushes the rows to
Argilla once, and on every later run pulls what reviewers have submitted; the run goes on from the reviewed
dataset once at least one row is accepted. The runner knows only that a gate opens and, later, closes or
keeps waiting (:class:`r1f.runner.GateWaiting`); everything about Argilla is here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from r1f.errors import ConfigError


class ReviewGate:
    """Push a stage's rows for review; pull the reviewed dataset when reviewers have accepted some."""

    def __init__(self) -> None:
        from curation.review.credentials import resolve_credentials
        from r1f.runner import GateWaiting

        try:
            self.credentials = resolve_credentials(None, None)
        except ConfigError:
            raise GateWaiting(
                "start Argilla (`r1f review serve` in another terminal, or set ARGILLA_API_URL and ARGILLA_API_KEY), "
                "then run the same command again"
            ) from None

    def open(self, name: str, source: Path) -> dict[str, Any]:
        """Send the rows to reviewers; the returned record is kept in the stage's state."""
        from curation.review.client import push
        from r1f.io import read_rows

        rows = read_rows(source, allow_empty=True)
        result = push(rows, name, self.credentials, source=str(source))
        return {
            "dataset": name,
            "url": result.url,
            "rows": len(rows),
            "message": f"{len(rows)} rows are waiting for review in Argilla at {result.url} (dataset {name!r}); "
            "review them (accept, reject, correct), then run the same command again",
        }

    def close(self, name: str, target: Path, opened: dict[str, Any]) -> dict[str, Any]:
        """Write the reviewed dataset to ``target`` and return its counts, or raise GateWaiting."""
        from curation.review.client import pull_dataset, status
        from r1f.runner import GateWaiting

        progress = status(name, self.credentials)
        counts = pull_dataset(name, str(target), self.credentials)
        if not counts.get("accepted"):
            raise GateWaiting(
                f"no accepted rows yet in Argilla dataset {name!r} ({progress.get('completed', 0)} of "
                f"{progress.get('total', 0)} records reviewed); review at {opened.get('url')}, then run again"
            )
        return counts
