# CreativeVault: the two commands a fresh machine needs are `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test bench bench-full bench-peers lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
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

# The peers benchmarks.peers compares against (Debian packages), as command:package pairs;
# /usr/bin/time (package time) measures each command's peak memory.
PEERS := restic:restic borg:borgbackup git-lfs:git-lfs git-annex:git-annex rsync:rsync \
	convert:imagemagick /usr/bin/time:time

bench-peers:
	@missing=""; for pair in $(PEERS); do \
	  command -v "$${pair%%:*}" >/dev/null 2>&1 || missing="$$missing $${pair#*:}"; \
	done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing \
	    || echo "install failed; comparing against the tools present"; \
	else \
	  echo "missing (not root, not installed):$$missing; comparing against the tools present"; \
	fi

bench: $(STAMP) bench-peers
	$(PY) -m benchmarks.run --scale small
	$(PY) -m benchmarks.peers --scale small
	$(PY) -m benchmarks.bench_diff --quick
	$(PY) -m benchmarks.bench_timeline --quick
	$(PY) -m benchmarks.bench_sync --quick

bench-full: $(STAMP) bench-peers
	$(PY) -m benchmarks.run --scale full
	$(PY) -m benchmarks.peers --scale full --iterations 20
	$(PY) -m benchmarks.bench_sync

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks examples
	$(VENV)/bin/mypy src

clean:
	rm -rf build .coverage .coverage.* pytest_results.json htmlcov
