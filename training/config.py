"""The training stages' typed configs, and YAML recipes in open-r1's style: flat keys, TRL's own field names.

A recipe mixes our keys (what to train: model, dataset, rewards, prompt template; the fields of
:class:`GRPOTrainConfig` / :class:`SFTTrainConfig`) with fields of TRL's config dataclass
(``GRPOConfig`` / ``SFTConfig``), which go to ``trl``. Every key is checked before any model loads:
an unknown one is a one-line error that suggests the nearest valid names, and a TRL field whose value
has the wrong type (``learning_rate: abc``) is refused too. ``--set key=value`` overrides the file.

TRL's field names and types are read once per TRL version and cached (importing TRL costs seconds, and
a fully cached ``r1f run`` must not pay them).
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from generators.models import DEFAULT_MODEL
from r1f.config import Config, TypeMismatch, coerce, load_yaml, option, parse_overrides, shipped_file, suggest
from r1f.errors import ConfigError

RECIPES = Path(__file__).parent / "recipes"


def recipe_path(name_or_path: str) -> Path:
    """A recipe file, or the name of a shipped one."""
    return shipped_file(name_or_path, RECIPES, "recipe")


def load_recipe(name_or_path: str | None, overrides: Sequence[str] = ()) -> dict[str, Any]:
    """The recipe's keys with ``key=value`` overrides applied."""
    recipe: dict[str, Any] = {}
    if name_or_path:
        path = recipe_path(name_or_path)
        recipe = load_yaml(path.read_text(), where=str(path)) or {}
        if not isinstance(recipe, dict):
            raise ConfigError(f"{path}: a recipe is a flat mapping of key: value")
    recipe.update(parse_overrides(overrides))
    return recipe


# -- TRL's fields, typed, cached -------------------------------------------------------------------------

_SIMPLE = {int: "int", float: "float", bool: "bool", str: "str", type(None): "None", dict: "dict"}
_PARSE = {v: k for k, v in _SIMPLE.items()}


def _simple(tp: Any) -> str:
    """A TRL field type as a small string we can cache and check against (``float``, ``int|None``, ``any``)."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp in _SIMPLE:
        return _SIMPLE[tp]
    if origin in (typing.Union, types.UnionType):
        parts = [_simple(a) for a in args]
        return "any" if "any" in parts else "|".join(dict.fromkeys(parts))
    if origin is list:
        inner = _simple(args[0]) if args else "any"
        return f"list[{inner}]" if inner in ("int", "float", "str", "bool") else "list"
    if origin is dict:
        return "dict"
    if isinstance(tp, type) and issubclass(tp, str):  # TRL's str enums
        return "str"
    return "any"


def _parse_simple(spec: str) -> Any:
    parts = []
    for part in spec.split("|"):
        if part == "any":
            return Any
        if part.startswith("list["):
            parts.append(list[_PARSE[part[5:-1]]])  # type: ignore[index]
        elif part == "list":
            parts.append(list)
        else:
            parts.append(_PARSE[part])
    tp = parts[0]
    for part in parts[1:]:
        tp = typing.Union[tp, part]  # noqa: UP007 - built at run time
    return tp


def trl_fields(stage: str) -> dict[str, str]:
    """``{field: simple type}`` of TRL's ``GRPOConfig`` (stage ``grpo``) or ``SFTConfig`` (``sft``)."""
    from importlib.metadata import version

    from generators.models import cache_dir

    cache = cache_dir() / "trl-fields" / f"{stage}-{version('trl')}.json"
    if cache.is_file():
        return json.loads(cache.read_text())
    import trl

    cls = trl.GRPOConfig if stage == "grpo" else trl.SFTConfig
    hints = typing.get_type_hints(cls)
    fields = {f.name: _simple(hints.get(f.name, Any)) for f in dataclasses.fields(cls) if f.init}
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(".tmp")
    tmp.write_text(json.dumps(fields, indent=0, sort_keys=True))
    tmp.replace(cache)
    return fields


