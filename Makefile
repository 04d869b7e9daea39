# Two commands: `make run` (install what is missing, migrate, demo data, serve on 127.0.0.1:8000)
# and `make test` (ruff, migrations check, the pytest suite). The browser journeys in real Chromium
# are the slowest part, so they have their own target, `make test-e2e`, which .ci/run runs as well, and
# so do the face and voice models (`make test-likeness`).
# `make test-faults` kills and restarts a private PostgreSQL, Redis, web and worker processes (a few minutes).
# `make test-conformance` lets independent tools (generated clients, schemathesis) judge the live API.
# `make test-slow` runs the tests that cost seconds each: the real-stack tests (a real Celery worker, concurrent
# appenders on PostgreSQL), data migrations back and forth, makemessages over a copy of the checkout, and
# `check --deploy` and the worker's task names in fresh processes.

SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
export DJANGO_DEBUG ?= 1
# Bytecode, and pytest's rewritten test modules, are cached under var/ (git-ignored), not beside the
# sources: without that cache every pytest process compiles and rewrites the whole suite again (~6 s of CPU).
export PYTHONDONTWRITEBYTECODE :=
export PYTHONPYCACHEPREFIX := $(CURDIR)/var/pycache
# What `make test` selects; the browser, likeness, fault, conformance, slow and real-stack tests have targets of their own.
# The schemathesis, Hypothesis and AnyIO pytest plugins serve none of its tests and cost every process time to load.
FAST_TESTS := -m "not e2e and not faults and not likeness and not conformance and not slow and not realstack" \
	-p no:schemathesis -p no:hypothesispytest -p no:anyio

DEBIAN_PACKAGES := libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-noto-cjk fonts-dejavu-core gettext chromium espeak-ng poppler-utils libnss3-tools
# The fault suite runs its own PostgreSQL cluster (initdb, pg_ctl, pg_dump, pg_restore) and Redis server.
FAULT_PACKAGES := postgresql redis-server
# `make bench` only: its own PostgreSQL cluster and Redis, and wrk to drive the load.
BENCH_PACKAGES := postgresql redis-server wrk

.PHONY: run test test-e2e test-likeness test-faults test-conformance test-slow bench deps system-deps fault-deps clean likeness

# The periodic jobs (expiry, sample erasure, audit checkpoints) run beside the server in `run_schedule`,
# as beat would have them queued; stopping the server stops it. With a broker, run beat and a worker.
run: deps
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	$(PY) manage.py run_schedule & schedule=$$!; trap 'kill $$schedule 2>/dev/null' EXIT; \
	    $(PY) manage.py runserver 127.0.0.1:8000

test: deps
	$(VENV)/bin/ruff check .
	$(PY) manage.py makemigrations --check --dry-run
	$(VENV)/bin/pytest -n 2 $(FAST_TESTS)

test-slow: deps
	$(VENV)/bin/pytest -n 2 -m "(slow or realstack) and not e2e and not faults and not likeness and not conformance"

test-e2e: deps
	$(VENV)/bin/pytest -n 2 -m e2e

# The face and voice models on real photos and voices (~30 s); skipped with the reason without the extra.
test-likeness: deps
	$(VENV)/bin/pytest -n 2 -m "likeness and not e2e"

test-faults: deps fault-deps
	$(VENV)/bin/pytest -p no:xdist -m faults tests/faults

# The service on a production-like stack of its own (README "Performance"); BENCH_QUICK=1 for a short run.
bench: deps
	@$(MAKE) --no-print-directory system-deps DEBIAN_PACKAGES="$(BENCH_PACKAGES)"
	$(PY) bench/run.py

# Generated clients (openapi-python-client, openapi-typescript) and schemathesis --checks all against the
# live test server: about two minutes, so a target of its own, which .ci/run runs as well.
# Go's reference implementation of C2SP signed notes and RFC 9162 proofs (golang.org/x/mod/sumdb/note and tlog,
# from Debian) judges the audit log's checkpoints and proofs: tools/tlogcheck, tests/audit/test_tlog_conformance.py.
GO_PACKAGES := golang-go golang-golang-x-mod-dev

test-conformance: deps tools/openapi-typescript/node_modules/.installed
	@$(MAKE) --no-print-directory system-deps DEBIAN_PACKAGES="$(GO_PACKAGES)"
	$(VENV)/bin/pytest -p no:xdist -m conformance

tools/openapi-typescript/node_modules/.installed: tools/openapi-typescript/package.json tools/openapi-typescript/package-lock.json
	@command -v npm >/dev/null || $(MAKE) --no-print-directory system-deps DEBIAN_PACKAGES="nodejs npm"
	npm ci --prefix tools/openapi-typescript --no-audit --no-fund
	@touch $@

deps: system-deps $(VENV)/.installed locale/zh_Hans/LC_MESSAGES/django.mo .env
	@mkdir -p var

fault-deps:
	@$(MAKE) --no-print-directory system-deps DEBIAN_PACKAGES="$(FAULT_PACKAGES)"

system-deps:
	@missing=""; for p in $(DEBIAN_PACKAGES); do \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "Installing Debian packages:$$missing"; \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing; \
	else \
	    echo "NOTE: not root (or no apt-get), so these Debian packages are not installed:$$missing"; \
	    echo "      PDFs need Pango/HarfBuzz and a CJK font; browser tests need chromium. Ask an admin to run:"; \
	    echo "      apt-get install$$missing"; \
	fi

$(VENV)/.installed: pyproject.toml clients/python/pyproject.toml
	@test -x $(PY) || { python=$$(bin/find-python) && echo "Using $$python" && $$python -m venv $(VENV); }
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]' -e './clients/python[labels,c2pa]'
	@$(MAKE) --no-print-directory likeness
	@touch $@

# The optional same-person check (~485 MB). If it cannot be installed (no wheels for this platform),
# everything else still works and the office says the check is off. silero-vad and resemblyzer go in
# with --no-deps: only their model files are used, and their declared PyTorch would be gigabytes.
likeness:
	@$(PY) -m pip install --quiet -e '.[likeness]' \
	    && $(PY) -m pip install --quiet --no-deps 'silero-vad>=5.1' 'resemblyzer>=0.1.4' \
	    || echo "NOTE: the likeness extra could not be installed; recorded statements cannot be checked here."

locale/zh_Hans/LC_MESSAGES/django.mo: locale/zh_Hans/LC_MESSAGES/django.po $(VENV)/.installed
	$(PY) manage.py compilemessages --ignore .venv -l zh_Hans

# So that `.venv/bin/python manage.py …` works in a development checkout without exporting anything.
.env:
	printf '# development checkout: dev defaults and the dev outbox; never use in production\nDJANGO_DEBUG=1\n' > $@

clean:
	rm -rf $(VENV) var/static
