"""Pipeline recipes: the R1 recipe (or any part of it) as stages of steps, checked before anything runs.

A recipe is YAML::

    name: tiny-r1-demo
    format: think                 # the SFT output form; the system prompt and eval templates follow it
    defaults:                     # given to every stage whose config has the key
      engine_options: {dtype: float32}
    stages:
      r1_zero:
        step: train-grpo
        config: {recipe: r1-zero-smollm2, max_steps: 2}
      r1_zero_eval:
        step: eval
        inputs: {model: r1_zero}  # an earlier stage's output, by name
      cold_start:
        step: cold-start
        inputs: {problems: r1_zero_samples}
        review: true              # stop for human review in Argilla, continue with the reviewed rows

:func:`load_pipeline` builds the graph and refuses, in one line naming the recipe and stage, a cycle,
an unknown stage or step, an unknown input slot, a model where a dataset is needed, any bad config
value, and a format or template that disagrees with the model it is used with. Nothing loads a model.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from r1f.config import Config, load_yaml, shipped_file, suggest
from r1f.errors import ConfigError
from r1f.step import Step, step_class

RECIPES = Path(__file__).parent / "recipes"
FORMATS = ("think", "r1")
ARTICLE = {"dataset": "a dataset", "model": "a model", "eval": "an evaluation", "review": "a review"}
STAGE_KEYS = ("step", "config", "inputs", "review")


@dataclass
class Stage:
    """One stage of a recipe, fully resolved: its step class, its checked config, its upstream stages."""

    name: str
    step: str
    step_cls: type[Step]
    config: Config
    inputs: dict[str, list[str]]  # slot -> producing stages
    review: bool = False
    #: the prompt template a model this stage makes was trained with (None: not a model, or unknown)
    template: str | None = None
    #: the SFT template (system prompt) of the dataset this stage makes, if it is SFT data
    sft_template: str | None = None

    @property
    def kind(self) -> str:
        return self.step_cls.output_kind

    @property
    def output(self) -> Path:
        return Path(str(getattr(self.config, self.step_cls.output_field)))

    @property
    def effective_output(self) -> Path:
        """Where consumers read this stage's output: the reviewed dataset when the stage has a review gate."""
        return self.output.parent / f"{self.output.name}-reviewed" if self.review else self.output

    @property
    def upstream(self) -> list[str]:
        return [name for names in self.inputs.values() for name in names]

    def make_step(self) -> Step:
        return self.step_cls(self.config)


@dataclass
class Pipeline:
    name: str
    path: Path
    description: str
    format: str
    run_dir: Path
    stages: dict[str, Stage] = field(default_factory=dict)
    #: modules whose ``module:Class`` steps the recipe opted in to (importing them runs their code)
    plugins: tuple[str, ...] = ()
    text: str = ""
    #: where stages' shards run: {name: local|ray, workers, address, resources}
    executor: dict[str, Any] = field(default_factory=dict)

    def consumers(self, name: str) -> list[Stage]:
        return [s for s in self.stages.values() if name in s.upstream]


#: what a stage may be called: its output is a folder of that name inside the run directory
STAGE_NAME_RE = re.compile(r"[A-Za-z0-9_-]+")


def recipe_path(name_or_path: str) -> Path:
    """A recipe file, or the name of a shipped one."""
    return shipped_file(name_or_path, RECIPES, "recipe")


def apply_overrides(data: dict[str, Any], overrides: Mapping[str, Any], where: str) -> None:
    """``stage.key=value`` sets a stage's config key (``stage.review=true`` its gate); ``key=value`` a top-level key."""
    stages = data.get("stages") or {}
    for key, value in overrides.items():
        head, dot, rest = key.partition(".")
        if not dot:
            data[key] = value
            continue
        if head not in stages:
            raise ConfigError(f"{where}: --set {key}: no stage {head!r}{suggest(head, list(stages))}")
        spec = stages[head]
        if rest in ("review", "step"):
            spec[rest] = value
        elif rest.startswith("inputs."):
            spec.setdefault("inputs", {})[rest.removeprefix("inputs.")] = value
        else:
            spec.setdefault("config", {})[rest] = value


