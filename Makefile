# Everything runs inside .venv, created from the system Python on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run run-lan run-cluster test lint format bench install migrate

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

# The mini-program's dev tools (TypeScript and WeChat's typings, for its type check).
# Without npm the type check skips on a laptop (CI has npm and fails instead).
$(NODE_STAMP): package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
	  npm ci --no-audit --no-fund --silent && touch $(NODE_STAMP); \
	else echo "npm not found: the mini-program's type check will not run"; fi

install: $(STAMP) $(NODE_STAMP)

migrate: $(STAMP)
	$(BIN)/python manage.py migrate --noinput

run: migrate
	@echo "Create an organiser account with: $(BIN)/python manage.py demo  (or createsuperuser)"
	$(BIN)/python manage.py runserver $(HOST):$(PORT)

# The same on this machine's network address, for phones on the same Wi-Fi: QR codes,
# posters and join links carry that address (huiliao_site/lan.py).
run-lan: migrate
	@env $$($(BIN)/python -m huiliao_site.lan $(PORT)) $(BIN)/python manage.py demo
	env $$($(BIN)/python -m huiliao_site.lan $(PORT)) $(BIN)/python manage.py runserver 0.0.0.0:$(PORT)

# Several Daphne processes (ports CLUSTER_PORTS) sharing PostgreSQL and Redis: set
# DATABASE_URL and REDIS_URL first (docs: "Running several processes"). A deep listen
# backlog and a 30 s handshake timeout let a whole hall join at once.
CLUSTER_PORTS ?= 8001 8002
DAPHNE_FLAGS ?= --websocket_connect_timeout 30
run-cluster: migrate
	@test -n "$$REDIS_URL" || { echo "run-cluster needs REDIS_URL (and DATABASE_URL=postgres://...)" >&2; exit 1; }
	$(BIN)/python manage.py collectstatic --noinput >/dev/null
	@pids=""; \
	for port in $(CLUSTER_PORTS); do \
	  $(BIN)/daphne -e tcp:port=$$port:interface=$(HOST):backlog=2048 $(DAPHNE_FLAGS) huiliao_site.asgi:application & \
	  pids="$$pids $$!"; \
	done; \
	trap 'kill $$pids 2>/dev/null' INT TERM EXIT; \
	wait

test: $(STAMP) $(NODE_STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# bench/history.py and bench/fanout.py run on SQLite (the embedded defaults), and also on
# PostgreSQL (fanout.py then with Redis for its two-process scenario) when DATABASE_URL is set.
bench: $(STAMP)
	$(BIN)/python bench/history.py $(if $(DATABASE_URL),--database-url $(DATABASE_URL))
	$(BIN)/python bench/nearby.py $(if $(DATABASE_URL),--database-url $(DATABASE_URL))
	$(BIN)/python bench/fanout.py --database sqlite
	$(if $(DATABASE_URL),$(BIN)/python bench/fanout.py --database postgres)
	$(BIN)/python bench/content_rules.py
	$(BIN)/python bench/content_check.py
	$(BIN)/python bench/qa.py $(if $(DATABASE_URL),--database postgres)
