"""Shared fixtures. Everything runs offline: the hub switches are set before any HF import."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parent.parent
if (ROOT / ".venv-argilla" / "bin" / "python").exists():  # made by `make test`; else review tests install one
    os.environ.setdefault("R1F_ARGILLA_VENV", str(ROOT / ".venv-argilla"))


@pytest.fixture(scope="session")
def model_dir() -> str:
    """The embedded model, converted once into the user cache (shared with the demo)."""
    from generators.models import resolve_model

    return resolve_model("smollm2-135m").path


@pytest.fixture(scope="session")
def engine(model_dir: str):
    """One in-process engine for the whole session; fp32 so results do not depend on CPU bf16 support."""
    from generators.engines.transformers_engine import TransformersEngine

    return TransformersEngine(model="smollm2-135m", dtype="float32", batch_size=4, max_active=4)


def engine_like(engine, **options):
    """An engine as the session's ``engine`` fixture, with ``options`` changed, over its already loaded model."""
    from generators.engines.transformers_engine import TransformersEngine

    other = TransformersEngine(model="smollm2-135m", dtype="float32", batch_size=4, max_active=4, **options)
    other.adopt(engine.model, engine.tokenizer)
    return other


def run_r1f(*args: str, cwd: Path | None = None, timeout: float = 600, **kwargs) -> subprocess.CompletedProcess:
    """Run the real ``r1f`` entry point in a fresh process, as a user would."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"}
    env.pop("R1F_DEBUG", None)
    return subprocess.run(
        [sys.executable, "-m", "r1f", *args],
        cwd=cwd or ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        **kwargs,
    )


@pytest.fixture(scope="session")
def served(model_dir, tmp_path_factory):
    """A real ``transformers serve`` on 127.0.0.1 serving the embedded model (one per test session)."""
    from tests.servers import transformers_serve

    with transformers_serve(model_dir, tmp_path_factory.mktemp("hf_home")) as url:
        yield url


@pytest.fixture(scope="session")
def easy_problems(tmp_path_factory) -> str:
    """Easy English problems written by the real ``r1f problems`` (the tiny model solves some of these)."""
    return _easy_problems(tmp_path_factory, 16)


#: `r1f sample` on easy problems, grown in rounds until it keeps rows: which samples a 135M model gets right is
#: luck (8 problems x 4 samples kept 0 to 2 rows across seeds), and any change to the engine's identity, part of
#: every row id and of the order rows are batched in, deals new luck; growing keeps the tests about the pipeline
SAMPLED_ARGS = ["--n-problems", "8", "--k", "4", "--max-new-tokens", "128", "--dtype", "float32"]
GROWN_ARGS = [*SAMPLED_ARGS, "--target-rows", "2", "--max-problems", "64"]


@pytest.fixture(scope="session")
def many_easy_problems(tmp_path_factory) -> str:
    """64 easy problems: room for a sampling run to grow into."""
    return _easy_problems(tmp_path_factory, 64)


@pytest.fixture(scope="session")
def easy_sampled(tmp_path_factory, many_easy_problems) -> Path:
    """One real ``r1f sample`` run (GROWN_ARGS) that kept at least two rows."""
    out = tmp_path_factory.mktemp("sampled") / "rs"
    result = run_r1f("sample", "--problems", many_easy_problems, *GROWN_ARGS, "--out", str(out))
    assert result.returncode == 0, result.stderr
    return out


def _easy_problems(tmp_path_factory, n: int) -> str:
    path = tmp_path_factory.mktemp("problems") / f"easy-{n}.jsonl"
    result = run_r1f(
        "problems",
        "--out",
        str(path),
        "--n",
        str(n),
        "--languages",
        "en",
        "--families",
        "arithmetic,distance,money",
        "--difficulties",
        "1",
    )
    assert result.returncode == 0, result.stderr
    return str(path)


def kill_after_chunks(args: list[str], chunks_dir: Path, count: int, timeout: float = 300) -> None:
    """Start the real ``r1f`` with ``args``, SIGKILL it once ``count`` chunk files exist in ``chunks_dir``."""
    import signal
    import time

    proc = subprocess.Popen(
        [sys.executable, "-m", "r1f", *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + timeout
    while time.time() < deadline and len(list(chunks_dir.glob("*.jsonl"))) < count:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
