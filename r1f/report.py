"""The run report: ``report.md`` and a self-contained ``report.html`` (plots embedded) in every run directory.

What it says: the plan with each stage's state, time, rows in and out and peak memory; one table of every
model's evaluation on the held-out problems with 95 % Wilson intervals; what each training stage changed
(data -> models); GRPO reward and format curves and SFT losses from the trainers' logs; and each dataset's
counts, drops per reason and plots, linking to its card. Both files are rendered from one list of blocks,
so they cannot disagree.
"""

from __future__ import annotations

import base64
import html
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from r1f.recipe import Pipeline
from r1f.runner import StateStore, eval_rows
from r1f.step import DATASET, EVAL, MODEL

RATES = ("pass@1", "format", "language_consistent", "truncated")


@dataclass
class Block:
    kind: str  # h1 | h2 | h3 | p | table | image | list
    text: str = ""
    headers: list[str] = field(default_factory=list)
    rows: list[list[Any]] = field(default_factory=list)
    image: str = ""  # path relative to the run directory
    png: bytes = b""
    items: list[str] = field(default_factory=list)


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _rate(result: dict[str, Any], name: str) -> str:
    """``0.300 [0.17, 0.47]``: a rate and its 95 % Wilson interval."""
    ci = (result.get("intervals") or {}).get(name)
    shown = _fmt(result.get(name))
    return f"{shown} [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else shown


def build(pipeline: Pipeline, states: StateStore) -> list[Block]:
    blocks: list[Block] = [Block("h1", f"r1-factory run: {pipeline.name}")]
    blocks.append(
        Block(
            "p",
            f"{pipeline.description} Recipe `{pipeline.path.name}`, format `{pipeline.format}`, run directory "
            f"`{pipeline.run_dir}`, report written {time.strftime('%Y-%m-%d %H:%M:%S')}.",
        )
    )
    blocks += _plan(pipeline, states)
    blocks += _evaluations(pipeline, states)
    blocks += _data_to_models(pipeline, states)
    blocks += _training(pipeline, states)
    blocks += _datasets(pipeline, states)
    return blocks


def _plan(pipeline: Pipeline, states: StateStore) -> list[Block]:
    rows = []
    total = 0.0
    for name, stage in pipeline.stages.items():
        state = states.load(name)
        stats = state.get("stats") or {}
        seconds = state.get("seconds")
        total += seconds or 0.0
        status = state.get("status", "not run")
        if stage.review:
            status += f", review {(state.get('review') or {}).get('status', 'pending')}"
        rows.append(
            [
                name,
                stage.step,
                ", ".join(stage.upstream) or "–",
                status,
                _fmt(stats.get("total")),
                _fmt(stats.get("kept")),
                _fmt(seconds, 1),
                _fmt(state.get("peak_rss_mb"), 0),
            ]
        )
    return [
        Block("h2", "Plan"),
        Block(
            "p",
            f"{len(rows)} stages, {total / 60:.1f} minutes of stage time. Rows in/out: what each step read and kept "
            "(samples drawn and kept for generators, rows trained on for training, problems for evaluations). "
            "Peak memory: the process's resident set during the stage (Linux VmHWM).",
        ),
        Block(
            "table",
            headers=["stage", "step", "inputs", "state", "rows in", "rows out", "seconds", "peak MB"],
            rows=rows,
        ),
    ]


