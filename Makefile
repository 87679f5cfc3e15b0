# Two commands do everything on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
SHARED ?= $(abspath ../shared)
export REIDKIT_MODELS ?= $(SHARED)/models
export REIDKIT_DATA   ?= $(SHARED)/data

.PHONY: demo test lint browser bench clean venv

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,train,ray]'
	# TrackEval's metric classes (HOTA/CLEAR/Identity) need none of its declared dependencies, one of which
	# (opencv-python) would clash with opencv-python-headless: install it alone.
	$(PY) -m pip install --quiet --no-deps 'trackeval==1.3.0'
	touch $@

venv: $(VENV)/.installed

demo: $(VENV)/.installed
	$(PY) -m reidkit.demo

# `make test`: lint, the system packages the tests drive (Debian's Chromium and ffmpeg), then pytest.
test: $(VENV)/.installed lint browser
	$(PY) -m pytest -q

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks

# Debian packages the tests drive: Chromium (page tests), ffmpeg (its HTTP server feeds the live-stream tests
# and it pushes video into the RTSP server), rtsp-server-perl (an RTSP server) and mosquitto (an MQTT broker);
# installed when missing and apt-get can run (as root).
browser:
	@missing=""; for p in chromium ffmpeg rtsp-server-perl mosquitto; do \
	  command -v $$p >/dev/null 2>&1 || [ -x /usr/sbin/$$p ] || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null) \
	      || echo "could not install$$missing: the tests that need them will say so and skip"; \
	  else echo "missing$$missing and apt-get cannot run here: the tests that need them will say so and skip"; fi; \
	fi