def load_pipeline(
    name_or_path: str, *, run_dir: str | Path | None = None, overrides: Mapping[str, Any] | None = None
) -> Pipeline:
    """Read, resolve and check a recipe; raises :class:`ConfigError` before any model loads."""
    path = recipe_path(name_or_path)
    text = path.read_text()
    data = load_yaml(text, where=str(path)) or {}
    where = f"recipe {path.stem}"
    if not isinstance(data, dict) or not isinstance(data.get("stages"), dict) or not data["stages"]:
        raise ConfigError(f"{path}: a recipe is a mapping with 'stages:' (stage name -> step, config, inputs)")
    apply_overrides(data, overrides or {}, where)
    unknown = set(data) - {"name", "description", "format", "defaults", "stages", "run_dir", "executor", "plugins"}
    if unknown:
        raise ConfigError(f"{where}: unknown top-level key(s) {', '.join(sorted(unknown))}")
    fmt = data.get("format", "think")
    if fmt not in FORMATS:
        raise ConfigError(f"{where}: format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    name = str(data.get("name") or path.stem)
    root = Path(run_dir or data.get("run_dir") or Path("datasets_out") / "runs" / name)
    pipeline = Pipeline(name, path, str(data.get("description") or ""), fmt, root, text=text)
    executor = data.get("executor") or {}
    if isinstance(executor, str):
        executor = {"name": executor}
    extra = set(executor) - {"name", "workers", "address", "resources"} if isinstance(executor, dict) else {"?"}
    if extra:
        raise ConfigError(
            f"{where}: executor takes name, workers, address, resources (e.g. executor: {{name: ray, workers: 4}})"
        )
    pipeline.executor = dict(executor)
    defaults = data.get("defaults") or {}
    if not isinstance(defaults, dict):
        raise ConfigError(f"{where}: defaults must be a mapping of config keys")
    specs: dict[str, dict[str, Any]] = data["stages"]
    for stage_name in specs:
        if not isinstance(stage_name, str) or not STAGE_NAME_RE.fullmatch(stage_name):
            raise ConfigError(
                f"{where}: stage name {stage_name!r}: use letters, digits, '_' and '-' only (a stage's output is a "
                "folder of that name inside the run directory)"
            )
    plugins = data.get("plugins") or []
    if not isinstance(plugins, list) or not all(isinstance(m, str) for m in plugins):
        raise ConfigError(f"{where}: plugins is a list of Python modules whose steps the recipe may use")
    pipeline.plugins = tuple(plugins)
    for stage_name in _order(specs, where):
        pipeline.stages[stage_name] = _build_stage(pipeline, stage_name, specs[stage_name], defaults, where)
    used = {k for stage in pipeline.stages.values() for k in stage.step_cls.config_class.field_names()}
    unused = sorted(set(defaults) - used)
    if unused:
        raise ConfigError(
            f"{where}: defaults {', '.join(unused)} is not a config key of any stage{suggest(unused[0], sorted(used))}"
        )
    return pipeline


def _order(specs: dict[str, Any], where: str) -> list[str]:
    """Stage names so that every stage comes after its inputs (recipe order otherwise); refuses cycles."""
    for stage_name, spec in specs.items():
        if not isinstance(spec, dict):
            raise ConfigError(f"{where}, stage {stage_name}: a stage is a mapping with step, config, inputs")
        extra = set(spec) - set(STAGE_KEYS)
        if extra:
            raise ConfigError(
                f"{where}, stage {stage_name}: unknown key(s) {', '.join(sorted(extra))} (a stage has "
                f"{', '.join(STAGE_KEYS)}; config keys go under config:)"
            )
        for slot, value in (spec.get("inputs") or {}).items():
            for upstream in value if isinstance(value, list) else [value]:
                if upstream not in specs:
                    raise ConfigError(
                        f"{where}, stage {stage_name}: input {slot} names unknown stage {upstream!r}"
                        f"{suggest(str(upstream), list(specs))}"
                    )
    order: list[str] = []
    state: dict[str, int] = {}  # 1 visiting, 2 done

    def visit(node: str, path: list[str]) -> None:
        if state.get(node) == 2:
            return
        if state.get(node) == 1:
            cycle = path[path.index(node) :] + [node]
            raise ConfigError(f"{where}: the stages form a cycle: {' -> '.join(cycle)}; a stage cannot need itself")
        state[node] = 1
        for value in (specs[node].get("inputs") or {}).values():
            for upstream in value if isinstance(value, list) else [value]:
                visit(upstream, path + [node])
        state[node] = 2
        order.append(node)

    for node in specs:
        visit(node, [])
    return order


def _build_stage(pipeline: Pipeline, name: str, spec: dict[str, Any], defaults: dict[str, Any], where: str) -> Stage:
    here = f"{where}, stage {name}"
    if "step" not in spec:
        raise ConfigError(f"{here}: no step; e.g. step: generate")
    cls = step_class(str(spec["step"]), pipeline.plugins)
    fields = set(cls.config_class.field_names())
    given = dict(spec.get("config") or {})
    values = {k: v for k, v in defaults.items() if k in fields}
    values.update(given)
    inputs: dict[str, list[str]] = {}
    for slot_name, value in (spec.get("inputs") or {}).items():
        if slot_name not in cls.inputs:
            valid = ", ".join(cls.inputs) or "none"
            raise ConfigError(f"{here}: step {cls.name} has no input {slot_name!r} (its inputs: {valid})")
        slot = cls.inputs[slot_name]
        names = value if isinstance(value, list) else [value]
        if len(names) > 1 and not slot.many:
            raise ConfigError(f"{here}: input {slot_name} takes one stage, got {len(names)}")
        for upstream in names:
            kind = pipeline.stages[upstream].kind
            if kind != slot.kind:
                raise ConfigError(
                    f"{here}: input {slot_name} needs {ARTICLE.get(slot.kind, slot.kind)}, but stage {upstream} makes "
                    f"{ARTICLE.get(kind, kind)}"
                )
        if slot.field in given:
            raise ConfigError(f"{here}: {slot.field} is given both in config and as input {slot_name}; keep one")
        paths = [str(pipeline.stages[u].effective_output) for u in names]
        values[slot.field] = paths if slot.many else paths[0]
        inputs[slot_name] = names
    values[cls.output_field] = str(pipeline.run_dir / name)
    sft_template = _derive_formats(pipeline, cls, given, values, inputs, here)
    config = cls.config_class.from_mapping(values, where=here)
    stage = Stage(name, cls.name, cls, config, inputs, review=bool(spec.get("review", False)))
    stage.sft_template = sft_template
    trains = cls.trains_template or ""
    if trains.startswith("key:"):
        stage.template = getattr(config, trains.removeprefix("key:"))
    elif trains.startswith("input:"):
        data = inputs.get(trains.removeprefix("input:"))
        stage.template = pipeline.stages[data[0]].sft_template if data else None
    return stage


def _model_template(pipeline: Pipeline, inputs: dict[str, list[str]], slot: str = "model") -> str | None:
    names = inputs.get(slot)
    return pipeline.stages[names[0]].template if names else None


def _derive_formats(
    pipeline: Pipeline,
    cls: type[Step],
    given: dict[str, Any],
    values: dict[str, Any],
    inputs: dict[str, list[str]],
    here: str,
) -> str | None:
    """Fill the format and template keys from the recipe's ``format`` and the input model's training, and refuse
    a stage key that disagrees. Returns the SFT template (system prompt) of the dataset this stage makes."""
    fmt = pipeline.format
    fields = set(cls.config_class.field_names())

    def agree(key: str, wanted: str | None, why: str) -> None:
        if wanted is None or key not in fields:
            return
        if key in given and given[key] != wanted:
            raise ConfigError(
                f"{here}: {key} is {given[key]!r} but {why} is {wanted!r}; remove the key or make them agree"
            )
        values[key] = given.get(key, wanted)

    trained = _model_template(pipeline, inputs)
    if cls.format_key:
        agree(cls.format_key, fmt, "the recipe's format")
    key = cls.model_template_key
    if key and (not cls.model_template_auto or given.get(key, "auto") != "auto"):
        agree(key, trained, f"the template the input model {inputs.get('model', ['?'])[0]} was trained with")
    if cls.makes_sft_template == "format":
        return f"sft-{values.get(cls.format_key or 'format', fmt)}"
    if cls.makes_sft_template == "inputs":
        found = {pipeline.stages[u].sft_template for u in _all(inputs)}
        if len(found) > 1:
            raise ConfigError(
                f"{here}: its inputs were made for different system prompts ({', '.join(sorted(map(str, found)))}); "
                "a model trained on the mix would see both. Curate them separately or use one format"
            )
        return found.pop() if found else None
    return cls.makes_sft_template


def _all(inputs: dict[str, list[str]]) -> Sequence[str]:
    return [n for names in inputs.values() for n in names]
