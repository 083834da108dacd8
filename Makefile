# CreativeVault: the two commands a fresh machine needs are `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test bench bench-full lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,imaging]'
	touch $(STAMP)

demo: $(STAMP)
	$(PY) examples/animation_project.py --out build/demo

test: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks examples
	rm -f .coverage .coverage.*
	$(PY) -m coverage run -m pytest -q --json-report --json-report-file=pytest_results.json tests; \
	  rc=$$?; if [ $$rc -ne 0 ]; then exit $$rc; fi
	$(PY) -m coverage combine -q
	$(PY) -m coverage report

bench: $(STAMP)
	$(PY) -m benchmarks.run --scale small

bench-full: $(STAMP)
	$(PY) -m benchmarks.run --scale full

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks examples
	$(VENV)/bin/mypy src

clean:
	rm -rf build .coverage .coverage.* pytest_results.json htmlcov
