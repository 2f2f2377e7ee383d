"""Keys and tokens never reach the terminal, a log or a file; local paths never reach a published file.

Every message from outside goes through :func:`redact`; every manifest, card, run-store parameter file and
model card goes through :func:`public` (secrets masked, absolute paths made relative to the working directory
or cut to their file name, the command line's secret flags masked) before it is written.

Servers echo what they were sent ("Incorrect API key provided: Bearer sk-…"), and libraries put URLs with
credentials in their errors. :func:`redact` masks the values of this process's secret-looking environment
variables wherever they appear, and the shapes keys take (``Bearer …``, ``sk-…``, ``hf_…``, ``key=…``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from typing import Any

MASK = "***"
SECRET_NAME_RE = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL", re.I)
PATTERNS = (
    re.compile(r"(Bearer\s+)[^\s\"',;]+", re.I),
    re.compile(r"\b((?:sk|hf|r1f|rk|pk|ghp|xox[bp])[-_.])[A-Za-z0-9_\-]{6,}"),
    # key=value / "token": "value": the value must look like a key (a digit in it), so "token: set HF_TOKEN" stays
    re.compile(r"((?:api[_-]?key|token|password|secret)[\"']?\s*[:=]\s*[\"']?)(?=[^\s\"',;}&]*\d)[^\s\"',;}&]+", re.I),
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


#: command-line flags whose value is a secret (``--api-key KEY``, ``--token=T``, ``--hf-token``)
SECRET_FLAG_RE = re.compile(r"^--?(?:[\w-]*[-_])?(?:key|token|secret|password|passwd|credentials?)$", re.I)


def public_path(text: str) -> str:
    """An absolute path as it may be published: relative to the working directory when under it, else its name.

    >>> import os; public_path(os.path.join(os.getcwd(), "data", "x.jsonl")), public_path("/home/ann/secret/x.jsonl")
    ('data/x.jsonl', 'x.jsonl')
    >>> public_path("gsm8k=/home/ann/gsm8k_test.jsonl")
    'gsm8k=gsm8k_test.jsonl'
    """
    name, eq, rest = text.partition("=")
    if eq and re.fullmatch(r"[\w.-]+", name) and "/" in rest:
        return f"{name}={public_path(rest)}"  # a named dataset's local copy (gsm8k=/data/x.jsonl), --flag=PATH
    if not text.startswith(("/", "~")) or "\n" in text or len(text) > 4096:
        return text
    path = os.path.expanduser(text)
    cwd = os.getcwd()
    if path == cwd:
        return "."
    if path.startswith(cwd.rstrip("/") + "/"):
        return os.path.relpath(path, cwd)
    return os.path.basename(path.rstrip("/")) or text


def public_command(argv: Iterable[str]) -> list[str]:
    """The command line as it may be recorded: the program as ``r1f``, secret flags' values masked, URL passwords
    and key shapes masked, paths made public.

    >>> public_command(["/usr/bin/r1f", "review", "pull", "x", "--api-key", "k3y-abcdef", "--token=abc123456"])
    ['r1f', 'review', 'pull', 'x', '--api-key', '***', '--token=***']
    """
    args = list(argv)
    out: list[str] = []
    hide_next = False
    for i, arg in enumerate(args):
        if i == 0:
            out.append("r1f" if "r1f" in arg or arg.endswith("__main__.py") else os.path.basename(arg))
            continue
        if hide_next:
            out.append(MASK)
            hide_next = False
            continue
        flag, eq, _ = arg.partition("=")
        if SECRET_FLAG_RE.match(flag):
            if eq:
                out.append(f"{flag}={MASK}")
            else:
                out.append(arg)
                hide_next = True
            continue
        out.append(public_path(redact(arg)))
    return out


def public(data: Any) -> Any:
    """``data`` (manifests, parameters, identities) with every string redacted and absolute paths made public."""
    if isinstance(data, str):
        return public_path(redact(data))
    if isinstance(data, dict):
        return {
            k: (MASK if isinstance(k, str) and SECRET_FLAG_RE.match("--" + k) and v else public(v))
            for k, v in data.items()
        }
    if isinstance(data, (list, tuple)):
        return [public(v) for v in data]
    return data
