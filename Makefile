# Two commands matter: `make run` (embedded default) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test install lint typecheck pytest bench demo clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

install: $(BIN)/.installed

## Start the API on the embedded default (SQLite + ./.artifact-plane/payloads + in-process Rego).
run: install
	$(BIN)/artifact-plane serve --host $(HOST) --port $(PORT)

demo: install
	$(BIN)/artifact-plane demo

## Lint, type-check (strict), then the whole test suite (contract suites, Rego tests, API, CLI).
test: install lint typecheck pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy platform/artifact_plane $$(find realms -name '*.py' -print -quit | grep -q . && echo realms)

pytest: install
	$(BIN)/python -m pytest -q

bench: install
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
