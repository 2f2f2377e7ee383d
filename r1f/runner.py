"""``r1f run RECIPE``: the recipe's stages in order, each skipped when nothing it depends on changed.

Resumable at two levels. Inside a stage, rows and checkpoints resume as in every command (the run
store, TRL checkpoints). Across stages, each stage has a fingerprint: its step, its config and the
content fingerprints of the outputs it reads. A stage whose fingerprint is recorded as done, and whose
output on disk is the one recorded, is not run again; a changed config reruns that stage, and a stage
whose input's content changed reruns too, nothing else. ``kill -9`` anywhere and the same command
continues.

The run directory::

    <run>/<stage>/                 each stage's output (dataset, model, evaluation)
    <run>/<stage>-reviewed/        the reviewed dataset of a stage with a review gate
    <run>/.r1f/stages/<stage>.json state: fingerprint, output fingerprint, counts, time, peak memory
    <run>/.r1f/recipe.yaml         the recipe as last run
    <run>/report.md, report.html   the report (plots embedded in the HTML)
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from r1f.errors import ConfigError, DataError, R1FactoryError
from r1f.lock import OutputLock
from r1f.recipe import Pipeline, Stage
from r1f.redact import public, redact
from r1f.schema import stable_id
from r1f.step import DATASET, EVAL, MODEL

#: exit code when the run stops at a review gate (EX_TEMPFAIL: come back later)
REVIEW_EXIT = 75
STATE_DIR = ".r1f"


class ReviewPending(R1FactoryError):
    """The run stopped at a gate (human review); the message says what to do and how to continue."""


class GateWaiting(Exception):
    """A gate (a stage waiting for something outside the run, e.g. people) is not ready: the message says why."""


# -- fingerprints of outputs ------------------------------------------------------------------------------


def output_signature(path: Path) -> str | None:
    """Cheap identity of what is on disk (names, sizes, modification times); None when absent."""
    if not path.exists():
        return None
    entries = []
    for root, dirs, files in os.walk(path):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if name.startswith("."):
                continue
            stat = os.stat(os.path.join(root, name))
            entries.append((os.path.relpath(os.path.join(root, name), path), stat.st_size, stat.st_mtime_ns))
    return stable_id(entries)


def content_fingerprint(path: Path, kind: str) -> str:
    """What downstream stages depend on: a hash of the output's content.

    Datasets: their parquet files. Models: the training record and, per weight file, its size and first and
    last MiB (hashing 500 MB per model on every run would cost more than the check saves). Evaluations: eval.json.
    """
    digest = hashlib.sha256()
    if kind == DATASET:
        files = sorted((path / "data").glob("*.parquet")) or sorted(path.glob("*.parquet"))
        for file in files:
            digest.update(file.name.encode())
            digest.update(file.read_bytes())
    elif kind == MODEL:
        for name in ("r1f_training.json", "config.json"):
            if (path / name).is_file():
                digest.update((path / name).read_bytes())
        for file in sorted(path.glob("*.safetensors")) + sorted(path.glob("*.bin")):
            size = file.stat().st_size
            with open(file, "rb") as handle:
                digest.update(f"{file.name}:{size}".encode())
                digest.update(handle.read(1 << 20))
                handle.seek(max(0, size - (1 << 20)))
                digest.update(handle.read(1 << 20))
    elif (path / "eval.json").is_file():
        digest.update((path / "eval.json").read_bytes())
    return digest.hexdigest()[:16]


def dataset_rows(path: Path, split: str = "train") -> int:
    """Rows of one split of a factory dataset, read from parquet metadata (no rows loaded)."""
    import pyarrow.parquet as pq

    files = sorted((path / "data").glob(f"{split}-*.parquet"))
    return sum(pq.ParquetFile(f).metadata.num_rows for f in files)


def dataset_columns(path: Path, split: str = "train") -> set[str]:
    """Column names of one split of a factory dataset, read from the parquet schema (empty: no such split)."""
    import pyarrow.parquet as pq

    files = sorted((path / "data").glob(f"{split}-*.parquet"))
    return set(pq.read_schema(files[0]).names) if files else set()


# -- stage state ------------------------------------------------------------------------------------------


@dataclass
class PlanItem:
    stage: Stage
    action: str  # done | run | rerun | review | blocked
    reason: str
    fingerprint: str | None


class StateStore:
    def __init__(self, run_dir: Path) -> None:
        self.root = run_dir / STATE_DIR / "stages"

    def load(self, name: str) -> dict[str, Any]:
        path = self.root / f"{name}.json"
        return json.loads(path.read_text()) if path.is_file() else {}

    def save(self, name: str, state: dict[str, Any]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        path = self.root / f"{name}.json"
        tmp = path.with_suffix(f".tmp-{os.getpid()}")
        tmp.write_text(json.dumps(public(state), indent=1, default=str))  # for people: no key or local path
        os.replace(tmp, path)


class Runner:
    """Plans and runs a :class:`~r1f.recipe.Pipeline`."""

    def __init__(self, pipeline: Pipeline, *, executor: Any = None, echo: Callable[[str], None] = print) -> None:
        from r1f.executor import LocalExecutor

        self.pipeline = pipeline
        self.states = StateStore(pipeline.run_dir)
        self.executor = executor or LocalExecutor()
        self.echo = echo

    # -- fingerprints and the plan ------------------------------------------------------------------------

    def own_fingerprint(self, stage: Stage) -> str:
        data = stage.config.fingerprint_dict()
        for slot in stage.step_cls.inputs.values():
            data.pop(slot.field, None)
        return stable_id(stage.step, data, stage.review)

    def upstream_fingerprints(self, stage: Stage, planned: dict[str, PlanItem]) -> dict[str, list[str | None]]:
        out: dict[str, list[str | None]] = {}
        for slot, names in stage.inputs.items():
            out[slot] = [
                self.states.load(n).get("output_fingerprint") if planned[n].action == "done" else None for n in names
            ]
        return out

    def plan(self) -> list[PlanItem]:
        items: dict[str, PlanItem] = {}
        for name, stage in self.pipeline.stages.items():
            state = self.states.load(name)
            own = self.own_fingerprint(stage)
            upstream = self.upstream_fingerprints(stage, items)
            pending = [n for slot, names in stage.inputs.items() for n, fp in zip(names, upstream[slot]) if fp is None]
            fingerprint = None if pending else stable_id(own, upstream)
            if pending:
                action, reason = ("run" if not state else "rerun"), f"after {', '.join(dict.fromkeys(pending))}"
            elif not state:
                action, reason = "run", "not run yet"
            elif state.get("status") == "running":
                action, reason = "rerun", "interrupted: resumes (finished rows and checkpoints are kept)"
            elif state.get("own_fingerprint") != own:
                action, reason = "rerun", "its config changed"
            elif state.get("fingerprint") != fingerprint:
                changed = [
                    n
                    for slot, names in stage.inputs.items()
                    for n, fp in zip(names, upstream[slot])
                    if fp not in (state.get("inputs") or {}).get(slot, [])
                ]
                action, reason = "rerun", f"input changed: {', '.join(changed) or 'inputs'}"
            elif output_signature(stage.output) != state.get("signature"):
                action, reason = "rerun", "its output is missing or changed on disk"
            elif stage.review and (state.get("review") or {}).get("status") != "done":
                action, reason = "review", self._review_reason(state)
            else:
                action, reason = "done", f"cached ({state.get('seconds', 0):.0f} s when it ran)"
            items[name] = PlanItem(stage, action, reason, fingerprint)
        return list(items.values())

    @staticmethod
    def _review_reason(state: dict[str, Any]) -> str:
        review = state.get("review") or {}
        if review.get("status") == "pushed":
            return f"waiting for human review in Argilla (dataset {review.get('dataset')!r})"
        return "to push for human review"

    # -- running ------------------------------------------------------------------------------------------

    def select(self, plan: list[PlanItem], *, only: str | None, start: str | None, until: str | None) -> list[str]:
        names = [item.stage.name for item in plan]
        for flag, value in (("--only", only), ("--from", start), ("--until", until)):
            if value is not None and value not in names:
                from r1f.config import suggest

                raise ConfigError(f"{flag} {value}: no such stage{suggest(value, names)} (stages: {', '.join(names)})")
        if only:
            chosen = [only]
        else:
            lo = names.index(start) if start else 0
            hi = names.index(until) + 1 if until else len(names)
            chosen = names[lo:hi]
        by_name = {item.stage.name: item for item in plan}
        for name in chosen:
            for upstream in by_name[name].stage.upstream:
                if upstream not in chosen and by_name[upstream].action != "done":
                    raise ConfigError(
                        f"stage {name} needs {upstream}, which is not done ({by_name[upstream].reason}); "
                        f"include it (drop --only/--from) or run up to it first with --until {upstream}"
                    )
        return chosen

    def run(
        self,
        *,
        only: str | None = None,
        start: str | None = None,
        until: str | None = None,
        force: tuple[str, ...] = (),
        progress: Any = None,
        on_stage: Callable[[str, Stage, PlanItem], None] | None = None,
    ) -> list[dict[str, Any]]:
        """Run the selected stages; returns one summary row per stage (for the table and the report)."""
        try:
            return self._run(only=only, start=start, until=until, force=force, progress=progress, on_stage=on_stage)
        finally:
            self.executor.close()

    def _run(
        self,
        *,
        only: str | None,
        start: str | None,
        until: str | None,
        force: tuple[str, ...],
        progress: Any,
        on_stage: Callable[[str, Stage, PlanItem], None] | None,
    ) -> list[dict[str, Any]]:
        with OutputLock(
            self.pipeline.run_dir,
            what=f"run directory {self.pipeline.run_dir}",
            owned_by=(STATE_DIR,),
            option="--run-dir",
        ):
            (self.pipeline.run_dir / STATE_DIR).mkdir(parents=True, exist_ok=True)
            (self.pipeline.run_dir / STATE_DIR / "recipe.yaml").write_text(redact(self.pipeline.text))
            for name in force:
                if name not in self.pipeline.stages:
                    raise ConfigError(f"--force {name}: no such stage (stages: {', '.join(self.pipeline.stages)})")
                state = self.states.load(name)
                if state:
                    state["own_fingerprint"] = "forced"
                    self.states.save(name, state)
            chosen = self.select(self.plan(), only=only, start=start, until=until)
            rows = []
            for name in chosen:
                # re-plan each time: a stage that just ran changes what its consumers see
                item = next(i for i in self.plan() if i.stage.name == name)
                if on_stage:
                    on_stage("start", item.stage, item)
                if item.action in ("run", "rerun"):
                    self._check_inputs(item.stage)
                    self._run_stage(item, progress, force=name in force)
                    item = next(i for i in self.plan() if i.stage.name == name)
                if item.action == "review":
                    self._review_gate(item)
                    item = next(i for i in self.plan() if i.stage.name == name)
                state = self.states.load(name)
                rows.append({"stage": name, "step": item.stage.step, "ran": state.get("ran_at"), **state})
                if on_stage:
                    on_stage("done", item.stage, item)
            return rows

    def _run_stage(self, item: PlanItem, progress: Any, *, force: bool) -> None:
        from r1f.memory import peak_mb, reset_peak

        stage = item.stage
        upstream = {
            slot: [self.states.load(n).get("output_fingerprint") for n in names] for slot, names in stage.inputs.items()
        }
        state = {
            "status": "running",
            "step": stage.step,
            "fingerprint": item.fingerprint,
            "own_fingerprint": self.own_fingerprint(stage),
            "inputs": upstream,
            "config": stage.config.to_dict(),
            "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        }
        self.states.save(stage.name, state)
        measured = reset_peak()
        started = time.perf_counter()
        result = self.executor.execute(stage.make_step(), force=force, progress=progress)
        seconds = time.perf_counter() - started
        output = stage.output
        state.update(
            status="done",
            seconds=round(seconds, 1),
            peak_rss_mb=peak_mb() if measured else None,
            stats=result.stats.to_dict(),
            summary=[[str(k), _plain(v)] for k, v in result.summary],
            title=result.title,
            data=_plain(result.data),
            signature=output_signature(output),
            ran_at=time.strftime("%Y-%m-%d %H:%M:%S"),
        )
        state["output_fingerprint"] = content_fingerprint(output, stage.kind)
        if stage.review:
            state["review"] = {"status": "pending"}
            state["output_fingerprint"] = None  # consumers wait for the reviewed dataset
        self.states.save(stage.name, state)

    def _review_gate(self, item: PlanItem) -> None:
        """Open the stage's gate (first time: its rows go out for review), or close it (the reviewed rows come back
        as the stage's output) and go on. The gate itself is a stage package's (entry point ``r1f.gates``)."""
        from r1f.plugins import GATES, entry_points, load

        stage = item.stage
        state = self.states.load(stage.name)
        review = state.get("review") or {"status": "pending"}
        name = f"{self.pipeline.name}-{stage.name}".replace("_", "-")
        target = entry_points(GATES).get("review")
        if target is None:
            raise ConfigError(f"stage {stage.name} asks for review, but no review gate is installed (r1f.gates)")
        try:
            gate = load(target)()
            if review.get("status") != "pushed":
                opened = gate.open(name, stage.output)
                message = opened.pop("message", "")
                state["review"] = {"status": "pushed", **opened}
                self.states.save(stage.name, state)
                raise GateWaiting(message)
            target_dir = stage.effective_output
            counts = gate.close(name, target_dir, review)
        except GateWaiting as waiting:
            raise ReviewPending(f"stage {stage.name} waits for review: {waiting}") from None
        state["review"] = {**review, "status": "done", "counts": _plain(counts)}
        state["output_fingerprint"] = content_fingerprint(target_dir, DATASET)
        state["signature"] = output_signature(stage.output)
        self.states.save(stage.name, state)

    def _check_inputs(self, stage: Stage) -> None:
        """Before a stage runs: refuse when an input dataset lacks a column the step declares, or holds fewer rows
        than it can use; say what to change."""
        for slot_name, names in stage.inputs.items():
            slot = stage.step_cls.inputs[slot_name]
            if slot.kind != DATASET:
                continue
            for name in names:
                present = dataset_columns(self.pipeline.stages[name].effective_output)
                missing = slot.missing(stage.config, present) if present else []
                if missing:
                    raise DataError(
                        f"stage {stage.name}: input {slot_name} (stage {name}) has no column {', '.join(missing)} "
                        f"(its columns: {', '.join(sorted(present))}); feed it a stage that writes "
                        f"{', '.join(missing)} or set the step's column option"
                    )
            need = stage.step_cls.min_rows(stage.config)
            rows = {name: dataset_rows(self.pipeline.stages[name].effective_output) for name in names}
            if sum(rows.values()) >= need:
                continue
            parts = []
            for name in names:
                stats = self.states.load(name).get("stats") or {}
                dropped = ", ".join(f"{r} {n}" for r, n in (stats.get("dropped_by_reason") or {}).items()) or "none"
                parts.append(f"stage {name} kept {rows[name]} rows (of {stats.get('total', '?')}; dropped: {dropped})")
            producer = self.pipeline.stages[names[0]].step_cls
            raise DataError(f"{'; '.join(parts)}; stage {stage.name} needs at least {need}. {producer.grow_hint}")


def _plain(value: Any) -> Any:
    """JSON-safe copy (paths and numpy scalars as plain values)."""
    return json.loads(json.dumps(value, default=str))


def eval_rows(pipeline: Pipeline, states: StateStore) -> list[dict[str, Any]]:
    """Every evaluation stage's results, in recipe order, with the model they judged."""
    out = []
    for name, stage in pipeline.stages.items():
        if stage.kind != EVAL:
            continue
        path = stage.output / "eval.json"
        if path.is_file():
            result = json.loads(path.read_text())
            model = stage.inputs.get("model", [None])[0] or result.get("model")
            # an evaluation on several benchmarks is one row per benchmark
            for part, label in [(b, f"{name} [{k}]") for k, b in (result.get("benchmarks") or {}).items()] or [
                (result, name)
            ]:
                out.append({"stage": label, "model_stage": model, **part})
    return out
