"""reasoning-gym's own scorers beside ours: our accuracy reward decides, the row shows where theirs differs.

reasoning-gym scores an answer that merely contains the right one with partial credit (oracle "4", answer
"14" -> 0.5). Rows that came from reasoning-gym (``source: reasoning-gym/<task>``, with the task's entry in
``rg_entry``) get ``rg_score`` and ``scorer_disagrees`` so the difference is visible, never silently used.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from filters.text import answer_region, completion_text


def annotate(rows: Sequence[dict[str, Any]], completion_column: str = "completion") -> None:
    """Add ``rg_score`` and ``scorer_disagrees`` (vs ``reward_accuracy``) to reasoning-gym rows, in place."""
    mine = [r for r in rows if str(r.get("source") or "").startswith("reasoning-gym/") and r.get("rg_entry")]
    if not mine:
        return
    import reasoning_gym

    for row in mine:
        task = str(row["source"]).split("/", 1)[1]
        scorer = reasoning_gym.get_score_answer_fn(task)
        answer = answer_region(completion_text(row.get(completion_column))).strip()
        row["rg_score"] = float(scorer(answer=answer, entry=json.loads(row["rg_entry"])))
        ours = row.get("reward_accuracy")
        row["scorer_disagrees"] = ours is not None and row["rg_score"] != ours
