import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from generators.sources import load_problems
from r1f.errors import DataError
from r1f.io import map_columns, read_rows, write_dataset
from r1f.store import RunStore


def test_reads_jsonl_csv_parquet_and_dataset_dirs(tmp_path):
    rows = [{"q": "What is 1 + 1?", "a": "2"}, {"q": "What is 2 + 2?", "a": "4"}]
    (tmp_path / "p.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / "p.csv").write_text("q,a\nWhat is 1 + 1?,2\nWhat is 2 + 2?,4\n")
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "p.parquet")
    write_dataset(tmp_path / "ds", {"train": rows}, {"kind": "test"})
    for name in ("p.jsonl", "p.csv", "p.parquet", "ds"):
        assert read_rows(tmp_path / name) == rows, name
    loaded = load_problems(str(tmp_path / "p.jsonl"), problem_column="q", solution_column="a")
    assert [r["problem"] for r in loaded] == ["What is 1 + 1?", "What is 2 + 2?"]
    assert [r["solution"] for r in loaded] == ["2", "4"]
    assert len({r["id"] for r in loaded}) == 2


def test_missing_column_lists_existing_ones(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text(json.dumps({"q": "x", "a": "1"}) + "\n")  # nothing the sniffer can place
    with pytest.raises(DataError, match=r"no column 'problem'.*columns are: q, a"):
        load_problems(str(path))
    with pytest.raises(DataError, match="no column"):
        map_columns(read_rows(path), {"solution": "gold"}, source=path)


def test_non_utf8_empty_malformed_and_corrupt_files(tmp_path):
    latin = tmp_path / "latin.jsonl"
    latin.write_bytes('{"problem": "¿Cuánto es 2 + 2?"}\n'.encode("latin-1"))
    with pytest.raises(DataError, match="not UTF-8"):
        read_rows(latin)
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    with pytest.raises(DataError, match="empty"):
        read_rows(empty)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"problem": "a"}\n{"problem": \n')
    with pytest.raises(DataError, match="line 2 is not valid JSON"):
        read_rows(bad)
    corrupt = tmp_path / "corrupt.parquet"
    corrupt.write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(DataError, match="not a readable parquet"):
        read_rows(corrupt)
    with pytest.raises(DataError, match="no such file"):
        read_rows(tmp_path / "missing.jsonl")


def test_write_dataset_replaces_atomically(tmp_path):
    out = tmp_path / "ds"
    write_dataset(out, {"train": [{"a": 1}]}, {"kind": "v1"})
    write_dataset(out, {"train": [{"a": 2}, {"a": 3}], "test": [{"a": 4}]}, {"kind": "v2"})
    assert read_rows(out) == [{"a": 2}, {"a": 3}]
    assert read_rows(out, split="test") == [{"a": 4}]
    assert json.loads((out / "manifest.json").read_text())["kind"] == "v2"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]  # no temp or backup left behind


def test_run_store_survives_leftover_temp_files(tmp_path):
    store = RunStore(tmp_path / "run")
    store.append([{"id": "a", "v": 1}, {"id": "b", "v": 2}])
    (store.chunks / ".000001-dead.jsonl.tmp").write_text('{"id": "c", "v"')  # a write killed half-way
    again = RunStore(tmp_path / "run")
    assert set(again.rows()) == {"a", "b"}
    again.append([{"id": "c", "v": 3}])
    assert set(RunStore(tmp_path / "run").rows()) == {"a", "b", "c"}
