"""GRPO's loss with one prompt pass per group instead of one per completion.

TRL scores a GRPO batch by running every row, prompt and completion, through the policy: the G
completions of one prompt run that prompt G times, forward and backward. With R1-Zero's few-shot
prompt (~320 tokens) and 96-token completions, ~78 % of the tokens a step trains on are copies of
the same prompt. Here each distinct prompt runs once (with gradient), its KV cache is repeated for its
G completions, and the completions run on top of it; gradients from every completion flow back into
the one prompt pass, so the loss and its gradient are TRL's (tests/test_training.py compares the
log-probabilities and a gradient with TRL's own fused head).

A cache with gradient cannot be rebuilt by gradient checkpointing's replay, so this path needs
``gradient_checkpointing: false`` while training (``training/config.py`` turns it off with
``shared_prompt``); without gradient (old and reference log-probs) it always applies. Anything else
TRL's own path handles (images, MoE aux loss, scaled or soft-capped logits, a wrapped model) goes
to TRL's path unchanged.
"""

from __future__ import annotations

from typing import Any

#: config fields that change the logits TRL's fused head computes; a model with any of them set goes to TRL's path
LOGIT_TRANSFORMS = (
    "final_logit_softcapping",
    "logit_scale",
    "output_multiplier",
    "lm_head_multiplier",
    "logits_scaling",
)


def shareable(model: Any) -> bool:
    """Whether this path computes exactly what TRL's fused head would for ``model``."""
    import torch

    config = model.config.get_text_config()
    if any(getattr(config, name, None) is not None for name in LOGIT_TRANSFORMS):
        return False
    return not (torch.is_grad_enabled() and getattr(model, "is_gradient_checkpointing", False))


def prompt_groups(prompt_ids: Any, prompt_mask: Any) -> list[list[int]]:
    """Rows sharing one prompt (same ids and same padding), in first-seen order."""
    groups: dict[tuple, list[int]] = {}
    for row, (ids, mask) in enumerate(zip(prompt_ids.tolist(), prompt_mask.tolist())):
        groups.setdefault((tuple(ids), tuple(mask)), []).append(row)
    return list(groups.values())


def shared_prompt_logps(
    model: Any,
    input_ids: Any,
    attention_mask: Any,
    logits_to_keep: int,
    temperature: float,
    compute_entropy: bool = False,
    autocast: Any = None,
) -> tuple[Any, Any]:
    """Per-token log-probabilities (and entropies) of the last ``logits_to_keep`` tokens of each row, as TRL's
    fused head returns them (0 where the completion is padding), with one prompt pass per distinct prompt."""
    from contextlib import nullcontext

    import torch
    from transformers import DynamicCache

    from generators.engines.transformers_engine import cache_kwarg

    split = input_ids.shape[1] - logits_to_keep
    prompt, prompt_mask = input_ids[:, :split], attention_mask[:, :split]
    completion, completion_mask = input_ids[:, split:], attention_mask[:, split:]
    backbone = getattr(model, model.base_model_prefix)
    head = model.get_output_embeddings()
    cache_kw = cache_kwarg(backbone)
    logps: list[Any] = [None] * input_ids.shape[0]
    entropies: list[Any] = [None] * input_ids.shape[0]
    for rows in prompt_groups(prompt, prompt_mask):
        first, index = rows[0], torch.tensor(rows, device=input_ids.device)
        cache = DynamicCache(config=model.config)
        with autocast or nullcontext():
            # positions as TRL's single pass has them: 0.. over prompt and padding, then on into the completion
            last = backbone(
                input_ids=prompt[first : first + 1],
                attention_mask=prompt_mask[first : first + 1],
                **{cache_kw: cache},
                use_cache=True,
            ).last_hidden_state[:, -1:]
            if len(rows) > 1:
                cache.batch_repeat_interleave(len(rows))
            hidden = backbone(
                input_ids=completion[index],
                attention_mask=torch.cat([prompt_mask[index], completion_mask[index]], dim=1),
                **{cache_kw: cache},
                use_cache=True,
            ).last_hidden_state
            # the prompt's last position predicts the first completion token, each completion position the next
            hidden = torch.cat([last.expand(len(rows), -1, -1), hidden[:, :-1]], dim=1)
            logits = head(hidden).float() / temperature
        log_softmax = torch.log_softmax(logits, dim=-1)
        valid = completion_mask[index] != 0
        token = log_softmax.gather(-1, completion[index].unsqueeze(-1)).squeeze(-1).masked_fill(~valid, 0.0)
        entropy = None
        if compute_entropy:
            entropy = -(log_softmax.exp() * log_softmax).sum(-1).masked_fill(~valid, 0.0)
        for j, row in enumerate(rows):
            logps[row] = token[j]
            if entropy is not None:
                entropies[row] = entropy[j]
    return torch.stack(logps), (torch.stack(entropies) if compute_entropy else None)


def shared_prompt_trainer() -> type:
    """TRL's GRPOTrainer with its log-probabilities computed by :func:`shared_prompt_logps` where they can be."""
    from trl import GRPOTrainer

    class SharedPromptGRPOTrainer(GRPOTrainer):
        #: batches scored with the shared prompt pass (the run card reports it, so a silent fallback shows)
        shared_batches = 0

        def _get_per_token_logps_and_entropies(
            self,
            model: Any,
            input_ids: Any,
            attention_mask: Any,
            logits_to_keep: int,
            batch_size: int | None = None,
            compute_entropy: bool = False,
            compute_aux_loss: bool = False,
            **extra: Any,
        ) -> tuple[Any, Any, Any]:
            if (
                compute_aux_loss
                or any(value is not None for value in extra.values())
                or self.accelerator.unwrap_model(model) is not model
                or not shareable(model)
            ):
                return super()._get_per_token_logps_and_entropies(
                    model,
                    input_ids,
                    attention_mask,
                    logits_to_keep,
                    batch_size,
                    compute_entropy,
                    compute_aux_loss,
                    **extra,
                )
            logps, entropies = shared_prompt_logps(
                model,
                input_ids,
                attention_mask,
                logits_to_keep,
                self.temperature,
                compute_entropy,
                self.accelerator.autocast(),
            )
            self.shared_batches += 1
            return logps, entropies, None

    return SharedPromptGRPOTrainer
