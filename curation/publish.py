"""``r1f push``: publish a factory dataset directory to the Hugging Face Hub as it is on disk.

The directory already has the Hub's layout (``data/<split>-*.parquet``, a ``README.md`` card whose
YAML ``configs`` name the splits, ``manifest.json``, ``plots/``). What is published is what was meant: the
kept splits only, unless ``--include-rejected`` (and, for rows decontamination removed because they copy a
benchmark, a second flag ``--include-contaminated``); columns that are empty in every published row are dropped;
the card is rendered again for those splits, with the license (``--license``, else the source datasets') and the
sources it came from. That copy is staged in a temporary folder and committed in one commit with
``huggingface_hub``: the repo is created if needed (``--private`` applies then), a
``--revision`` branch is created from ``main`` if needed, and files of an earlier push under ``data/``
and ``plots/`` that this push no longer has are deleted in the same commit, so a re-push never
leaves a stale split behind. The card's YAML is checked with the Hub's own validator first.
``--dry-run`` writes exactly the files that would be uploaded into a folder instead.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from r1f.errors import ConfigError, DataError, R1FactoryError
from r1f.io import dataset_files
from r1f.redact import redact

REPLACED = ["data/**", "plots/**"]


class PublishError(R1FactoryError):
    """The Hub refused the push or could not be reached."""


@dataclass
class Published:
    repo: str
    revision: str
    files: list[str]
    bytes: int
    url: str
    sizes: dict[str, int]


def upload_files(path: Path) -> list[str]:
    """The files a push sends: everything in the dataset directory except hidden files and folders."""
    files = []
    for file in sorted(path.rglob("*")):
        relative = file.relative_to(path)
        if file.is_file() and not any(part.startswith(".") for part in relative.parts):
            files.append(relative.as_posix())
    return files


def check_dataset(path: Path) -> list[str]:
    """Refuse what the Hub would show broken: no card, no parquet, a card without YAML metadata."""
    if not path.is_dir():
        raise DataError(
            f"{path}: not a dataset directory; push a directory the factory wrote (with data/ and README.md)"
        )
    if not dataset_files(path):
        raise DataError(f"{path}: no parquet files under data/; push a directory the factory wrote")
    card = path / "README.md"
    if not card.is_file():
        raise DataError(f"{path}: no README.md dataset card; rewrite the dataset with r1f (every writer adds one)")
    text = card.read_text(encoding="utf-8")
    if not text.startswith("---\n") or "\n---" not in text[4:]:
        raise DataError(f"{card}: the card has no YAML metadata block (--- ... ---) at the top; the Hub needs one")
    return upload_files(path)


def resolve_token(token: str | None = None) -> str:
    """``HF_TOKEN`` (or an explicit token), else the token ``hf auth login`` stored. Never printed."""
    token = token or os.environ.get("HF_TOKEN")
    if not token:
        from huggingface_hub import get_token

        token = get_token()
    if not token:
        raise ConfigError("no Hugging Face token: set HF_TOKEN or run `hf auth login` (a write token is needed)")
    return token


#: the Hub's repo ids: namespace/name, letters, digits, '-', '_', '.', no '--' or '..', at most 96 each
REPO_RE = re.compile(r"[A-Za-z0-9](?:[\w.-]{0,94}[A-Za-z0-9])?/[A-Za-z0-9_.-]{1,96}")


def check_repo(repo: str) -> str:
    """A Hub dataset repo id, or a one-line error (before any file is read or written)."""
    if not REPO_RE.fullmatch(repo or "") or "--" in repo or ".." in repo or repo.endswith((".git", ".")):
        raise ConfigError(
            f"--repo {repo!r}: use the form user/name or org/name (letters, digits, '-', '_', '.'; no '--' or '..')"
        )
    return repo


@dataclass(frozen=True)
class Selection:
    """Which rows a push publishes, and under what license."""

    include_rejected: bool = False
    include_contaminated: bool = False
    license: str | None = None

    def check(self) -> None:
        if self.include_contaminated and not self.include_rejected:
            raise ConfigError("--include-contaminated publishes benchmark copies; it needs --include-rejected as well")
        if self.license is not None and not re.fullmatch(r"[a-z0-9][a-z0-9.+-]{0,63}", self.license):
            raise ConfigError(f"--license {self.license!r}: use a Hub license id such as mit, apache-2.0, cc-by-4.0")


REJECTED = "rejected"
CONTAMINATED = "contaminated"


def stage(path: Path, selection: Selection, into: Path) -> dict[str, int]:
    """Write the publishable copy of dataset ``path`` into the new folder ``into``; rows per split published."""
    import json

    import pyarrow.parquet as pq

    from r1f.io import read_manifest, write_dataset

    selection.check()
    check_dataset(path)
    splits: dict[str, list[dict]] = {}
    for split, files in sorted(dataset_files(path).items(), key=lambda kv: (kv[0] != "train", kv[0])):
        rows = [row for f in files for row in pq.read_table(f).to_pylist()]
        if split == REJECTED:
            if not selection.include_rejected:
                continue
            if not selection.include_contaminated:
                rows = [r for r in rows if r.get("reject_reason") != CONTAMINATED]
        splits[split] = rows
    if not any(splits.values()):
        raise DataError(f"{path}: no kept rows to publish (only rejected ones); nothing was pushed")
    everything = [row for rows in splits.values() for row in rows]
    empty = {c for row in everything[:1] for c in row if all(r.get(c) is None for r in everything)}
    splits = {split: [{k: v for k, v in r.items() if k not in empty} for r in rows] for split, rows in splits.items()}
    manifest = dict(read_manifest(path) or {})
    if selection.license:
        manifest["license"] = selection.license
    manifest["published"] = {
        "splits": {split: len(rows) for split, rows in splits.items()},
        "left_out": [s for s in dataset_files(path) if s not in splits],
        "contaminated_rows_included": selection.include_contaminated,
    }
    extras: dict[str, str | bytes] = {}
    for name in upload_files(path):
        if name.startswith("plots/"):
            extras[name] = (path / name).read_bytes()
    write_dataset(into, splits, json.loads(json.dumps(manifest, default=str)), extra_files=extras)
    return {split: len(rows) for split, rows in splits.items()}


def dry_run(path: Path, target: Path, repo: str | None = None, selection: Selection | None = None) -> Published:
    """Copy the files a push would upload into ``target`` (replaced atomically), nothing sent. ``target`` may only
    be new, empty or an earlier dry run (it holds a manifest): a user's folder is never replaced."""
    from r1f.lock import check_owned

    if repo is not None:
        check_repo(repo)
    check_owned(target, ("manifest.json",), "--dry-run")
    tmp = target.parent / f".{target.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    stage(path, selection or Selection(), tmp)
    files = upload_files(tmp)
    if target.exists():
        shutil.rmtree(target)
    tmp.rename(target)
    sizes = {name: (target / name).stat().st_size for name in files}
    return Published("(dry run)", "", files, sum(sizes.values()), str(target), sizes)


