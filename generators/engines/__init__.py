"""Generation engines, looked up by name; each backend module is imported only when chosen."""

from __future__ import annotations

import importlib
from typing import Any

from generators.engines.base import Completion, Engine, SamplingParams
from generators.engines.options import engine_options
from r1f.errors import ConfigError

ENGINES: dict[str, str] = {
    "transformers": "generators.engines.transformers_engine:TransformersEngine",
    "openai": "generators.engines.openai_engine:OpenAIEngine",
    "vllm": "generators.engines.vllm_engine:VLLMEngine",
}

__all__ = ["ENGINES", "Completion", "Engine", "SamplingParams", "check_engine", "make_engine"]


def check_engine(name: str, options: dict[str, Any] | None = None) -> None:
    """Refuse an unknown engine or an option it does not have, without building it (nothing loads)."""
    if name not in ENGINES and ":" not in name:
        raise ConfigError(f"unknown engine {name!r}; choose one of: {', '.join(ENGINES)} (or module:Class)")
    if name in ENGINES:
        engine_options(name, options)


def make_engine(name: str, model: str, options: dict[str, Any] | None = None) -> Engine:
    """Build the engine ``name`` (or a dotted ``module:Class``) for ``model`` with its typed options."""
    check_engine(name, options)
    target = ENGINES.get(name, name)
    module_name, _, cls_name = target.partition(":")
    cls = getattr(importlib.import_module(module_name), cls_name)
    return cls(model, **(options or {}))
