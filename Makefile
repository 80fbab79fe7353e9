# yuqing — two commands: `make run` (set up + start everything) and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
PIP := $(BIN)/pip --disable-pip-version-check
export YUQING_TORCH_THREADS ?= 1

.PHONY: run install dev test browser-deps lint format bench train demo clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)

# torch goes first and pinned, so nothing pulls a multi-GB CUDA build.
$(VENV)/.runtime: pyproject.toml | $(BIN)/activate
	$(PIP) install -q "torch==2.13.0"
	$(PIP) install -q -e .
	touch $@

$(VENV)/.dev: $(VENV)/.runtime pyproject.toml
	$(PIP) install -q -e ".[dev]"
	touch $@

install: $(VENV)/.runtime
dev: $(VENV)/.dev

run: $(VENV)/.runtime
	$(BIN)/yuqing run

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Headless Chromium and a CJK font for the dashboard's browser tests, from Debian's apt only
# (Playwright never downloads a browser here); does nothing when both are present.
browser-deps:
	@if command -v chromium >/dev/null 2>&1 && fc-list :lang=zh 2>/dev/null | grep -q .; then :; else \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends chromium fonts-wqy-microhei; \
	fi

# pytest exits 5 when it collects nothing; that is not a failure of the code under test.
test: lint browser-deps
	$(BIN)/python -m pytest -q -p no:cacheprovider $(PYTEST_ARGS) || { rc=$$?; [ $$rc -eq 5 ] && echo "no tests collected" || exit $$rc; }

bench: $(VENV)/.dev browser-deps
	$(BIN)/python -m bench $(BENCH_ARGS)

# retrain every task on data/labelled/{train,dev,test}.jsonl and promote the new versions (README "## Sentiment model")
train: $(VENV)/.dev
	$(BIN)/yuqing train all --promote

demo: $(VENV)/.runtime
	$(BIN)/yuqing demo

clean:
	rm -rf var .pytest_cache
