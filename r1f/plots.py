"""PNG plots for datasets (histograms, category shares), rendered headless to bytes so they can be
written atomically with the dataset."""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any


def _figure() -> tuple[Any, Any, Any]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=100)
    return plt, fig, ax


def _png(plt: Any, fig: Any, ax: Any, xlabel: str) -> bytes:
    ax.set_xlabel(xlabel)
    ax.set_ylabel("rows")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


def histogram_png(values: Sequence[float], *, title: str, xlabel: str, bins: int = 20) -> bytes:
    """A histogram as PNG bytes; ``None`` values are counted in the title, not plotted."""
    plt, fig, ax = _figure()
    present = [float(v) for v in values if v is not None]
    missing = len(values) - len(present)
    ax.hist(present, bins=bins, color="#4C72B0", edgecolor="white")
    mean = sum(present) / len(present) if present else float("nan")
    ax.set_title(f"{title} (n={len(present)}, mean={mean:.3f}" + (f", {missing} not judged)" if missing else ")"))
    return _png(plt, fig, ax, xlabel)


def bar_png(counts: dict[str, int], *, title: str, xlabel: str) -> bytes:
    """A bar chart of category shares (e.g. languages) as PNG bytes, largest first, labelled in percent."""
    plt, fig, ax = _figure()
    items = sorted(counts.items(), key=lambda kv: -kv[1])
    total = sum(counts.values()) or 1
    bars = ax.bar([str(k) for k, _ in items], [v for _, v in items], color="#55A868")
    for bar, (_, value) in zip(bars, items):
        ax.annotate(
            f"{100 * value / total:.0f}%",
            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
            ha="center",
            va="bottom",
            fontsize=8,
        )
    ax.set_title(f"{title} (n={total})")
    return _png(plt, fig, ax, xlabel)


def dataset_plots(
    rows: Sequence[Mapping[str, Any]], reward_columns: Sequence[str], extra: Mapping[str, list] | None = None
) -> dict[str, bytes]:
    """The PNGs a dataset directory carries: one histogram per reward column, completion lengths, anything in
    ``extra`` (e.g. pass rates), and language shares; ``{}`` when matplotlib (an extra) is not installed."""
    out: dict[str, bytes] = {}
    try:
        for column in reward_columns:
            values = [r.get(column) for r in rows]
            out[f"plots/{column}.png"] = histogram_png(values, title=column.removeprefix("reward_"), xlabel=column)
        lengths = [r["completion_tokens"] for r in rows if r.get("completion_tokens") is not None]
        if lengths:
            out["plots/completion_tokens.png"] = histogram_png(lengths, title="completion length", xlabel="tokens")
        for name, values in (extra or {}).items():
            out[f"plots/{name}.png"] = histogram_png(values, title=name, xlabel=name, bins=10)
        languages = Counter(str(r["lang"]) for r in rows if r.get("lang"))
        if languages:
            out["plots/languages.png"] = bar_png(dict(languages), title="language shares", xlabel="language")
    except ImportError:
        return {}
    return out
