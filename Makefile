# MindWeave IR. `make run` and `make test` need only Python (3.11, 3.12 or 3.13).
SUPPORTED_PYTHONS := 3.11, 3.12 or 3.13
# The first of python3, python3.13, python3.12, python3.11 that is a supported version
# (`make PYTHON=/path/to/python3.12 ...` chooses one).
PYTHON ?= $(shell for p in python3 python3.13 python3.12 python3.11; do \
  command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 13))' 2>/dev/null && { echo $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PORT ?= 8000

.PHONY: run test test-clock install lint bench clean

$(STAMP): pyproject.toml
	@if [ -z "$(PYTHON)" ]; then \
	  echo "MindWeave IR needs Python $(SUPPORTED_PYTHONS); none of python3, python3.13," \
	       "python3.12, python3.11 on PATH is one (python3 is:" \
	       "$$(python3 --version 2>&1 || echo missing)). Install one, or run" \
	       "make PYTHON=/path/to/python3.12 $(MAKECMDGOALS)." >&2; exit 1; fi
	@echo "Using $(PYTHON) ($$($(PYTHON) --version 2>&1))"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

# The local demo's settings (DEBUG on, a generated SECRET_KEY, SITE_URL), written once;
# settings read it, so `manage.py` commands work from a plain shell. Never in production.
.env: | $(STAMP)
	$(BIN)/python -m mindweave_ir.localenv create

install: $(STAMP) .env

# The demo: migrate, seed, then web + Celery worker + Celery beat + the paging engine
# together. Embedded by default (SQLite and a filesystem broker under var/); set
# DATABASE_URL and REDIS_URL for PostgreSQL and Redis. Ctrl-C stops all four.
# PORT=8101 serves on another port (and points SITE_URL, the links in e-mails and
# calendar feeds, at it).
run: export DEBUG ?= true
run: install
	@mkdir -p var
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo
	@echo ""
	@echo "  MindWeave IR: http://127.0.0.1:$(PORT)"
	@echo "  Log in as ic, responder, manager or viewer; password mindweave-demo"
	@$(BIN)/python -m mindweave_ir.localenv serve $(PORT)
	@$(BIN)/python -m mindweave_ir.syslibs
	@echo "  (Ctrl-C stops the web server, the worker, beat and the paging engine)"
	@echo ""
	@bash -c 'trap "trap - TERM; kill 0" INT TERM EXIT; \
	  $(BIN)/celery -A mindweave_ir worker --loglevel=INFO --concurrency=2 --without-mingle --without-gossip & \
	  $(BIN)/celery -A mindweave_ir beat --loglevel=INFO --schedule=var/celerybeat-schedule & \
	  $(BIN)/python manage.py run_paging_engine & \
	  $(BIN)/python manage.py runserver 127.0.0.1:$(PORT) & \
	  wait'

# The whole suite. Embedded by default; DATABASE_URL/REDIS_URL switch to
# PostgreSQL/Redis. Tests needing what is missing are skipped with the reason.
# The tests never read the demo's .env (MINDWEAVE_ENV_FILE empty): same settings on
# every machine.
test: export DEBUG ?= true
test: export MINDWEAVE_VAR_DIR ?= $(CURDIR)/var/test
test: export MINDWEAVE_ENV_FILE =
test: $(STAMP)
	@mkdir -p var/test
	$(BIN)/pytest $(PYTEST_ARGS)

# The suite (without the browser tests: Chromium keeps the real clock) with the
# process clock started at awkward instants and ticking (tests/conftest.py,
# MINDWEAVE_TEST_CLOCK): a Sunday 23:30 UTC; Monday 00:10 in New York; 20 minutes
# before each 2027 DST change in New York and Berlin (the run crosses it, around 02:30
# local); 31 December 23:50 UTC; 29 February 2028. TEST_CLOCKS="..." runs others.
TEST_CLOCKS ?= 2026-12-06T23:30Z 2026-12-07T05:10Z \
  2027-03-14T06:40Z 2027-11-07T05:40Z 2027-03-28T00:40Z 2027-10-31T00:40Z \
  2026-12-31T23:50Z 2028-02-29T12:00Z
test-clock: export DEBUG ?= true
test-clock: export MINDWEAVE_VAR_DIR ?= $(CURDIR)/var/test
test-clock: export MINDWEAVE_ENV_FILE =
test-clock: $(STAMP)
	@mkdir -p var/test
	@failed=""; for clock in $(TEST_CLOCKS); do \
	  echo "=== make test-clock: $$clock"; \
	  MINDWEAVE_TEST_CLOCK=$$clock $(BIN)/pytest -q -p no:cacheprovider -m "not browser" \
	    $(PYTEST_ARGS) || failed="$$failed $$clock"; \
	done; \
	if [ -n "$$failed" ]; then echo "make test-clock: failed at$$failed"; exit 1; fi; \
	echo "make test-clock: passed at every clock ($(words $(TEST_CLOCKS)))"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/bandit -q -r mindweave_ir incidents oncall reports -x "*/migrations/*"

# A report, not a test: each part in turn (paging latency with a real worker and beat,
# PIR PDF render time, alert ingestion rate, page latency at 8 clients against
# /healthz, an unchanged live update at 50 watchers against /healthz), then var/bench/report.md with every figure beside its DESIGN.md bar.
# Needs PostgreSQL and Redis (DATABASE_URL, REDIS_URL; defaults: local databases named
# mindweave_bench*, Redis db 1). BENCH_PARTS=pages,pdf runs only those parts. Exits
# non-zero only if a part cannot measure.
bench: $(STAMP)
	$(BIN)/python -m tests.bench.report

clean:
	rm -rf var .pytest_cache .ruff_cache
