"""Kill -9 a real generation run mid-way, rerun it, and compare with an uninterrupted run row by row."""

import json
import time

from generators.engines import SamplingParams
from generators.generate import run_generation
from generators.problems import make_problems
from r1f.io import read_rows
from r1f.store import RunStore
from tests.conftest import kill_after_chunks, run_r1f

ARGS = [
    "generate",
    "--n-problems",
    "10",
    "--languages",
    "en,fr",
    "--max-new-tokens",
    "24",
    "--batch-size",
    "2",
    "--max-active",
    "2",
    "--dtype",
    "float32",
]


def test_sigkill_mid_run_then_resume_equals_uninterrupted(tmp_path, model_dir):
    killed_out = tmp_path / "killed"
    store = RunStore.beside(killed_out)
    kill_after_chunks([*ARGS, "--out", str(killed_out)], store.chunks, 2)
    chunks_at_kill = len(list(store.chunks.glob("*.jsonl")))
    assert 2 <= chunks_at_kill < 5, "the run should have been killed part-way (5 chunks in all)"
    assert not killed_out.exists(), "no dataset may appear under its final name before the run finishes"
    saved = {k: dict(v) for k, v in RunStore(store.root).rows().items()}

    resumed = run_r1f(*ARGS, "--out", str(killed_out))
    assert resumed.returncode == 0, resumed.stderr
    manifest = json.loads((killed_out / "manifest.json").read_text())
    assert manifest["counts"]["reused"] == len(saved) and manifest["counts"]["generated"] == 10 - len(saved)
    # nothing written before the kill was lost or rewritten
    after = RunStore(store.root).rows()
    assert all(after[k] == v for k, v in saved.items())

    clean_out = tmp_path / "clean"
    clean = run_r1f(*ARGS, "--out", str(clean_out))
    assert clean.returncode == 0, clean.stderr
    killed_rows, clean_rows = read_rows(killed_out), read_rows(clean_out)
    assert len(killed_rows) == len(clean_rows) == 10
    assert len({r["id"] for r in killed_rows}) == 10
    assert killed_rows == clean_rows

    # a fully cached rerun loads no model and re-sends nothing
    started = time.time()
    cached = run_r1f(*ARGS, "--out", str(clean_out))
    assert cached.returncode == 0, cached.stderr
    assert json.loads((clean_out / "manifest.json").read_text())["counts"]["generated"] == 0
    assert time.time() - started < 15


def test_changed_parameter_regenerates_only_what_it_affects(tmp_path, engine):
    problems = make_problems(3, seed=5, languages=["en"])
    out = tmp_path / "ds"
    first = run_generation(problems, engine=engine, params=SamplingParams(max_new_tokens=8), out_dir=out)
    assert first.generated == 3
    again = run_generation(problems, engine=engine, params=SamplingParams(max_new_tokens=8), out_dir=out)
    assert again.generated == 0 and again.reused == 3
    longer = run_generation(problems, engine=engine, params=SamplingParams(max_new_tokens=10), out_dir=out)
    assert longer.generated == 3 and longer.reused == 0
    assert {r["max_new_tokens"] for r in read_rows(out)} == {10}
    assert not {r["id"] for r in first.rows} & {r["id"] for r in longer.rows}
    grown = run_generation(
        problems + make_problems(5, seed=5, languages=["en"])[3:],
        engine=engine,
        params=SamplingParams(max_new_tokens=10),
        out_dir=out,
    )
    assert grown.generated == 2 and grown.reused == 3
    assert [r["problem"] for r in read_rows(out)] == [p["problem"] for p in make_problems(5, seed=5, languages=["en"])]
