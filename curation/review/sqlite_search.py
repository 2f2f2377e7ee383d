"""A SQLite search engine for the official ``argilla-server``, registered as ``sqlite``.

Argilla needs Elasticsearch or OpenSearch for search, progress and metadata metrics; neither installs
here. The server picks its engine by name from its own registry, so this module registers one that
keeps a copy of each record (fields, metadata, suggestions, responses, vectors, status) in a SQLite
file and answers the engine's questions from it. It runs *inside the server's virtual environment*
(imported by ``server_main.py``) and imports nothing from r1-factory.

Why the code looks the way it does:

- The server makes a new engine per request, so nothing lives on the instance but a connection; the
  SQLite file (``ARGILLA_SQLITE_SEARCH_PATH``, WAL mode) is the state, shared with the rq worker.
- Database objects arrive from the server's async session. Only attributes the Elasticsearch engine
  reads are touched here (those are the ones the server loads before calling), else SQLAlchemy raises
  ``MissingGreenlet``.
- Filtering and sorting run in Python over one dataset's rows: review datasets are thousands of rows,
  not millions, and the filter language (terms, ranges, nested ``and``, response scopes) maps onto a
  few dozen lines this way.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import sqlite3
from collections import Counter
from collections.abc import Iterable
from typing import Any

from argilla_server.enums import MetadataPropertyType, SimilarityOrder, SortOrder
from argilla_server.search_engine import (
    AndFilter,
    FloatMetadataMetrics,
    IntegerMetadataMetrics,
    MetadataFilterScope,
    RangeFilter,
    RecordFilterScope,
    ResponseFilterScope,
    SearchEngine,
    SearchResponseItem,
    SearchResponses,
    SuggestionFilterScope,
    TermsFilter,
    TermsMetrics,
    TextQuery,
)

ENGINE_NAME = "sqlite"
PENDING = "pending"

SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    id TEXT PRIMARY KEY,
    dataset_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS records_dataset ON records(dataset_id, seq);
CREATE TABLE IF NOT EXISTS responses (
    id TEXT PRIMARY KEY,
    record_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    status TEXT NOT NULL,
    answer TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS responses_record ON responses(record_id);
"""


