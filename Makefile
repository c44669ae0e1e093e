# Two entry points (see README.md): `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test install install-dev bench lint typecheck clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Core only: enough for `preflab rank`, `convert`, `validate`, reports.
install: $(BIN)/python
	$(BIN)/pip install --quiet -e .

# Everything the test suite exercises (judge, arena, rm, bench, spark extras + dev tools).
install-dev: $(BIN)/python
	$(BIN)/pip install --quiet -e '.[all,dev]'

demo: install
	mkdir -p out
	$(BIN)/preflab rank sample:llmfao --bootstrap 1000 --seed 0 --report out/leaderboard.html
	@echo "HTML report: out/leaderboard.html"

test: install-dev
	$(BIN)/python -m pytest

bench: install-dev
	$(BIN)/python benchmarks/run_all.py

lint: install-dev
	$(BIN)/ruff check src tests benchmarks

typecheck: install-dev
	$(BIN)/mypy src

clean:
	rm -rf $(VENV) out build dist *.egg-info
