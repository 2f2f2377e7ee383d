"""Push factory rows to Argilla for human review, read the reviews back, report progress.

The Argilla dataset a push creates:

- fields: ``problem``, ``reasoning`` and ``answer`` (cut from the completion), ``gold`` (the reference);
- questions: ``verdict`` (accept / reject), ``reason`` (why rejected), ``corrected_reasoning`` and
  ``corrected_answer`` (free text, pre-filled with the model's own so a reviewer edits in place), and an
  optional ``quality`` rating 1-5;
- metadata: language, generator, family, pass rate, every ``reward_*`` score and the completion length,
  filterable in the UI; the whole source row rides along as extra metadata ``row`` (JSON), so a pull
  rebuilds exact dataset rows from Argilla alone, on any machine;
- suggestions: the verdict the automatic scores imply (accept iff accuracy is 1 and the format holds),
  and the extracted answer/reasoning.

Records carry the factory row ``id``, so pushing again updates records instead of duplicating them.
A pull applies corrections (the human post-processing refinement of the R1 cold-start stage),
re-verifies every corrected answer against the gold with the same accuracy reward the filters use,
and flags disagreements.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from curation.review.credentials import Credentials
from filters.text import SPECIAL_TOKEN_RE, final_answer, reasoning_region, row_completion, row_problem
from r1f.errors import ConfigError, DataError, R1FactoryError
from r1f.io import gold_of
from r1f.redact import redact

VERDICTS = ("accept", "reject")
TERMS = ("lang", "generator", "method", "family", "source")
AGENT = "r1-factory"


class ReviewError(R1FactoryError):
    """Argilla refused or could not be reached; the message says which and what to do."""


def connect(credentials: Credentials) -> Any:
    """An SDK client, or a one-line error when nothing answers at the URL or the key is refused."""
    import argilla as rg
    import httpx

    try:
        client = rg.Argilla(api_url=credentials.api_url, api_key=credentials.api_key, timeout=30)
        client.me  # noqa: B018 (the first call that needs the server)
    except (httpx.ConnectError, httpx.ConnectTimeout) as err:
        raise ReviewError(
            f"cannot reach Argilla at {credentials.api_url} ({type(err).__name__}); start it with `r1f review serve` "
            "or check --api-url"
        ) from None
    except Exception as err:  # the SDK wraps HTTP errors in its own types
        text = redact(str(err).splitlines()[0], [credentials.api_key])[:200] if str(err) else type(err).__name__
        if "401" in text or "Unauthorized" in text or "api_key" in text.lower():
            raise ReviewError(
                f"Argilla at {credentials.api_url} refused the API key ({text}); check --api-key"
            ) from None
        if "connect" in text.lower() or "refused" in text.lower():
            raise ReviewError(
                f"cannot reach Argilla at {credentials.api_url} ({text}); start it with `r1f review serve` "
                "or check --api-url"
            ) from None
        raise ReviewError(f"Argilla at {credentials.api_url}: {text}") from None
    return client


def ensure_reviewers(credentials: Credentials, names: Sequence[str], home: Path) -> dict[str, str]:
    """Annotator accounts in the owner's default workspace, each with its own password and API key.

    A reviewer's credentials are written to ``home/reviewers/NAME.json`` (mode 600) once and reused; no
    reviewer can sign in as the owner or as another reviewer. Returns ``{username: api_key}``.
    """
    import secrets

    import argilla as rg

    from curation.review.credentials import reviewer_file

    client = connect(credentials)
    workspace = client.workspaces(credentials.username) or client.workspaces[0]
    keys = {}
    for name in names:
        saved = Credentials.load(home, reviewer_file(name))
        password = saved.password if saved else secrets.token_urlsafe(12)
        user = client.users(username=name)
        if user is None:
            user = rg.User(username=name, password=password, role="annotator", client=client).create()
        if name not in {u.username for u in workspace.users}:
            workspace.add_user(user)
        keys[name] = _user_api_key(credentials, user.id)
        Credentials(api_url=credentials.api_url, api_key=keys[name], username=name, password=password).save(
            home, reviewer_file(name)
        )
    return keys


def _user_api_key(credentials: Credentials, user_id: Any) -> str:
    """A reviewer's API key (the SDK's User model omits it; the owner may read it over REST)."""
    import httpx

    response = httpx.get(
        f"{credentials.api_url}/api/v1/users/{user_id}", headers={"X-Argilla-Api-Key": credentials.api_key}, timeout=30
    )
    response.raise_for_status()
    return response.json()["api_key"]


# ---- push ---------------------------------------------------------------------------------------


def _auto_accept(row: dict[str, Any]) -> bool:
    if row.get("reward_accuracy") != 1.0:
        return False
    return all(row.get(k) in (None, 1.0) for k in ("reward_format",))


def _settings(rows: Sequence[dict[str, Any]]) -> Any:
    import argilla as rg

    metadata: list[Any] = []
    for name in TERMS:
        if any(isinstance(r.get(name), str) for r in rows):
            metadata.append(rg.TermsMetadataProperty(name=name))
    for name in _float_columns(rows):
        metadata.append(rg.FloatMetadataProperty(name=name))
    if any(isinstance(r.get("completion_tokens"), int) for r in rows):
        metadata.append(rg.IntegerMetadataProperty(name="completion_tokens"))
    return rg.Settings(
        guidelines=(
            "Check the reasoning and the final answer against the gold answer. Accept rows that are correct, "
            "readable and in one language; fix small mistakes in the corrected reasoning / answer boxes (they are "
            "pre-filled with the model's own text); reject the rest and say why."
        ),
        fields=[
            rg.TextField(name="problem", title="Problem"),
            rg.TextField(name="reasoning", title="Reasoning", use_markdown=True, required=False),
            rg.TextField(name="answer", title="Final answer", required=False),
            rg.TextField(name="gold", title="Gold answer", required=False),
        ],
        questions=[
            rg.LabelQuestion(name="verdict", title="Keep this row?", labels=list(VERDICTS)),
            rg.TextQuestion(name="reason", title="If rejected: why?", required=False),
            rg.TextQuestion(name="corrected_reasoning", title="Corrected reasoning", required=False, use_markdown=True),
            rg.TextQuestion(name="corrected_answer", title="Corrected final answer", required=False),
            rg.RatingQuestion(name="quality", title="Quality (optional)", values=[1, 2, 3, 4, 5], required=False),
        ],
        metadata=metadata,
        allow_extra_metadata=True,
    )


def _finite(value: Any) -> bool:
    """A metadata value Argilla can store: present, and not NaN or infinite (JSON has no such numbers)."""
    import math

    return value is not None and not (isinstance(value, float) and not math.isfinite(value))


def _float_columns(rows: Sequence[dict[str, Any]]) -> list[str]:
    names: list[str] = []
    for row in rows:
        for key, value in row.items():
            numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
            if (key.startswith("reward_") or key == "pass_rate") and numeric and key not in names:
                names.append(key)
    return names


def _record(row: dict[str, Any], settings_metadata: set[str]) -> Any:
    import argilla as rg

    text = row_completion(row)
    reasoning, answer = _parts(text)
    metadata = {k: row[k] for k in settings_metadata if _finite(row.get(k))}
    metadata["row"] = json.dumps(row, ensure_ascii=False, default=str)
    suggestions = [
        rg.Suggestion(
            "verdict",
            "accept" if _auto_accept(row) else "reject",
            score=1.0 if row.get("reward_accuracy") is not None else 0.0,
            agent=AGENT,
        )
    ]
    if reasoning:
        suggestions.append(rg.Suggestion("corrected_reasoning", reasoning, agent=AGENT))
    if answer:
        suggestions.append(rg.Suggestion("corrected_answer", answer, agent=AGENT))
    return rg.Record(
        id=str(row["id"]),
        fields={
            "problem": row_problem(row),
            "reasoning": reasoning or text or None,
            "answer": answer or None,
            "gold": str(row["solution"]) if row.get("solution") not in (None, "") else None,
        },
        metadata=metadata,
        suggestions=suggestions,
    )


@dataclass
class PushResult:
    dataset: str
    workspace: str
    created: int
    updated: int
    url: str


def push(
    rows: Sequence[dict[str, Any]],
    name: str,
    credentials: Credentials,
    *,
    workspace: str | None = None,
    source: str = "",
) -> PushResult:
    """Create (or update) the Argilla dataset ``name`` with one record per row."""
    import argilla as rg

    for i, row in enumerate(rows):
        if not row.get("id"):
            raise DataError(f"{source}: row {i + 1} has no 'id'; review needs the factory's stable row ids")
        if not row_problem(row):
            raise DataError(f"{source}: row {i + 1} has no problem text (column 'problem', 'prompt' or 'messages')")
        gold_of(row.get("solution"), source, i, "solution")  # a NaN gold is an error here, not a traceback later
    client = connect(credentials)
    settings = _settings(rows)
    # every record is built (and checked) before anything is created: a bad row never leaves an empty dataset
    records = {str(row["id"]): _record(dict(row), {p.name for p in settings.metadata}) for row in rows}
    ws = _workspace(client, workspace, credentials)
    dataset = client.datasets(name=name, workspace=ws.name)
    if dataset is None:
        dataset = rg.Dataset(name=name, workspace=ws.name, settings=settings, client=client).create()
        existing: set[str] = set()
    else:
        have = {p.name for p in dataset.settings.metadata}
        missing = [p for p in settings.metadata if p.name not in have]
        for prop in missing:
            dataset.settings.metadata.add(prop)
        if missing:
            dataset.update()
        existing = {str(r.id) for r in dataset.records(with_responses=False, with_suggestions=False)}
    dataset.records.log(list(records.values()), batch_size=200)
    ids = {str(row["id"]) for row in rows}
    return PushResult(
        name,
        ws.name,
        len(ids - existing),
        len(ids & existing),
        f"{credentials.api_url}/dataset/{dataset.id}/annotation-mode",
    )


def _workspace(client: Any, workspace: str | None, credentials: Credentials) -> Any:
    if workspace:
        ws = client.workspaces(workspace)
        if ws is None:
            names = ", ".join(w.name for w in client.workspaces) or "(none)"
            raise ConfigError(f"no Argilla workspace {workspace!r}; workspaces are: {names}; pass --workspace NAME")
        return ws
    ws = client.workspaces(credentials.username)
    if ws is not None:
        return ws
    spaces = list(client.workspaces)
    if not spaces:
        raise ConfigError("this Argilla has no workspace; create one in the UI or pass --workspace NAME")
    return spaces[0]


def _dataset(client: Any, name: str, workspace: str | None, credentials: Credentials) -> Any:
    ws = _workspace(client, workspace, credentials)
    dataset = client.datasets(name=name, workspace=ws.name)
    if dataset is None:
        names = ", ".join(d.name for d in client.datasets) or "(none)"
        raise ConfigError(f"no Argilla dataset {name!r} in workspace {ws.name!r}; datasets are: {names}")
    return dataset


# ---- pull ---------------------------------------------------------------------------------------


@dataclass
class PullResult:
    """Rows split by what reviewers decided, with counts for the summary table and manifest."""

    accepted: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    unreviewed: list[dict[str, Any]] = field(default_factory=list)
    counts: Counter = field(default_factory=Counter)


def _apply(text: str, old: str, new: str, *, last: bool = False) -> str:
    """Replace ``old`` by ``new`` in ``text`` (the last occurrence for answers), keeping the format around it."""
    if not old or old not in text:
        return text
    at = text.rfind(old) if last else text.find(old)
    return text[:at] + new + text[at + len(old) :]


def _parts(text: str) -> tuple[str, str]:
    """(reasoning without stray R1 markers, the whole final-answer statement or "") as the review shows them."""
    if not text:
        return "", ""
    reasoning = SPECIAL_TOKEN_RE.sub(" ", reasoning_region(text)).strip()
    return reasoning, final_answer(text)


def _corrected_row(row: dict[str, Any], answers: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    text = row_completion(row)
    reasoning, answer = _parts(text)
    new_reasoning = (answers.get("corrected_reasoning") or "").strip()
    new_answer = (answers.get("corrected_answer") or "").strip()
    corrected = text
    if new_reasoning and new_reasoning != reasoning:
        corrected = _apply(corrected, reasoning, new_reasoning) if reasoning else corrected
        if corrected == text:  # nothing to edit in place: write the R1-Zero form
            corrected = f"<think>\n{new_reasoning}\n</think>\n<answer>\n{new_answer or answer}\n</answer>"
    if new_answer and new_answer != answer:
        if answer and answer != text.strip():
            corrected = _apply(corrected, answer, new_answer, last=True)
        else:
            corrected = corrected.rstrip() + f"\n<answer>\n{new_answer}\n</answer>"
    out = dict(row)
    if corrected != text:
        if "completion" in out and isinstance(out["completion"], str):
            out["completion"] = corrected
        messages = out.get("messages")
        if isinstance(messages, list) and messages and messages[-1].get("role") == "assistant":
            out["messages"] = [*messages[:-1], {**messages[-1], "content": corrected}]
        if "completion" not in out and "messages" not in out:
            out["completion"] = corrected
    return out, corrected != text


def pull(name: str, credentials: Credentials, *, workspace: str | None = None) -> PullResult:
    """Read every record with its responses and decide each row (see the module docstring)."""
    client = connect(credentials)
    dataset = _dataset(client, name, workspace, credentials)
    usernames = {str(u.id): u.username for u in client.users}
    result = PullResult()
    for record in dataset.records(with_responses=True, with_suggestions=False):
        raw = (record.metadata or {}).get("row")
        if not raw:
            result.counts["skipped_without_row"] += 1
            continue
        row = json.loads(raw)
        by_user = _responses_by_user(record)
        submitted = {u: a for u, a in by_user.items() if a["status"] == "submitted"}
        if not submitted:
            if any(a["status"] == "discarded" for a in by_user.values()):
                reviewers = sorted(usernames.get(u, u) for u in by_user)
                result.rejected.append(
                    {**row, "reject_reason": "discarded_by_reviewer", "review_reason": None, "reviewers": reviewers}
                )
                result.counts["discarded"] += 1
            else:
                result.unreviewed.append(row)
                result.counts["unreviewed"] += 1
            continue
        ordered = sorted(submitted.items(), key=lambda kv: usernames.get(kv[0], kv[0]))
        reviewers = [usernames.get(u, u) for u, _ in ordered]
        votes = Counter(a.get("verdict") for _, a in ordered)
        if len(votes) > 1:
            result.counts["reviewers_disagree"] += 1
        verdict = "accept" if votes["accept"] > votes["reject"] else "reject"  # ties stay out
        qualities = [a["quality"] for _, a in ordered if isinstance(a.get("quality"), (int, float))]
        quality = round(sum(qualities) / len(qualities), 2) if qualities else None
        if verdict == "reject":
            reasons = [a.get("reason") for _, a in ordered if a.get("reason")]
            result.rejected.append(
                {
                    **row,
                    "reject_reason": "rejected_by_reviewer",
                    "review_reason": "; ".join(reasons) or None,
                    "reviewers": reviewers,
                }
            )
            result.counts["rejected"] += 1
            continue
        edits = next(
            (a for _, a in ordered if a.get("verdict") == "accept" and _corrected_row(row, a)[1]),
            ordered[0][1],
        )
        out, changed = _corrected_row(row, edits)
        out.update(review_verdict="accept", reviewers=reviewers, review_quality=quality, review_corrected=changed)
        result.accepted.append(out)
        result.counts["accepted"] += 1
        result.counts["corrected"] += int(changed)
    _reverify(result.accepted, result.counts)
    return result


def _responses_by_user(record: Any) -> dict[str, dict[str, Any]]:
    """``{user_id: {"status": ..., question: value}}`` for one record.

    Read from the record's API models: the SDK's per-question ``Response`` objects drop a response
    that has no values (a reviewer who discards without filling anything in), and a discard must count.
    """
    out: dict[str, dict[str, Any]] = {}
    for model in record._model.responses or []:
        status = getattr(model.status, "value", model.status)
        values = {name: (value or {}).get("value") for name, value in (model.values or {}).items()}
        out[str(model.user_id)] = {**values, "status": str(status)}
    return out


def _reverify(rows: list[dict[str, Any]], counts: Counter) -> None:
    """Score every accepted row's (possibly corrected) answer against the gold; flag disagreements."""
    judged = [r for r in rows if r.get("solution") not in (None, "")]
    if not judged:
        return
    from filters.rewards.accuracy import Accuracy

    scores = Accuracy()([row_completion(r) for r in judged], solution=[r["solution"] for r in judged])
    for row, score in zip(judged, scores):
        row["reward_accuracy"] = score
        row["review_disagrees_with_gold"] = score is not None and score < 1.0
        counts["accepted_but_disagrees_with_gold"] += int(row["review_disagrees_with_gold"])


