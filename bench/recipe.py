"""The R1 recipe end to end: each stage's wall time and peak memory, the evaluation table, a cached rerun.

Runs the real command (``r1f run RECIPE``) in a fresh run directory, then the same command again (every stage
cached), and writes a section of ``bench/RESULTS.md`` with the CPU model and the load average around the run
(other work on two cores moves every time here). Goals on the 2-core box: tiny-r1-demo <= 10 min, tiny-r1
<= 45 min, a fully cached rerun <= 5 s, no stage over 6 GB.

    .venv/bin/python bench/recipe.py                       # tiny-r1
    .venv/bin/python bench/recipe.py --recipe tiny-r1-demo
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "RESULTS.md"


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown CPU"


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default="tiny-r1")
    parser.add_argument("--run-dir", default=None, help="default: a fresh temp directory")
    parser.add_argument("--no-write", action="store_true", help="print the section, do not edit RESULTS.md")
    args = parser.parse_args()
    run_dir = Path(args.run_dir or tempfile.mkdtemp(prefix=f"r1f-{args.recipe}-")) / "run"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "COLUMNS": "200"}
    command = [sys.executable, "-m", "r1f", "run", args.recipe, "--run-dir", str(run_dir)]
    load_before = loadavg()
    started = time.time()
    first = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    total = time.time() - started
    load_after = loadavg()
    if first.returncode != 0:
        sys.stdout.write(first.stdout[-5000:] + first.stderr[-5000:])
        raise SystemExit(f"r1f run {args.recipe} failed with exit code {first.returncode}")
    started = time.time()
    cached = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    cached_seconds = time.time() - started
    assert cached.returncode == 0, cached.stderr[-3000:]

    states = {p.stem: json.loads(p.read_text()) for p in (run_dir / ".r1f" / "stages").glob("*.json")}
    from r1f.recipe import load_pipeline
    from r1f.runner import StateStore, eval_rows

    pipeline = load_pipeline(args.recipe, run_dir=run_dir)
    lines = [
        f"### `{args.recipe}` — `bench/recipe.py --recipe {args.recipe}` ({time.strftime('%Y-%m-%d')})",
        "",
        f"CPU: {cpu_model()}, {os.cpu_count()} cores; load average before {load_before}, after {load_after}. "
        f"Whole run **{total / 60:.1f} min**; fully cached rerun **{cached_seconds:.1f} s** (whole command, "
        "Python start included).",
        "",
        "| stage | step | rows in | rows out | seconds | peak MB |",
        "|---|---|---|---|---|---|",
    ]
    peak = 0.0
    for name, stage in pipeline.stages.items():
        state = states.get(name, {})
        stats = state.get("stats") or {}
        peak = max(peak, state.get("peak_rss_mb") or 0.0)
        lines.append(
            f"| {name} | {stage.step} | {stats.get('total', '–')} | {stats.get('kept', '–')} | "
            f"{state.get('seconds', '–')} | {state.get('peak_rss_mb', '–')} |"
        )
    lines += ["", f"Highest stage peak: {peak:.0f} MB (goal: none over 6 GB).", ""]
    lines += [
        "| model (stage) | template | problems | pass@1 [95% CI] | pass@k | format [95% CI] | language | truncated |"
    ]
    lines += ["|---|---|---|---|---|---|---|---|"]
    for result in eval_rows(pipeline, StateStore(run_dir)):
        ci = result.get("intervals") or {}
        ks = [k for k in result if k.startswith("pass@") and k != "pass@1"]

        def show(name: str, result: dict = result, ci: dict = ci) -> str:
            value = result.get(name)
            interval = ci.get(name)
            if value is None:
                return "–"
            return f"{value:.3f} [{interval[0]:.2f}, {interval[1]:.2f}]" if interval else f"{value:.3f}"

        lines.append(
            f"| {result['model_stage']} ({result['stage']}) | {result.get('template')} | {result.get('n_problems')} | "
            f"{show('pass@1')} | {', '.join(f'{k} {show(k)}' for k in ks) or '–'} | {show('format')} | "
            f"{result.get('language_consistency')} | {show('truncated')} |"
        )
    section = "\n".join(lines) + "\n"
    print(section)
    if args.no_write:
        return
    text = RESULTS.read_text()
    begin, end = f"<!-- recipe:{args.recipe}:begin -->", f"<!-- recipe:{args.recipe}:end -->"
    block = f"{begin}\n{section}{end}"
    if begin in text:
        text = re.sub(re.escape(begin) + r".*?" + re.escape(end), lambda _: block, text, flags=re.DOTALL)
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    RESULTS.write_text(text)
    print(f"written to {RESULTS}; run directory {run_dir} (report.html)")


if __name__ == "__main__":
    main()
