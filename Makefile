# Two commands do everything on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
SHARED ?= $(abspath ../shared)
export REIDKIT_MODELS ?= $(SHARED)/models
export REIDKIT_DATA   ?= $(SHARED)/data

.PHONY: demo test bench clean venv

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,train]'
	# TrackEval's metric classes (HOTA/CLEAR/Identity) need none of its declared dependencies, one of which
	# (opencv-python) would clash with opencv-python-headless: install it alone.
	$(PY) -m pip install --quiet --no-deps 'trackeval==1.3.0'
	touch $@

venv: $(VENV)/.installed

demo: $(VENV)/.installed
	$(PY) -m reidkit.demo

test: $(VENV)/.installed
	$(PY) -m pytest -q

bench: $(VENV)/.installed
	$(PY) benchmarks/embed_throughput.py

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache
