"""Human review against a real local Argilla: the official argilla-server (own venv, SQLite, Redis from
Debian, our SQLite search engine) started by ``r1f review serve``, driven with the real ``argilla`` SDK
and the REST calls the web UI makes."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from curation.review.credentials import Credentials
from r1f.io import read_manifest, read_rows, write_dataset
from tests.conftest import ROOT, run_r1f

N = 8


def _row(i: int) -> dict:
    answer = 2 * i if i != 3 else 99  # row 3 is wrong: the automatic verdict should say reject
    completion = f"<think>\nWe add {i} and {i}, which gives {answer}.\n</think>\n<answer>\n{answer}\n</answer>"
    return {
        "id": f"row{i}",
        "problem": f"What is {i} + {i}?",
        "solution": str(2 * i),
        "completion": completion,
        "messages": [
            {"role": "user", "content": f"What is {i} + {i}?"},
            {"role": "assistant", "content": completion},
        ],
        "lang": "en" if i % 2 else "fr",
        "generator": "cold_start/test",
        "reward_accuracy": 0.0 if i == 3 else 1.0,
        "reward_format": 1.0,
        "completion_tokens": 20 + i,
    }


@pytest.fixture(scope="module")
def argilla(tmp_path_factory):
    """``r1f review serve`` in a subprocess, with two reviewers; stopped with Ctrl-C (SIGINT) at the end."""
    home = tmp_path_factory.mktemp("argilla-home")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"}
    log = open(home / "serve.out", "w")  # noqa: SIM115
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "r1f",
            "review",
            "serve",
            "--port",
            str(port),
            "--home",
            str(home),
            "--reviewer",
            "alice",
            "--reviewer",
            "bob",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 300  # the first start may install argilla-server into its venv
    credentials = None
    while time.monotonic() < deadline and process.poll() is None:
        credentials = Credentials.load(home)
        if credentials and credentials.api_url and "Argilla is running" in (home / "serve.out").read_text():
            break
        time.sleep(0.5)
    assert credentials and credentials.api_url, (home / "serve.out").read_text()
    yield credentials, home
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=60) == 0, (home / "serve.out").read_text()
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{credentials.api_url}/api/v1/status", timeout=2)


def _env(credentials: Credentials) -> dict:
    return {"ARGILLA_API_URL": credentials.api_url, "ARGILLA_API_KEY": credentials.api_key}


def _run(*args: str, credentials: Credentials) -> subprocess.CompletedProcess:
    old = dict(os.environ)
    os.environ.update(_env(credentials))
    try:
        return run_r1f(*args)
    finally:
        os.environ.clear()
        os.environ.update(old)


def _reviewer_key(credentials: Credentials, name: str, home: Path) -> str:
    from curation.review.client import ensure_reviewers

    return ensure_reviewers(credentials, [name], home)[name]


def _pending(credentials: Credentials, dataset_id, key: str) -> dict[str, str]:
    """The reviewer's queue, fetched the way the web UI does (a search through the engine)."""
    response = httpx.post(
        f"{credentials.api_url}/api/v1/me/datasets/{dataset_id}/records/search",
        headers={"X-Argilla-Api-Key": key},
        params={"include": ["responses", "suggestions"]},
        json={
            "filters": {
                "and": [{"type": "terms", "scope": {"entity": "response", "property": "status"}, "values": ["pending"]}]
            }
        },
        timeout=30,
    )
    response.raise_for_status()
    return {item["record"]["external_id"]: item["record"]["id"] for item in response.json()["items"]}


def _respond(credentials: Credentials, key: str, record_id: str, values: dict, status: str = "submitted") -> None:
    response = httpx.post(
        f"{credentials.api_url}/api/v1/records/{record_id}/responses",
        headers={"X-Argilla-Api-Key": key},
        json={"values": {k: {"value": v} for k, v in values.items()}, "status": status},
        timeout=30,
    )
    assert response.status_code == 201, response.text


