"""A TEST DOUBLE of the Hugging Face Hub's HTTP API, owned by this test suite.

No self-hostable Hub server that accepts uploads exists on the registries here, so publishing is
tested against this loopback stand-in. It implements only what ``huggingface_hub`` (upload path
with ``HF_HUB_DISABLE_XET=1``) and ``datasets.load_dataset`` call for a dataset repo: create repo,
create branch, preupload (every file "regular", sent inline), NDJSON commit (add / delete files),
repo info per revision, tree listing, paths-info, resolve (GET/HEAD with byte ranges), YAML
validation and whoami. Repos live in memory; every commit is a full snapshot with its own sha, so
revisions and re-pushes behave as on the Hub. Private repos need a bearer token.
"""

import base64
import hashlib
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import unquote

import yaml
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

TOKEN = "hf_double_token_not_a_secret"
USER = "tester"


@dataclass
class Repo:
    private: bool
    branches: dict[str, str] = field(default_factory=dict)
    commits: dict[str, dict[str, bytes]] = field(default_factory=dict)
    messages: dict[str, str] = field(default_factory=dict)

    def snapshot(self, revision: str) -> "tuple[str, dict[str, bytes]] | None":
        sha = self.branches.get(revision, revision if revision in self.commits else None)
        return (sha, self.commits[sha]) if sha else None


def _sha(files: dict[str, bytes], parent: str) -> str:
    digest = hashlib.sha1(parent.encode())
    for path in sorted(files):
        digest.update(path.encode() + hashlib.sha1(files[path]).digest())
    digest.update(str(time.time_ns()).encode())
    return digest.hexdigest()


