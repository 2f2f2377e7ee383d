"""In-process generation with transformers, tuned for a small CPU.

``model.generate`` runs a static batch until its longest member ends, so on natural-length
completions most of the batch computes padding. This engine runs its own decode loop instead, over a
KV cache of fixed slots allocated once per chunk: a row that reaches EOS, a stop string or its budget
gives its slot back at once (the last row moves into it, so the batch stays dense), and the next waiting
prompts are prefilled and copied into free slots, so the batch stays full. Each row keeps its tokens
from slot position 0 and attends only to its own length, so attention never reads the padding that
rows joining at different times would otherwise pile up, and no step copies or regrows the cache.
Results depend only on the chunk the runner hands in (same chunk, same numbers), which keeps resume
exact.
"""

from __future__ import annotations

import contextlib
import inspect
import os
from collections.abc import Sequence
from typing import Any

from generators.engines import decode_attention, decode_linear
from generators.engines.base import PROMPT_TOO_LONG, Completion, Engine, SamplingParams
from generators.engines.cpu import auto_cpu_dtype, cpu_threads
from generators.engines.options import TransformersOptions, engine_options
from generators.engines.prefix import prefix_families
from generators.models import DEFAULT_MODEL
from r1f.errors import ConfigError
from r1f.schema import Messages, stable_id

#: joining prompts are prefilled in groups whose longest prompt (after any shared prefix) is at most this factor
#: of the shortest plus ``PREFILL_SLACK`` tokens
PREFILL_SPREAD = 1.15
PREFILL_SLACK = 16
#: and of at most this many (padded) tokens per forward pass, which bounds the prompt pass's activations
PREFILL_TOKENS = 8192
#: bumped when the decode arithmetic changes (row ids must not mix rows of two versions in one resumed run)
DECODE_VERSION = 4


def cache_kwarg(module: Any) -> str:
    """The keyword a model's forward takes its KV cache by: transformers >= 5.24 names it ``cache`` (and warns on
    the old name); earlier 5.x takes ``past_key_values`` and would silently ignore ``cache``."""
    return "cache" if "cache" in inspect.signature(module.forward).parameters else "past_key_values"


class _Batch:
    """What every slot layer needs for one decode step: how many rows run and each row's cached length."""

    def __init__(self, index: Any) -> None:
        self.index = index  # arange(slots): row i of the batch is slot i
        self.lengths: Any = None  # tokens already cached per live row (where this step's token is written)
        self.width = 0  # attention width: the longest row plus this step's token


