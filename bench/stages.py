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

    from generators.models import DEFAULT_MODEL
    from generators.sampling import SampleConfig
    from generators.steps import SampleStep
    from r1f.executor import LocalExecutor
    from training.config import GRPOTrainConfig, SFTTrainConfig
    from training.evaluate import EvalConfig, run_eval
    from training.grpo import run_grpo
    from training.sft import run_sft

    work = args.work or tempfile.mkdtemp(prefix="r1f-stages-")

    def evaluate(model: str, name: str, template: str) -> dict:
        config = EvalConfig(
            model=model,
            out=f"{work}/eval-{name}",
            n_problems=args.eval_problems,
            k=1,
            max_new_tokens=args.max_new_tokens,
            template=template,
        )
        return run_eval(config)

    rows = []
    base_fewshot = evaluate(DEFAULT_MODEL, "base-fewshot", "r1-zero-fewshot")
    grpo = run_grpo(
        GRPOTrainConfig.from_mapping(
            {
                "recipe": "r1-zero-smollm2",
                "max_steps": args.grpo_steps,
                "save_strategy": "no",
                "output_dir": f"{work}/r1-zero",
            }
        )
    )
    after_grpo = evaluate(f"{work}/r1-zero", "r1-zero", "r1-zero-fewshot")
    rows.append(
        ("R1-Zero GRPO", f"{args.grpo_steps} steps, recipe r1-zero-smollm2", base_fewshot, after_grpo, grpo["seconds"])
    )

    base_plain = evaluate(DEFAULT_MODEL, "base-sft-prompt", "sft-think")
    sample = SampleConfig(
        n_problems=64,
        problem_seed=11,
        languages=["en"],
        k=4,
        max_new_tokens=args.max_new_tokens,
        template="r1-zero-fewshot",
        out=f"{work}/rejection_sampled",
    )
    LocalExecutor().execute(SampleStep(sample))
    sft = run_sft(
        SFTTrainConfig.from_mapping(
            {
                "recipe": "sft-rejection-smollm2",
                "model": DEFAULT_MODEL,
                "dataset": f"{work}/rejection_sampled",
                "max_steps": args.sft_steps,
                "save_strategy": "no",
                "output_dir": f"{work}/r1-sft",
            }
        )
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
