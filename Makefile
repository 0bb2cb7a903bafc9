# Everything runs inside .venv, created from the system Python on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run run-cluster test lint format bench install migrate

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

migrate: $(STAMP)
	$(BIN)/python manage.py migrate --noinput

run: migrate
	@echo "Create an organiser account with: $(BIN)/python manage.py demo  (or createsuperuser)"
	$(BIN)/python manage.py runserver $(HOST):$(PORT)

# Two Daphne processes on ports 8001 and 8002 sharing PostgreSQL and Redis
# (set DATABASE_URL and REDIS_URL first; see README, "Running at scale").
run-cluster: migrate
	$(BIN)/python manage.py collectstatic --noinput >/dev/null
	$(BIN)/daphne -b $(HOST) -p 8001 huiliao_site.asgi:application & \
	$(BIN)/daphne -b $(HOST) -p 8002 huiliao_site.asgi:application & \
	wait

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(STAMP)
	$(BIN)/python bench/history.py
	$(BIN)/python bench/fanout.py
