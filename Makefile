# Quick start: `make demo` (set up, then run the offline demo) and `make test` (set up, then run the tests).
# Both create .venv when it is missing and reuse it afterwards.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.edge-router-installed

# llama-cpp-python builds from source here. Build for the x86-64 AVX2 baseline rather than
# -march=native: a native build picks up AMX/AVX-512 code that some virtual machines refuse
# (SIGILL), and the wheel pip caches must run on every machine that reuses it.
ifeq ($(shell uname -m),x86_64)
CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON
export CMAKE_ARGS
endif
export CMAKE_BUILD_PARALLEL_LEVEL ?= $(shell nproc 2>/dev/null || echo 2)

.PHONY: demo test setup models

demo: models
	$(PY) examples/offline_demo.py

test: models
	$(PY) -m pytest

setup: $(STAMP)

$(STAMP): pyproject.toml models/extra/pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check ./models/extra -e '.[server,bench,dev,privacy,scale,extra-models,async,langchain,llm]'
	touch $(STAMP)

models: $(STAMP)
	$(PY) -m edge_router models pull
