"""Where a running Argilla is and how to log in: written by ``r1f review serve``, read by the review commands.

Its own module so that the review client and the server that writes it do not import each other.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from r1f.errors import ConfigError

OWNER = "argilla"  # the server's default owner name (create_default)
CREDENTIALS = "credentials.json"


def default_home() -> Path:
    if os.environ.get("R1F_ARGILLA_HOME"):
        return Path(os.environ["R1F_ARGILLA_HOME"])
    cache = Path(os.environ.get("R1F_CACHE_DIR", Path.home() / ".cache" / "r1-factory"))
    return cache / "argilla"


@dataclass
class Credentials:
    """Where a running Argilla is and how to log in; written by ``serve``, read by the review commands."""

    api_url: str
    api_key: str
    username: str = OWNER
    password: str = ""

    @classmethod
    def load(cls, home: Path, name: str = CREDENTIALS) -> Credentials | None:
        path = home / name
        return cls(**json.loads(path.read_text())) if path.is_file() else None

    def save(self, home: Path, name: str = CREDENTIALS) -> Path:
        """Write mode 600 from the first byte (a chmod after writing leaves a window where others could read)."""
        path = home / name
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.unlink(missing_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(json.dumps(self.__dict__, indent=2) + "\n")
        tmp.replace(path)
        return path


#: what a reviewer may be called: the name is an Argilla user name and a file name in the review home
REVIEWER_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


def check_reviewer(name: str) -> str:
    """A reviewer name, or a one-line error: ``../credentials`` would write a key over the owner's file."""
    if not REVIEWER_RE.fullmatch(name or ""):
        raise ConfigError(
            f"--reviewer {name!r}: use letters, digits, '_' and '-' (up to 64, starting with a letter or digit)"
        )
    return name


def reviewer_file(name: str) -> str:
    """Where a reviewer's own credentials live in the review home (mode 600)."""
    return f"reviewers/{check_reviewer(name)}.json"


def resolve_credentials(api_url: str | None, api_key: str | None, home: Path | None = None) -> Credentials:
    """``--api-url``/``--api-key`` (or ``ARGILLA_API_URL``/``ARGILLA_API_KEY``), else the local server's."""
    api_url = api_url or os.environ.get("ARGILLA_API_URL")
    api_key = api_key or os.environ.get("ARGILLA_API_KEY")
    if api_url and api_key:
        return Credentials(api_url=api_url.rstrip("/"), api_key=api_key)
    local = Credentials.load(Path(home or default_home()))
    if local and local.api_url:
        return Credentials(api_url=api_url or local.api_url, api_key=api_key or local.api_key, password=local.password)
    raise ConfigError(
        "no Argilla to talk to: start one with `r1f review serve` (in another terminal), or pass --api-url and "
        "--api-key (or set ARGILLA_API_URL and ARGILLA_API_KEY) for an existing Argilla"
    )