def _plain(value: Any) -> Any:
    """JSON-safe copies of what the server hands over (UUIDs, datetimes, enums)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if hasattr(value, "value") and not callable(value.value):  # enums
        return _plain(value.value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


@SearchEngine.register(engine_name=ENGINE_NAME)
class SQLiteSearchEngine(SearchEngine):
    """Answers Argilla's search-engine calls from a SQLite file."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.db = sqlite3.connect(path, timeout=30, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.executescript(SCHEMA)

    @classmethod
    async def new_instance(cls) -> SQLiteSearchEngine:
        home = os.environ.get("ARGILLA_HOME_PATH", os.path.expanduser("~/.argilla"))
        return cls(os.environ.get("ARGILLA_SQLITE_SEARCH_PATH", os.path.join(home, "search.sqlite")))

    async def close(self) -> None:
        self.db.close()

    async def ping(self) -> bool:
        return self.db.execute("SELECT 1").fetchone() == (1,)

    async def info(self) -> dict:
        return {"distribution": ENGINE_NAME, "number": sqlite3.sqlite_version}

    # ---- indexes -------------------------------------------------------------------------------

    async def create_index(self, dataset: Any) -> None:
        """Nothing to create: rows carry their dataset id."""

    async def delete_index(self, dataset: Any) -> None:
        ids = [r[0] for r in self.db.execute("SELECT id FROM records WHERE dataset_id = ?", (str(dataset.id),))]
        self._delete(ids)

    async def configure_metadata_property(self, dataset: Any, metadata_property: Any) -> None:
        """Metadata is stored schemaless; nothing to configure."""

    async def configure_index_vectors(self, vector_settings: Any) -> None:
        """Vectors are stored per record; nothing to configure."""

    # ---- records -------------------------------------------------------------------------------

    async def index_records(self, dataset: Any, records: Iterable[Any]) -> None:
        metadata_names = {p.name for p in dataset.metadata_properties}
        with self.db:
            for record in records:
                doc = {
                    "id": str(record.id),
                    "external_id": record.external_id,
                    "fields": _plain(record.fields),
                    "status": _plain(record.status),
                    "inserted_at": _plain(record.inserted_at),
                    "updated_at": _plain(record.updated_at),
                    "metadata": {
                        k: _plain(v)
                        for k, v in (record.metadata_ or {}).items()
                        if k in metadata_names and v is not None
                    },
                    "suggestions": {
                        s.question.name: {"value": _plain(s.value), "score": _plain(s.score), "agent": s.agent}
                        for s in record.suggestions or []
                    },
                    "vectors": {str(v.vector_settings.id): list(v.value) for v in record.vectors or []},
                }
                self._put(str(record.id), str(dataset.id), doc)
                self.db.execute("DELETE FROM responses WHERE record_id = ?", (str(record.id),))
                for response in record.responses or []:
                    self._put_response(response, str(record.id))

    async def partial_record_update(self, record: Any, **update: Any) -> None:
        doc = self._get(str(record.id))
        if doc is not None:
            doc.update(_plain(update))
            self._put(doc["id"], str(record.dataset.id), doc)

    async def delete_records(self, dataset: Any, records: Iterable[Any]) -> None:
        self._delete([str(r.id) for r in records])

    async def update_record_response(self, response: Any) -> None:
        self._put_response(response, str(response.record.id))

    async def delete_record_response(self, response: Any) -> None:
        self.db.execute("DELETE FROM responses WHERE id = ?", (str(response.id),))

    async def update_record_suggestion(self, suggestion: Any) -> None:
        doc = self._get(str(suggestion.record_id))
        if doc is not None:
            doc["suggestions"][suggestion.question.name] = {
                "value": _plain(suggestion.value),
                "score": _plain(suggestion.score),
                "agent": suggestion.agent,
            }
            self._put(doc["id"], str(suggestion.record.dataset.id), doc)

    async def delete_record_suggestion(self, suggestion: Any) -> None:
        doc = self._get(str(suggestion.record_id))
        if doc is not None:
            doc["suggestions"].pop(suggestion.question.name, None)
            self._put(doc["id"], str(suggestion.record.dataset.id), doc)

    # ---- progress and metrics -----------------------------------------------------------------

    async def get_dataset_progress(self, dataset: Any) -> dict:
        if dataset.is_draft:
            return {}
        statuses = Counter(doc["status"] for doc in self._docs(str(dataset.id)))
        return {"total": sum(statuses.values()), **statuses}

    async def get_dataset_user_progress(self, dataset: Any, user: Any) -> dict:
        if dataset.is_draft:
            return {}
        rows = self.db.execute(
            "SELECT r.status FROM responses r JOIN records d ON d.id = r.record_id "
            "WHERE d.dataset_id = ? AND r.user_id = ?",
            (str(dataset.id), str(user.id)),
        )
        statuses = Counter(row[0] for row in rows)
        return {"total": sum(statuses.values()), **statuses}

    async def compute_metrics_for(self, metadata_property: Any) -> Any:
        name = metadata_property.name
        values = [
            doc["metadata"][name]
            for doc in self._docs(str(metadata_property.dataset.id))
            if doc["metadata"].get(name) is not None
        ]
        if metadata_property.type == MetadataPropertyType.terms:
            flat = [str(v) for value in values for v in (value if isinstance(value, list) else [value])]
            counts = Counter(flat)
            return TermsMetrics(
                total=len(flat),
                values=[TermsMetrics.TermCount(term=t, count=c) for t, c in counts.most_common()],
            )
        numbers = [v for v in values if isinstance(v, (int, float))]
        metrics = (
            IntegerMetadataMetrics if metadata_property.type == MetadataPropertyType.integer else FloatMetadataMetrics
        )
        return metrics(min=min(numbers) if numbers else None, max=max(numbers) if numbers else None)

    # ---- search -------------------------------------------------------------------------------

    async def search(
        self,
        dataset: Any,
        query: TextQuery | str | None = None,
        filter: Any = None,
        sort: list | None = None,
        offset: int = 0,
        limit: int = 100,
        user_id: Any = None,
    ) -> SearchResponses:
        docs = self._matching(str(dataset.id), query, filter)
        if sort:
            for order in reversed(sort):  # stable sorts, last key first
                scope = order.scope
                docs.sort(key=lambda d, s=scope: _sort_key(self._value(d, s)), reverse=order.order == SortOrder.desc)
        else:
            # best text match first; otherwise (and among equals) a different but stable order per reviewer,
            # as the Elasticsearch engine's random_score gives
            def shuffled(doc: dict) -> str:
                return hashlib.sha1(f"{user_id}:{doc['id']}".encode()).hexdigest() if user_id is not None else ""

            docs.sort(key=lambda d: (-d.get("_score", 1.0), shuffled(d)))
        page = docs[offset : offset + limit]
        return SearchResponses(
            items=[SearchResponseItem(record_id=d["id"], score=d.get("_score", 1.0)) for d in page], total=len(docs)
        )

    async def similarity_search(
        self,
        dataset: Any,
        vector_settings: Any,
        value: list[float] | None = None,
        record: Any = None,
        query: TextQuery | str | None = None,
        filter: Any = None,
        max_results: int = 100,
        order: Any = SimilarityOrder.most_similar,
        threshold: float | None = None,
    ) -> SearchResponses:
        if bool(value) == bool(record):
            raise ValueError("Must provide either vector value or record to compute the similarity search")
        key = str(vector_settings.id)
        exclude = None
        if not value:
            exclude = str(record.id)
            value = (self._get(exclude) or {}).get("vectors", {}).get(key)
        if not value:
            raise ValueError("Cannot find a vector value to apply with provided info")
        scored = []
        for doc in self._matching(str(dataset.id), query, filter):
            vector = doc["vectors"].get(key)
            if vector is None or doc["id"] == exclude:
                continue
            score = _cosine(value, vector)
            if threshold is None or score >= threshold:
                scored.append((score, doc["id"]))
        scored.sort(reverse=order != SimilarityOrder.least_similar)
        items = [SearchResponseItem(record_id=rid, score=score) for score, rid in scored[:max_results]]
        return SearchResponses(items=items, total=len(items))

    # ---- storage helpers ----------------------------------------------------------------------

    def _put(self, record_id: str, dataset_id: str, doc: dict) -> None:
        self.db.execute(
            "INSERT INTO records(id, dataset_id, seq, doc) VALUES (?, ?, "
            "(SELECT COALESCE(MAX(seq), 0) + 1 FROM records), ?) "
            "ON CONFLICT(id) DO UPDATE SET doc = excluded.doc",
            (record_id, dataset_id, json.dumps(doc)),
        )

    def _put_response(self, response: Any, record_id: str) -> None:
        answer = {name: (value or {}).get("value") for name, value in (response.values or {}).items()}
        self.db.execute(
            "INSERT INTO responses(id, record_id, user_id, status, answer) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT(id) DO UPDATE SET status = excluded.status, answer = excluded.answer",
            (str(response.id), record_id, str(response.user_id), _plain(response.status), json.dumps(_plain(answer))),
        )

    def _get(self, record_id: str) -> dict | None:
        row = self.db.execute("SELECT doc FROM records WHERE id = ?", (record_id,)).fetchone()
        return json.loads(row[0]) if row else None

    def _delete(self, ids: list[str]) -> None:
        with self.db:
            for record_id in ids:
                self.db.execute("DELETE FROM records WHERE id = ?", (record_id,))
                self.db.execute("DELETE FROM responses WHERE record_id = ?", (record_id,))

    def _docs(self, dataset_id: str) -> list[dict]:
        rows = self.db.execute("SELECT doc FROM records WHERE dataset_id = ? ORDER BY seq", (dataset_id,))
        return [json.loads(row[0]) for row in rows]

    def _matching(self, dataset_id: str, query: TextQuery | str | None, filter: Any) -> list[dict]:
        docs = self._docs(dataset_id)
        responses: dict[str, list[dict]] = {}
        rows = self.db.execute(
            "SELECT r.record_id, r.user_id, r.status, r.answer FROM responses r JOIN records d ON d.id = r.record_id "
            "WHERE d.dataset_id = ?",
            (dataset_id,),
        )
        for record_id, user_id, status, answer in rows:
            responses.setdefault(record_id, []).append({"user_id": user_id, "status": status, **json.loads(answer)})
        for doc in docs:
            doc["responses"] = responses.get(doc["id"], [])
        if query is not None:
            docs = [d for d in docs if _text_score(d, query) > 0]
        if filter is not None:
            docs = [d for d in docs if self._passes(d, filter)]
        return docs

    def _passes(self, doc: dict, filter: Any) -> bool:
        if isinstance(filter, AndFilter):
            return all(self._passes(doc, f) for f in filter.filters)
        scope = filter.scope
        if isinstance(scope, ResponseFilterScope):
            return _response_filter(doc, filter)
        value = self._value(doc, scope)
        if isinstance(filter, TermsFilter):
            wanted = {str(v) for v in filter.values}
            values = value if isinstance(value, list) else [value]
            return any(str(v) in wanted for v in values if v is not None)
        if isinstance(filter, RangeFilter):
            if not isinstance(value, (int, float)):
                return False
            return (filter.ge is None or value >= filter.ge) and (filter.le is None or value <= filter.le)
        raise ValueError(f"Cannot process request for filter {filter}")

    @staticmethod
    def _value(doc: dict, scope: Any) -> Any:
        if isinstance(scope, MetadataFilterScope):
            return doc["metadata"].get(scope.metadata_property)
        if isinstance(scope, SuggestionFilterScope):
            return (doc["suggestions"].get(scope.question) or {}).get(scope.property)
        if isinstance(scope, RecordFilterScope):
            return doc.get(scope.property)
        if isinstance(scope, ResponseFilterScope):
            key = scope.question or scope.property
            values = [r.get(key) for r in _responses_in_scope(doc, scope) if r.get(key) is not None]
            return values[0] if values else None
        raise ValueError(f"Cannot process request for search scope {scope}")


