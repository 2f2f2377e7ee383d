"""Reading any table the factory accepts, and writing factory datasets atomically.

Inputs: jsonl/json, parquet, csv, a factory dataset directory (``data/*.parquet``) or, when online,
a Hugging Face Hub dataset name. Every failure names the file (and row, where there is one) and
says how to fix it, so a bad input costs one line of reading, not a traceback.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from r1f.errors import DataError

TABLE_SUFFIXES = (".jsonl", ".json", ".parquet", ".csv")
DATA_DIR = "data"
MANIFEST = "manifest.json"


def read_rows(
    source: str | Path, *, split: str = "train", limit: int | None = None, allow_empty: bool = False
) -> list[dict[str, Any]]:
    """Read a table into a list of row dicts.

    Args:
        source: a file path, a factory dataset directory, or a Hub dataset name.
        split: the split to read from a Hub dataset or a multi-split directory.
        limit: read at most this many rows.
        allow_empty: return ``[]`` for an empty table instead of raising (outputs may legitimately be empty).

    Returns:
        The rows, in file order.

    Raises:
        DataError: the file is missing, unreadable, not UTF-8, malformed, or empty.
    """
    path = Path(source)
    if path.is_dir():
        rows = _read_dataset_dir(path, split)
    elif path.exists():
        rows = _read_file(path)
    elif path.suffix in TABLE_SUFFIXES or str(source).startswith((".", "/", "~")):
        raise DataError(f"{source}: no such file; check the path (relative paths start from {Path.cwd()})")
    else:
        rows = _read_hub(str(source), split)
    if not rows and not allow_empty:
        raise DataError(f"{source}: the dataset is empty; give a file with at least one row")
    return rows[:limit] if limit is not None else rows


def _read_file(path: Path) -> list[dict[str, Any]]:
    suffix = path.suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise DataError(f"{path}: unsupported file type {suffix!r}; use one of {', '.join(TABLE_SUFFIXES)}")
    if not os.access(path, os.R_OK):
        raise DataError(f"{path}: file is not readable; check its permissions")
    if suffix == ".parquet":
        return _read_parquet([path])
    try:
        text = path.read_text(encoding="utf-8-sig")  # a byte-order mark (Excel's CSVs) is not part of the first column
    except UnicodeDecodeError as err:
        raise DataError(
            f"{path}: not UTF-8 text (bad byte at offset {err.start}); re-encode it, e.g. `iconv -t UTF-8`"
        ) from None
    except OSError as err:
        raise DataError(f"{path}: cannot read ({err.strerror})") from None
    if suffix == ".csv":
        try:
            rows = list(csv.DictReader(text.splitlines()))
        except csv.Error as err:
            raise DataError(f"{path}: not a readable CSV ({err}); fix the file or save it as jsonl") from None
        for lineno, row in enumerate(rows, start=2):
            if None in row:  # csv puts fields past the header's under the key None
                raise DataError(f"{path}: line {lineno} has more fields than the header; quote fields with commas")
        return rows
    if suffix == ".json" and text.lstrip().startswith("["):
        try:
            rows = json.loads(text)
        except json.JSONDecodeError as err:
            raise DataError(f"{path}: invalid JSON at line {err.lineno}: {err.msg}") from None
        return [_require_object(row, path, i + 1) for i, row in enumerate(rows)]
    rows = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rows.append(_require_object(json.loads(line), path, lineno))
        except json.JSONDecodeError as err:
            raise DataError(f"{path}: line {lineno} is not valid JSON ({err.msg}); fix or remove that line") from None
    return rows


def _require_object(row: Any, path: Path, lineno: int) -> dict[str, Any]:
    if not isinstance(row, dict):
        raise DataError(f"{path}: row {lineno} is a {type(row).__name__}, expected a JSON object")
    return row


def _read_parquet(files: list[Path]) -> list[dict[str, Any]]:
    import pyarrow.parquet as pq

    rows: list[dict[str, Any]] = []
    for file in files:
        try:
            rows.extend(pq.read_table(file).to_pylist())
        except Exception as err:  # pyarrow raises several types for corrupt files
            raise DataError(f"{file}: not a readable parquet file ({err})") from None
    return rows


def dataset_files(directory: Path, split: str | None = None) -> dict[str, list[Path]]:
    """Parquet files of a factory dataset directory, grouped by split (``data/<split>-*.parquet``)."""
    data = directory / DATA_DIR if (directory / DATA_DIR).is_dir() else directory
    splits: dict[str, list[Path]] = {}
    for file in sorted(data.glob("*.parquet")):
        name = file.name.split("-")[0] if "-" in file.name else "train"
        splits.setdefault(name, []).append(file)
    if split is not None and split in splits:
        return {split: splits[split]}
    return splits


def _read_dataset_dir(directory: Path, split: str) -> list[dict[str, Any]]:
    splits = dataset_files(directory, split)
    if not splits:
        tables = [p for p in directory.iterdir() if p.suffix in TABLE_SUFFIXES]
        if len(tables) == 1:
            return _read_file(tables[0])
        raise DataError(
            f"{directory}: no parquet files under {DATA_DIR}/; point at a dataset the factory wrote or a single file"
        )
    if split not in splits and (len(splits) > 1 or split != "train"):
        # only the default split falls back to a one-split dataset's split; a named one must exist
        raise DataError(f"{directory}: no split {split!r}; splits here: {', '.join(sorted(splits))}")
    files = splits.get(split) or next(iter(splits.values()))
    return _read_parquet(files)


def _read_hub(name: str, split: str) -> list[dict[str, Any]]:
    if os.environ.get("HF_HUB_OFFLINE") == "1" or os.environ.get("HF_DATASETS_OFFLINE") == "1":
        hint = "it is not a local file, and the Hub is off (HF_HUB_OFFLINE=1)"
    else:
        hint = None
    if hint is None:
        try:
            import datasets

            return list(datasets.load_dataset(name, split=split))
        except Exception as err:
            hint = f"loading it from the Hub failed ({type(err).__name__}: {str(err).splitlines()[0][:200]})"
    raise DataError(f"{name}: {hint}; give a local jsonl/parquet/csv path or a reachable Hub dataset name")


def gold_of(value: Any, source: str | Path, index: int, column: str) -> str | None:
    """A row's gold answer as text (:func:`r1f.schema.gold_text`), or a one-line error naming file, row and column."""
    from r1f.schema import gold_text

    try:
        return gold_text(value)
    except ValueError as err:
        raise DataError(f"{source}: row {index + 1}: column {column!r}: {err}; fix the value or drop the row") from None


