# The two set-up commands: `make run` (everything, on the embedded default) and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
ARTIFACTS ?= test-artifacts

.PHONY: install run test test-fast bench lint migrate requirements

# Development installs both lists; the production image installs requirements.txt only.
$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed

migrate: install
	DEBUG=1 $(PY) manage.py migrate --noinput

run: install
	DEBUG=1 $(PY) -m config.devserver

test: install
	@mkdir -p var
	@mkdir -p $(ARTIFACTS)
	@echo "Screenshots and logs of this run go to $(ARTIFACTS)/"
	DEBUG=1 TEST_ARTIFACTS=$(abspath $(ARTIFACTS)) $(PY) -m pytest $(PYTEST_ARGS)

test-fast: install
	DEBUG=1 $(PY) -m pytest -m "not slow and not browser" $(PYTEST_ARGS)

bench: install
	DEBUG=1 $(PY) benchmarks/run_all.py

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

# Recompile the pins after editing requirements.in or requirements-dev.in.
requirements: install
	$(VENV)/bin/pip-compile --quiet --no-emit-index-url --no-emit-find-links --strip-extras -o requirements.txt requirements.in
	$(VENV)/bin/pip-compile --quiet --no-emit-index-url --no-emit-find-links --strip-extras -o requirements-dev.txt requirements-dev.in
