"""What the stage packages contribute, found by name: steps, commands and gates, as entry points.

The core names no stage. ``pyproject.toml`` lists each package's steps (``r1f.steps``), the function that
mounts its commands (``r1f.commands``) and its gates (``r1f.gates``: a stage that waits for something
outside the run, such as human review); the core loads them by group, the way llm and pytest find their
plugins. Another package can add steps the same way from its own ``pyproject.toml``. Where the project runs
from a source tree that was never installed (a venv that has the tree on ``PYTHONPATH``), the same tables are
read from the tree's ``pyproject.toml``.
"""

from __future__ import annotations

import importlib
from functools import cache
from pathlib import Path
from typing import Any

STEPS, COMMANDS, GATES = "r1f.steps", "r1f.commands", "r1f.gates"
PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


@cache
def entry_points(group: str) -> dict[str, str]:
    """``name -> "module:attribute"`` of ``group``, in the order the project declares them."""
    found: dict[str, str] = {}
    if PYPROJECT.is_file():  # the source tree this core belongs to: its own table comes first, in order
        try:
            import tomllib
        except ImportError:  # Python 3.10
            tomllib = None  # type: ignore[assignment]
        if tomllib is not None:
            table = tomllib.loads(PYPROJECT.read_text()).get("project", {}).get("entry-points", {}).get(group, {})
            found.update(table)
    from importlib.metadata import entry_points as installed

    for point in installed(group=group):
        found.setdefault(point.name, point.value)
    return found


def load(target: str) -> Any:
    """The object ``module:attribute`` names."""
    module_name, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module_name), attribute)