def _evaluations(pipeline: Pipeline, states: StateStore) -> list[Block]:
    results = eval_rows(pipeline, states)
    if not results:
        return []
    ks = sorted({k for r in results for k in r if k.startswith("pass@") and k != "pass@1"})
    headers = ["model (stage)", "eval stage", "template", "n", "pass@1 [95% CI]", *[f"{k} [95% CI]" for k in ks]]
    headers += ["format [95% CI]", "language consistency mean", "in-language (≥0.95) [95% CI]", "truncated [95% CI]"]
    rows = []
    for r in results:
        row = [r["model_stage"], r["stage"], r.get("template"), r.get("n_problems"), _rate(r, "pass@1")]
        row += [_rate(r, k) for k in ks]
        row += [_rate(r, "format"), _fmt(r.get("language_consistency")), _rate(r, "language_consistent")]
        row += [_rate(r, "truncated")]
        rows.append(row)
    blocks = [
        Block("h2", "Evaluations"),
        Block(
            "p",
            "Greedy pass@1, sampled pass@k, format and truncation on the held-out problems, with 95 % Wilson "
            "intervals: where two intervals overlap, the difference is not established by this many problems.",
        ),
        Block("table", headers=headers, rows=rows),
    ]
    png = eval_bars_png(results)
    if png:
        blocks.append(
            Block(
                "image",
                text="pass@1 and format per model (95% Wilson intervals)",
                png=png,
                image="report_files/evaluations.png",
            )
        )
    return blocks


def eval_bars_png(results: list[dict[str, Any]]) -> bytes:
    """pass@1 and format per evaluation (labelled by ``model_stage``) with their Wilson intervals; b"" without
    matplotlib. The run report and bench/data_to_models.py draw with it."""
    try:
        import io

        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return b""
    labels = [str(r["model_stage"]) for r in results]
    fig, ax = plt.subplots(figsize=(max(6, 1.2 * len(labels)), 3.6), dpi=100)
    width = 0.38
    for offset, (metric, color) in enumerate((("pass@1", "#4C72B0"), ("format", "#55A868"))):
        values = [r.get(metric) or 0.0 for r in results]
        lows = [v - ((r.get("intervals") or {}).get(metric) or [v, v])[0] for v, r in zip(values, results)]
        highs = [((r.get("intervals") or {}).get(metric) or [v, v])[1] - v for v, r in zip(values, results)]
        xs = [i + (offset - 0.5) * width for i in range(len(labels))]
        ax.bar(xs, values, width, yerr=[lows, highs], capsize=3, label=metric, color=color)
    ax.set_xticks(range(len(labels)), labels, rotation=20, ha="right", fontsize=8)
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8)
    ax.set_title("held-out evaluation")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


