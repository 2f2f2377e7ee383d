"""Row ids and the column names shared by every stage.

Ids are hashes of canonical JSON (sorted keys, no whitespace) so that the same inputs give the
same id in any process, on any machine; reruns, dedup and resume all rely on that.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

# Column names follow TRL / open-r1 so that outputs load straight into trainers.
ID = "id"
PROBLEM = "problem"
SOLUTION = "solution"
PROMPT = "prompt"
MESSAGES = "messages"
COMPLETION = "completion"

Messages = list[dict[str, str]]


def canonical_json(value: Any) -> str:
    """JSON that is byte-identical for equal values (sorted keys, compact separators)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def stable_id(*parts: Any, length: int = 16) -> str:
    """A short hex digest of ``parts``; equal inputs give equal ids across runs and machines.

    >>> stable_id("a", {"b": 1}) == stable_id("a", {"b": 1})
    True
    """
    digest = hashlib.sha256(canonical_json(list(parts)).encode("utf-8")).hexdigest()
    return digest[:length]