def _slot_layer_class() -> type:
    """A KV-cache layer over preallocated slots ``[slots, kv heads, capacity, head dim]``.

    Each decode step writes one token per row at that row's own length and returns the rows' keys and
    values up to the longest row; the 4-D mask the engine passes hides each row's tail. transformers'
    ``DynamicLayer`` instead concatenates (copies the whole cache every step) and shares one length for
    the batch, so rows joining late would carry the batch's history as padding."""
    from transformers.cache_utils import DynamicLayer

    class SlotLayer(DynamicLayer):
        def __init__(self, batch: _Batch, keys: Any, values: Any) -> None:
            super().__init__()
            self.batch, self._k, self._v = batch, keys, values
            self.dtype, self.device = keys.dtype, keys.device
            self.is_initialized = True

        @property
        def keys(self) -> Any:
            return self._k

        @keys.setter
        def keys(self, value: Any) -> None:  # DynamicLayer.__init__ assigns None; the slots stay
            pass

        @property
        def values(self) -> Any:
            return self._v

        @values.setter
        def values(self, value: Any) -> None:
            pass

        def get_seq_length(self) -> int:
            return max(self.batch.width - 1, 0)

        def update(self, key_states: Any, value_states: Any, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
            b = self.batch
            n = b.lengths.shape[0]
            self._k[b.index[:n], :, b.lengths] = key_states[:, :, 0]
            self._v[b.index[:n], :, b.lengths] = value_states[:, :, 0]
            return self._k[:n, :, : b.width], self._v[:n, :, : b.width]

    return SlotLayer


#: what a decoder writes for the bytes of a character the token limit cut in half
PARTIAL = "\ufffd"
#: top-p sampling looks for the nucleus among this many likeliest tokens before sorting a whole row
NUCLEUS_CANDIDATES = 256


def _nucleus(sorted_probs: Any, top_p: float) -> Any:
    """Probabilities sorted high to low with every token past the nucleus zeroed: a token stays while the
    mass before it is at most ``top_p`` (so the nucleus always holds the likeliest token)."""
    return sorted_probs.masked_fill((sorted_probs.cumsum(-1) - sorted_probs) > top_p, 0.0)


def _draw(probs: Any, tokens: Any, generator: Any) -> Any:
    """One token per row with probability proportional to ``probs`` (``tokens[i]`` names column i; None:
    the column is the token). Inverse CDF: a uniform per row scaled to the row's total, found in the
    running sum by binary search. The running sum is fp32; each token's share of it is off by at most
    half an ulp of the total (~6e-8), as little as the softmax's own rounding."""
    import torch

    cdf = probs.cumsum(-1)
    total = cdf[:, -1:].contiguous()
    u = torch.rand(total.shape, generator=generator, device=probs.device, dtype=cdf.dtype) * total
    pick = torch.searchsorted(cdf, u, right=True)
    # u rounded up to the total would fall past the end: take the last token with mass instead
    pick = torch.minimum(pick, torch.searchsorted(cdf, total))
    return (pick if tokens is None else tokens.gather(-1, pick)).squeeze(-1)


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
        self._slot_layer: type | None = None
        self._kernel: bool | None = None  # decode steps through generators/engines/decode_attention.c
        self._linear: bool | None = None  # thin matmuls through generators/engines/decode_linear.c

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
            self.device = torch.device(self._device_name())
            if self.device.type == "cpu":
                torch.set_num_threads(self.threads or cpu_threads())
            model = AutoModelForCausalLM.from_pretrained(self.resolved.path, dtype=getattr(torch, self.dtype_name))
            self.adopt(model.to(self.device).eval())
        return self._model

    def _device_name(self) -> str:
        """The device the model loads on: ``device: auto`` is cuda where torch sees one, else cpu."""
        import torch

        if self.device_name != "auto":
            return self.device_name
        return "cuda" if torch.cuda.is_available() else "cpu"

    def adopt(self, model: Any, tokenizer: Any = None) -> None:
        """Generate with a model already in memory (GRPO's policy between its updates) instead of loading one."""
        import torch

        self._model = model
        self.device = next(model.parameters()).device
        self._kernel = self._linear = None  # decided again for this model
        if self.device.type == "cpu" and self.threads:
            torch.set_num_threads(self.threads)
        if tokenizer is not None:
            self._tokenizer = tokenizer
            if tokenizer.pad_token_id is None:
                tokenizer.pad_token = tokenizer.eos_token
        self._cache_kw = cache_kwarg(model)
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
            "decode": DECODE_VERSION,
            "attention": "kernel" if self.decode_kernel() else "sdpa",
            "linear": "kernel" if self.linear_kernel() else "torch",
        }

    def decode_kernel(self) -> bool:
        """Whether decode steps run the C attention kernel: ``decode_attention: auto`` on a CPU model whose
        shapes it takes, where it compiles. Known before the weights load (identity needs it); the model's
        config and the dtype decide."""
        if self._kernel is None:
            import torch
            from transformers import AutoConfig

            if self._model is not None:
                config, dtype, device = self._model.config, next(self._model.parameters()).dtype, self.device
            else:
                config, dtype = AutoConfig.from_pretrained(self.resolved.path), getattr(torch, self.dtype_name)
                device = self._device_name()
            self._kernel = self.options.decode_attention == "auto" and decode_attention.supports(config, dtype, device)
        return self._kernel

    def linear_kernel(self) -> bool:
        """Whether the engine's passes send thin fp32 matmuls to the C kernel: ``decode_linear: kernel``, or
        ``auto`` where it measured faster than torch's on this CPU; never on another device or dtype."""
        if self._linear is None:
            import torch

            if self._model is not None:
                dtype, device = next(self._model.parameters()).dtype, self.device.type
            else:
                dtype, device = getattr(torch, self.dtype_name), torch.device(self._device_name()).type
            choice = self.options.decode_linear
            usable = choice != "torch" and dtype == torch.float32 and device == "cpu"
            if usable and choice == "kernel":
                usable = decode_linear.library() is not None
            elif usable:
                usable = decode_linear.pays(self.threads or cpu_threads())
            self._linear = usable
        return self._linear

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
        if not seqs:  # no prompt of this chunk fits the context: every one is a prompt_too_long row
            return result
        generator = None
        if not params.greedy:
            generator = torch.Generator(device=self.device)
            generator.manual_seed(int(stable_id(params.seed, [list(e) for e in encoded], length=12), 16))
        linear = decode_linear.dispatching(self.model) if self.linear_kernel() else contextlib.nullcontext()
        with torch.inference_mode(), linear:
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

    def _prefill(self, batch: list[list[int]], prefix: int, known: dict[tuple[int, ...], Any]) -> tuple[Any, Any, Any]:
        """The prompt pass for ``batch``; returns (per-layer keys and values, last logits, where each row's
        tokens sit: row g's position j is at ``take[g, j]``).

        Without ``prefix`` the rows are left-padded. With it, the ``prefix`` tokens they share are computed
        once as a batch of one (kept in ``known`` for the next group) and the rows' own tokens follow
        left-padded, so the padding sits between the prefix and each row's remainder."""
        import torch
        from transformers import DynamicCache

        pad = self.tokenizer.pad_token_id
        tails = [p[prefix:] for p in batch]
        width = max(len(t) for t in tails)
        ids = torch.tensor([[pad] * (width - len(t)) + t for t in tails], device=self.device)
        mask = torch.tensor([[0] * (width - len(t)) + [1] * len(t) for t in tails], device=self.device)
        positions = (mask.cumsum(-1) - 1).clamp(min=0) + prefix
        cache = DynamicCache(config=self.model.config)
        if prefix:
            head = self._prefix_pass(batch[0][:prefix], known)
            for layer, (k, v) in zip(cache.layers, head):
                layer.lazy_initialization(k, v)
                layer.keys, layer.values = k.expand(len(batch), -1, -1, -1), v.expand(len(batch), -1, -1, -1)
            mask = torch.cat([torch.ones((len(batch), prefix), dtype=mask.dtype, device=self.device), mask], dim=1)
        out = self.model(
            input_ids=ids,
            attention_mask=mask,
            position_ids=positions,
            use_cache=True,
            logits_to_keep=1,
            **{self._cache_kw: cache},
        )
        at = torch.arange(prefix + width, device=self.device)
        gaps = torch.tensor([width - len(t) for t in tails], device=self.device)
        take = (at[None, :] + gaps[:, None] * (at[None, :] >= prefix)).clamp(max=prefix + width - 1)
        return [(layer.keys, layer.values) for layer in cache.layers], out.logits[:, -1, :].float(), take

    def _prefix_pass(self, tokens: list[int], known: dict[tuple[int, ...], Any]) -> Any:
        """Per-layer keys and values of ``tokens`` alone (batch of one), computed once per decode call."""
        import torch
        from transformers import DynamicCache

        key = tuple(tokens)
        if key not in known:
            cache = DynamicCache(config=self.model.config)
            self.model(
                input_ids=torch.tensor([tokens], device=self.device),
                use_cache=True,
                logits_to_keep=1,
                **{self._cache_kw: cache},
            )
            known[key] = [(layer.keys, layer.values) for layer in cache.layers]
        return known[key]

    @staticmethod
    def _prefill_groups(seqs: list[int], prompts: list[list[int]], keys: list[int]) -> list[tuple[int, list[int]]]:
        """Joining sequences as (shared prefix, group): families of prompts with a common prefix
        (``generators/engines/prefix.py``), each split into groups of similar remaining length, so the
        prompt pass computes little padding, and of bounded size, so it needs bounded memory."""
        first = {keys[s]: s for s in reversed(seqs)}
        groups: list[tuple[int, list[int]]] = []
        for prefix, family in prefix_families({k: prompts[s] for k, s in first.items()}):
            chosen = set(family)
            members = sorted((s for s in seqs if keys[s] in chosen), key=lambda s: -len(prompts[s]))
            start = len(groups)
            for seq in members:
                size = len(prompts[seq]) - prefix
                width = len(prompts[groups[-1][1][0]]) - prefix if len(groups) > start else 0
                if (
                    len(groups) > start
                    and width <= PREFILL_SPREAD * size + PREFILL_SLACK
                    and width * (len(groups[-1][1]) + 1) <= PREFILL_TOKENS
                ):
                    groups[-1][1].append(seq)
                else:
                    groups.append((prefix, [seq]))
        return groups

    def _slots(self, sequences: int, capacity: int) -> int:
        """How many sequences decode at once: ``max_active``, within the KV budget for this chunk's longest."""
        return max(1, min(self.max_active, sequences, self.max_batch_tokens // capacity))

    def _new_cache(self, layers: list[tuple[Any, Any]], slots: int, capacity: int, batch: _Batch) -> Any:
        """A cache of ``slots`` x ``capacity`` per layer, shaped like the prompt pass's ``layers``.

        Zero-filled: positions past a row's length are masked, but a masked NaN from uninitialised memory
        would still poison the attention product."""
        import torch
        from transformers import DynamicCache

        cache = DynamicCache(config=self.model.config)
        if len(cache.layers) != len(layers) or any(type(layer).__name__ != "DynamicLayer" for layer in cache.layers):
            raise ConfigError(
                f"model {self.resolved.name}: the transformers engine decodes full-attention decoders only "
                "(this one has sliding-window or other cache layers); use --engine vllm or openai for it"
            )
        slot_layer = self._slot_layer or _slot_layer_class()
        self._slot_layer = slot_layer
        cache.layers = [
            slot_layer(
                batch,
                *(torch.zeros((slots, t.shape[1], capacity, t.shape[3]), dtype=t.dtype, device=t.device) for t in kv),
            )
            for kv in layers
        ]
        return cache

    def _pick(self, logits: Any, params: SamplingParams, generator: Any) -> Any:
        """The next token per row: argmax when greedy, else a draw at the temperature within the top-p nucleus.

        At 128 rows x 49k tokens, ``torch.multinomial`` took ~200 ms per step and a full sort for top-p
        ~500 ms more, several times the model's forward; so the nucleus is looked for among the
        ``NUCLEUS_CANDIDATES`` likeliest tokens first (rows whose nucleus is wider are sorted whole) and
        the draw is one uniform per row against the running sum of the probabilities."""
        import torch

        if params.greedy:
            return logits.argmax(dim=-1)
        probs = torch.softmax(logits.div_(params.temperature), dim=-1)
        if params.top_p >= 1.0:
            return _draw(probs, None, generator)
        top, tokens = probs.topk(min(NUCLEUS_CANDIDATES, probs.shape[-1]), dim=-1)
        wide = top.sum(-1) <= params.top_p  # the nucleus may reach past the candidates: sort these rows whole
        if bool(wide.any()):
            picked = torch.empty(probs.shape[0], dtype=torch.long, device=probs.device)
            narrow = ~wide
            picked[narrow] = _draw(_nucleus(top[narrow], params.top_p), tokens[narrow], generator)
            full, order = probs[wide].sort(dim=-1, descending=True)
            picked[wide] = _draw(_nucleus(full, params.top_p), order, generator)
            return picked
        return _draw(_nucleus(top, params.top_p), tokens, generator)

    def _stopped_by_string(self, ids: list[int], stops: tuple[str, ...]) -> bool:
        if not stops:
            return False
        tail = self.tokenizer.decode(ids[-(max(len(s) for s in stops) + 8) :], skip_special_tokens=True)
        return any(s in tail for s in stops)

    def _decode(
        self, prompts: list[list[int]], params: SamplingParams, generator: Any, keys: list[int]
    ) -> list[tuple[list[int], str]]:
        import torch

        capacity = max(len(p) for p in prompts) + params.max_new_tokens
        slots = self._slots(len(prompts), capacity)
        batch = _Batch(torch.arange(slots, device=self.device))
        cache: Any = None
        lengths = torch.zeros(slots, dtype=torch.long, device=self.device)
        positions = torch.arange(capacity, device=self.device)
        waiting = list(range(len(prompts)))
        results: list[tuple[list[int], str] | None] = [None] * len(prompts)
        rows: list[int] = []  # which sequence each slot holds; slots [0, len(rows)) are live
        produced: dict[int, list[int]] = {}
        known: dict[tuple[int, ...], Any] = {}  # shared prompt prefixes' keys and values, computed once
        logits: Any = None
        dtype = next(self.model.parameters()).dtype
        kernel = self.decode_kernel()
        while waiting or rows:
            free = slots - len(rows)
            # Join waiting prompts when a quarter of the slots is free, or the batch is empty.
            if waiting and (not rows or free >= max(1, slots // 4)):
                joining, waiting = waiting[:free], waiting[free:]
                for prefix, group in self._prefill_groups(joining, prompts, keys):
                    # the n samples of a prompt share its prompt pass and start from copies of its cache
                    unique = list(dict.fromkeys(keys[s] for s in group))
                    first = {keys[s]: s for s in reversed(group)}
                    layers, fresh, take = self._prefill([prompts[first[k]] for k in unique], prefix, known)
                    source = torch.tensor([unique.index(keys[s]) for s in group], device=self.device)
                    if cache is None:
                        cache = self._new_cache(layers, slots, capacity, batch)
                    # row g's tokens go to slot positions [0, len), gathered from where the prompt pass left them
                    width = take.shape[1]
                    sizes = torch.tensor([len(prompts[s]) for s in group], device=self.device)
                    take = take[source]
                    at = slice(len(rows), len(rows) + len(group))
                    for layer, (k, v) in zip(cache.layers, layers):
                        layer.keys[at, :, :width] = k[source[:, None], :, take].transpose(1, 2)
                        layer.values[at, :, :width] = v[source[:, None], :, take].transpose(1, 2)
                    lengths[at] = sizes
                    logits = fresh[source] if logits is None else torch.cat([logits, fresh[source]])
                    rows += group
                for s in joining:
                    produced[s] = []
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
                # free the finished rows' slots: live rows from the end move into the holes
                n, kept = len(keep), set(keep)
                holes = [r for r in range(n) if r not in kept]
                movers = [r for r in keep if r >= n]
                if holes:
                    h, m = torch.tensor(holes, device=self.device), torch.tensor(movers, device=self.device)
                    width = int(lengths[m].max())
                    for layer in cache.layers:
                        layer.keys[h, :, :width] = layer.keys[m, :, :width]
                        layer.values[h, :, :width] = layer.values[m, :, :width]
                    lengths[h] = lengths[m]
                    for hole, mover in zip(holes, movers):
                        rows[hole] = rows[mover]
                    order = torch.arange(len(rows), device=self.device)
                    order[h] = m
                    tokens = tokens[order]
                rows, tokens = rows[:n], tokens[:n]
                if not rows:
                    logits = None
                    continue
            live = lengths[: len(rows)]
            batch.lengths = live
            batch.width = int(live.max()) + 1
            # a ready 4-D additive mask: transformers uses it as is, SDPA then runs GQA on packed heads, and an
            # additive mask is faster than a boolean one in SDPA's CPU kernel (about 1.4x at 128 rows)
            hidden = positions[None, : batch.width] > live[:, None]
            mask = torch.zeros(hidden.shape, dtype=dtype, device=self.device).masked_fill_(hidden, float("-inf"))
            mask = mask[:, None, None, :]
            with decode_attention.dispatching(self.model) if kernel else contextlib.nullcontext():
                out = self.model(
                    input_ids=tokens[:, None],
                    attention_mask=mask,
                    position_ids=live[:, None].clone(),
                    use_cache=True,
                    **{self._cache_kw: cache},
                    **({"r1f_lengths": live} if kernel else {}),
                )
            live += 1
            logits = out.logits[:, -1, :].float()
        return results  # type: ignore[return-value]