def publish(
    path: Path,
    repo: str,
    *,
    private: bool = False,
    revision: str | None = None,
    token: str | None = None,
    message: str | None = None,
    selection: Selection | None = None,
) -> Published:
    """Create the repo (and branch) if needed and commit the publishable copy of the dataset to it."""
    import tempfile

    check_repo(repo)
    check_dataset(path)
    token = resolve_token(token)
    with tempfile.TemporaryDirectory(prefix="r1f-push-") as tmp:
        staged = Path(tmp) / path.name
        stage(path, selection or Selection(), staged)
        return _commit(staged, path, repo, private=private, revision=revision, token=token, message=message)


def _commit(
    staged: Path, path: Path, repo: str, *, private: bool, revision: str | None, token: str, message: str | None
) -> Published:
    from huggingface_hub import DatasetCard, HfApi
    from huggingface_hub.errors import HfHubHTTPError

    files = upload_files(staged)
    api = HfApi(token=token)
    branch = revision or "main"
    try:
        DatasetCard.load(staged / "README.md").validate(repo_type="dataset")
        url = api.create_repo(repo, repo_type="dataset", private=private, exist_ok=True)
        if branch != "main":
            api.create_branch(repo, branch=branch, repo_type="dataset", exist_ok=True)
        commit = api.upload_folder(
            repo_id=repo,
            repo_type="dataset",
            folder_path=str(staged),
            revision=branch,
            allow_patterns=files,
            delete_patterns=REPLACED,
            commit_message=message or f"r1-factory: push {path.name}",
        )
    except HfHubHTTPError as err:
        status = err.response.status_code if err.response is not None else None
        hint = {401: "the token was refused; check HF_TOKEN", 403: "the token may not write to this repo"}.get(
            status or 0, "see the Hub's message"
        )
        first = redact(str(err).splitlines()[0])[:200]
        raise PublishError(f"pushing {path} to {repo} failed ({first}); {hint}") from None
    except (OSError, ValueError) as err:
        from huggingface_hub import constants

        if "connect" in str(err).lower() or isinstance(err, OSError):
            raise PublishError(
                f"cannot reach the Hub at {constants.ENDPOINT} ({type(err).__name__}); check the network or HF_ENDPOINT"
            ) from None
        raise PublishError(f"pushing {path} to {repo} failed: {redact(str(err).splitlines()[0])[:200]}") from None
    sizes = {name: (staged / name).stat().st_size for name in files}
    return Published(repo, branch, files, sum(sizes.values()), getattr(commit, "commit_url", str(url)), sizes)
