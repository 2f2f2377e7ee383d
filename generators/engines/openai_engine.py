"""Any OpenAI-compatible chat endpoint: vLLM serve, SGLang, llama.cpp server, ``transformers serve``.

Requests go out concurrently (bounded by ``concurrency``); 429, 5xx, timeouts and dropped
connections are retried with exponential backoff (honouring ``Retry-After``). ``n`` is sent as is;
if a server rejects it or returns fewer choices, the missing samples are requested one by one
with derived seeds. The API key comes from an environment variable and is never printed.
"""

from __future__ import annotations

import asyncio
import os
import random
import re
from collections.abc import Sequence
from typing import Any

from generators.engines.base import PROMPT_TOO_LONG, Completion, Engine, SamplingParams
from generators.engines.options import OpenAIOptions, engine_options
from r1f.errors import EngineError
from r1f.redact import redact
from r1f.schema import Messages

RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}
#: how servers say a prompt does not fit the context (vLLM, OpenAI, SGLang, llama.cpp)
CONTEXT_RE = re.compile(r"context length|maximum context|too long|exceeds the (?:max|context)|context window", re.I)


class OpenAIEngine(Engine):
    """Chat completions over HTTP.

    Args:
        model: the model name the server expects (``/v1/models`` lists them).
        **options: :class:`~generators.engines.options.OpenAIOptions` (base URL, key variable,
            concurrency, retries, timeout, batch size); unknown ones are refused.
    """

    name = "openai"

    def __init__(self, model: str, **options: Any) -> None:
        self.options = opts = engine_options(self.name, options)
        assert isinstance(opts, OpenAIOptions)
        self.model = model
        self.base_url = opts.base_url.rstrip("/")
        self.api_key_env = opts.api_key_env
        self.concurrency = opts.concurrency
        self.max_retries = opts.max_retries
        self.timeout = opts.timeout
        self.batch_size = opts.batch_size
        self.backoff = opts.backoff
        self._native_n = True
        self._continue_ok = True
        self._logprobs_ok = True

    def identity(self) -> dict[str, Any]:
        # the model and (in the row ids) the sampling, not where the server listens: a rerun against the same
        # server under another host name or port reuses the finished rows instead of paying for them again
        return {"engine": self.name, "model": self.model}

    def describe(self) -> dict[str, Any]:
        return {**self.identity(), "base_url": self.base_url}  # manifests mask its credentials

    def _key(self) -> str:
        return os.environ.get(self.api_key_env) or ""

    def _headers(self) -> dict[str, str]:
        key = self._key()
        return {"Authorization": f"Bearer {key}"} if key else {}

    def generate(self, prompts: Sequence[Messages], params: SamplingParams) -> list[list[Completion]]:
        return asyncio.run(self._generate_all(prompts, params))

    async def _generate_all(self, prompts: Sequence[Messages], params: SamplingParams) -> list[list[Completion]]:
        import httpx

        limit = asyncio.Semaphore(self.concurrency)
        async with httpx.AsyncClient(
            timeout=httpx.Timeout(self.timeout, connect=min(self.timeout, 30.0)),
            headers=self._headers(),
            limits=httpx.Limits(max_connections=self.concurrency),
        ) as client:
            tasks = [self._one_prompt(client, limit, p, params) for p in prompts]
            return list(await asyncio.gather(*tasks))

    async def _one_prompt(
        self, client: Any, limit: asyncio.Semaphore, prompt: Messages, params: SamplingParams
    ) -> list[Completion]:
        results: list[Completion] = []
        if params.n > 1 and self._native_n:
            results = await self._request(client, limit, prompt, params, n=params.n, seed=params.seed)
            if len(results) < params.n:
                self._native_n = False  # server ignores n: ask one sample at a time from now on
        while len(results) < params.n:
            seed = params.seed + len(results)
            results += await self._request(client, limit, prompt, params, n=1, seed=seed)
        return results[: params.n]

    async def _request(
        self, client: Any, limit: asyncio.Semaphore, prompt: Messages, params: SamplingParams, *, n: int, seed: int
    ) -> list[Completion]:
        import httpx

        body: dict[str, Any] = {
            "model": self.model,
            "messages": prompt,
            "temperature": params.temperature,
            "top_p": params.top_p,
            "max_tokens": params.max_new_tokens,
            "seed": seed,
        }
        if n > 1:
            body["n"] = n
            if self._logprobs_ok:  # per-choice token counts (usage is per response): count the choice's tokens
                body.update(logprobs=True, top_logprobs=0)
        prefixed = bool(prompt) and prompt[-1]["role"] == "assistant"
        if prefixed and self._continue_ok:
            # continue a forced start (e.g. "<think>\n"); vLLM and SGLang honour these, others may not
            body.update(continue_final_message=True, add_generation_prompt=False)
        elif prefixed:
            body["messages"] = prompt[:-1]
        if params.stop:
            body["stop"] = list(params.stop)
        url = f"{self.base_url}/chat/completions"
        last = ""
        last_retry_after: str | None = None
        for attempt in range(self.max_retries + 1):
            if attempt:
                await asyncio.sleep(self._delay(attempt, last_retry_after))
            last_retry_after = None
            async with limit:
                try:
                    response = await client.post(url, json=body)
                except (httpx.TimeoutException, httpx.TransportError) as err:
                    last = (
                        f"{type(err).__name__} after {self.timeout:g}s timeout"
                        if isinstance(err, httpx.TimeoutException)
                        else f"{type(err).__name__}: {redact(str(err), [self._key()])}"
                    )
                    continue
            if response.status_code == 200:
                try:
                    payload = response.json()
                    results = self._parse(payload, n)
                except (ValueError, KeyError, TypeError, IndexError, AttributeError):
                    # a 200 that is not a chat completion (a proxy's HTML page, a truncated body): retried like a 5xx
                    body_text = redact(response.text, [self._key()])[:120]
                    last = f"HTTP 200 with a body that is not a chat completion: {body_text!r}"
                    continue
                if prefixed and "continue_final_message" not in body:
                    for result in results:
                        result.prefix_applied = False
                return results
            # servers echo the request's key in errors ("Incorrect API key provided: Bearer sk-..."): mask it
            last = f"HTTP {response.status_code}: {redact(response.text, [self._key()])[:200]!r}"
            if (
                "continue_final_message" in body
                and response.status_code in (400, 422)
                and ("continue_final_message" in response.text)
            ):
                self._continue_ok = False  # this server cannot continue a forced start: send the prompt without it
                body.pop("continue_final_message")
                body.pop("add_generation_prompt")
                body["messages"] = prompt[:-1]
                continue
            if response.status_code in (400, 413, 422) and CONTEXT_RE.search(response.text):
                return [Completion("", PROMPT_TOO_LONG, None, 0) for _ in range(n)]
            if "logprobs" in body and response.status_code in (400, 422) and "logprobs" in response.text:
                self._logprobs_ok = False
                body.pop("logprobs")
                body.pop("top_logprobs")
                continue
            if n > 1 and response.status_code in (400, 422) and "n" in response.text:
                self._native_n = False
                return []
            if response.status_code not in RETRY_STATUS:
                raise EngineError(f"{url} rejected the request ({last}); check --model and the server's options")
            last_retry_after = response.headers.get("retry-after")
        raise EngineError(
            f"{url} failed after {self.max_retries + 1} attempts (last: {last}); "
            "check that the server is up, or raise --timeout / --max-retries"
        )

    def _delay(self, attempt: int, retry_after: str | None) -> float:
        if retry_after:
            try:
                return min(float(retry_after), 60.0)
            except ValueError:
                pass
        return min(self.backoff * 2 ** (attempt - 1), 30.0) * (0.5 + random.random() / 2)

    def _parse(self, payload: dict[str, Any], n: int) -> list[Completion]:
        choices = payload.get("choices") if isinstance(payload, dict) else None
        if not isinstance(choices, list) or not choices:
            raise ValueError("no choices in the response")
        usage = payload.get("usage") or {}
        prompt_tokens = usage.get("prompt_tokens")
        total = usage.get("completion_tokens")
        out = []
        for choice in sorted(choices, key=lambda c: c.get("index", 0)):
            message = choice.get("message") or {}
            text = message.get("content") or ""
            reason = choice.get("finish_reason") or "stop"
            tokens = (choice.get("logprobs") or {}).get("content")
            out.append(
                Completion(
                    text=text,
                    finish_reason="length" if reason == "length" else "stop",
                    prompt_tokens=prompt_tokens,
                    # usage is per response: one sample's own count, or each choice's tokens when listed
                    completion_tokens=total if len(choices) == 1 else (len(tokens) if tokens is not None else None),
                )
            )
        return out