def test_push_review_pull_round_trip(argilla, tmp_path):
    import argilla as rg

    credentials, home = argilla
    rows = [_row(i) for i in range(N)]
    write_dataset(tmp_path / "cold", {"train": rows}, {"kind": "cold_start"})

    first = _run("review", "push", str(tmp_path / "cold"), "--dataset-name", "cold-review", credentials=credentials)
    assert first.returncode == 0, first.stderr
    assert credentials.api_key not in first.stdout + first.stderr
    # push again with a changed score: records are updated, not duplicated
    rows[5]["reward_format"] = 0.0
    write_dataset(tmp_path / "cold", {"train": rows}, {"kind": "cold_start"})
    second = _run("review", "push", str(tmp_path / "cold"), "--dataset-name", "cold-review", credentials=credentials)
    assert second.returncode == 0, second.stderr
    assert re.search(r"new records\s*│\s*8\b", first.stdout), first.stdout
    assert re.search(r"updated records\s*│\s*8\b", second.stdout) and re.search(r"new records\s*│\s*0\b", second.stdout)

    client = rg.Argilla(api_url=credentials.api_url, api_key=credentials.api_key)
    dataset = client.datasets(name="cold-review", workspace=credentials.username)
    records = {r.id: r for r in dataset.records(with_suggestions=True)}
    assert sorted(records) == sorted(r["id"] for r in rows)
    assert records["row5"].metadata["reward_format"] == 0.0
    assert records["row2"].fields["answer"] == "4" and records["row2"].fields["gold"] == "4"
    assert records["row3"].suggestions["verdict"].value == "reject"
    assert records["row2"].suggestions["verdict"].value == "accept"
    # metadata is filterable: this query runs through the SQLite search engine
    french = dataset.records(query=rg.Query(filter=rg.Filter(("metadata.lang", "==", "fr"))))
    assert sorted(r.id for r in french) == [f"row{i}" for i in range(0, N, 2)]
    wrong = dataset.records(query=rg.Query(filter=rg.Filter(("metadata.reward_accuracy", "<=", 0.5))))
    assert [r.id for r in wrong] == ["row3"]
    assert [r.id for r in dataset.records(query=rg.Query(query="3 + 3"))][:1] == ["row3"]

    # what the UI's filter panel asks the engine for: metadata metrics
    headers = {"X-Argilla-Api-Key": credentials.api_key}
    properties = httpx.get(
        f"{credentials.api_url}/api/v1/me/datasets/{dataset.id}/metadata-properties", headers=headers
    )
    by_name = {p["name"]: p["id"] for p in properties.json()["items"]}
    metrics = {
        name: httpx.get(
            f"{credentials.api_url}/api/v1/metadata-properties/{by_name[name]}/metrics", headers=headers
        ).json()
        for name in ("lang", "reward_accuracy", "completion_tokens")
    }
    assert {v["term"]: v["count"] for v in metrics["lang"]["values"]} == {"en": 4, "fr": 4}
    assert (metrics["reward_accuracy"]["min"], metrics["reward_accuracy"]["max"]) == (0.0, 1.0)
    assert (metrics["completion_tokens"]["min"], metrics["completion_tokens"]["max"]) == (20, 27)
    assert "<html" in httpx.get(f"{credentials.api_url}/", follow_redirects=True).text.lower()  # the web UI

    alice, bob = _reviewer_key(credentials, "alice", home), _reviewer_key(credentials, "bob", home)
    queue = _pending(credentials, dataset.id, alice)
    assert len(queue) == N
    _respond(credentials, alice, queue["row0"], {"verdict": "accept", "quality": 5})
    _respond(credentials, alice, queue["row1"], {"verdict": "reject", "reason": "reasoning is too thin"})
    _respond(credentials, alice, queue["row2"], {"verdict": "accept", "corrected_reasoning": "Two plus two is four."})
    _respond(credentials, alice, queue["row3"], {"verdict": "accept", "corrected_answer": "6"})  # fixes the answer
    _respond(credentials, alice, queue["row4"], {"verdict": "accept", "corrected_answer": "9"})  # "fixes" it wrongly
    _respond(credentials, bob, queue["row5"], {}, status="discarded")
    _respond(credentials, bob, queue["row6"], {"verdict": "accept", "quality": 2}, status="draft")
    assert set(_pending(credentials, dataset.id, alice)) == {"row5", "row6", "row7"}

    status = _run("review", "status", "cold-review", credentials=credentials)
    assert status.returncode == 0, status.stderr
    alice_line = next(line for line in status.stdout.splitlines() if "alice" in line)
    bob_line = next(line for line in status.stdout.splitlines() if "bob" in line)
    assert [int(x) for x in alice_line.replace("│", " ").split()[1:]] == [5, 0, 0]
    assert [int(x) for x in bob_line.replace("│", " ").split()[1:]] == [0, 1, 1]

    out = tmp_path / "reviewed"
    pulled = _run("review", "pull", "cold-review", "--out", str(out), credentials=credentials)
    assert pulled.returncode == 0, pulled.stderr
    train = {r["id"]: r for r in read_rows(out, split="train")}
    rejected = {r["id"]: r for r in read_rows(out, split="rejected")}
    unreviewed = {r["id"] for r in read_rows(out, split="unreviewed")}
    assert sorted(train) == ["row0", "row2", "row3", "row4"]
    assert train["row0"]["review_corrected"] is False and train["row0"]["review_quality"] == 5
    assert train["row0"]["completion"] == rows[0]["completion"]
    assert (
        "Two plus two is four." in train["row2"]["completion"]
        and "<answer>\n4\n</answer>" in train["row2"]["completion"]
    )
    assert train["row2"]["messages"][-1]["content"] == train["row2"]["completion"]
    assert train["row3"]["completion"].endswith("<answer>\n6\n</answer>")
    assert train["row3"]["reward_accuracy"] == 1.0 and train["row3"]["review_disagrees_with_gold"] is False
    assert train["row4"]["reward_accuracy"] == 0.0 and train["row4"]["review_disagrees_with_gold"] is True
    assert rejected["row1"]["reject_reason"] == "rejected_by_reviewer"
    assert rejected["row1"]["review_reason"] == "reasoning is too thin" and rejected["row1"]["reviewers"] == ["alice"]
    assert rejected["row5"]["reject_reason"] == "discarded_by_reviewer"
    assert unreviewed == {"row6", "row7"}  # a draft is not a decision
    counts = read_manifest(out)["counts"]
    assert counts["accepted_but_disagrees_with_gold"] == 1 and counts["corrected"] == 3
    assert json.loads(json.dumps(counts))["unreviewed"] == 2


