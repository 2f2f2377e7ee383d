"""The run store: finished rows appended durably, chunk by chunk, keyed by row id.

Layout of a store directory (by default ``.<dataset>.run/`` beside the dataset it feeds)::

    run.json              parameters of the latest run (for people; ids carry the truth)
    chunks/000000-<h>.jsonl   one file per finished batch, written to a temp name, fsynced, renamed

A killed run leaves only whole chunk files behind (the rename is atomic), so a rerun reads them,
skips every row id it finds and re-sends nothing. Rows of other parameters live side by side:
a changed parameter changes the row ids, so its rows are generated fresh and never mixed in.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from r1f.schema import ID, stable_id


class RunStore:
    """Append-only chunk store for one output; safe against kill -9 at any instant."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.chunks = self.root / "chunks"
        self.chunks.mkdir(parents=True, exist_ok=True)
        self._rows: dict[str, dict[str, Any]] | None = None

    @classmethod
    def beside(cls, out_dir: str | Path) -> RunStore:
        """The store that feeds ``out_dir``: ``<parent>/.<name>.run``."""
        out = Path(out_dir)
        return cls(out.parent / f".{out.name}.run")

    def rows(self) -> dict[str, dict[str, Any]]:
        """Every finished row, by id (read once, then kept up to date by :meth:`append`)."""
        if self._rows is None:
            self._rows = {}
            for file in sorted(self.chunks.glob("*.jsonl")):
                for line in file.read_text(encoding="utf-8").splitlines():
                    row = json.loads(line)
                    self._rows[row[ID]] = row
        return self._rows

    def append(self, rows: Iterable[Mapping[str, Any]]) -> None:
        """Persist one finished batch; returns only once it is on disk under its final name."""
        batch = [dict(r) for r in rows]
        if not batch:
            return
        existing = self.rows()
        seq = len(list(self.chunks.glob("*.jsonl")))
        name = f"{seq:06d}-{stable_id([r[ID] for r in batch], length=8)}.jsonl"
        tmp = self.chunks / f".{name}.tmp"
        try:
            with open(tmp, "w", encoding="utf-8") as handle:
                for row in batch:
                    handle.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.chunks / name)
        except BaseException:  # a full disk or a signal mid-write: no partial chunk, the finished ones stay
            tmp.unlink(missing_ok=True)
            raise
        dir_fd = os.open(self.chunks, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        for row in batch:
            existing[row[ID]] = row

    def write_params(self, params: Mapping[str, Any]) -> None:
        from r1f.redact import public

        (self.root / "run.json").write_text(json.dumps(public(dict(params)), indent=2, default=str) + "\n")
