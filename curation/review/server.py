"""A real local Argilla for people without Docker or Elasticsearch: ``r1f review serve``.

Three processes on 127.0.0.1, started and stopped together: Debian's ``redis-server`` on a free
port (the server's job queue), the official ``argilla-server`` (FastAPI, SQLite database, web UI)
under uvicorn, and one rq worker for its background jobs. The server runs from its own virtual
environment because its pins clash with ours (and it needs ``click<8.2``, ``huggingface-hub<1.0``);
search goes through the SQLite engine in ``sqlite_search.py``, registered by ``server_main.py``.

Everything lives under one home directory (``R1F_ARGILLA_HOME``, default
``~/.cache/r1-factory/argilla``): the venv, the Argilla database, the search index, logs, and
``credentials.json`` (mode 600) with the owner's API key, which the review commands read when no
``--api-url``/``--api-key`` is given.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from curation.review.credentials import Credentials, default_home
from r1f.errors import R1FactoryError
from r1f.signals import stop_process

SERVER_PIN = "argilla-server==2.8.0"
SERVER_EXTRA_PINS = ("click<8.2", "huggingface-hub<1.0")
HERE = Path(__file__).resolve().parent


class ServerError(R1FactoryError):
    """The local Argilla (or one of its parts) could not be installed or started."""


#: run in the server's venv: create the owner from a key and password read on stdin
CREATE_OWNER = (
    "import asyncio, json, sys\n"
    "from argilla_server.cli.database.users.create_default import _create_default\n"
    "secret = json.load(sys.stdin)\n"
    "asyncio.run(_create_default(secret['api_key'], secret['password'], True))\n"
)


def _write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read (mode 600 from the start, not chmod-ed after)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    path.chmod(0o600)


def venv_dir(home: Path) -> Path:
    return Path(os.environ["R1F_ARGILLA_VENV"]) if os.environ.get("R1F_ARGILLA_VENV") else home / "venv"


def ensure_server_venv(home: Path, *, install: bool = True) -> Path:
    """The Python of the server's venv, creating it (about a minute, from the registries) when missing."""
    venv = venv_dir(home)
    python = venv / "bin" / "python"
    stamp = venv / ".r1f-argilla-installed"
    if stamp.is_file() and stamp.read_text().strip() == SERVER_PIN:
        return python
    if not install:
        raise ServerError(
            f"no Argilla server venv at {venv}; run `r1f review serve` once (it installs it) or `make argilla`"
        )
    venv.parent.mkdir(parents=True, exist_ok=True)
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    result = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", SERVER_PIN, *SERVER_EXTRA_PINS],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["(no output)"]
        raise ServerError(f"installing {SERVER_PIN} into {venv} failed: {tail[0]}")
    stamp.write_text(SERVER_PIN + "\n")
    return python


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_port(port: int, process: subprocess.Popen, what: str, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerError(f"{what} exited with code {process.returncode}; see {log}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise ServerError(f"{what} did not open 127.0.0.1:{port} within {timeout:.0f} s; see {log}")


def _wait_ready(url: str, process: subprocess.Popen, log: Path, timeout: float = 90) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerError(f"argilla-server exited with code {process.returncode}; see {log}")
        try:
            if httpx.get(f"{url}/api/v1/status", timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise ServerError(f"argilla-server did not answer at {url} within {timeout:.0f} s; see {log}")


@contextmanager
def local_argilla(
    home: Path | None = None, *, port: int | None = None, install: bool = True, reviewers: tuple[str, ...] = ()
) -> Iterator[Credentials]:
    """Start Redis, the Argilla server and its worker on 127.0.0.1; stop all three on exit.

    The database and search index persist in ``home`` (mode 700; the databases mode 600), so a restart shows
    the same datasets. Redis requires a password (in a mode-600 config file), even on loopback. ``reviewers``
    are created as annotators, each with their own password and API key (``home/reviewers/NAME.json``).
    """
    home = Path(home or default_home())
    home.mkdir(parents=True, exist_ok=True)
    home.chmod(0o700)  # the database, the search index and credentials.json hold every API key
    redis = shutil.which("redis-server")
    if redis is None:
        raise ServerError("redis-server not found; install it (Debian: `apt-get install redis-server`)")
    python = ensure_server_venv(home, install=install)
    data = home / "data"
    data.mkdir(exist_ok=True)
    data.chmod(0o700)
    logs = home / "logs"
    logs.mkdir(exist_ok=True)
    logs.chmod(0o700)
    port = port or free_port()
    redis_port = free_port()
    previous = Credentials.load(home)
    api_key = previous.api_key if previous else "r1f." + secrets.token_urlsafe(24)
    password = previous.password if previous else secrets.token_urlsafe(12)
    redis_password = secrets.token_urlsafe(24)
    redis_conf = data / "redis.conf"  # the password goes in a mode-600 file, never on a command line
    _write_private(
        redis_conf,
        f"port {redis_port}\nbind 127.0.0.1\nprotected-mode yes\nrequirepass {redis_password}\n"
        f'save ""\nappendonly no\ndir {data}\n',
    )
    env = {
        **os.environ,
        "ARGILLA_HOME_PATH": str(data),
        "ARGILLA_DATABASE_URL": f"sqlite+aiosqlite:///{data / 'argilla.db'}?check_same_thread=False",
        "ARGILLA_REDIS_URL": f"redis://:{redis_password}@127.0.0.1:{redis_port}/0",
        "ARGILLA_SEARCH_ENGINE": "sqlite",
        "ARGILLA_SQLITE_SEARCH_PATH": str(data / "search.sqlite"),
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "HF_HUB_OFFLINE": "1",
        "PYTHONPATH": str(HERE),
    }
    env.pop("VIRTUAL_ENV", None)
    for name in ("ARGILLA_API_KEY", "OPENAI_API_KEY", "HF_TOKEN"):  # the server needs none of the user's keys
        env.pop(name, None)
    processes: list[subprocess.Popen] = []

    def spawn(name: str, args: list[str]) -> subprocess.Popen:
        with open(logs / f"{name}.log", "ab") as log:  # the child keeps its own copy of the descriptor
            process = subprocess.Popen(
                args, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=home, start_new_session=True, umask=0o077
            )
        processes.append(process)
        return process

    try:
        redis_process = spawn("redis", [redis, str(redis_conf)])
        _wait_port(redis_port, redis_process, "redis-server", logs / "redis.log")
        migrate = subprocess.run(
            [str(python), "-m", "argilla_server", "database", "migrate"],
            env=env,
            capture_output=True,
            text=True,
            cwd=home,
            umask=0o077,
        )
        if migrate.returncode != 0:
            tail = (migrate.stderr or migrate.stdout).strip().splitlines()[-1:] or [""]
            raise ServerError(f"argilla-server database migrate failed: {tail[0]}")
        # the owner's key and password go through stdin: a command line is visible to every user (ps)
        owner = subprocess.run(
            [str(python), "-c", CREATE_OWNER],
            input=json.dumps({"api_key": api_key, "password": password}),
            env=env,
            capture_output=True,
            text=True,
            cwd=home,
            umask=0o077,
        )
        if owner.returncode != 0:
            tail = (owner.stderr or owner.stdout).strip().splitlines()[-1:] or [""]
            raise ServerError(f"creating the Argilla owner failed: {tail[0]}")
        for path in data.glob("*.db*"):
            path.chmod(0o600)
        server = spawn("server", [str(python), str(HERE / "server_main.py"), "serve", "127.0.0.1", str(port)])
        spawn("worker", [str(python), str(HERE / "server_main.py"), "worker"])
        url = f"http://127.0.0.1:{port}"
        _wait_ready(url, server, logs / "server.log")
        credentials = Credentials(api_url=url, api_key=api_key, password=password)
        credentials.save(home)
        if reviewers:
            from curation.review.client import ensure_reviewers

            ensure_reviewers(credentials, reviewers, home)
        for path in data.glob("*.sqlite*"):
            path.chmod(0o600)
        yield credentials
    finally:
        for process in reversed(processes):  # worker, server, then redis: nothing outlives what it talks to
            stop_process(process, timeout=10)
        stale = Credentials.load(home)
        if stale is not None and stale.api_url == f"http://127.0.0.1:{port}":
            # no URL any more, but the key and password stay for the next start (same owner, same database)
            Credentials(api_url="", api_key=stale.api_key, password=stale.password).save(home)