# -- the configs -----------------------------------------------------------------------------------------


@dataclass
class TrainConfig(Config):
    """What every training stage has: the start model, where the result goes, and TRL's own fields."""

    stage: typing.ClassVar[str] = ""

    recipe: str | None = option(
        None,
        help="Deprecated spelling of --config (a training config file or shipped name); still read for one release. "
        "In a run recipe's stage config, the training config to start from.",
    )
    model: str = option(DEFAULT_MODEL, help="Start model: alias, local directory (an earlier stage) or Hub id.")
    output_dir: str = option("", help="Where the model, checkpoints and model card go.", fingerprint=False)
    resume: bool = option(
        True,
        help="Continue from the last complete checkpoint in output_dir when the same settings made it (rerun a "
        "killed run to go on); --no-resume starts over.",
        fingerprint=False,
    )
    keep_checkpoints: bool = option(
        False,
        help="Keep the trainer's checkpoints after the model is saved (they exist so a killed run can resume; each "
        "holds the model and optimizer state, about three times the model's size).",
        fingerprint=False,
    )
    trl: dict[str, Any] = option(
        default_factory=dict, cli=False, help="Fields of TRL's config (GRPOConfig / SFTConfig), by their own names."
    )

    @classmethod
    def shipped_config(cls, name: str) -> Path | None:
        return recipe_path(name)  # a shipped training config, or the one-line error that lists them

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, where: str = "") -> Any:
        """Recipe keys: ours by field name, the rest must be TRL fields (checked, types included)."""
        prefix = f"{where}: " if where else ""
        data = dict(data)
        if data.get("recipe"):
            data = {**load_recipe(str(data["recipe"])), **data}
        ours = [n for n in cls.field_names() if n != "trl"]
        fields = trl_fields(cls.stage)
        trl_values: dict[str, Any] = dict(data.pop("trl", None) or {})
        own: dict[str, Any] = {}
        for key, value in data.items():
            if key in ours:
                own[key] = value
            elif key in fields:
                trl_values[key] = value
            else:
                raise ConfigError(
                    f"{prefix}recipe key {key!r} is neither a r1-factory setting ({', '.join(ours)}) nor a field of "
                    f"TRL's {'GRPOConfig' if cls.stage == 'grpo' else 'SFTConfig'}{suggest(key, [*ours, *fields])}"
                )
        for key, value in list(trl_values.items()):
            if key not in fields:
                raise ConfigError(f"{prefix}{key!r} is not a field of TRL's config{suggest(key, list(fields))}")
            try:
                trl_values[key] = coerce(value, _parse_simple(fields[key]))
            except TypeMismatch:
                raise ConfigError(
                    f"{prefix}{key} must be {fields[key].replace('|', ' or ')}, got {value!r}; fix it in the recipe "
                    f"or --set {key}=..."
                ) from None
        for key, low in TRL_LOWER_BOUNDS.items():
            value = trl_values.get(key)
            if isinstance(value, (int, float)) and not isinstance(value, bool) and value < low:
                raise ConfigError(f"{prefix}{key} must be at least {low:g}, got {value!r}; --set {key}=... to fix it")
        own["trl"] = trl_values
        return super().from_mapping(own, where=where)

    def fingerprint_dict(self) -> dict[str, Any]:
        data = super().fingerprint_dict()
        data["trl"] = {k: v for k, v in self.trl.items() if k not in UNFINGERPRINTED}
        return data

    def flat(self) -> dict[str, Any]:
        """The recipe as people write it: our keys that are set, then TRL's, in one flat mapping."""
        ours = {k: v for k, v in self.to_dict().items() if k != "trl" and v not in (None, "", [], {})}
        return {**ours, **self.trl}

    def trl_kwargs(self, default_dir: str) -> dict[str, Any]:
        """TRL config kwargs: the recipe's, CPU-safe defaults without a GPU, our output dir."""
        out = device_defaults(self.trl)
        out["output_dir"] = self.output_dir or default_dir
        return out


