"""YAML recipes for the training stages, in open-r1's style: flat keys, TRL's own field names.

A recipe mixes our keys (what to train on: model, dataset, rewards, prompt template) with fields of
TRL's config dataclass (``GRPOConfig`` / ``SFTConfig``). Every key is checked before any model
loads; an unknown one is a one-line error that suggests the nearest valid names. Command-line
``--set key=value`` overrides the file (values are read as YAML: ``--set max_steps=3``).
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from r1f.errors import ConfigError

RECIPES = Path(__file__).parent / "recipes"


class _RecipeLoader(yaml.SafeLoader):
    """YAML as people write recipes: only true/false are booleans (``save_strategy: no`` stays "no")."""


_RecipeLoader.yaml_implicit_resolvers = {
    key: [(tag, regex) for tag, regex in resolvers if tag != "tag:yaml.org,2002:bool"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_RecipeLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
# and 1e-6 is a float (YAML 1.1 wants "1.0e-6", so learning_rate=1e-6 would arrive as a string)
_RecipeLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float", re.compile(r"^[-+]?(?:\d+\.?\d*|\.\d+)[eE][-+]?\d+$"), list("-+0123456789.")
)


def _yaml(text: str) -> Any:
    return yaml.load(text, Loader=_RecipeLoader)  # noqa: S506 - a SafeLoader subclass


#: keys that are ours, per stage, with their defaults; everything else must be a TRL config field
OUR_KEYS: dict[str, dict[str, Any]] = {
    "grpo": {
        "model": "smollm2-135m",
        "dataset": "builtin",
        "dataset_split": "train",
        "n_problems": 64,
        "languages": "en,es,fr,de,zh",
        "problem_seed": 0,
        "prompt_template": "r1-zero-fewshot",
        "rewards": "accuracy,format,tag_count",
        "reward_weights": None,
    },
    "sft": {
        "model": "smollm2-135m",
        "dataset": None,
        "dataset_split": "train",
        "chat_template": "chatml-generation",
    },
}


def recipe_path(name_or_path: str) -> Path:
    """A recipe file, or the name of a shipped one (``training/recipes/<name>.yaml``)."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    shipped = RECIPES / f"{name_or_path}.yaml"
    if shipped.is_file():
        return shipped
    names = ", ".join(sorted(p.stem for p in RECIPES.glob("*.yaml")))
    raise ConfigError(f"no recipe {name_or_path!r}: not a file, and not a shipped recipe ({names})")


def load_recipe(name_or_path: str | None, overrides: Sequence[str] = ()) -> dict[str, Any]:
    """The recipe's keys with ``key=value`` overrides applied."""
    recipe: dict[str, Any] = {}
    if name_or_path:
        path = recipe_path(name_or_path)
        try:
            recipe = _yaml(path.read_text()) or {}
        except yaml.YAMLError as err:
            raise ConfigError(f"{path}: not valid YAML ({str(err).splitlines()[0]})") from None
        if not isinstance(recipe, dict):
            raise ConfigError(f"{path}: a recipe is a flat mapping of key: value")
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {item!r}: write key=value, e.g. --set max_steps=3")
        recipe[key.strip()] = _yaml(value)
    return recipe


def split_recipe(stage: str, recipe: dict[str, Any], config_cls: type) -> tuple[dict[str, Any], dict[str, Any]]:
    """(our settings with defaults, TRL config kwargs); unknown keys fail with suggestions."""
    ours = dict(OUR_KEYS[stage])
    trl_fields = {f.name for f in dataclasses.fields(config_cls) if f.init}
    trl: dict[str, Any] = {}
    for key, value in recipe.items():
        if key in ours:
            ours[key] = value
        elif key in trl_fields:
            trl[key] = value
        else:
            near = difflib.get_close_matches(key, [*ours, *trl_fields], n=3)
            hint = f"; did you mean {', '.join(near)}?" if near else ""
            raise ConfigError(
                f"recipe key {key!r} is neither a r1-factory setting ({', '.join(ours)}) "
                f"nor a field of TRL's {config_cls.__name__}{hint}"
            )
    return ours, trl


def device_defaults(trl: dict[str, Any]) -> dict[str, Any]:
    """TRL defaults to bf16, which fails on CPU: without a GPU, train in fp32 on the CPU."""
    import torch

    out = dict(trl)
    if not torch.cuda.is_available():
        out.setdefault("use_cpu", True)
        out["bf16"] = False
        out.setdefault("fp16", False)
    out.setdefault("report_to", [])
    return out