def test_server_down_gives_one_line_and_keeps_output(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}"
    write_dataset(tmp_path / "rows", {"train": [_row(1)]}, {"kind": "cold_start"})
    write_dataset(tmp_path / "out", {"train": [_row(2)]}, {"kind": "reviewed"})
    before = (tmp_path / "out" / "data" / "train-00000-of-00001.parquet").read_bytes()
    down = Credentials(api_url=dead, api_key="r1f.nothing")
    for args in (
        ("review", "push", str(tmp_path / "rows"), "--dataset-name", "x"),
        ("review", "pull", "x", "--out", str(tmp_path / "out")),
        ("review", "status", "x"),
    ):
        result = _run(*args, credentials=down)
        assert result.returncode == 1, result.stdout + result.stderr
        assert result.stderr.startswith(f"error: cannot reach Argilla at {dead}") and result.stderr.count("\n") == 1
    assert (tmp_path / "out" / "data" / "train-00000-of-00001.parquet").read_bytes() == before


def test_no_argilla_configured_says_how_to_start_one(tmp_path):
    env_backup = dict(os.environ)
    os.environ.pop("ARGILLA_API_URL", None)
    os.environ.pop("ARGILLA_API_KEY", None)
    os.environ["R1F_ARGILLA_HOME"] = str(tmp_path / "nothing-here")
    try:
        result = run_r1f("review", "status", "x")
    finally:
        os.environ.clear()
        os.environ.update(env_backup)
    assert result.returncode == 1 and "r1f review serve" in result.stderr and result.stderr.count("\n") == 1
    assert Path(tmp_path / "nothing-here").exists() is False


def test_wrong_api_key_is_one_line(argilla):
    credentials, _ = argilla
    wrong = Credentials(api_url=credentials.api_url, api_key="r1f.not-the-key")
    result = _run("review", "status", "cold-review", credentials=wrong)
    assert result.returncode == 1 and "refused the API key" in result.stderr and result.stderr.count("\n") == 1
    assert "r1f.not-the-key" not in result.stderr


