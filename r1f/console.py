"""Terminal output: one rich console, tables, example rows and progress bars, shared by all commands."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

console = Console()


def print_table(title: str, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    table = Table(title=title, title_justify="left")
    for header in headers:
        table.add_column(str(header), overflow="fold")
    for row in rows:
        table.add_row(*(str(v) for v in row))
    console.print(table)


def _short(value: Any, width: int = 160) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    text = text.replace("\n", "\\n")
    return text if len(text) <= width else text[: width - 1] + "…"


def print_rows(rows: Sequence[dict[str, Any]]) -> None:
    """Example rows, one small key/value table each, long values cut."""
    for i, row in enumerate(rows):
        table = Table(title=f"row {i}", title_justify="left", show_header=False)
        table.add_column("column", style="bold")
        table.add_column("value", overflow="fold")
        for key, value in row.items():
            table.add_row(key, _short(value))
        console.print(table)


def print_stats(rows: Sequence[dict[str, Any]], *, title: str, columns: Sequence[str] | None = None) -> None:
    from r1f.stats import describe

    stats = describe(rows)
    table = Table(title=title, title_justify="left")
    for header in ("column", "type", "nulls", "summary"):
        table.add_column(header, overflow="fold")
    for column, info in stats.items():
        if columns is not None and column not in columns:
            continue
        parts = []
        if "mean" in info:
            parts.append(f"min {info['min']}  mean {info['mean']}  max {info['max']}")
        if "mean_chars" in info:
            parts.append(f"mean {info['mean_chars']} chars, {info['empty']} empty")
        if "mean_items" in info:
            parts.append(f"mean {info['mean_items']} items")
        if "counts" in info:
            parts.append(", ".join(f"{k}: {v}" for k, v in info["counts"].items()))
        table.add_row(column, info["type"], str(info["nulls"]), " | ".join(parts))
    console.print(table)


class LoggedProgress(Progress):
    """A rich progress bar that also says how far it is when nobody sees the bar.

    Rich draws a bar only on a terminal; written to a log (CI, a bench, ``nohup``) it appears once, at
    the end, so a 30-minute SFT run printed nothing between tokenizing and its summary. Off a terminal
    this prints one plain line per task every ``every`` seconds instead.
    """

    def __init__(self, *columns: Any, label: str = "", every: float = 30.0, **kwargs: Any) -> None:
        super().__init__(*columns, **kwargs)
        self.label = label
        self.every = every
        self._said: dict[Any, float] = {}

    def update(self, task_id: Any, **kwargs: Any) -> None:
        super().update(task_id, **kwargs)
        self._say(task_id)

    def advance(self, task_id: Any, advance: float = 1) -> None:
        super().advance(task_id, advance)
        self._say(task_id)

    def _say(self, task_id: Any) -> None:
        if self.console.is_terminal:
            return
        now = time.monotonic()
        last = self._said.setdefault(task_id, now)
        if now - last < self.every:
            return
        self._said[task_id] = now
        task = self._tasks[task_id]
        total = f"/{task.total:g}" if task.total is not None else ""
        elapsed = int(task.elapsed or 0)
        name = " ".join(p for p in (self.label, task.description.strip()) if p)
        self.console.print(f"{name}: {task.completed:g}{total} ({elapsed // 60}m{elapsed % 60:02d}s)", markup=False)


def progress_bar(label: str, *, tokens: bool = True) -> Progress:
    """A progress bar for long work: one line per task, named ``label description``; generation tasks
    carry a ``tokens`` field shown beside the count."""
    columns = [TextColumn(f"[bold]{label}[/] {{task.description}}"), BarColumn(), MofNCompleteColumn()]
    if tokens:
        columns.append(TextColumn("{task.fields[tokens]} new tokens"))
    return LoggedProgress(
        *columns, TimeElapsedColumn(), TimeRemainingColumn(), label=label, console=console, transient=False
    )
