"""In-process generation with transformers, tuned for a small CPU.

``model.generate`` runs a static batch until its longest member ends, so on natural-length
completions most of the batch computes padding. This engine runs its own decode loop over the
KV cache instead: a row that reaches EOS, a stop string or its budget leaves the batch at once
(``Cache.batch_select_indices``), and when the batch thins out the next waiting prompts are
prefilled and joined to it (left-padding the shorter cache), so the batch stays full. Results depend
only on the chunk the runner hands in (same chunk, same numbers), which keeps resume exact.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Sequence
from typing import Any

from generators.engines.base import PROMPT_TOO_LONG, Completion, Engine, SamplingParams
from generators.engines.cpu import auto_cpu_dtype, cpu_threads
from generators.engines.options import TransformersOptions, engine_options
from generators.models import DEFAULT_MODEL
from r1f.schema import Messages, stable_id

#: joining prompts are prefilled in groups whose longest prompt is at most this factor of the shortest
PREFILL_SPREAD = 1.15
#: and of at most this many (padded) tokens per forward pass, which bounds the prompt pass's activations
PREFILL_TOKENS = 8192


def _growing_layer_class() -> type:
    """A KV-cache layer with spare capacity: appending a token writes one token instead of copying the
    whole cache (``DynamicLayer`` concatenates every step, ~25% of a decode step here)."""
    from transformers.cache_utils import DynamicLayer

    class GrowingLayer(DynamicLayer):
        def __init__(self) -> None:
            self._k = self._v = None
            self._n = 0
            super().__init__()

        @property
        def keys(self) -> Any:
            return None if self._k is None else self._k[:, :, : self._n]

        @keys.setter
        def keys(self, value: Any) -> None:
            self._k = value
            self._n = 0 if value is None or value.dim() < 3 else value.shape[-2]

        @property
        def values(self) -> Any:
            return None if self._v is None else self._v[:, :, : self._n]

        @values.setter
        def values(self, value: Any) -> None:
            self._v = value

        def update(self, key_states: Any, value_states: Any, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
            if not self.is_initialized:
                self.dtype, self.device = key_states.dtype, key_states.device
                self.is_initialized = True
            n = key_states.shape[-2]
            if self._k is None or self._k.dim() < 3 or self._n + n > self._k.shape[-2]:
                # grow by a quarter (at least 64 tokens): copies stay rare and spare memory small
                capacity = self._n + n + max(64, self._n // 4)
                shape = (*key_states.shape[:2], capacity, key_states.shape[-1])
                keys, values = key_states.new_empty(shape), value_states.new_empty(shape)
                if self._n:
                    keys[:, :, : self._n] = self._k[:, :, : self._n]
                    values[:, :, : self._n] = self._v[:, :, : self._n]
                self._k, self._v = keys, values
            self._k[:, :, self._n : self._n + n] = key_states
            self._v[:, :, self._n : self._n + n] = value_states
            self._n += n
            return self.keys, self.values

        def batch_select_indices(self, indices: Any) -> None:
            if self._n:
                self._k, self._v = self._k[indices], self._v[indices]

    return GrowingLayer


#: what a decoder writes for the bytes of a character the token limit cut in half
PARTIAL = "\ufffd"


class TransformersEngine(Engine):
    """transformers causal LM, batched, with rows leaving and joining the batch as they finish.

    Args:
        model: an alias, local directory or Hub id (see ``generators.models.resolve_model``).
        progress: called with the number of active sequences after each decode step.
        **options: :class:`~generators.engines.options.TransformersOptions` (batch size, active
            sequences, KV budget, dtype, device, threads); unknown ones are refused.
    """

    name = "transformers"

    def __init__(self, model: str = DEFAULT_MODEL, progress: Any = None, **options: Any) -> None:
        from generators.models import resolve_model

        self.options = opts = engine_options(self.name, options)
        assert isinstance(opts, TransformersOptions)
        self.resolved = resolve_model(model)
        self.batch_size = opts.batch_size
        self.max_active = opts.max_active
        self.max_batch_tokens = opts.max_batch_tokens
        self.progress = progress
        self.device_name = opts.device
        self.threads = opts.threads
        dtype = opts.dtype
        if dtype == "auto":
            # GPU: bf16. CPU: bf16 only where this CPU has native bf16 dot products and they measured faster
            # (generators/engines/cpu.py; remembered per CPU, so a cached rerun does not import torch).
            gpu = opts.device.startswith("cuda") or (opts.device == "auto" and os.path.exists("/dev/nvidiactl"))
            dtype = "bfloat16" if gpu else auto_cpu_dtype(self.threads or cpu_threads())
        self.dtype_name = dtype
        self._tokenizer: Any = None
        self._model: Any = None
        self._growing: type | None = None

    @property
    def tokenizer(self) -> Any:
        if self._tokenizer is None:
            from transformers import AutoTokenizer

            self._tokenizer = AutoTokenizer.from_pretrained(self.resolved.path)
            if self._tokenizer.pad_token_id is None:
                self._tokenizer.pad_token = self._tokenizer.eos_token
        return self._tokenizer

    @property
    def model(self) -> Any:
        if self._model is None:
            import torch
            from transformers import AutoModelForCausalLM
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()  # our own progress bar reports generation
            device = self.device_name
            if device == "auto":
                device = "cuda" if torch.cuda.is_available() else "cpu"
            self.device = torch.device(device)
            if self.device.type == "cpu":
                torch.set_num_threads(self.threads or cpu_threads())
            model = AutoModelForCausalLM.from_pretrained(self.resolved.path, dtype=getattr(torch, self.dtype_name))
            self.adopt(model.to(self.device).eval())
        return self._model

    def adopt(self, model: Any, tokenizer: Any = None) -> None:
        """Generate with a model already in memory (GRPO's policy between its updates) instead of loading one."""
        import torch

        self._model = model
        self.device = next(model.parameters()).device
        if self.device.type == "cpu" and self.threads:
            torch.set_num_threads(self.threads)
        if tokenizer is not None:
            self._tokenizer = tokenizer
            if tokenizer.pad_token_id is None:
                tokenizer.pad_token = tokenizer.eos_token
        # transformers >= 5.24 names the KV cache argument `cache` (and warns on the old name)
        self._cache_kw = "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"
        eos = model.generation_config.eos_token_id
        eos_ids = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
        eos_ids.add(self.tokenizer.eos_token_id)
        self.eos_ids = {e for e in eos_ids if e is not None}
        self.context_length = int(getattr(model.config, "max_position_embeddings", None) or 1 << 30)

    def identity(self) -> dict[str, Any]:
        # batching changes the arithmetic (padding, matmul shapes), hence greedy and sampled tokens: part of the id
        return {
            "engine": self.name,
            "model": self.resolved.name,
            "dtype": self.dtype_name,
            "batching": [self.batch_size, self.max_active, self.max_batch_tokens],
        }

    def encode(self, prompt: Messages) -> list[int]:
        """Token ids of a chat prompt; a trailing assistant message is continued, not closed."""
        prefix = bool(prompt) and prompt[-1]["role"] == "assistant"
        text = self.tokenizer.apply_chat_template(
            prompt, tokenize=False, add_generation_prompt=not prefix, continue_final_message=prefix
        )
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def sort_key(self, prompt: Messages) -> int:
        return len(self.encode(prompt))

    def generate(self, prompts: Sequence[Messages], params: SamplingParams) -> list[list[Completion]]:
        encoded = [self.encode(p) for p in prompts]
        outputs = self.generate_ids(encoded, params)
        return [
            [
                self._completion(ids, *out, params)
                if out is not None
                # a prompt that leaves no room for the answer in the model's context is skipped, with the reason
                else Completion(text="", finish_reason=PROMPT_TOO_LONG, prompt_tokens=len(ids), completion_tokens=0)
                for out in samples
            ]
            for ids, samples in zip(encoded, outputs)
        ]

    def generate_ids(
        self, encoded: Sequence[list[int]], params: SamplingParams
    ) -> list[list[tuple[list[int], str] | None]]:
        """``params.n`` completions per tokenised prompt as (token ids, finish reason), EOS included when reached;
        ``None`` for a prompt the context cannot hold. GRPO rollouts call this with the policy's own ids."""
        import torch

        self.model  # noqa: B018 - loads on first use and sets self.device, self.eos_ids and self.context_length
        room = self.context_length - params.max_new_tokens
        result: list[list[tuple[list[int], str] | None]] = [[None] * params.n for _ in encoded]
        # One sequence per (prompt, sample); longest prompts first so joins pad the new rows, not the batch.
        seqs = [(i, j) for i in range(len(encoded)) for j in range(params.n) if len(encoded[i]) <= room]
        seqs.sort(key=lambda s: -len(encoded[s[0]]))
        generator = None
        if not params.greedy:
            generator = torch.Generator(device=self.device)
            generator.manual_seed(int(stable_id(params.seed, [list(e) for e in encoded], length=12), 16))
        with torch.inference_mode():
            outputs = self._decode([list(encoded[i]) for i, _ in seqs], params, generator, [i for i, _ in seqs])
        for (i, j), out in zip(seqs, outputs):
            result[i][j] = out
        return result

    def _completion(self, prompt_ids: list[int], ids: list[int], reason: str, params: SamplingParams) -> Completion:
        body = ids[:-1] if ids and ids[-1] in self.eos_ids else ids
        text = self.tokenizer.decode(body, skip_special_tokens=True)
        if reason == "length":
            # cut in the middle of a multi-byte character (byte-level BPE): drop the partial one, as vLLM does
            text = text.rstrip(PARTIAL)
        for stop in params.stop:
            cut = text.find(stop)
            if cut != -1:
                text, reason = text[:cut], "stop"
        return Completion(text=text, finish_reason=reason, prompt_tokens=len(prompt_ids), completion_tokens=len(ids))

    # -- the decode loop -------------------------------------------------------------------------

    def _prefill(self, batch: list[list[int]]) -> tuple[Any, Any, Any, Any]:
        """Run the prompt pass for ``batch`` (left-padded); returns (cache, mask, next positions, logits)."""
        import torch
        from transformers import DynamicCache

        width = max(len(p) for p in batch)
        pad = self.tokenizer.pad_token_id
        ids = torch.tensor([[pad] * (width - len(p)) + p for p in batch], device=self.device)
        mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in batch], device=self.device)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        cache = DynamicCache(config=self.model.config)
        if all(type(layer).__name__ == "DynamicLayer" for layer in cache.layers):
            growing = self._growing or _growing_layer_class()
            self._growing = growing
            cache.layers = [growing() for _ in cache.layers]
        out = self.model(
            input_ids=ids,
            attention_mask=mask,
            position_ids=positions,
            use_cache=True,
            logits_to_keep=1,
            **{self._cache_kw: cache},
        )
        return cache, mask, positions[:, -1] + 1, out.logits[:, -1, :].float()

    @staticmethod
    def _length_groups(seqs: list[int], prompts: list[list[int]]) -> list[list[int]]:
        """Split joining sequences (longest first) into groups of similar prompt length, so the prompt
        pass computes little padding, and of bounded size, so it needs bounded memory; the groups' caches are
        then padded and joined, which is cheap."""
        groups: list[list[int]] = []
        for seq in seqs:
            width = len(prompts[groups[-1][0]]) if groups else 0  # the group's first prompt is its longest
            if (
                groups
                and width <= PREFILL_SPREAD * len(prompts[seq])
                and width * (len(groups[-1]) + 1) <= PREFILL_TOKENS
            ):
                groups[-1].append(seq)
            else:
                groups.append([seq])
        return groups

    @staticmethod
    def _merge(a: tuple[Any, Any, Any, Any], b: tuple[Any, Any, Any, Any]) -> tuple[Any, Any, Any, Any]:
        """Join two running batches: left-pad the shorter cache and mask, then concatenate rows."""
        import torch
        import torch.nn.functional as F

        cache_a, mask_a, pos_a, logits_a = a
        cache_b, mask_b, pos_b, logits_b = b
        la, lb = mask_a.shape[1], mask_b.shape[1]
        width = max(la, lb)
        for layer_a, layer_b in zip(cache_a.layers, cache_b.layers):
            for attr in ("keys", "values"):
                ta = F.pad(getattr(layer_a, attr), (0, 0, width - la, 0))
                tb = F.pad(getattr(layer_b, attr), (0, 0, width - lb, 0))
                setattr(layer_a, attr, torch.cat([ta, tb], dim=0))
        mask = torch.cat([F.pad(mask_a, (width - la, 0)), F.pad(mask_b, (width - lb, 0))], dim=0)
        return cache_a, mask, torch.cat([pos_a, pos_b]), torch.cat([logits_a, logits_b])

    def _pick(self, logits: Any, params: SamplingParams, generator: Any) -> Any:
        import torch

        if params.greedy:
            return logits.argmax(dim=-1)
        probs = torch.softmax(logits / params.temperature, dim=-1)
        if params.top_p < 1.0:
            sorted_probs, order = probs.sort(dim=-1, descending=True)
            cumulative = sorted_probs.cumsum(dim=-1)
            sorted_probs[(cumulative - sorted_probs) > params.top_p] = 0.0
            probs = torch.zeros_like(probs).scatter(-1, order, sorted_probs)
        return torch.multinomial(probs, 1, generator=generator).squeeze(-1)

    def _stopped_by_string(self, ids: list[int], stops: tuple[str, ...]) -> bool:
        if not stops:
            return False
        tail = self.tokenizer.decode(ids[-(max(len(s) for s in stops) + 8) :], skip_special_tokens=True)
        return any(s in tail for s in stops)

    def _shared_prefill(self, group: list[int], prompts: list[list[int]], keys: list[int]) -> tuple[Any, Any, Any, Any]:
        """The prompt pass for ``group``, once per distinct prompt: the n samples of a prompt share its pass and
        start from copies of its cache rows (rejection sampling's k samples cost one prompt pass, not k)."""
        import torch

        unique = list(dict.fromkeys(keys[s] for s in group))
        first = {keys[s]: s for s in reversed(group)}
        state = self._prefill([prompts[first[k]] for k in unique])
        if len(unique) == len(group):
            return state
        index = torch.tensor([unique.index(keys[s]) for s in group], device=self.device)
        cache, mask, positions, logits = state
        cache.batch_select_indices(index)
        return cache, mask[index], positions[index], logits[index]

    def _decode(
        self, prompts: list[list[int]], params: SamplingParams, generator: Any, keys: list[int]
    ) -> list[tuple[list[int], str]]:
        import torch

        waiting = list(range(len(prompts)))
        results: list[tuple[list[int], str] | None] = [None] * len(prompts)
        rows: list[int] = []  # which sequence each batch row holds
        produced: dict[int, list[int]] = {}
        state = None

        def cost(seq: int) -> int:  # KV-cache tokens a sequence may come to hold
            return len(prompts[seq]) + params.max_new_tokens

        budget = self.max_batch_tokens
        while waiting or rows:
            free = self.max_active - len(rows)
            used = sum(cost(s) for s in rows)
            # Join waiting prompts when a quarter of the slots (and of the KV budget) is free, or the batch is empty.
            if waiting and (not rows or (free >= max(1, self.max_active // 4) and budget - used >= budget // 4)):
                joining = []
                while waiting and len(joining) < free:
                    if (rows or joining) and used + cost(waiting[0]) > budget:
                        break
                    used += cost(waiting[0])
                    joining.append(waiting.pop(0))
                for group in self._length_groups(joining, prompts):
                    fresh = self._shared_prefill(group, prompts, keys)
                    state = fresh if state is None else self._merge(state, fresh)
                    rows += group
                for s in joining:
                    produced[s] = []
            cache, mask, positions, logits = state
            tokens = self._pick(logits, params, generator)
            keep = []
            for r, (seq, tok) in enumerate(zip(rows, tokens.tolist())):
                out = produced[seq]
                out.append(tok)
                if tok in self.eos_ids or self._stopped_by_string(out, params.stop):
                    results[seq] = (out, "stop")
                elif len(out) >= params.max_new_tokens:
                    results[seq] = (out, "length")
                else:
                    keep.append(r)
            if self.progress is not None:
                self.progress(len(rows))
            if len(keep) < len(rows):
                rows = [rows[r] for r in keep]
                if not rows:
                    state = None
                    continue
                index = torch.tensor(keep, device=self.device)
                cache.batch_select_indices(index)
                mask, positions, tokens = mask[index], positions[index], tokens[index]
            mask = torch.cat([mask, mask.new_ones((mask.shape[0], 1))], dim=1)
            out = self.model(
                input_ids=tokens[:, None],
                attention_mask=mask,
                position_ids=positions[:, None],
                use_cache=True,
                **{self._cache_kw: cache},
            )
            state = (cache, mask, positions + 1, out.logits[:, -1, :].float())
        return results  # type: ignore[return-value]
