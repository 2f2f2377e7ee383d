"""Does a stage move the model? base -> R1-Zero GRPO -> eval, and base -> SFT on rejection samples -> eval.

Minutes on CPU with the embedded model. Prints format reward and pass@1 before and after each
stage, on the same held-out problems, with the settings used. Small models move slowly: this
reports what is measured, not what we hope.

    .venv/bin/python bench/stages.py [--grpo-steps 10 --eval-problems 30]
"""

from __future__ import annotations

import argparse
import os
import tempfile

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grpo-steps", type=int, default=10)
    parser.add_argument("--sft-steps", type=int, default=20)
    parser.add_argument("--eval-problems", type=int, default=30)
    parser.add_argument("--max-new-tokens", type=int, default=128)
    parser.add_argument("--work", default=None, help="working directory (default: a temp dir)")
    args = parser.parse_args()

    from generators.engines import SamplingParams
    from generators.engines.transformers_engine import TransformersEngine
    from generators.problems import make_problems
    from generators.sampling import run_sample
    from training.config import load_recipe
    from training.evaluate import run_eval
    from training.grpo import run_grpo
    from training.sft import run_sft

    work = args.work or tempfile.mkdtemp(prefix="r1f-stages-")

    def evaluate(model: str, name: str, template: str) -> dict:
        return run_eval(
            model,
            out_dir=f"{work}/eval-{name}",
            n_problems=args.eval_problems,
            k=1,
            max_new_tokens=args.max_new_tokens,
            template=template,
        )

    rows = []
    base_fewshot = evaluate("smollm2-135m", "base-fewshot", "r1-zero-fewshot")
    grpo = run_grpo(
        load_recipe("r1-zero-smollm2", [f"max_steps={args.grpo_steps}", "save_strategy=no"]),
        output_dir=f"{work}/r1-zero",
    )
    after_grpo = evaluate(f"{work}/r1-zero", "r1-zero", "r1-zero-fewshot")
    rows.append(
        ("R1-Zero GRPO", f"{args.grpo_steps} steps, recipe r1-zero-smollm2", base_fewshot, after_grpo, grpo["seconds"])
    )

    base_plain = evaluate("smollm2-135m", "base-sft-prompt", "sft-think")
    engine = TransformersEngine()
    run_sample(
        make_problems(64, seed=11, languages=["en"]),
        engine=engine,
        out_dir=f"{work}/rejection_sampled",
        params=SamplingParams(n=4, temperature=0.7, top_p=0.95, max_new_tokens=args.max_new_tokens, seed=0),
        prompt="r1-zero-fewshot",
        command=["bench"],
    )
    sft = run_sft(
        load_recipe(
            "sft-rejection-smollm2",
            [
                "model=smollm2-135m",
                f"dataset={work}/rejection_sampled",
                f"max_steps={args.sft_steps}",
                "save_strategy=no",
            ],
        ),
        output_dir=f"{work}/r1-sft",
    )
    after_sft = evaluate(f"{work}/r1-sft", "r1-sft", "sft-think")
    rows.append(
        (
            "SFT on rejection samples",
            f"{args.sft_steps} steps, {sft['rows']} rows",
            base_plain,
            after_sft,
            sft["seconds"],
        )
    )

    print(f"\nheld-out problems: {args.eval_problems}, greedy, max_new_tokens={args.max_new_tokens}; work dir {work}")
    print("| stage | settings | format before | format after | pass@1 before | pass@1 after | train s |")
    print("|---|---|---|---|---|---|---|")
    for stage, settings, before, after, seconds in rows:
        print(
            f"| {stage} | {settings} | {before['format']} | {after['format']} | {before['pass@1']} | "
            f"{after['pass@1']} | {seconds} |"
        )


if __name__ == "__main__":
    main()
