# make demo   : set up and run the whole pipeline on the built-in simulated survey (writes demo-out/)
# make test   : set up and run the default test suite (slow tests: make test-slow)
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check
SEED ?= 0

.PHONY: install test test-slow demo lint bench clean

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PIP) install -q --upgrade "pip>=24"
	# the local CPU wheel; a plain `torch` would pull a multi-GB CUDA build
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e ".[finetune,experiments,jax,dev]"
	touch $@

install: $(VENV)/.installed

test: install
	$(PY) -m pytest

test-slow: install
	$(PY) -m pytest -m slow

demo: install
	$(VENV)/bin/pluralstats demo --out demo-out --seed $(SEED)

lint: install
	$(VENV)/bin/ruff check pluralstats tests analyses benchmarks

bench: install
	for b in benchmarks/bench_*.py; do $(PY) $$b || exit 1; done

clean:
	rm -rf demo-out .pytest_cache