def map_columns(rows: list[dict[str, Any]], mapping: Mapping[str, str], *, source: str | Path) -> list[dict[str, Any]]:
    """Rename source columns to the factory's names (``{"problem": "question"}`` reads ``question``).

    Raises:
        DataError: a mapped column is missing; the message lists the columns that exist.
    """
    columns = [str(c) for c in rows[0].keys()]
    for target, column in mapping.items():
        if column not in rows[0]:
            raise DataError(
                f"{source}: no column {column!r} (wanted as {target!r}); columns are: {', '.join(columns)}; "
                f"pass --{target}-column NAME"
            )
    out = []
    for i, row in enumerate(rows):
        new = dict(row)
        for target, column in mapping.items():
            if column not in row:
                raise DataError(f"{source}: row {i + 1} lacks column {column!r}")
            value = row[column]
            if target != column:
                new.pop(column, None)
            new[target] = value
        out.append(new)
    return out


def write_rows(out: str | Path, rows: list[dict[str, Any]], manifest: Mapping[str, Any]) -> Path:
    """Write rows to a ``.jsonl`` or ``.parquet`` file (atomically), or else as a dataset directory."""
    out = Path(out)
    if out.suffix not in (".jsonl", ".parquet"):
        return write_dataset(out, {"train": rows}, manifest)
    from r1f.lock import check_writable, sidecar

    check_writable(out)  # a file the factory did not write is never replaced
    marker = sidecar(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
    if out.suffix == ".jsonl":
        tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_pylist(rows), tmp)
    marker.write_text(json.dumps({"kind": manifest.get("kind")}) + "\n")
    os.replace(tmp, out)
    return out