#: TRL fields that TRL only checks after the model has loaded (or never): refused up front instead
TRL_LOWER_BOUNDS = {
    "per_device_train_batch_size": 1,
    "per_device_eval_batch_size": 1,
    "gradient_accumulation_steps": 1,
    "num_generations": 2,
    "num_train_epochs": 0,
    "learning_rate": 0,
    "max_length": 1,
    "max_completion_length": 1,
    "max_prompt_length": 1,
    "logging_steps": 0,
    "save_steps": 0,
    "num_iterations": 1,
}

#: TRL fields that cannot change what is learned
UNFINGERPRINTED = {"logging_steps", "report_to", "save_steps", "save_strategy", "save_total_limit", "log_completions"}


@dataclass
class GRPOTrainConfig(TrainConfig):
    """``r1f train grpo``: R1-Zero and reasoning RL with GRPO and rewards from the registry."""

    stage: typing.ClassVar[str] = "grpo"

    dataset: str = option("builtin", help="builtin, heldout, or a dataset/file with prompt or problem rows.")
    dataset_split: str = option("train", help="Split of the dataset to train on.")
    n_problems: int = option(64, help="Built-in problems to make (builtin/heldout only).")
    languages: list[str] = option(
        default_factory=lambda: ["en", "es", "fr", "de", "zh"], help="Languages of built-in problems."
    )
    families: list[str] | None = option(None, help="Built-in problem families (default: all).")
    difficulties: list[int] | None = option(None, help="Built-in difficulty levels (default: all).")
    problem_seed: int = option(0, help="Seed of the built-in problems.")
    prompt_template: str = option(
        "r1-zero-fewshot", help="Prompt template for rows without a 'prompt' (see generators/prompts.py)."
    )
    rewards: str = option("accuracy,format,tag_count", help="Rewards by registry name, with parameters.")
    reward_weights: list[float] | None = option(None, help="One weight per reward (TRL's reward_weights).")
    select_k: int = option(
        0,
        help="Before training, sample this many completions per prompt with the model being trained and drop "
        "the prompts whose rewards would all be equal (all right or all wrong: no GRPO signal). 0: off.",
    )
    select_pass_rate: str | None = option(
        None, help="With --select-k: keep prompts whose measured pass rate lies in LOW:HIGH instead (e.g. 0.1:0.9)."
    )
    curriculum: bool = option(
        False,
        help="Train on prompts from the highest measured pass rate to the lowest, unshuffled: rates measured by "
        "select_k, or the pass_rate column `r1f problems --pass-rates` wrote.",
    )
    truncated_zero: bool = option(
        True,
        help="A completion cut at max_completion_length gets 0 from the accuracy-based rewards (accuracy, cosine, "
        "length), as in Open-Reasoner-Zero, so the policy is not paid for answers it never finished.",
    )

    rollout: str = option(
        "factory",
        help="Who generates the GRPO groups: factory (the factory's engine with the policy's weights: finished "
        "rows leave the batch, a prompt's samples share its prompt pass; bench/grpo_step.py) or trl (TRL's own "
        "generation, needed for vLLM, paged generation, top_k, min_p, repetition_penalty).",
    )

    rollout_dtype: str = option(
        "auto",
        help="Weights dtype the factory rollout samples with: auto (the policy's own on GPU; on CPU bf16 where "
        "native and measured faster, as the engine's dtype auto), float32, bfloat16. A copy refreshed every step.",
    )

    shared_prompt: bool = option(
        True,
        help="Score each GRPO group's prompt once in the loss (forward and backward) instead of once per completion; "
        "the same loss and gradient as TRL's (bench/grpo_step.py). Needs gradient_checkpointing off, which it "
        "then defaults to.",
        fingerprint=False,
    )

    def trl_kwargs(self, default_dir: str) -> dict[str, Any]:
        out = super().trl_kwargs(default_dir)
        if self.shared_prompt:
            out.setdefault("gradient_checkpointing", False)
        return out

    def validate(self) -> None:
        from filters.registry import parse_rewards
        from generators.prompts import TEMPLATES

        if self.shared_prompt and self.trl.get("gradient_checkpointing"):
            raise ConfigError(
                "shared_prompt needs gradient_checkpointing: false (a checkpointed layer cannot replay the shared "
                "prompt's cache); set shared_prompt: false to checkpoint instead"
            )

        if self.rollout_dtype not in ("auto", "float32", "bfloat16", "float16"):
            raise ConfigError(f"rollout_dtype {self.rollout_dtype!r}: choose auto, float32, bfloat16 or float16")
        if self.rollout not in ("factory", "trl"):
            raise ConfigError(f"rollout {self.rollout!r}: choose factory or trl")

        if self.prompt_template not in TEMPLATES:
            raise ConfigError(
                f"prompt_template {self.prompt_template!r} is not a template; choose one of: {', '.join(TEMPLATES)}"
            )
        weights = ",".join(str(w) for w in self.reward_weights) if self.reward_weights else None
        parse_rewards(self.rewards, weights)
        if self.select_k < 0 or self.select_k == 1:
            raise ConfigError(f"select_k {self.select_k}: use 0 (off) or at least 2 samples per prompt")
        if self.select_pass_rate and not self.select_k:
            raise ConfigError("select_pass_rate needs select_k (samples per prompt), e.g. select_k: 4")
        from generators.sampling import parse_pass_rate

        parse_pass_rate(self.select_pass_rate)


