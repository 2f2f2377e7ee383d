"""Executors decide where a step's shards run; the step never knows which one drives it.

The contract (datatrove's, in our words): for each round, run every shard that has no completion
marker, write each shard's stats and marker, then call :meth:`Step.finish` once. Around that, the
executor owns what every step needs and none should write itself: one writer per output (the lock),
removal of temp directories a killed write left behind, ``--force``, and the per-shard files::

    .<output>.run/shards/<config>/r<round>-<rank>-of-<world>.json   a finished shard's stats (its completion marker)

:class:`LocalExecutor` runs the shards one after another in this process. A distributed executor
(Ray) implements :meth:`Executor.run_shards` and inherits everything else.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
from abc import ABC, abstractmethod
from pathlib import Path

from r1f.errors import DiskFullError
from r1f.lock import OutputLock, remove_stale_temps
from r1f.schema import stable_id
from r1f.step import Progress, Step, StepContext, StepResult, StepStats

#: rounds a step may ask for before the executor stops it (a generator growing its problem set)
MAX_ROUNDS = 8


class ShardMarkers:
    """Completion markers and stats of a step's shards, under its run store, per config (a marker says a shard
    is done for the settings that made it, not for others)."""

    def __init__(self, store_root: Path, key: str = "") -> None:
        self.root = store_root / "shards" / key if key else store_root / "shards"

    def _path(self, round_: int, rank: int, world: int) -> Path:
        return self.root / f"r{round_}-{rank:05d}-of-{world:05d}.json"

    def done(self, round_: int, rank: int, world: int) -> StepStats | None:
        path = self._path(round_, rank, world)
        return StepStats.from_dict(json.loads(path.read_text())) if path.is_file() else None

    def mark(self, round_: int, rank: int, world: int, stats: StepStats) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        path = self._path(round_, rank, world)
        tmp = path.with_suffix(f".tmp-{os.getpid()}")
        tmp.write_text(json.dumps(stats.to_dict(), indent=1, default=str))
        os.replace(tmp, path)


class Executor(ABC):
    """Runs a step: its shards (where is the subclass's choice), then its ``finish``, round by round."""

    #: shards per step (a step that cannot be cut runs as one)
    world_size: int = 1

    def execute(self, step: Step, *, force: bool = False, progress: Progress | None = None) -> StepResult:
        """Run ``step`` to completion under its output lock; ``force`` discards its run store first.

        Under a distributed launcher (``accelerate launch``, ``torchrun``) every process runs the command; only
        the process of rank 0 owns the output (lock, cleanup), the others train beside it.
        """
        if distributed_rank() > 0:
            try:
                return self._rounds(step, progress)
            finally:
                step.close()
        option = f"--{step.output_field.replace('_', '-')}"
        with OutputLock(step.output, what=f"{step.output} ({step.name})", owned_by=step.markers(), option=option):
            remove_stale_temps(step.output)
            if force:
                shutil.rmtree(step.store_root(), ignore_errors=True)
            try:
                return self._rounds(step, progress)
            except OSError as err:
                if err.errno == errno.ENOSPC:
                    raise DiskFullError(
                        f"no space left on the device holding {step.output}; finished work is kept in "
                        f"{step.store_root()}: free some space (or choose another output) and run again"
                    ) from None
                raise
            finally:
                step.close()

    def _rounds(self, step: Step, progress: Progress | None) -> StepResult:
        if step.shards() == 1:  # a step that runs whole: nothing to spread, nothing to mark
            ctx = StepContext(progress=progress)
            ctx.stats = step.run(ctx)
            return step.finish(ctx)
        world = max(1, min(self.world_size, step.shards()))
        markers = ShardMarkers(step.store_root(), stable_id(step.name, step.config.fingerprint_dict()))
        merged = StepStats()  # what the shards did in this execution (a shard done earlier did nothing now)
        for round_ in range(MAX_ROUNDS):
            pending = [rank for rank in range(world) if markers.done(round_, rank, world) is None]
            if pending:
                self.run_shards(step, pending, world, round_, markers, progress)
            for rank in pending:
                merged.merge(markers.done(round_, rank, world) or StepStats())
            ctx = StepContext(rank=0, world_size=world, progress=progress, round=round_, stats=merged)
            result = step.finish(ctx)
            if not result.more:
                return result
        return result

    def close(self) -> None:
        """Release what the executor started (a local Ray cluster); the commands call it when they are done."""

    @abstractmethod
    def run_shards(
        self, step: Step, ranks: list[int], world: int, round_: int, markers: ShardMarkers, progress: Progress | None
    ) -> None:
        """Run ``step.run`` for each rank in ``ranks`` and mark each one done with its stats."""


class LocalExecutor(Executor):
    """Shards one after another, in this process (the default)."""

    def __init__(self, world_size: int = 1) -> None:
        self.world_size = world_size

    def run_shards(
        self, step: Step, ranks: list[int], world: int, round_: int, markers: ShardMarkers, progress: Progress | None
    ) -> None:
        for rank in ranks:
            ctx = StepContext(rank=rank, world_size=world, progress=progress, round=round_)
            stats = step.run(ctx)
            markers.mark(round_, rank, world, stats)


#: executors by name, as "module:Class" (imported only when chosen, like the engines)
EXECUTORS = {"local": "r1f.executor:LocalExecutor", "ray": "r1f.ray_executor:RayExecutor"}


def distributed_rank() -> int:
    """This process's rank under ``accelerate launch`` / ``torchrun`` (0 when not distributed)."""
    return int(os.environ.get("RANK") or os.environ.get("LOCAL_RANK") or 0)


def executor_for(
    name: str = "local", *, workers: int = 1, address: str | None = None, resources: dict | None = None
) -> Executor:
    """The executor called ``name``: ``local`` (this process) or ``ray`` (``workers`` Ray actors)."""
    import importlib

    from r1f.errors import ConfigError

    if name not in EXECUTORS:
        raise ConfigError(f"unknown executor {name!r}; choose one of {', '.join(EXECUTORS)}")
    if name == "local":
        return LocalExecutor()
    module, _, cls = EXECUTORS[name].partition(":")
    return getattr(importlib.import_module(module), cls)(world_size=workers, address=address, resources=resources)


def shard_of(items: list, rank: int, world: int) -> list:
    """Items ``rank``, ``rank + world``, ... : the deterministic share of one shard."""
    return items[rank::world] if world > 1 else list(items)


__all__ = ["Executor", "LocalExecutor", "ShardMarkers", "executor_for", "shard_of"]