def _responses_in_scope(doc: dict, scope: Any) -> list[dict]:
    """The record's responses a response scope speaks of: one reviewer's, or everyone's."""
    user = str(scope.user.id) if scope.user else None
    return [r for r in doc["responses"] if user is None or r["user_id"] == user]


def _response_filter(doc: dict, filter: Any) -> bool:
    scope = filter.scope
    mine = _responses_in_scope(doc, scope)
    if scope.question:
        values = [r.get(scope.question) for r in mine]
        if isinstance(filter, RangeFilter):
            return any(
                isinstance(v, (int, float))
                and (filter.ge is None or v >= filter.ge)
                and (filter.le is None or v <= filter.le)
                for v in values
            )
        wanted = {str(v) for v in filter.values}
        return any(str(x) in wanted for v in values for x in (v if isinstance(v, list) else [v]))
    if scope.property == "status" and isinstance(filter, TermsFilter):
        statuses = {_plain(v) for v in filter.values}
        if PENDING in statuses and not mine:
            return True
        return any(r["status"] in statuses for r in mine)
    raise ValueError(f"Cannot process filter scope {scope}")


def _text_score(doc: dict, query: TextQuery | str) -> float:
    """How often the query's words occur in the record's text fields (one field when the query names one)."""
    text, field = (query, None) if isinstance(query, str) else (query.q, query.field)
    fields = doc["fields"]
    haystack = " ".join(str(v) for k, v in fields.items() if field is None or k == field).lower()
    words = [w for w in text.lower().split() if w and w != "*"]
    if not words:
        return 1.0
    score = float(sum(haystack.count(w) for w in words))
    if score:
        doc["_score"] = score
    return score


def _sort_key(value: Any) -> tuple:
    if value is None:
        return (1, 0, "")
    if isinstance(value, (int, float)):
        return (0, value, "")
    return (0, 0, str(value))


def _cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0