def test_recipe_review_gate_stops_then_continues_with_the_reviewed_rows(argilla, tmp_path):
    """``review: true`` on a stage: the run pushes its rows, stops (exit 75), and the next run pulls the reviews."""
    import yaml

    from tests.test_coldstart import write_messy

    credentials, home = argilla
    messy = write_messy(tmp_path / "r1zero.jsonl")
    recipe = {
        "name": "gate",
        "format": "r1",
        "stages": {
            "cold": {"step": "cold-start", "config": {"method": "refine", "problems": str(messy)}, "review": True},
            "picked": {"step": "filter", "inputs": {"source": "cold"}, "config": {"rewards": "accuracy"}},
        },
    }
    path = tmp_path / "gate.yaml"
    path.write_text(yaml.safe_dump(recipe))
    run_dir = tmp_path / "run"
    stopped = _run("run", str(path), "--run-dir", str(run_dir), credentials=credentials)
    assert stopped.returncode == 75, stopped.stdout[-3000:] + stopped.stderr[-3000:]
    assert "waiting for review in Argilla" in stopped.stdout and "gate-cold" in stopped.stdout
    assert not (run_dir / "picked").exists()
    plan = _run("run", str(path), "--run-dir", str(run_dir), "--dry-run", credentials=credentials)
    assert "waiting for human review" in plan.stdout

    import argilla as rg

    client = rg.Argilla(api_url=credentials.api_url, api_key=credentials.api_key)
    dataset = client.datasets(name="gate-cold", workspace=credentials.username)
    alice = _reviewer_key(credentials, "alice", home)
    queue = _pending(credentials, dataset.id, alice)
    kept = read_rows(run_dir / "cold")
    assert sorted(queue) == sorted(r["id"] for r in kept)
    accepted, rejected = sorted(queue)[:2], sorted(queue)[2]
    for row_id in accepted:
        _respond(credentials, alice, queue[row_id], {"verdict": "accept"})
    _respond(credentials, alice, queue[rejected], {"verdict": "reject", "reason": "too terse"})

    done = _run("run", str(path), "--run-dir", str(run_dir), credentials=credentials)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    reviewed = read_rows(run_dir / "cold-reviewed")
    assert sorted(r["id"] for r in reviewed) == accepted
    assert read_rows(run_dir / "cold-reviewed", split="rejected")[0]["review_reason"] == "too terse"
    picked = read_rows(run_dir / "picked")
    assert sorted(r["id"] for r in picked) == accepted  # the next stage read the reviewed rows
    assert credentials.api_key not in done.stdout + done.stderr + (run_dir / "report.md").read_text()


def test_reviewers_have_their_own_accounts_and_the_home_is_private(argilla, tmp_path):
    credentials, home = argilla
    from curation.review.credentials import reviewer_file

    alice = _reviewer_key(credentials, "alice", home)
    saved = Credentials.load(home, reviewer_file("alice"))
    assert saved.api_key == alice and saved.password and saved.password != credentials.password
    headers = {"X-Argilla-Api-Key": alice}
    assert httpx.get(f"{credentials.api_url}/api/v1/users", headers=headers, timeout=30).status_code == 403
    owner = {"X-Argilla-Api-Key": credentials.api_key}
    datasets = httpx.get(f"{credentials.api_url}/api/v1/me/datasets", headers=owner, timeout=30).json()["items"]
    if datasets:
        deleted = httpx.delete(
            f"{credentials.api_url}/api/v1/datasets/{datasets[0]['id']}", headers=headers, timeout=30
        )
        assert deleted.status_code == 403
    # a reviewer signs in with their own password, not the owner's
    login = httpx.post(
        f"{credentials.api_url}/api/v1/token", data={"username": "alice", "password": saved.password}, timeout=30
    )
    assert login.status_code in (200, 201), login.text
    wrong = httpx.post(
        f"{credentials.api_url}/api/v1/token", data={"username": "alice", "password": credentials.password}, timeout=30
    )
    assert wrong.status_code == 401
    # modes: the home and its data only for their owner
    assert (home.stat().st_mode & 0o777) == 0o700 and ((home / "data").stat().st_mode & 0o777) == 0o700
    for path in [
        home / "credentials.json",
        home / reviewer_file("alice"),
        *(home / "data").glob("*.db"),
        home / "data" / "redis.conf",
    ]:
        assert (path.stat().st_mode & 0o777) == 0o600, path
    # no key or password on any process's command line
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        assert credentials.api_key not in text and credentials.password not in text, text[:200]
    # Redis asks for its password, even on loopback
    conf = (home / "data" / "redis.conf").read_text()
    port = int(re.search(r"^port (\d+)", conf, re.M).group(1))
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"PING\r\n")
        assert b"NOAUTH" in sock.recv(200)


