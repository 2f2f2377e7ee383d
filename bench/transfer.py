"""Does a cold start transfer? Built-in worked rows vs real GSM8K solutions vs both, judged in distribution (the
built-in held-out split) and outside it (GSM8K test), side by side with exact McNemar tests.

Arms, each SFT from the embedded base model for the same steps and learning rate:

- ``builtin``: the built-in generator's worked solutions (``r1f cold-start --method worked``);
- ``gsm8k``: GSM8K-train's own solutions (``r1f cold-start --method solutions --problems gsm8k=...``),
  decontaminated against GSM8K test and MATH-500 first (``r1f curate --eval-set gsm8k,math500``);
- ``mix``: the two at equal weight (``r1f curate A B --weights 1,1``);
- ``gsm8k-wrong`` (control): the ``gsm8k`` rows with every final answer replaced by a wrong one (gold + 1..9,
  seeded), the reasoning untouched: what the rows teach apart from their answers.

Every model, the base included, is evaluated greedy with the ``sft-think`` template on the 200 held-out problems and
on the first ``--gsm8k-test`` problems of GSM8K test (a fixed subset).

    .venv/bin/python bench/transfer.py [--data ../shared/data] [--rows 2400] [--steps 150]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from data_to_models import ROOT, at_once, costs, fmt, mcnemar, r1f, sft  # noqa: E402

ARMS = ("builtin", "gsm8k", "mix", "gsm8k-wrong")


def wrong_answers(rows_dir: Path, out: Path, seed: int = 0) -> None:
    """The SFT rows of ``rows_dir`` with each ``<answer>`` replaced by the gold plus 1..9 (seeded)."""
    import random
    import re

    from r1f.io import read_rows

    rng = random.Random(seed)
    lines = []
    for row in read_rows(rows_dir):
        messages = [dict(m) for m in row["messages"]]
        gold = str(row.get("solution") or "0").replace(",", "")
        try:
            bad = str(int(float(gold)) + rng.randint(1, 9))
        except ValueError:
            continue
        messages[-1]["content"] = re.sub(
            r"<answer>\n.*?\n</answer>", f"<answer>\n{bad}\n</answer>", messages[-1]["content"], flags=re.S
        )
        lines.append(json.dumps({"id": row["id"], "problem": row["problem"], "solution": bad, "messages": messages}))
    out.write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", default=str(ROOT / "datasets_out" / "bench-transfer"))
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--rows", type=int, default=2400)
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--gsm8k-test", type=int, default=500)
    parser.add_argument("--max-new-tokens", type=int, default=160)
    args = parser.parse_args()
    work, data = Path(args.work), Path(args.data).resolve()
    work.mkdir(parents=True, exist_ok=True)
    os.environ["R1F_DATA_DIR"] = str(data)
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    print(f"load {load}; rows {args.rows}, steps {args.steps}", flush=True)

    builtin, gsm_raw, gsm, mix = (work / name for name in ("builtin-rows", "gsm8k-raw", "gsm8k-rows", "mix-rows"))
    common = ("--format", "think", "--n-problems", str(args.rows))
    r1f(
        "rows builtin",
        "cold-start",
        "--method",
        "worked",
        *common,
        "--out",
        str(builtin),
        done=builtin / "manifest.json",
    )
    train = f"gsm8k={data / 'gsm8k_train.jsonl'}"
    r1f(
        "rows gsm8k",
        "cold-start",
        "--method",
        "solutions",
        "--problems",
        train,
        *common,
        "--out",
        str(gsm_raw),
        done=gsm_raw / "manifest.json",
    )
    r1f(
        "decontaminate gsm8k",
        "curate",
        str(gsm_raw),
        "--eval-set",
        "gsm8k,math500",
        "--dedup-on",
        "none",
        "--out",
        str(gsm),
        done=gsm / "manifest.json",
    )
    r1f(
        "mix",
        "curate",
        str(builtin),
        str(gsm),
        "--weights",
        "1,1",
        "--dedup-on",
        "none",
        "--out",
        str(mix),
        done=mix / "manifest.json",
    )
    wrong = work / "gsm8k-wrong-rows.jsonl"
    if not wrong.exists():
        wrong_answers(gsm, wrong)
    models = {"base": "smollm2-135m"}
    for arm, rows in zip(ARMS, (builtin, gsm, mix, wrong)):
        models[arm] = sft(arm, work / f"model-{arm}", rows, args.steps)

    tokens = ("--k", "1", "--template", "sft-think", "--max-new-tokens", str(args.max_new_tokens))
    gsm_test = f"gsm8k={data / 'gsm8k_test.jsonl'}"
    jobs = {}
    for name, model in models.items():
        held = work / f"eval-{name}-heldout"
        ext = work / f"eval-{name}-gsm8k"
        jobs[name] = (
            (
                f"eval {name} held-out",
                ("eval", model, "--n-problems", "200", *tokens, "--out", str(held)),
                held / "eval.json",
            ),
            (
                f"eval {name} gsm8k",
                (
                    "eval",
                    model,
                    "--benchmark",
                    gsm_test,
                    "--prompt-style",
                    "model",
                    "--n-problems",
                    str(args.gsm8k_test),
                    *tokens,
                    "--out",
                    str(ext),
                ),
                ext / "eval.json",
            ),
        )
    names = list(jobs)
    at_once([j for n in names[::2] for j in jobs[n]], [j for n in names[1::2] for j in jobs[n]])

    def result(name: str, which: int) -> dict:
        data = json.loads(jobs[name][which][2].read_text())
        return data["benchmarks"]["gsm8k"] if which else data

    print(
        "\n| model | held-out pass@1 [95% CI] | vs base (only arm / only base, p) | GSM8K test pass@1 [95% CI] | "
        "vs base | vs builtin |"
    )
    print("|---|---|---|---|---|---|")
    for name in names:
        cells = []
        for which in (0, 1):
            res = result(name, which)
            cells.append(fmt(res, "pass@1"))
            if name != "base":
                a, b, p = mcnemar(res["greedy_correct"], result("base", which)["greedy_correct"])
                cells.append(f"{a} / {b}, p = {p:.2g}")
            else:
                cells.append("")
        vs_builtin = ""
        if name not in ("base", "builtin"):
            a, b, p = mcnemar(result(name, 1)["greedy_correct"], result("builtin", 1)["greedy_correct"])
            vs_builtin = f"{a} / {b}, p = {p:.2g}"
        print(f"| {name} | {' | '.join(cells)} | {vs_builtin} |")
    print("\nseconds: " + ", ".join(f"{k} {v:.0f}" for k, v in costs.items()))


if __name__ == "__main__":
    main()
