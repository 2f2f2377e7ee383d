"""The manifest every factory dataset carries, built in one place.

``manifest.json`` says exactly how a dataset was made: the step (``kind``), the command, its inputs,
its config (every parameter that changes the result), the model and engine, the versions of the
packages that change results, the counts (kept, dropped per reason, ...) and the timings. The dataset
card (``r1f.card``) and the recipe report are rendered from it.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from typing import Any

from r1f.redact import public_command

#: packages whose versions change generated results, recorded in every manifest
RESULT_PACKAGES = ("torch", "transformers", "datasets", "vllm", "trl", "math-verify")


def versions(packages: Sequence[str] = RESULT_PACKAGES) -> dict[str, str]:
    """r1-factory's, Python's and the installed ``packages``' versions (absent ones left out)."""
    import platform
    from importlib.metadata import PackageNotFoundError, version

    from r1f import __version__

    found = {"r1-factory": __version__, "python": platform.python_version()}
    for package in packages:
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            pass
    return found


def build_manifest(
    kind: str,
    *,
    parameters: Mapping[str, Any] | None = None,
    inputs: Mapping[str, Any] | None = None,
    counts: Mapping[str, Any] | None = None,
    model: Mapping[str, Any] | None = None,
    timings: Mapping[str, Any] | None = None,
    packages: Sequence[str] = RESULT_PACKAGES,
    command: Sequence[str] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """The manifest of one dataset.

    Args:
        kind: what made it (``generations``, ``cold_start``, ``rejection_sampled``, ``curated``, ...).
        parameters: the step's config (as plain data) plus derived settings worth recording.
        inputs: where its rows came from.
        counts: rows, kept, dropped per reason, ...
        model: the engine identity (engine, model, dtype, base_url).
        timings: wall and generation seconds, tokens per second.
        packages: whose versions to record.
        command: the command line (default: this process's).
        extra: further top-level sections (``teacher``, ``rewards``, ``run_store``).
    """
    manifest: dict[str, Any] = {
        "kind": kind,
        "command": list(command if command is not None else sys.argv),
        "inputs": dict(inputs or {}),
        "parameters": dict(parameters or {}),
    }
    if model:
        manifest["model"] = dict(model)
    manifest["versions"] = versions(packages)
    manifest["counts"] = dict(counts or {})
    if timings:
        manifest["timings"] = dict(timings)
    manifest.update(extra)
    manifest["command"] = public_command(manifest["command"])  # the rest is made public when it is written
    return manifest
