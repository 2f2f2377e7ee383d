"""Keys and tokens never reach the terminal, a log or a file: every message from outside goes through here.

Servers echo what they were sent ("Incorrect API key provided: Bearer sk-…"), and libraries put URLs with
credentials in their errors. :func:`redact` masks the values of this process's secret-looking environment
variables wherever they appear, and the shapes keys take (``Bearer …``, ``sk-…``, ``hf_…``, ``key=…``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable

MASK = "***"
SECRET_NAME_RE = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL", re.I)
PATTERNS = (
    re.compile(r"(Bearer\s+)[^\s\"',;]+", re.I),
    re.compile(r"\b((?:sk|hf|r1f|rk|pk|ghp|xox[bp])[-_.])[A-Za-z0-9_\-]{6,}"),
    re.compile(r"((?:api[_-]?key|token|password|secret)[\"']?\s*[:=]\s*[\"']?)[^\s\"',;}&]+", re.I),
    re.compile(r"(://[^/\s:@]*:)[^@\s/]+(@)"),  # user:password@host in URLs
)


def secret_values() -> list[str]:
    """Values of environment variables whose names say they are secrets (long enough to be one)."""
    return sorted((v for k, v in os.environ.items() if SECRET_NAME_RE.search(k) and len(v) >= 6), key=len, reverse=True)


def redact(text: str, values: Iterable[str] = ()) -> str:
    """``text`` with known secret values and key-shaped strings masked.

    >>> redact("Incorrect API key provided: Bearer sk-abc123def456")
    'Incorrect API key provided: Bearer ***'
    >>> redact("redis://:hunter2hunter2@127.0.0.1:6379/0")
    'redis://:***@127.0.0.1:6379/0'
    """
    for value in [*values, *secret_values()]:
        if value and len(value) >= 6:
            text = text.replace(value, MASK)
    for pattern in PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + MASK + (m.group(2) if m.re.groups > 1 else ""), text)
    return text