# ---- status -------------------------------------------------------------------------------------


def status(name: str, credentials: Credentials, *, workspace: str | None = None) -> dict[str, Any]:
    """Dataset progress and, per reviewer, submitted / discarded / draft counts."""
    client = connect(credentials)
    dataset = _dataset(client, name, workspace, credentials)
    return dataset.progress(with_users_distribution=True)


def pull_dataset(name: str, out: str, credentials: Credentials, *, workspace: str | None = None) -> dict[str, Any]:
    """Pull ``name`` and write the reviewed dataset to ``out``: ``train`` (accepted), ``rejected``, ``unreviewed``.

    Returns the counts recorded in its manifest.
    """
    from r1f.io import write_dataset
    from r1f.manifest import build_manifest

    result = pull(name, credentials, workspace=workspace)
    splits = {"train": result.accepted}
    if result.rejected:
        splits["rejected"] = result.rejected
    if result.unreviewed:
        splits["unreviewed"] = result.unreviewed
    counts = dict(result.counts)
    counts["dropped_by_reason"] = dict(Counter(r["reject_reason"] for r in result.rejected))
    manifest = build_manifest(
        "reviewed", parameters={"argilla_dataset": name, "workspace": workspace}, counts=counts, packages=("argilla",)
    )
    write_dataset(out, splits, manifest)
    return counts
