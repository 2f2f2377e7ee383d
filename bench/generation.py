"""Generation throughput: the seed notebook's loop vs our engines, in one process, as ratios.

Work: built-in problems as chat prompts, greedy, ``max_new_tokens=256``, natural stop at EOS.
Useful tokens = generated tokens up to and including EOS. The seed's way (one ``model.generate``
per prompt, as its ``generate_response``) is timed on a subset and reported per token.

    .venv/bin/python bench/generation.py                 # 128 prompts, default engine settings
    .venv/bin/python bench/generation.py --variants      # also fp32/bf16 x max_active variants
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def seed_loop(engine, prompts, max_new_tokens: int) -> tuple[int, float]:
    """One ``generate`` call per prompt, batch 1, as the seed notebook does."""
    import torch

    model, tok = engine.model, engine.tokenizer
    useful, started = 0, time.time()
    for prompt in prompts:
        ids = torch.tensor([engine.encode(prompt)])
        with torch.inference_mode():
            out = model.generate(
                ids, attention_mask=torch.ones_like(ids), max_new_tokens=max_new_tokens, do_sample=False
            )
        new = out[0, ids.shape[1] :].tolist()
        eos = [i for i, t in enumerate(new) if t == tok.eos_token_id]
        useful += eos[0] + 1 if eos else len(new)
    return useful, time.time() - started


def ours(engine, prompts, params) -> tuple[int, float, dict]:
    """Our engine as the runner drives it: chunks of ``batch_size`` prompts sorted by length."""
    ordered = sorted(prompts, key=engine.sort_key)
    useful, started, reasons = 0, time.time(), {}
    for i in range(0, len(ordered), engine.batch_size):
        for samples in engine.generate(ordered[i : i + engine.batch_size], params):
            for c in samples:
                useful += c.completion_tokens
                reasons[c.finish_reason] = reasons.get(c.finish_reason, 0) + 1
    return useful, time.time() - started, reasons


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=128)
    parser.add_argument("--seed-subset", type=int, default=8, help="prompts timed with the seed loop")
    parser.add_argument("--max-new-tokens", type=int, default=256)
    parser.add_argument("--template", default="plain")
    parser.add_argument("--variants", action="store_true", help="also time dtype / max_active variants")
    args = parser.parse_args()

    from generators.engines import SamplingParams
    from generators.engines.transformers_engine import TransformersEngine
    from generators.problems import make_problems
    from generators.prompts import build_prompt

    prompts = [build_prompt(args.template, p["problem"]) for p in make_problems(args.prompts, seed=2024)]
    params = SamplingParams(max_new_tokens=args.max_new_tokens)
    results = []

    base = TransformersEngine(dtype="float32")
    tokens, seconds = seed_loop(base, prompts[: args.seed_subset], args.max_new_tokens)
    seed_rate = tokens / seconds
    results.append(("seed loop (batch 1, fp32)", args.seed_subset, tokens, seconds, seed_rate, "-"))
    print(f"seed loop: {tokens} useful tokens in {seconds:.1f}s = {seed_rate:.1f} tok/s", flush=True)

    configs = [("ours as shipped", {})]
    if args.variants:
        configs += [
            ("ours bf16", {"dtype": "bfloat16"}),
            ("ours chunk 128, active 128", {"max_active": 128, "batch_size": 128}),
            ("ours chunk 128, active 64 (rows join as others finish)", {"max_active": 64, "batch_size": 128}),
        ]
    for label, options in configs:
        engine = TransformersEngine(**options)
        engine.model  # noqa: B018 - load before timing
        tokens, seconds, reasons = ours(engine, prompts, params)
        rate = tokens / seconds
        label = f"{label} ({engine.dtype_name}, batch {engine.batch_size}, active {engine.max_active})"
        results.append((label, len(prompts), tokens, seconds, rate, reasons))
        print(
            f"{label}: {tokens} tokens in {seconds:.1f}s = {rate:.1f} tok/s ({rate / seed_rate:.1f}x seed)", flush=True
        )
        del engine

    try:
        import vllm  # noqa: F401
    except ImportError:
        print("vllm engine: skipped (vllm not importable in this venv)")
    else:
        from generators.engines.vllm_engine import VLLMEngine

        engine = VLLMEngine(dtype="bfloat16")
        tokens, seconds, reasons = ours(engine, prompts, params)
        results.append(("vllm engine (bf16)", len(prompts), tokens, seconds, tokens / seconds, reasons))

    print()
    print("| run | prompts | useful tokens | seconds | tok/s | vs seed | finish reasons |")
    print("|---|---|---|---|---|---|---|")
    for label, n, tokens, seconds, rate, reasons in results:
        print(f"| {label} | {n} | {tokens} | {seconds:.1f} | {rate:.1f} | {rate / seed_rate:.1f}x | {reasons} |")


if __name__ == "__main__":
    main()
