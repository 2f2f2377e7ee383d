"""Steps: every stage of the R1 recipe is one kind of thing that the CLI, the recipe runner and any
executor drive the same way.

A step has a name, one typed config (:class:`r1f.config.Config`), declared inputs (config fields the
runner fills with earlier stages' outputs) and one output. Work happens in two phases, so that an
executor can spread it out without the step knowing how:

- :meth:`Step.run` does the shard ``ctx.rank`` of ``ctx.world_size`` (generation, scoring). It is
  idempotent and resumable: rows already in the run store are not redone.
- :meth:`Step.finish` runs once after every shard is done and writes the output (the dataset, the
  model). It may ask for another round (``StepResult.more``), e.g. when a generator kept fewer rows
  than its target and has grown its problem set.

Steps record counts in :class:`StepStats` (total, kept, dropped per reason, timings), which the
executor writes per shard and the runner shows. Step classes are declared by the stage packages (entry points
``r1f.steps``, see :mod:`r1f.plugins`) and imported only when used: the core names no stage.
"""

from __future__ import annotations

import importlib
import time
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar

from r1f.config import Config
from r1f.errors import ConfigError

DATASET, MODEL, EVAL = "dataset", "model", "eval"
KINDS = (DATASET, MODEL, EVAL)
#: files that show an existing folder is an output of this kind the factory wrote (so it may replace it)
#: (an evaluation killed before its eval.json keeps its run store and lock inside: it is the factory's, to resume)
OUTPUT_MARKERS: dict[str, tuple[str, ...]] = {
    DATASET: ("manifest.json",),
    EVAL: ("eval.json", ".r1f-eval", ".greedy.run", ".greedy.lock", ".sampled.run", ".sampled.lock"),
}


@dataclass(frozen=True)
class Slot:
    """An input a step declares: the config field that receives the path, and what it must be."""

    field: str
    kind: str = DATASET  # dataset | model
    many: bool = False  # a list of inputs (curate)
    help: str = ""
    #: columns the input dataset must hold, checked before the stage runs: ``"a|b"`` means either,
    #: ``"{completion_column}"`` is read from the step's config
    columns: tuple[str, ...] = ()

    def required(self, config: Config) -> list[list[str]]:
        """The column alternatives this slot needs under ``config`` (one list of names per requirement)."""
        return [[name.format(**vars(config)) for name in spec.split("|")] for spec in self.columns]

    def missing(self, config: Config, present: set[str]) -> list[str]:
        """The requirements ``present`` does not meet, spelled as declared (``prompt|problem``)."""
        return ["|".join(alts) for alts in self.required(config) if not present.intersection(alts)]


@dataclass
class StepStats:
    """What one shard (or a whole step) did: datatrove's total / kept / dropped_<reason>, plus timings."""

    total: int = 0
    kept: int = 0
    dropped: Counter = field(default_factory=Counter)
    timings: dict[str, float] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    @contextmanager
    def timed(self, name: str) -> Any:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.timings[name] = round(self.timings.get(name, 0.0) + time.perf_counter() - started, 3)

    def drop(self, reason: str, n: int = 1) -> None:
        self.dropped[reason] += n

    def merge(self, other: StepStats) -> StepStats:
        self.total += other.total
        self.kept += other.kept
        self.dropped.update(other.dropped)
        for key, value in other.timings.items():
            self.timings[key] = round(self.timings.get(key, 0.0) + value, 3)
        for key, value in other.extra.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool) and key in self.extra:
                self.extra[key] += value
            else:
                self.extra.setdefault(key, value)
        return self

    def to_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "kept": self.kept,
            "dropped": sum(self.dropped.values()),
            "dropped_by_reason": dict(self.dropped.most_common()),
            "timings": self.timings,
            **self.extra,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StepStats:
        known = {"total", "kept", "dropped", "dropped_by_reason", "timings"}
        return cls(
            total=int(data.get("total", 0)),
            kept=int(data.get("kept", 0)),
            dropped=Counter(data.get("dropped_by_reason") or {}),
            timings=dict(data.get("timings") or {}),
            extra={k: v for k, v in data.items() if k not in known},
        )


@dataclass
class StepResult:
    """What :meth:`Step.finish` returns: the output written, its counts and a few rows for the summary table."""

    output: Path | None
    stats: StepStats = field(default_factory=StepStats)
    #: (label, value) pairs for the terminal summary table
    summary: list[tuple[str, Any]] = field(default_factory=list)
    #: True: not finished yet, run the shards again (the step has grown its work)
    more: bool = False
    #: anything else the runner's report wants (e.g. an evaluation's metrics)
    data: dict[str, Any] = field(default_factory=dict)
    #: the summary table's title
    title: str = ""


#: progress callback: (done, total, label) — label names the unit or phase ("rows", "tokens: 1234")
Progress = Callable[[int, int | None, str], None]


@dataclass
class StepContext:
    """Where a step's shard runs: which shard, how to report progress."""

    rank: int = 0
    world_size: int = 1
    progress: Progress | None = None
    #: the round of work (0, then 1, 2, ... when finish asked for more)
    round: int = 0
    #: in ``finish``: the merged stats of the shards run in this execution, every round so far
    stats: StepStats = field(default_factory=StepStats)

    def report(self, done: int, total: int | None, label: str = "rows") -> None:
        if self.progress is not None:
            self.progress(done, total, label)


C = TypeVar("C", bound=Config)