def make_app(repos: dict[str, Repo]):  # noqa: C901 (one route table, read top to bottom)
    app = FastAPI()

    def error(status: int, message: str, code: str | None = None) -> JSONResponse:
        headers = {"X-Error-Code": code, "X-Error-Message": message} if code else {"X-Error-Message": message}
        return JSONResponse({"error": message}, status_code=status, headers=headers)

    def authorised(request: Request, repo: Repo) -> bool:
        return not repo.private or request.headers.get("authorization") == f"Bearer {TOKEN}"

    def lookup(request: Request, repo_id: str, revision: str | None):
        repo = repos.get(repo_id)
        if repo is None or not authorised(request, repo):
            return None, error(404, f"Repository {repo_id} not found", "RepoNotFound")
        found = repo.snapshot(unquote(revision or "main"))
        if found is None:
            return None, error(404, f"Revision {revision} not found", "RevisionNotFound")
        return (repo, *found), None

    def entry(path: str, content: bytes) -> dict:
        return {"type": "file", "path": path, "size": len(content), "oid": hashlib.sha1(content).hexdigest()}

    def directories(files: dict[str, bytes]) -> set[str]:
        out = set()
        for path in files:
            parts = path.split("/")[:-1]
            out.update("/".join(parts[: i + 1]) for i in range(len(parts)))
        return out

    @app.get("/api/whoami-v2")
    async def whoami(request: Request):
        if request.headers.get("authorization") != f"Bearer {TOKEN}":
            return error(401, "Invalid credentials in Authorization header")
        return {"type": "user", "name": USER, "orgs": [], "auth": {"type": "access_token"}}

    @app.post("/api/validate-yaml")
    async def validate_yaml(request: Request):
        content = (await request.json()).get("content", "")
        if content.startswith("---"):
            content = content.split("---")[1]
        try:
            meta = yaml.safe_load(content) or {}
        except yaml.YAMLError as err:
            return error(400, f"Invalid YAML: {err}")
        if not isinstance(meta, dict):
            return error(400, "YAML metadata must be a mapping")
        return {"errors": [], "warnings": []}

    @app.post("/api/repos/create")
    async def create_repo(request: Request):
        if request.headers.get("authorization") != f"Bearer {TOKEN}":
            return error(401, "Invalid credentials in Authorization header")
        body = await request.json()
        repo_id = f"{body.get('organization') or USER}/{body['name']}"
        url = f"{request.base_url}datasets/{repo_id}"
        if body.get("type") != "dataset":
            return error(400, "the double only hosts dataset repos")
        if repo_id in repos:
            return JSONResponse({"error": "You already created this dataset repo", "url": url}, status_code=409)
        repo = Repo(private=body.get("visibility", "private" if body.get("private") else "public") != "public")
        sha = _sha({}, "")
        repo.commits[sha], repo.branches["main"] = {}, sha
        repos[repo_id] = repo
        return {"url": url, "name": repo_id}

    @app.post("/api/datasets/{ns}/{name}/branch/{branch:path}")
    async def create_branch(ns: str, name: str, branch: str, request: Request):
        found, problem = lookup(request, f"{ns}/{name}", "main")
        if problem:
            return problem
        repo, sha, _ = found
        if unquote(branch) in repo.branches:
            return error(409, f"Reference already exists: {branch}")
        repo.branches[unquote(branch)] = sha
        return {}

    @app.post("/api/datasets/{ns}/{name}/preupload/{revision:path}")
    async def preupload(ns: str, name: str, revision: str, request: Request):
        _, problem = lookup(request, f"{ns}/{name}", revision)
        if problem:
            return problem
        body = await request.json()
        return {"files": [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False} for f in body["files"]]}

    @app.post("/api/datasets/{ns}/{name}/commit/{revision:path}")
    async def commit(ns: str, name: str, revision: str, request: Request):
        repo_id = f"{ns}/{name}"
        found, problem = lookup(request, repo_id, revision)
        if problem:
            return problem
        repo, parent, files = found
        if request.headers.get("authorization") != f"Bearer {TOKEN}":
            return error(401, "Invalid credentials in Authorization header")
        new = dict(files)
        summary = ""
        for line in (await request.body()).splitlines():
            if not line.strip():
                continue
            item = json.loads(line)
            key, value = item["key"], item["value"]
            if key == "header":
                summary = value.get("summary", "")
            elif key == "file":
                new[value["path"]] = base64.b64decode(value["content"])
            elif key == "deletedFile":
                new.pop(value["path"], None)
            elif key == "deletedFolder":
                prefix = value["path"].rstrip("/") + "/"
                new = {p: c for p, c in new.items() if not p.startswith(prefix)}
            else:
                return error(400, f"the double does not support commit operation {key!r}")
        sha = _sha(new, parent)
        repo.commits[sha], repo.messages[sha] = new, summary
        repo.branches[unquote(revision)] = sha
        return {"commitUrl": f"{request.base_url}datasets/{repo_id}/commit/{sha}", "commitOid": sha, "success": True}

    @app.get("/api/datasets/{ns}/{name}")
    @app.get("/api/datasets/{ns}/{name}/revision/{revision:path}")
    async def info(ns: str, name: str, request: Request, revision: str | None = None):
        repo_id = f"{ns}/{name}"
        found, problem = lookup(request, repo_id, revision)
        if problem:
            return problem
        repo, sha, files = found
        card = {}
        readme = files.get("README.md", b"").decode()
        if readme.startswith("---"):
            card = yaml.safe_load(readme.split("---")[1]) or {}
        return {
            "_id": sha[:24],
            "id": repo_id,
            "author": ns,
            "sha": sha,
            "private": repo.private,
            "gated": False,
            "disabled": False,
            "downloads": 0,
            "likes": 0,
            "tags": list(card.get("tags", [])),
            "cardData": card,
            "lastModified": "2026-11-23T00:00:00.000Z",
            "createdAt": "2026-11-23T00:00:00.000Z",
            "siblings": [{"rfilename": path, "size": len(c)} for path, c in sorted(files.items())],
        }

    @app.get("/api/datasets/{ns}/{name}/tree/{revision}")
    @app.get("/api/datasets/{ns}/{name}/tree/{revision}/{path:path}")
    async def tree(ns: str, name: str, revision: str, request: Request, path: str = ""):
        found, problem = lookup(request, f"{ns}/{name}", revision)
        if problem:
            return problem
        _, _, files = found
        recursive = request.query_params.get("recursive") in ("1", "true", "True")
        prefix = path.strip("/") + "/" if path.strip("/") else ""
        if prefix and not any(p.startswith(prefix) for p in files):
            return error(404, f"{path} does not exist", "EntryNotFound")
        out = []
        for directory in sorted(directories(files)):
            rest = directory[len(prefix) :]
            if directory.startswith(prefix) and rest and (recursive or "/" not in rest):
                out.append(
                    {"type": "directory", "path": directory, "oid": hashlib.sha1(directory.encode()).hexdigest()}
                )
        for file, content in sorted(files.items()):
            rest = file[len(prefix) :]
            if file.startswith(prefix) and (recursive or "/" not in rest):
                out.append(entry(file, content))
        return out

    @app.post("/api/datasets/{ns}/{name}/paths-info/{revision:path}")
    async def paths_info(ns: str, name: str, revision: str, request: Request):
        found, problem = lookup(request, f"{ns}/{name}", revision)
        if problem:
            return problem
        _, _, files = found
        form = await request.form() if "form" in request.headers.get("content-type", "") else None
        paths = form.getlist("paths") if form is not None else (await request.json()).get("paths", [])
        out = []
        folders = directories(files)
        for path in paths:
            if path in files:
                out.append(entry(path, files[path]))
            elif path.rstrip("/") in folders:
                out.append({"type": "directory", "path": path.rstrip("/"), "oid": "0" * 40})
        return out

    @app.api_route("/datasets/{ns}/{name}/resolve/{revision}/{path:path}", methods=["GET", "HEAD"])
    async def resolve(ns: str, name: str, revision: str, path: str, request: Request):
        found, problem = lookup(request, f"{ns}/{name}", revision)
        if problem:
            return problem
        _, sha, files = found
        if path not in files:
            return error(404, f"Entry not found: {path}", "EntryNotFound")
        content = files[path]
        headers = {
            "ETag": f'"{hashlib.sha1(content).hexdigest()}"',
            "X-Repo-Commit": sha,
            "Accept-Ranges": "bytes",
        }
        status = 200
        wanted = request.headers.get("range")
        if wanted and wanted.startswith("bytes="):
            start_text, _, end_text = wanted[6:].partition("-")
            start = int(start_text or 0)
            end = min(int(end_text) if end_text else len(content) - 1, len(content) - 1)
            headers["Content-Range"] = f"bytes {start}-{end}/{len(content)}"
            content, status = content[start : end + 1], 206
        headers["Content-Length"] = str(len(content))
        body = b"" if request.method == "HEAD" else content
        return Response(body, status_code=status, headers=headers, media_type="application/octet-stream")

    return app


@contextmanager
def hub_double() -> Iterator[tuple[str, dict[str, Repo]]]:
    """Serve the double on 127.0.0.1 in a thread; yields its URL and the repos (for assertions)."""
    import socket

    import uvicorn

    repos: dict[str, Repo] = {}
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(make_app(repos), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", repos
    finally:
        server.should_exit = True
        thread.join(timeout=10)
