# `make test` and `make demo` work from a fresh clone: they create .venv and install adjit when missing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: test demo bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,examples]'
	touch $@

# one pytest worker per core (pytest-xdist), each test file on one worker (its fixtures built once)
test: $(VENV)/.installed
	$(PY) -m pytest -n auto --dist loadfile

demo: $(VENV)/.installed
	$(VENV)/bin/adjit demo

bench: $(VENV)/.installed
	$(PY) -m bench

clean:
	rm -rf $(VENV) .pytest_cache
