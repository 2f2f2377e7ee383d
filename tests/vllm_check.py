"""Run inside the vLLM venv (``.venv-vllm``, with the project on PYTHONPATH) by tests/test_vllm.py: the factory's
steps on the in-process ``vllm`` engine, one model load for all of them. Writes datasets under ``argv[1]``."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(out: Path) -> None:
    from generators.distill import DistillConfig
    from generators.engines import make_engine
    from generators.generate import GenerateConfig
    from generators.steps import DistillStep, GenerateStep
    from r1f.executor import LocalExecutor

    options = {"dtype": "float32", "enforce_eager": True}
    engine = make_engine("vllm", "smollm2-135m", options)
    common = {"n_problems": 6, "languages": ["en"], "max_new_tokens": 32, "engine": "vllm", "engine_options": options}
    runs = {
        "sampled": GenerateConfig(out=str(out / "sampled"), n=3, temperature=0.8, **common),
        "stopped": GenerateConfig(out=str(out / "stopped"), stop=["."], **common),
    }
    for config in runs.values():
        LocalExecutor().execute(GenerateStep(config, engine=engine))
    distill = DistillConfig(out=str(out / "distill"), n=1, max_student_tokens=512, **common)
    LocalExecutor().execute(DistillStep(distill, engine=engine))
    (out / "done.json").write_text(json.dumps({"identity": engine.identity()}))


if __name__ == "__main__":  # vLLM starts worker processes that import __main__: keep the work behind the guard
    main(Path(sys.argv[1]))