def _model_evals(pipeline: Pipeline) -> dict[str, list[dict[str, Any]]]:
    """Model stage name (or base model name) -> its evaluation results (one per template it was judged under)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for result in eval_rows(pipeline, StateStore(pipeline.run_dir)):
        out.setdefault(str(result["model_stage"]), []).append(result)
    return out


def _data_to_models(pipeline: Pipeline, states: StateStore) -> list[Block]:
    evals = _model_evals(pipeline)
    items = []
    for name, stage in pipeline.stages.items():
        if stage.kind != MODEL:
            continue
        state = states.load(name)
        training = (state.get("data") or {}).get("training") or {}
        before_key = (stage.inputs.get("model") or [str(getattr(stage.config, "model", ""))])[0]
        after = (evals.get(name) or [None])[0]
        candidates = evals.get(before_key) or []
        same = [r for r in candidates if after and r.get("template") == after.get("template")]
        before = (same or candidates or [None])[0]
        data = (stage.inputs.get("dataset") or [getattr(stage.config, "dataset", "?")])[0]
        line = f"**{name}** ({stage.step}) from `{before_key}` on `{data}`"
        if training:
            line += f", {training.get('rows')} rows, {training.get('steps')} steps"
        if before and after:
            changes = []
            for metric in ("pass@1", "format", "language_consistency"):
                b, a = before.get(metric), after.get(metric)
                if a is not None and b is not None:
                    changes.append(f"{metric} {b:.3f} → {a:.3f} ({a - b:+.3f})")
            line += ": " + "; ".join(changes)
            if not same:
                line += (
                    f" (not comparable: the start model was evaluated with template `{before.get('template')}`, "
                    f"this one with `{after.get('template')}`)"
                )
            elif _overlap(before, after, "pass@1"):
                line += " — pass@1 intervals overlap: not a shown difference"
        elif after:
            line += (
                f": pass@1 {_fmt(after.get('pass@1'))}, format {_fmt(after.get('format'))} "
                "(its start model was not evaluated)"
            )
        else:
            line += ": not evaluated"
        items.append(line)
    if not items:
        return []
    return [Block("h2", "Data → models"), Block("list", items=items)]


def _overlap(a: dict[str, Any], b: dict[str, Any], metric: str) -> bool:
    ia, ib = (a.get("intervals") or {}).get(metric), (b.get("intervals") or {}).get(metric)
    return bool(ia and ib and ia[0] <= ib[1] and ib[0] <= ia[1])


def _training(pipeline: Pipeline, states: StateStore) -> list[Block]:
    blocks: list[Block] = []
    for name, stage in pipeline.stages.items():
        if stage.kind != MODEL:
            continue
        path = stage.output / "r1f_training.json"
        if not path.is_file():
            continue
        summary = json.loads(path.read_text())
        history = [e for e in summary.get("log_history") or [] if "step" in e]
        keys = [
            k
            for k in (
                "reward",
                "rewards/accuracy/mean",
                "rewards/format/mean",
                "rewards/tag_count/mean",
                "rewards/language_consistency/mean",
                "loss",
            )
            if any(k in e for e in history)
        ]
        if not keys:
            continue
        png = curves_png(history, keys, f"{name} ({summary.get('stage')})")
        if not blocks:
            blocks.append(Block("h2", "Training curves"))
        last = summary.get("final_logs") or {}
        blocks.append(
            Block(
                "p",
                f"**{name}**: {summary.get('steps')} steps in {summary.get('seconds')} s on "
                f"{summary.get('rows')} rows; "
                + ", ".join(f"{k} {last[k]:.3f}" for k in keys if isinstance(last.get(k), (int, float)))
                + f". Model card: `{stage.output.name}/README.md`.",
            )
        )
        if png:
            blocks.append(Block("image", text=f"{name} curves", png=png, image=f"report_files/{name}-curves.png"))
    return blocks


def curves_png(history: list[dict[str, Any]], keys: list[str], title: str) -> bytes:
    """Logged values per training step (a trainer's ``log_history``), one line per key; b"" without matplotlib."""
    try:
        import io

        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return b""
    fig, ax = plt.subplots(figsize=(6, 3.2), dpi=100)
    for key in keys:
        points = [(e["step"], e[key]) for e in history if isinstance(e.get(key), (int, float))]
        if points:
            ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", markersize=3, label=key)
    ax.set_xlabel("step")
    ax.set_title(title)
    ax.legend(fontsize=7)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


def _datasets(pipeline: Pipeline, states: StateStore) -> list[Block]:
    from r1f.io import read_manifest

    blocks: list[Block] = []
    for name, stage in pipeline.stages.items():
        if stage.kind != DATASET:
            continue
        for label, path in ((name, stage.output), (f"{name} (reviewed)", stage.effective_output)):
            if label != name and path == stage.output:
                continue
            manifest = read_manifest(path) if path.is_dir() else None
            if not manifest:
                continue
            if not blocks:
                blocks.append(Block("h2", "Datasets"))
            counts = manifest.get("counts") or {}
            blocks.append(Block("h3", f"{label} — {manifest.get('kind')}"))
            facts = [
                f"{k}: {counts[k]}"
                for k in ("samples_drawn", "rows", "kept", "dropped", "pass_rate", "train", "test", "accepted")
                if counts.get(k) is not None
            ]
            blocks.append(Block("p", ", ".join(facts) + f". Card: `{path.name}/README.md`."))
            reasons = counts.get("dropped_by_reason") or {}
            if reasons:
                blocks.append(
                    Block(
                        "table",
                        headers=["dropped because", "rows"],
                        rows=sorted(reasons.items(), key=lambda kv: -kv[1]),
                    )
                )
            for plot in sorted((path / "plots").glob("*.png")) if (path / "plots").is_dir() else []:
                if plot.stem in ("pass_rate", "completion_tokens", "languages", "reward_accuracy"):
                    rel = plot.relative_to(pipeline.run_dir)
                    blocks.append(Block("image", text=f"{label}: {plot.stem}", png=plot.read_bytes(), image=str(rel)))
    return blocks


# -- rendering ------------------------------------------------------------------------------------------------


def to_markdown(blocks: list[Block]) -> str:
    lines: list[str] = []
    for block in blocks:
        if block.kind in ("h1", "h2", "h3"):
            lines += ["#" * int(block.kind[1]) + " " + block.text, ""]
        elif block.kind == "p":
            lines += [block.text, ""]
        elif block.kind == "list":
            lines += [f"- {item}" for item in block.items] + [""]
        elif block.kind == "table":
            lines.append("| " + " | ".join(block.headers) + " |")
            lines.append("|" + "---|" * len(block.headers))
            lines += ["| " + " | ".join(_fmt(c) for c in row) + " |" for row in block.rows]
            lines.append("")
        elif block.kind == "image":
            lines += [f"![{block.text}]({block.image})", ""]
    return "\n".join(lines)


CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:14px}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}
th{background:#f0f0f0}img{max-width:100%;border:1px solid #eee;margin:.5em 0}code{background:#f4f4f4;padding:0 3px}
h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}figure{margin:1em 0}
figcaption{font-size:13px;color:#555}
"""


def _inline(text: str) -> str:
    """Markdown's **bold** and `code` in HTML (the only inline marks the report uses)."""
    import re

    out = html.escape(text)
    out = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", out)
    return re.sub(r"`(.+?)`", r"<code>\1</code>", out)


def to_html(blocks: list[Block], title: str) -> str:
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"]
    parts.append(f"<style>{CSS}</style></head><body>")
    for block in blocks:
        if block.kind in ("h1", "h2", "h3"):
            parts.append(f"<{block.kind}>{_inline(block.text)}</{block.kind}>")
        elif block.kind == "p":
            parts.append(f"<p>{_inline(block.text)}</p>")
        elif block.kind == "list":
            parts.append("<ul>" + "".join(f"<li>{_inline(i)}</li>" for i in block.items) + "</ul>")
        elif block.kind == "table":
            head = "".join(f"<th>{html.escape(h)}</th>" for h in block.headers)
            body = "".join(
                "<tr>" + "".join(f"<td>{html.escape(_fmt(c))}</td>" for c in row) + "</tr>" for row in block.rows
            )
            parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
        elif block.kind == "image" and block.png:
            data = base64.b64encode(block.png).decode()
            parts.append(
                f"<figure><img alt='{html.escape(block.text)}' src='data:image/png;base64,{data}'>"
                f"<figcaption>{html.escape(block.text)}</figcaption></figure>"
            )
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(pipeline: Pipeline) -> tuple[Path, Path]:
    """Write ``report.md`` (with PNGs in ``report_files/``) and the self-contained ``report.html``."""
    states = StateStore(pipeline.run_dir)
    blocks = build(pipeline, states)
    files = pipeline.run_dir / "report_files"
    for block in blocks:
        if block.kind == "image" and block.png and block.image.startswith("report_files/"):
            files.mkdir(parents=True, exist_ok=True)
            (pipeline.run_dir / block.image).write_bytes(block.png)
    md = pipeline.run_dir / "report.md"
    page = pipeline.run_dir / "report.html"
    md.write_text(to_markdown(blocks))
    page.write_text(to_html(blocks, f"r1-factory run: {pipeline.name}"))
    return md, page


__all__ = ["EVAL", "RATES", "build", "to_html", "to_markdown", "write_report"]
