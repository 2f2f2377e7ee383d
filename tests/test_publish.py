"""``r1f push`` against the loopback Hub double (tests/hub_double.py: a stand-in this suite owns, since no
self-hostable Hub accepts uploads here), ending with ``datasets.load_dataset(repo)`` in a fresh process."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from r1f.io import read_rows, write_dataset
from tests.conftest import ROOT
from tests.hub_double import TOKEN, hub_double

OFFLINE = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE")


@pytest.fixture(scope="module")
def hub():
    with hub_double() as (url, repos):
        yield url, repos


def _env(url: str, tmp_path: Path, token: str | None = TOKEN) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in OFFLINE and k != "HF_TOKEN"}
    env.update(HF_ENDPOINT=url, HF_HUB_DISABLE_XET="1", HF_HOME=str(tmp_path / "hf-home"), COLUMNS="200")
    if token:
        env["HF_TOKEN"] = token
    return env


def _r1f(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "r1f", *args], cwd=ROOT, env=env, capture_output=True, text=True)


def _load(env: dict, repo: str, revision: str | None = None) -> dict:
    """``load_dataset(repo)`` in a fresh process (HF_ENDPOINT is read at import), rows as JSON per split."""
    code = (
        "import json, sys, datasets\n"
        f"d = datasets.load_dataset({repo!r}, revision={revision!r})\n"
        "json.dump({s: d[s].to_list() for s in d}, sys.stdout, default=str)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout)


def _card_meta(text: str) -> dict:
    return yaml.safe_load(text.split("---")[1])


def _dataset(path: Path, *, with_rejected: bool = True) -> dict:
    train = [
        {"id": f"r{i}", "problem": f"What is {i} + 1?", "solution": str(i + 1), "lang": "en", "reward_accuracy": 1.0}
        for i in range(12)
    ]
    splits = {"train": train[:10], "test": train[10:]}
    if with_rejected:
        splits["rejected"] = [
            {**train[0], "id": "bad", "reject_reason": "incorrect", "reward_accuracy": 0.0},
            {**train[1], "id": "copy", "reject_reason": "contaminated", "contaminated_by": ["gsm8k (13-gram)"]},
        ]
    write_dataset(path, splits, {"kind": "cold_start", "command": ["r1f", "test"]}, extra_files={"plots/x.png": b"png"})
    return splits


def test_push_then_load_dataset_round_trip(hub, tmp_path):
    url, repos = hub
    env = _env(url, tmp_path)
    splits = _dataset(tmp_path / "ds")
    result = _r1f(env, "push", str(tmp_path / "ds"), "--repo", "tester/ds", "--private")
    assert result.returncode == 0, result.stderr
    assert TOKEN not in result.stdout + result.stderr
    loaded = _load(env, "tester/ds")
    # the kept splits only: the rejected rows (a benchmark copy among them) stay home
    assert set(loaded) == {"train", "test"}
    for split in ("train", "test"):
        assert loaded[split] == splits[split]  # and no all-null bookkeeping columns beside them
    # the card arrives with its metadata, plots and manifest beside it, naming only what was published
    files = repos["tester/ds"].snapshot("main")[1]
    assert {"README.md", "manifest.json", "plots/x.png"} <= set(files)
    remote_meta = _card_meta(files["README.md"].decode())
    assert "r1-factory" in remote_meta["tags"] and remote_meta["license"] == "apache-2.0"
    assert [f["split"] for f in remote_meta["configs"][0]["data_files"]] == ["train", "test"]
    assert "Not published here: the rejected split" in files["README.md"].decode()
    assert json.loads(files["manifest.json"])["published"]["splits"] == {"train": 10, "test": 2}
    # private: without the token the repo does not exist
    code = "import datasets; datasets.load_dataset('tester/ds')"
    fresh = _env(url, tmp_path / "anonymous", token=None)  # own cache: the first load is cached under HF_HOME
    anonymous = subprocess.run([sys.executable, "-c", code], env=fresh, capture_output=True)
    assert anonymous.returncode != 0

    # asked for: the rejected rows, still without the benchmark copy; a license chosen by the user
    again = _r1f(env, "push", str(tmp_path / "ds"), "--repo", "tester/ds", "--include-rejected", "--license", "mit")
    assert again.returncode == 0, again.stderr
    loaded = _load(env, "tester/ds")
    assert [r["id"] for r in loaded["rejected"]] == ["bad"]
    assert _card_meta(repos["tester/ds"].snapshot("main")[1]["README.md"].decode())["license"] == "mit"
    # a re-push without them removes the split
    third = _r1f(env, "push", str(tmp_path / "ds"), "--repo", "tester/ds")
    assert third.returncode == 0, third.stderr
    assert set(_load(env, "tester/ds")) == {"train", "test"}
    assert "data/rejected-00000-of-00001.parquet" not in repos["tester/ds"].snapshot("main")[1]
    assert len(repos["tester/ds"].commits) == 4  # creation + three pushes


def test_contaminated_rows_need_two_explicit_flags(tmp_path):
    _dataset(tmp_path / "ds")

    def dry(out: str, *flags: str) -> subprocess.CompletedProcess:
        env = _env("http://127.0.0.1:9", tmp_path, None)
        return _r1f(env, "push", str(tmp_path / "ds"), "--dry-run", str(tmp_path / out), *flags)

    one = dry("a", "--include-contaminated")
    assert one.returncode == 1 and "needs --include-rejected" in one.stderr and not (tmp_path / "a").exists()
    both = dry("b", "--include-rejected", "--include-contaminated")
    assert both.returncode == 0, both.stderr
    assert sorted(r["id"] for r in read_rows(tmp_path / "b", split="rejected")) == ["bad", "copy"]
    assert json.loads((tmp_path / "b" / "manifest.json").read_text())["published"]["contaminated_rows_included"]


def test_push_to_a_revision_leaves_main_alone(hub, tmp_path):
    url, repos = hub
    env = _env(url, tmp_path)
    _dataset(tmp_path / "v1", with_rejected=False)
    assert _r1f(env, "push", str(tmp_path / "v1"), "--repo", "tester/rev").returncode == 0
    main_sha = repos["tester/rev"].branches["main"]
    write_dataset(tmp_path / "v2", {"train": [{"id": "only", "problem": "p", "solution": "1"}]}, {"kind": "cold_start"})
    result = _r1f(env, "push", str(tmp_path / "v2"), "--repo", "tester/rev", "--revision", "v2")
    assert result.returncode == 0, result.stderr
    assert repos["tester/rev"].branches["main"] == main_sha
    assert [r["id"] for r in _load(env, "tester/rev", revision="v2")["train"]] == ["only"]
    assert len(_load(env, "tester/rev")["train"]) == 10


def test_dry_run_writes_exactly_the_upload(tmp_path):
    splits = _dataset(tmp_path / "ds")
    (tmp_path / "ds" / ".scratch").write_text("hidden files are not uploaded")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}"  # nothing listens: a dry run must not need the Hub
    result = _r1f(_env(dead, tmp_path, token=None), "push", str(tmp_path / "ds"), "--dry-run", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    sent = sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*") if p.is_file())
    assert sent == [
        "README.md",
        "data/test-00000-of-00001.parquet",
        "data/train-00000-of-00001.parquet",
        "manifest.json",
        "plots/x.png",
    ]
    assert (tmp_path / "out" / "plots/x.png").read_bytes() == b"png"
    for split in ("train", "test"):
        assert read_rows(tmp_path / "out", split=split) == splits[split]
    # the local dataset keeps its rejected split and its bookkeeping columns
    assert {r["id"] for r in read_rows(tmp_path / "ds", split="rejected")} == {"bad", "copy"}
    assert "reject_reason" in read_rows(tmp_path / "ds", split="train")[0]
    # the published copy loads with datasets from the folder, as the card says
    out = str(tmp_path / "out")
    code = f"import datasets; d = datasets.load_dataset({out!r}); print(sorted(d), d['train'].column_names)"
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=_env(dead, tmp_path, None)
    )
    assert loaded.returncode == 0, loaded.stderr[-2000:]
    assert "['test', 'train']" in loaded.stdout and "reject_reason" not in loaded.stdout


def test_push_errors_are_one_line_and_never_show_the_token(hub, tmp_path):
    url, _ = hub
    _dataset(tmp_path / "ds")
    cases = [
        (_env(url, tmp_path, token=None), ["--repo", "tester/x"], "no Hugging Face token"),
        (_env(url, tmp_path, token="hf_wrong_secret"), ["--repo", "tester/x"], "the token was refused"),
        (_env(url, tmp_path), ["--repo", "not-a-repo-id"], "--repo 'not-a-repo-id'"),
        (_env(url, tmp_path), [], "give --repo"),
    ]
    for env, args, needle in cases:
        result = _r1f(env, "push", str(tmp_path / "ds"), *args)
        assert result.returncode == 1 and needle in result.stderr and result.stderr.count("\n") == 1, result.stderr
        assert "hf_wrong_secret" not in result.stderr + result.stdout
    (tmp_path / "empty").mkdir()
    result = _r1f(_env(url, tmp_path), "push", str(tmp_path / "empty"), "--repo", "tester/x")
    assert result.returncode == 1 and "no parquet files" in result.stderr