class Step(ABC, Generic[C]):
    """One kind of work, generic over its config (``class SampleStep(Step[SampleConfig])``). Subclasses set
    ``name``, ``config_class``, ``inputs``, ``output_kind``."""

    name: ClassVar[str]
    config_class: ClassVar[type[Config]]
    #: input name -> slot; the runner fills ``config.<slot.field>`` with the producing stage's output
    inputs: ClassVar[Mapping[str, Slot]] = {}
    output_kind: ClassVar[str] = DATASET
    #: the config field holding the output path
    output_field: ClassVar[str] = "out"
    #: one line for the report and ``r1f run --list-steps``
    summary: ClassVar[str] = ""
    #: files that mark an existing output folder as this step's own (default: by ``output_kind``); None: the
    #: output is not a folder (an Argilla dataset name), nothing to check
    output_markers: ClassVar[tuple[str, ...] | None] = None
    # -- how formats and templates flow through a recipe (the runner reads these; it names no step) ----------
    #: the config key that takes the recipe's ``format`` (the SFT output form this step writes)
    format_key: ClassVar[str | None] = None
    #: the config key that must agree with the template the input ``model`` was trained with
    model_template_key: ClassVar[str | None] = None
    #: True: that key is checked only when the stage sets it to something other than ``auto``
    model_template_auto: ClassVar[bool] = False
    #: the SFT template of the dataset this step makes: ``"format"`` (``sft-<format>``), ``"inputs"`` (what its
    #: input datasets were made for, which must agree), another string (that template), or None
    makes_sft_template: ClassVar[str | None] = None
    #: the template the model this step trains answers to: ``"key:<config key>"`` or ``"input:<slot>"`` (the SFT
    #: template of that input dataset), or None
    trains_template: ClassVar[str | None] = None
    #: what to change when this step's dataset is too small for the stage that reads it
    grow_hint: ClassVar[str] = "Give it more input rows."

    @classmethod
    def min_rows(cls, config: Config) -> int:
        """Fewest rows of an input dataset this step can work with (the runner checks yields against it)."""
        return 1

    def __init__(self, config: C) -> None:
        if not isinstance(config, self.config_class):
            raise TypeError(f"{self.name} needs a {self.config_class.__name__}, got {type(config).__name__}")
        self.config: C = config

    # -- the two phases -------------------------------------------------------------------------

    def shards(self) -> int:
        """How many shards this step's work may be cut into (1: it runs whole)."""
        return 1

    def run(self, ctx: StepContext) -> StepStats:
        """Do shard ``ctx.rank`` of ``ctx.world_size``; resumable. Steps that run whole do everything in
        :meth:`finish` and leave this as is."""
        return StepStats()

    @abstractmethod
    def finish(self, ctx: StepContext) -> StepResult:
        """Merge the shards' work and write the output; runs once per round, after every shard."""

    def close(self) -> None:
        """Release engines and memory the step holds."""

    def shard_state(self) -> dict[str, Any]:
        """What a copy of this step on another worker needs to do this round's shards (e.g. a grown problem set)."""
        return {}

    def set_shard_state(self, state: dict[str, Any]) -> None:
        """Take the driver's :meth:`shard_state` before running a shard."""

    # -- paths ------------------------------------------------------------------------------------

    @property
    def output(self) -> Path:
        value = getattr(self.config, self.output_field)
        if not value:
            raise ConfigError(f"{self.name}: give an output (--{self.output_field.replace('_', '-')})")
        return Path(value)

    def markers(self) -> tuple[str, ...] | None:
        """What an existing folder at :attr:`output` must hold for this step to write into it."""
        return self.output_markers if self.output_markers is not None else OUTPUT_MARKERS.get(self.output_kind)

    def store_root(self) -> Path:
        """The run store beside the output (``.<name>.run``), where shard markers also live."""
        return self.output.parent / f".{self.output.name}.run"


def registered_steps() -> dict[str, str]:
    """Step name -> ``module:Class``, as the stage packages declare them (entry points ``r1f.steps``)."""
    from r1f.plugins import STEPS, entry_points

    return entry_points(STEPS)


def step_class(name: str, plugins: tuple[str, ...] = ()) -> type[Step]:
    """The step class registered as ``name``, or ``module:Class`` from a module the caller listed in ``plugins``.

    A recipe is data until it names a module: importing one runs its code, so a ``module:Class`` step is refused
    unless the recipe opts in with ``plugins: [module]`` (the README says what that means).
    """
    steps = registered_steps()
    target = steps.get(name)
    if target is None and ":" in name:
        module_name = name.partition(":")[0]
        if module_name not in plugins:
            raise ConfigError(
                f"step {name!r} imports the Python module {module_name!r}, which runs its code; list it under "
                f"'plugins: [{module_name}]' in the recipe if you trust it (registered steps: {', '.join(steps)})"
            )
        target = name
    if target is None:
        from r1f.config import suggest

        raise ConfigError(f"unknown step {name!r}{suggest(name, list(steps))} (steps: {', '.join(steps)})")
    module_name, _, cls_name = target.partition(":")
    try:
        cls = getattr(importlib.import_module(module_name), cls_name)
    except (ImportError, AttributeError) as err:
        raise ConfigError(f"cannot load step {name!r} from {target}: {err}") from None
    if not (isinstance(cls, type) and issubclass(cls, Step)):
        raise ConfigError(f"step {name!r}: {target} is not a Step class")
    return cls
