# MindWeave IR. `make run` and `make test` need only Python 3.11 on the machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test install lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

# The demo: migrate, seed, then web + Celery worker + Celery beat together.
# Embedded by default (SQLite and a filesystem broker under var/); set DATABASE_URL
# and REDIS_URL for PostgreSQL and Redis. Ctrl-C stops all three.
run: export DEBUG ?= true
run: $(STAMP)
	@mkdir -p var
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo
	@echo ""
	@echo "  MindWeave IR: http://127.0.0.1:8000"
	@echo "  Log in as ic, responder, manager or viewer; password mindweave-demo"
	@echo "  (Ctrl-C stops the web server, the worker and beat)"
	@echo ""
	@bash -c 'trap "trap - TERM; kill 0" INT TERM EXIT; \
	  $(BIN)/celery -A mindweave_ir worker --loglevel=INFO --concurrency=2 --without-mingle --without-gossip & \
	  $(BIN)/celery -A mindweave_ir beat --loglevel=INFO --schedule=var/celerybeat-schedule & \
	  $(BIN)/python manage.py runserver 127.0.0.1:8000 & \
	  wait'

# The whole suite. Embedded by default; DATABASE_URL/REDIS_URL switch to
# PostgreSQL/Redis. Tests needing what is missing are skipped with the reason.
test: export DEBUG ?= true
test: export MINDWEAVE_VAR_DIR ?= $(CURDIR)/var/test
test: $(STAMP)
	@mkdir -p var/test
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/bandit -q -r mindweave_ir incidents oncall reports -x "*/migrations/*"

# A report, not a test: each part in turn (paging latency with a real worker and beat,
# PIR PDF render time, alert ingestion rate, page latency at 8 clients against
# /healthz), then var/bench/report.md with every figure beside its DESIGN.md bar.
# Needs PostgreSQL and Redis (DATABASE_URL, REDIS_URL; defaults: local databases named
# mindweave_bench*, Redis db 1). BENCH_PARTS=pages,pdf runs only those parts. Exits
# non-zero only if a part cannot measure.
bench: $(STAMP)
	$(BIN)/python -m tests.bench.report

clean:
	rm -rf var .pytest_cache .ruff_cache
