"""Servers the tests start on 127.0.0.1.

``transformers_serve`` is the real OpenAI-compatible server from transformers, serving the
converted embedded model. ``FaultServer`` is a *test double*, written for the two faults a real
server cannot be made to produce on demand: answering 429/500 before succeeding, and never
answering at all.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

from r1f.signals import stop_process


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def transformers_serve(model_dir: str, home: Path) -> Iterator[str]:
    """Start ``transformers serve`` on a free loopback port; yields its /v1 URL and stops it after."""
    (home / "hub").mkdir(parents=True, exist_ok=True)  # /v1/models answers 500 without it
    port = free_port()
    env = {**os.environ, "HF_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    exe = Path(sys.executable).with_name("transformers")
    log = open(home / "serve.log", "w")
    proc = subprocess.Popen(
        [
            str(exe),
            "serve",
            model_dir,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--device",
            "cpu",
            "--dtype",
            "float32",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=home,
    )
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.time() + 180
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"transformers serve exited: {(home / 'serve.log').read_text()[-2000:]}")
            try:
                if httpx.get(f"{url}/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.time() > deadline:
                raise RuntimeError("transformers serve did not start in 180 s")
            time.sleep(0.5)
        yield url
    finally:
        stop_process(proc, timeout=20)
        log.close()


class FaultServer:
    """A loopback test double that replays scripted statuses, then answers with a fixed completion.

    ``script`` is consumed one request at a time: an int is an HTTP status to answer with,
    ``"hang"`` holds the request open until the server stops, ``"401-echo"`` refuses the request with an
    error that repeats its Authorization header (as some servers do). When the script is used up, every
    request gets a 200 with one choice.
    """

    def __init__(self, script: list[int | str]) -> None:
        self.script = list(script)
        self.requests: list[dict] = []
        self.release = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output quiet
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                server.requests.append({"body": body, "auth": self.headers.get("authorization")})
                step = server.script.pop(0) if server.script else 200
                if step == "hang":
                    server.release.wait(30)
                    return
                if step == "401-echo":  # what some servers do: echo the key they were sent in the error
                    text = f"Incorrect API key provided: {self.headers.get('authorization')}"
                    payload = json.dumps({"error": {"message": text}}).encode()
                    self.send_response(401)
                elif step != 200:
                    payload = b'{"error": "scripted fault"}'
                    self.send_response(step)
                    if step == 429:
                        self.send_header("retry-after", "0")
                else:
                    payload = json.dumps(
                        {
                            "choices": [
                                {
                                    "index": 0,
                                    "finish_reason": "stop",
                                    "message": {"role": "assistant", "content": "<answer>4</answer>"},
                                }
                            ],
                            "usage": {"prompt_tokens": 9, "completion_tokens": 5},
                        }
                    ).encode()
                    self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> FaultServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()
