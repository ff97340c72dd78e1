# Quick start: `make demo`, then `make test`. Everything installs into .venv.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
OUT    ?= out/demo

.PHONY: demo test lint typecheck bench venv install install-dev gl browser clean sample

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(PIP) install --quiet -e '.[dev]'
	touch $@

venv install: $(VENV)/.installed

install-dev: $(VENV)/.installed-dev

# Off-screen OpenGL for PyVista pictures on a machine with no display: Mesa's EGL (used
# first) and OSMesa (the fallback). placement.render picks whichever is there by itself.
GL_PACKAGES := libegl1 libegl-mesa0 libgl1-mesa-dri libosmesa6
gl:
	@if ! ldconfig -p | grep -q libEGL_mesa || ! ldconfig -p | grep -q libOSMesa; then \
	  echo "installing off-screen OpenGL: $(GL_PACKAGES)"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $(GL_PACKAGES) >/dev/null; \
	fi

# Headless Chromium, for the tests that open scene.html and check what its viewer draws.
browser:
	@if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then \
	  echo "installing headless Chromium for the HTML viewer tests"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; \
	fi

sample: $(VENV)/.installed
	$(PY) citygml/make_sample.py citygml/sample_city.gml

demo: $(VENV)/.installed gl
	$(VENV)/bin/placement run citygml/sample_city.gml --out $(OUT) --budget 6
	@echo "results in $(OUT)/ (open $(OUT)/scene.png, $(OUT)/scene.html, $(OUT)/report.md)"

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check src tests benchmarks examples citygml
	$(VENV)/bin/ruff format --check src tests benchmarks examples citygml

typecheck: $(VENV)/.installed-dev
	$(VENV)/bin/mypy

test: $(VENV)/.installed-dev gl browser lint typecheck
	$(VENV)/bin/pytest -q

bench: $(VENV)/.installed-dev
	$(PY) benchmarks/bench_loader.py
	$(PY) benchmarks/bench_visibility.py
	$(PY) benchmarks/bench_optimise.py
	$(PY) benchmarks/bench_io.py
	$(PY) benchmarks/bench_pipeline.py

clean:
	rm -rf $(VENV) out .pytest_cache .mypy_cache .ruff_cache