def write_dataset(
    out_dir: str | Path,
    splits: Mapping[str, Iterable[Mapping[str, Any]]],
    manifest: Mapping[str, Any],
    *,
    extra_files: Mapping[str, str | bytes] | None = None,
) -> Path:
    """Write a dataset directory atomically: readers see the old one or the new one, never half of one.

    The rows go to ``data/<split>-00000-of-00001.parquet`` (the layout the Hub and ``datasets`` read),
    the manifest to ``manifest.json``, a dataset card to ``README.md`` (unless ``extra_files`` has
    one). A previous dataset of the same name is replaced only after the
    new one is complete on disk.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    out = Path(out_dir)
    from r1f.lock import check_owned

    check_owned(out, (MANIFEST,))  # only a dataset the factory wrote is ever replaced
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / DATA_DIR).mkdir(parents=True)
    materialised = {split: [_public_row(row) for row in rows] for split, rows in splits.items()}
    try:
        tables = {split: _table(pa, rows, split, out) for split, rows in materialised.items()}
        for split, table in _same_schema(pa, tables, out).items():
            pq.write_table(table, tmp / DATA_DIR / f"{split}-00000-of-00001.parquet")
        from r1f.redact import public

        payload = public(dict(manifest))  # no key, password or local path in a file push uploads
        payload.setdefault("written_at", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        (tmp / MANIFEST).write_text(json.dumps(payload, indent=2, ensure_ascii=False, default=str) + "\n")
        files = dict(extra_files or {})
        if "README.md" not in files:
            from r1f.card import dataset_card

            plots = sorted(name for name in files if name.endswith(".png"))
            files["README.md"] = dataset_card(out.name, materialised, payload, plots)
        for name, content in files.items():
            target = tmp / name
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                target.write_bytes(content)
            else:
                target.write_text(content)
        _fsync_tree(tmp)
    except BaseException:  # a full disk, a kill: nothing half-written stays (a SIGKILL's is removed by the next run)
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = out.parent / f".{out.name}.old-{os.getpid()}"
    if out.exists():
        out.rename(old)
    tmp.rename(out)
    shutil.rmtree(old, ignore_errors=True)
    return out


#: provenance columns that may hold a local path or an endpoint URL: published as names, with secrets masked
PROVENANCE = ("model", "source", "engine", "teacher", "pass_rate_model", "generator", "mix_source")


def _public_row(row: Mapping[str, Any]) -> Mapping[str, Any]:
    from r1f.redact import public

    if not any(isinstance(row.get(key), str) for key in PROVENANCE):
        return row
    return {k: public(v) if k in PROVENANCE and isinstance(v, str) else v for k, v in row.items()}


def _table(pa: Any, rows: list[dict[str, Any]], split: str, out: Path) -> Any:
    """An arrow table over the union of the rows' columns (pyarrow alone would keep only the first row's)."""
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row))
    try:
        return pa.Table.from_pylist([{c: row.get(c) for c in columns} for row in rows])
    except (pa.ArrowInvalid, pa.ArrowTypeError) as err:
        raise DataError(
            f"{out}: split {split!r} mixes value types in one column ({str(err).splitlines()[0][:200]}); "
            "make the inputs' column types agree (e.g. cast the column) before combining them"
        ) from None


def _same_schema(pa: Any, tables: dict[str, Any], out: Path) -> dict[str, Any]:
    """Give every split the same columns and types (missing columns as nulls): ``load_dataset`` reads all
    splits of one config with one schema and refuses a ``rejected`` split with extra columns."""
    if len(tables) < 2:
        return tables
    try:
        schema = pa.unify_schemas([t.schema for t in tables.values()], promote_options="permissive")
        return {
            split: pa.table(
                {f.name: table[f.name] if f.name in table.column_names else pa.nulls(len(table)) for f in schema}
            ).cast(schema)
            for split, table in tables.items()
        }
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as err:
        raise DataError(
            f"{out}: splits disagree on a column's type ({str(err).splitlines()[0][:200]}); "
            "make the inputs' column types agree before combining them"
        ) from None


def _fsync_tree(root: Path) -> None:
    for path in root.rglob("*"):
        if path.is_file():
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())


def read_manifest(directory: str | Path) -> dict[str, Any] | None:
    """The manifest of a factory dataset directory, or None for any other table."""
    path = Path(directory) / MANIFEST
    return json.loads(path.read_text()) if path.is_file() else None


def add_card_section(directory: Any, title: str, body: str, manifest_extra: Mapping[str, Any] | None = None) -> bool:
    """Add (or replace) a section of a factory dataset's card and record ``manifest_extra`` in its manifest.

    Only a directory the factory wrote (it has a manifest) is touched, and only its README.md and
    manifest.json, each replaced atomically; the data files are not rewritten. Returns whether it did.
    """
    from r1f.card import dataset_card

    directory = Path(directory)
    manifest = read_manifest(directory) if directory.is_dir() else None
    if manifest is None:
        return False
    from r1f.redact import public

    manifest.setdefault("card_sections", {})[title] = body
    manifest.update(public(dict(manifest_extra or {})))
    splits = {split: read_rows(directory, split=split) for split in dataset_files(directory)}
    plots = sorted(str(p.relative_to(directory)) for p in directory.glob("plots/*.png"))
    card = dataset_card(directory.name, splits, manifest, plots)
    for name, text in (
        (MANIFEST, json.dumps(manifest, indent=2, ensure_ascii=False, default=str) + "\n"),
        ("README.md", card),
    ):
        tmp = directory / f".{name}.tmp-{os.getpid()}"
        tmp.write_text(text)
        os.replace(tmp, directory / name)
    return True
