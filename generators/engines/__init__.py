"""Generation engines, looked up by name; each backend module is imported only when chosen."""

from __future__ import annotations

import importlib
from typing import Any

from generators.engines.base import Completion, Engine, SamplingParams
from r1f.errors import ConfigError

ENGINES: dict[str, str] = {
    "transformers": "generators.engines.transformers_engine:TransformersEngine",
    "openai": "generators.engines.openai_engine:OpenAIEngine",
    "vllm": "generators.engines.vllm_engine:VLLMEngine",
}

__all__ = ["ENGINES", "Completion", "Engine", "SamplingParams", "make_engine"]


def make_engine(name: str, **options: Any) -> Engine:
    """Build the engine ``name`` (or a dotted ``module:Class``) with its options."""
    target = ENGINES.get(name, name if ":" in name else None)
    if target is None:
        raise ConfigError(f"unknown engine {name!r}; choose one of: {', '.join(ENGINES)} (or module:Class)")
    module_name, _, cls_name = target.partition(":")
    cls = getattr(importlib.import_module(module_name), cls_name)
    return cls(**options)
