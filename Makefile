# The front door: `make demo` and `make test` set up .venv (idempotently) and run.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.egodistill-installed
DEMO_OUT ?= demo_out
PYTEST_ARGS ?=

.PHONY: setup demo test test-slow lint format bench scale-model clean

setup: $(STAMP)

# Re-installs only when the project's dependency declarations change.
# Says what it installs (several minutes, torch is the bulk): pip's own lines, less its cache chatter.
$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || { echo "creating $(VENV) with $(PYTHON)"; $(PYTHON) -m venv $(VENV); }
	@echo "installing egodistill and its pinned dependencies (constraints.txt) into $(VENV): a few minutes"
	@{ $(BIN)/python -m pip install --progress-bar off --disable-pip-version-check -c constraints.txt -e '.[dev]' 2>&1; \
		echo $$? > $(VENV)/.pip-status; } | grep --line-buffered -E '^(Collecting|Installing|Successfully|ERROR)|rror' || true
	@exit $$(cat $(VENV)/.pip-status)
	@touch $@

demo: setup
	$(BIN)/egodistill demo --out $(DEMO_OUT)

test: setup
	$(BIN)/ruff check .
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# end-to-end checks of several minutes each (e.g. reproduce on a tiny world with two seeds)
test-slow: setup
	$(BIN)/python -m pytest -m slow $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: setup
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

# time and storage of the full 3,670 h Ego4D on a few cluster shapes, from costs measured here
scale-model: setup
	$(BIN)/python benchmarks/scale_model.py

clean:
	rm -rf $(DEMO_OUT) .pytest_cache .ruff_cache
