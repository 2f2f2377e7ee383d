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


def gold_text(value: Any) -> str | None:
    """A gold answer as text, the one form verification reads: ``3`` and ``3.0`` -> ``"3"``, ``0.25`` -> ``"0.25"``.

    Files mix ints, floats and strings in one column (CSV readers and pandas do it); converting on read keeps
    one type per column and one meaning per answer. Raises ``ValueError`` for values that are no answer at
    all (NaN, infinity, booleans, lists), which the reader turns into an error naming the file and row.

    >>> gold_text(3), gold_text(3.0), gold_text(0.25), gold_text(" 7/12 "), gold_text(None)
    ('3', '3', '0.25', '7/12', None)
    """
    import math

    if value is None:
        return None
    if isinstance(value, bool) or isinstance(value, (list, dict)):
        raise ValueError(f"{value!r} is not an answer")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value!r} is not an answer (write the number or the text)")
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, int):
        return str(value)
    text = str(value).strip()
    if text.lower() in ("nan", "inf", "-inf", "infinity"):
        raise ValueError(f"{text!r} is not an answer")
    return text


#: chat roles a training row may use
ROLES = ("system", "user", "assistant", "tool")


def message_problem(messages: Any) -> str | None:
    """Why ``messages`` is not a chat (a list of ``{role, content}`` with known roles and text), or None.

    >>> message_problem([{"role": "user", "content": "2+2?"}]) is None
    True
    >>> message_problem("2+2?"), message_problem([{"role": "wizard", "content": "hi"}])
    ('is text, not a list of chat messages', "message 1 has role 'wizard' (roles: system, user, assistant, tool)")
    """
    if isinstance(messages, str):
        return "is text, not a list of chat messages"
    if not isinstance(messages, (list, tuple)) or not messages:
        return "is not a non-empty list of chat messages"
    for i, message in enumerate(messages, start=1):
        if not isinstance(message, dict) or "role" not in message or "content" not in message:
            return f"message {i} is not a {{role, content}} mapping"
        if message["role"] not in ROLES:
            return f"message {i} has role {message['role']!r} (roles: {', '.join(ROLES)})"
        if not isinstance(message["content"], str):
            return f"message {i} has content of type {type(message['content']).__name__}, not text"
    return None
