"""GRPO rollouts through the factory's engine instead of TRL's ``model.generate``.

TRL's default path generates a group as one static batch: every row runs until the longest one ends,
each of the ``num_generations`` copies of a prompt pays its own prompt pass, and the KV cache is
concatenated afresh every step. The factory's engine lets finished rows leave, shares a prompt's pass
among its samples and grows its cache in place, which is most of a GRPO step on a CPU. It plugs in
through TRL's ``rollout_func`` and generates with the policy's current weights: the policy itself, or
(``rollout_dtype``) a copy in bf16 refreshed once per step where bf16 decodes faster.

What stays the same: the completion ids TRL scores and trains on (EOS included when reached, cut at
``max_completion_length``), the sampling temperature and top-p. What the engine does not do (top-k,
min-p, repetition penalty, extra ``generation_kwargs``) is refused when set, with the way back
(``rollout: trl``).
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from r1f.errors import ConfigError

#: GRPOConfig fields the factory's engine cannot honour, with the value that means "off"
UNSUPPORTED = {"top_k": (0, None), "min_p": (None, 0.0), "repetition_penalty": (1.0,), "generation_kwargs": (None, {})}


def check_rollout_args(trl: dict[str, Any]) -> None:
    """Refuse TRL settings the factory rollout would silently ignore, before TRL or a model loads."""
    for field, off in UNSUPPORTED.items():
        if field in trl and trl[field] not in off:
            raise ConfigError(
                f"{field}={trl[field]!r} is not supported by the factory rollout (temperature and top_p are); "
                "remove it or set rollout: trl"
            )
    for field in ("use_vllm", "use_transformers_paged", "use_transformers_continuous_batching"):
        if trl.get(field):
            raise ConfigError(f"{field} needs TRL's own generation: set rollout: trl (the factory rollout is its own)")


class FactoryRollout:
    """A TRL ``rollout_func``: the prompts TRL hands in (each repeated ``num_generations`` times) are
    generated in one engine call, ``n`` samples per distinct prompt, and returned in TRL's order."""

    def __init__(self, max_new_tokens: int, temperature: float, top_p: float, seed: int, dtype: str = "auto") -> None:
        self.max_new_tokens = max_new_tokens
        self.temperature = temperature
        self.top_p = top_p
        self.seed = seed
        self.dtype = dtype
        self.engine: Any = None
        self.shadow: Any = None
        self.synced_step = -1

    def _rollout_dtype(self, policy_dtype: str, device_type: str) -> str:
        if self.dtype != "auto":
            return self.dtype
        if device_type != "cpu":
            return policy_dtype
        from generators.engines.cpu import auto_cpu_dtype, cpu_threads

        return auto_cpu_dtype(cpu_threads())

    def _engine(self, trainer: Any) -> Any:
        """The engine over the policy itself, or over a copy in the rollout dtype refreshed once per step."""
        import copy

        import torch

        from generators.engines.transformers_engine import TransformersEngine

        policy = trainer.accelerator.unwrap_model(trainer.model)
        if self.engine is None:
            weights = next(policy.parameters())
            policy_dtype = str(weights.dtype).removeprefix("torch.")
            dtype = self._rollout_dtype(policy_dtype, weights.device.type)
            self.engine = TransformersEngine(model=policy.name_or_path, dtype=dtype)
            if dtype == policy_dtype:
                self.engine.adopt(policy, trainer.processing_class)
            else:
                # bf16 weights halve what each decode step streams from memory (1.65x on a GRPO group here);
                # sampling from a rounded copy of the policy is what vLLM rollouts do too
                # built afresh, not deep-copied: accelerate rebinds the policy's `forward`, and a copy would call it
                from transformers import AutoModelForCausalLM

                self.shadow = AutoModelForCausalLM.from_config(policy.config, dtype=getattr(torch, dtype)).eval()
                self.shadow.generation_config = copy.deepcopy(policy.generation_config)
                self.engine.adopt(self.shadow, trainer.processing_class)
        if self.shadow is not None and self.synced_step != trainer.state.global_step:
            with torch.no_grad():
                self.shadow.load_state_dict(policy.state_dict())  # copies, casting to the shadow's dtype
            self.synced_step = trainer.state.global_step
        return self.engine

    def __call__(self, prompts: list[Any], trainer: Any) -> dict[str, Any]:
        from generators.engines.base import SamplingParams

        engine = self._engine(trainer)
        keys = [json.dumps(p, sort_keys=True) for p in prompts]
        distinct = list(dict.fromkeys(keys))
        n = max(Counter(keys).values())
        encoded = {k: engine.encode(p) for k, p in zip(keys, prompts)}
        params = SamplingParams(
            n=n,
            temperature=self.temperature,
            top_p=self.top_p,
            max_new_tokens=self.max_new_tokens,
            # a seed per step (mixed with the prompts by the engine): a resumed run samples what it would have
            seed=self.seed * 1_000_003 + trainer.state.global_step,
        )
        model = engine.model
        was_training = model.training
        model.eval()
        try:
            import torch

            with torch.autocast(engine.device.type, enabled=False):  # a bf16-trained policy samples as it is
                outputs = engine.generate_ids([encoded[k] for k in distinct], params)
        finally:
            model.train(was_training)
        taken = {k: 0 for k in distinct}
        by_key = dict(zip(distinct, outputs))
        prompt_ids, completion_ids = [], []
        for key in keys:
            out = by_key[key][taken[key]]
            taken[key] += 1
            if out is None:
                raise ConfigError(
                    f"a GRPO prompt of {len(encoded[key])} tokens leaves no room for {self.max_new_tokens} new tokens "
                    "in the model's context; shorten the prompts or max_completion_length"
                )
            prompt_ids.append(encoded[key])
            completion_ids.append(out[0])
        return {"prompt_ids": prompt_ids, "completion_ids": completion_ids, "logprobs": None}
