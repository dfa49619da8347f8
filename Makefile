# `make run` serves sourcier on a fresh clone; `make test` runs the whole suite. Both build .venv when missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# `make run HOST=0.0.0.0 PORT=8080` listens elsewhere (the default is this machine only)
HOST ?= 127.0.0.1
PORT ?= 8000
STAMP := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | cksum | cut -d' ' -f1)
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: install run test test-fast lint ingest eval bench clean

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet torch==2.13.0            # CPU wheel first, or pip pulls a CUDA build
	$(BIN)/pip install --quiet -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP)

ingest: install           # re-reads the folder the index was built from (seeds/ for a new index)
	$(BIN)/sourcier ingest

run: install
	$(BIN)/sourcier ingest    # the folder the index was built from (seeds/ for a new one); incremental, about 0.02 s when nothing changed
	$(BIN)/sourcier serve --host $(HOST) --port $(PORT)

test: install
	$(BIN)/python -m pytest -q

test-fast: install        # skips the slow crash, quality and browser tests
	$(BIN)/python -m pytest -q -m "not slow"

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy

eval: install
	$(BIN)/sourcier eval --suite tests/data/eval/suite.json --plot docs/risk-coverage.png

bench: install
	$(BIN)/python bench/latency.py
	$(BIN)/python bench/overhead.py
	$(BIN)/python bench/ingest_e2e.py
	$(BIN)/python bench/scale.py && $(BIN)/python bench/plot.py
	$(BIN)/python bench/hnsw.py && $(BIN)/python bench/hnsw_retrieval.py

clean:
	rm -rf var .pytest_cache