def test_nan_gold_and_r1_answers_in_review(argilla, tmp_path):
    credentials, _ = argilla
    rows = [_row(1), {**_row(2), "solution": float("nan")}]
    (tmp_path / "nan.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))  # json writes NaN bare
    bad = _run("review", "push", str(tmp_path / "nan.jsonl"), "--dataset-name", "nan-gold", credentials=credentials)
    assert bad.returncode == 1 and "row 2" in bad.stderr and "solution" in bad.stderr and bad.stderr.count("\n") == 1
    import argilla as rg

    client = rg.Argilla(api_url=credentials.api_url, api_key=credentials.api_key)
    assert client.datasets(name="nan-gold", workspace=credentials.username) is None  # nothing half-created

    r1 = "|special_token| 13 * 5 = 65. |special_token| Die Antwort ist 65."
    row = {**_row(3), "id": "r1form", "completion": r1, "messages": [{"role": "assistant", "content": r1}]}
    write_dataset(tmp_path / "r1", {"train": [row]}, {"kind": "cold_start"})
    pushed = _run("review", "push", str(tmp_path / "r1"), "--dataset-name", "r1-form", credentials=credentials)
    assert pushed.returncode == 0, pushed.stderr
    record = next(iter(client.datasets(name="r1-form", workspace=credentials.username).records(with_suggestions=True)))
    assert record.fields["answer"] == "Die Antwort ist 65."
    assert record.suggestions["corrected_answer"].value == "Die Antwort ist 65."
    assert "special_token" not in record.fields["reasoning"]


def test_review_serve_stops_everything_on_sigterm(tmp_path):
    home = tmp_path / "home"
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log = open(tmp_path / "serve.out", "w")  # noqa: SIM115
    process = subprocess.Popen(
        [sys.executable, "-m", "r1f", "review", "serve", "--port", str(port), "--home", str(home)],
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and "Argilla is running" not in (tmp_path / "serve.out").read_text():
        assert process.poll() is None, (tmp_path / "serve.out").read_text()
        time.sleep(0.5)
    children = [
        int(p.parent.name)
        for p in Path("/proc").glob("[0-9]*/stat")
        if p.read_text().rsplit(")", 1)[1].split()[1] == str(process.pid)
    ]
    assert len(children) >= 3  # redis, the server, the worker
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 0, (tmp_path / "serve.out").read_text()
    time.sleep(0.5)
    assert not [pid for pid in children if Path(f"/proc/{pid}").exists()]
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{port}/api/v1/status", timeout=2)
    assert Credentials.load(home).api_url == ""  # the credentials no longer point at a server


def test_audit_disagreements_go_to_review_and_come_back_as_regression_cases(argilla, tmp_path):
    """``r1f audit`` -> ``r1f review push`` -> a person's verdicts -> ``r1f review pull`` -> ``--export-cases``."""
    from tests.test_verification import _math_like_dataset

    credentials, home = argilla
    source = _math_like_dataset(tmp_path / "scored")
    audited = _run("audit", str(source), "--out", str(tmp_path / "audit"), "--no-probes", credentials=credentials)
    assert audited.returncode == 0, audited.stderr
    pushed = _run("review", "push", str(tmp_path / "audit"), "--dataset-name", "audit-review", credentials=credentials)
    assert pushed.returncode == 0, pushed.stderr
    import argilla as rg

    client = rg.Argilla(api_url=credentials.api_url, api_key=credentials.api_key)
    dataset = client.datasets(name="audit-review", workspace=credentials.username)
    alice = _reviewer_key(credentials, "alice", home)
    queue = _pending(credentials, dataset.id, alice)
    assert sorted(queue) == ["item2", "item3"]
    _respond(credentials, alice, queue["item3"], {"verdict": "accept"})  # "18" is right: a false zero
    _respond(credentials, alice, queue["item2"], {"verdict": "reject", "reason": "n could be negative"})
    # the owner's key given as a flag: it must not reach the manifest, the card or anything else written
    pulled = run_r1f(
        "review",
        "pull",
        "audit-review",
        "--out",
        str(tmp_path / "reviewed"),
        "--api-url",
        credentials.api_url,
        "--api-key",
        credentials.api_key,
    )
    assert pulled.returncode == 0, pulled.stderr
    for path in (tmp_path / "reviewed").rglob("*"):
        if path.is_file():
            assert credentials.api_key.encode() not in path.read_bytes(), path
    assert "--api-key" in read_manifest(tmp_path / "reviewed")["command"]
    cases_file = tmp_path / "cases.jsonl"
    exported = _run(
        "audit",
        str(tmp_path / "reviewed"),
        "--out",
        str(tmp_path / "audit2"),
        "--export-cases",
        str(cases_file),
        "--no-probes",
        credentials=credentials,
    )
    assert exported.returncode == 0, exported.stderr
    cases = {c["id"]: c for c in map(json.loads, cases_file.read_text().splitlines())}
    assert cases["item3"]["expected"] == 1.0 and cases["item2"]["expected"] == 0.0
    assert cases["item3"]["reviewers"] == ["alice"] and cases["item3"]["gold"].endswith("$\\boxed{18}$.")
