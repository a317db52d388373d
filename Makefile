# The two commands: `make run` (serve) and `make test` (the whole suite).
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8000

# Tests run against real PostgreSQL and Redis on their standard local ports.
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/contests
TEST_REDIS_URL ?= redis://127.0.0.1:6379/15
# Key and pub/sub prefix: pub/sub channels are shared by all Redis databases.
TEST_REDIS_PREFIX ?= test
TEST_ENV := ENV_FILE= DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) REDIS_KEY_PREFIX=$(TEST_REDIS_PREFIX) \
	SECRET_KEY=test-only-secret-key-that-is-long-enough-for-hs256 DEBUG=false ALLOWED_HOSTS=localhost,127.0.0.1,testserver

# The web server (docs/PERFORMANCE.md, "The ASGI server"): heartbeat, protocol-level pings
# every 30 s, a socket that does not answer in 30 s is dropped; a listen backlog for
# connection bursts; uvicorn's own message limit stays above WS_MAX_MESSAGE_BYTES so the
# application's 1009 close applies. The same flags as the Procfile and tests/servers.py.
# One process (whatever WEB_CONCURRENCY says): the embedded mode's layer and clock live in it.
UVICORN_FLAGS := --backlog 4096 --loop uvloop --http httptools --ws websockets-sansio \
	--ws-max-size 65536 --ws-ping-interval 30 --ws-ping-timeout 30 \
	--ws-per-message-deflate false --lifespan on --no-access-log --proxy-headers

.PHONY: venv run test lint format clean

venv: $(BIN)/.installed

$(BIN)/.installed: requirements.txt
	@$(PYTHON) -c 'import sys; sys.exit("Python 3.11+ is required, found " + sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --disable-pip-version-check -q -r requirements.txt
	touch $@

# The project folder's local settings, read by settings.py (the environment wins over it):
# DEBUG on and a SECRET_KEY generated once, so that every `manage.py` command of the docs
# works as printed from the folder. Never used in production, which sets variables itself.
.env:
	@$(PYTHON) -c 'import secrets; print("DEBUG=true\nSECRET_KEY=" + secrets.token_urlsafe(50))' > $@
	@echo "Wrote .env (DEBUG=true and a generated SECRET_KEY) for local development."

run: venv .env
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo
	@echo "Open http://$${HOST:-127.0.0.1}:$(PORT)/ to play: /play/ for players, host screens from / (README: Play it now)."
	$(BIN)/uvicorn $(UVICORN_FLAGS) --host $${HOST:-127.0.0.1} --port $(PORT) --workers 1 \
		contestsite.asgi:application

# The tests choose their own metrics folders: one exported for a local stack stays out.
test: venv
	@$(TEST_ENV) $(BIN)/python scripts/check_services.py
	@command -v chromium >/dev/null || { echo "The browser tests need Debian's Chromium: apt-get install -y chromium"; exit 1; }
	env -u PROMETHEUS_MULTIPROC_DIR $(TEST_ENV) $(BIN)/python -m pytest $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	DEBUG=true $(BIN)/mypy

format: venv
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache staticfiles test-artifacts
