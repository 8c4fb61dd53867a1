PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
SCENARIO ?= default

# Other interpreters `make test-pythons` runs the suite on, each in its own .venv-<version>.
PYTHONS ?= 3.10 3.13
PYENV_ROOT ?= $(shell pyenv root 2>/dev/null)

# The suite runs in random order (pytest-randomly prints its seed; `make test SEED=N` repeats that
# order) on WORKERS pytest-xdist processes (WORKERS=0: in this process).
WORKERS ?= 2
SEED ?=
PYTEST_OPTS = -n $(WORKERS) $(if $(SEED),--randomly-seed=$(SEED))

.PHONY: serve test docs test-pythons test-installed bench bench-load clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# The distribution was called fakeapi before it became fakeapi-sandbox (the name is taken on PyPI): an
# old install's pytest11 entry point would load the plugin a second time. The sandbox needs the
# package alone (about 90 MB); the tests add the test extras (pytest plugins, mypy, ruff, Playwright,
# mkdocs: about 540 MB). -qq: pip's and setuptools' notes about an editable install are no news here.
$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip uninstall --quiet --yes fakeapi 2>/dev/null || true
	rm -rf fakeapi.egg-info
	$(BIN)/python -m pip install -qq -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/python -m pip install -qq -e '.[test]'
	touch $@

serve: $(VENV)/.installed
	$(BIN)/fakeapi serve --host $(HOST) --port $(PORT) --scenario $(SCENARIO)

# install-chromium never fails: without /usr/bin/chromium, tests/test_dashboard.py fails saying so.
test: $(VENV)/.installed-test
	sh scripts/install-chromium
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m pytest $(PYTEST_OPTS)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir build/site

# The docs (docs/, mkdocs.yml) on http://127.0.0.1:8001/, rebuilt as you edit them.
docs: $(VENV)/.installed-test
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve --dev-addr 127.0.0.1:8001

# The pyenv interpreter for a version (its highest plain X.Y.Z release), else pythonX.Y on PATH.
python_for = $(or $(shell ls -d $(PYENV_ROOT)/versions/$(1).*/bin/python 2>/dev/null \
	| grep -E '/[0-9]+\.[0-9]+\.[0-9]+/bin/python$$' | sort -V | tail -n 1),$(shell command -v python$(1) 2>/dev/null))

# -k: one interpreter's failure does not keep the others from running; the target still fails.
test-pythons:
	@$(MAKE) --no-print-directory -k $(PYTHONS:%=test-python-%)

.PRECIOUS: .venv-%/.installed

test-python-%: .venv-%/.installed
	.venv-$*/bin/python -m pytest $(PYTEST_OPTS)

.venv-%/.installed: pyproject.toml
	@test -n "$(call python_for,$*)" || { echo "test-pythons: no Python $* (looked for $(PYENV_ROOT)/versions/$*.*/bin/python and python$* on PATH)" >&2; exit 1; }
	$(call python_for,$*) -m venv .venv-$*
	.venv-$*/bin/python -m pip install --quiet --upgrade pip
	.venv-$*/bin/python -m pip uninstall --quiet --yes fakeapi 2>/dev/null || true
	.venv-$*/bin/python -m pip install -qq -e '.[test]'
	touch $@

# The suite next to a non-editable install (`pip install .`, as a user's) in .venv-installed, made
# afresh each run (pip's build leftovers removed): `python -m pytest` imports this source tree, the
# `pytest` script (which does not put the source tree on sys.path) the installed copy.
test-installed:
	rm -rf .venv-installed
	$(PYTHON) -m venv .venv-installed
	.venv-installed/bin/python -m pip install --quiet '.[test]'
	rm -rf build *.egg-info
	.venv-installed/bin/python -m pytest $(PYTEST_OPTS)
	.venv-installed/bin/pytest $(PYTEST_OPTS)

# `make bench BENCH_OPTS=--quick` for a short smoke run; install-wrk never fails (without wrk the
# benchmark drives the load with its Python client and says so).
BENCH_OPTS ?=

bench: $(VENV)/.installed-test
	sh bench/install-wrk
	$(BIN)/python bench/bench.py $(BENCH_OPTS)

bench-load: $(VENV)/.installed-test
	$(BIN)/python bench/load.py

clean:
	rm -rf $(VENV) .venv-* build *.egg-info