@dataclass
class SFTTrainConfig(TrainConfig):
    """``r1f train sft``: supervised fine-tuning on a factory SFT dataset (messages)."""

    stage: typing.ClassVar[str] = "sft"

    dataset: str | None = option(None, help="A factory SFT dataset (cold_start, rejection_sampled, distill).")
    dataset_split: str = option("train", help="Split of the dataset to train on.")
    chat_template: str | None = option(
        "chatml-generation", help="Chat template with {% generation %} markers (assistant-only loss), or null."
    )
    compact_head: bool = option(
        True,
        help="On CPU, project through the vocabulary only the positions the loss learns from (TRL does so on GPUs "
        "only); the same loss and gradient, a faster step (bench/sft_step.py). false: TRL's CPU path.",
        fingerprint=False,
    )


def device_defaults(trl: dict[str, Any]) -> dict[str, Any]:
    """TRL defaults to bf16, which fails on CPU without ``use_cpu``: without a GPU, train on the CPU in fp32
    unless the recipe asks for bf16 (then CPU autocast)."""
    import torch

    out = dict(trl)
    out.setdefault("save_total_limit", 1)  # one checkpoint is enough to resume; each is ~3x the model
    if not torch.cuda.is_available():
        out.setdefault("use_cpu", True)
        out["bf16"] = bool(out.get("bf16"))
        out.setdefault("fp16", False)
        notice = emulated_bf16_notice(out["bf16"])
        if notice:
            from r1f.console import console

            console.print(f"[yellow]{notice}[/yellow]")
    out.setdefault("report_to", [])
    return out


def emulated_bf16_notice(bf16: bool, flags: set[str] | None = None) -> str | None:
    """A CPU without bf16 instructions emulates bf16 autocast: the recipe still runs, but a step that
    took 11 s in fp32 took ~160 s on an AVX2 EPYC (bench/RESULTS.md), so the user should hear why."""
    from generators.engines.cpu import native_bf16

    if not bf16 or native_bf16(flags):
        return None
    return (
        "bf16=true on a CPU without bf16 instructions (no avx512_bf16/amx_bf16): autocast is emulated and "
        "a step is many times slower than fp32; drop bf16 (or --set bf16=false) to train in fp32"
    )
