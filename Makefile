# The two set-up commands: `make run` and `make test`. Everything else is optional.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUNTIME := $(VENV)/.runtime-installed
DEV := $(VENV)/.dev-installed

.PHONY: run run-tls test test-postgres lint format bench loadtest infra-check deploy clean

$(RUNTIME): requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.txt
	touch $@

$(DEV): $(RUNTIME) requirements-dev.txt
	$(BIN)/python -m pip install -q -r requirements-dev.txt
	touch $@

## run: install, create instance/ (config + random dev password) if missing, serve on 127.0.0.1:8000
run: $(RUNTIME)
	$(BIN)/python -m app config init --print-usage
	set -a && . instance/dev.env && set +a && \
	CONNECTOR_CONFIG=$${CONNECTOR_CONFIG:-instance/connector.toml} \
	exec $(BIN)/gunicorn -c gunicorn.conf.py wsgi:app

## run-tls: like run, but gunicorn terminates TLS on https://127.0.0.1:8443 and requires a client certificate (dev certificates made in instance/tls/ on first run)
run-tls: $(RUNTIME)
	$(BIN)/python scripts/dev_tls.py --print-usage
	set -a && . instance/tls.env && set +a && \
	exec $(BIN)/gunicorn -c gunicorn.conf.py wsgi:app

## test: install dev tools and run the whole test suite
test: $(DEV)
	$(BIN)/python -m pytest -q

## test-postgres: the whole suite with a throwaway PostgreSQL for the store tests
test-postgres: $(DEV)
	CONNECTOR_TEST_POSTGRES_URL="$$(scripts/postgres.sh start)" $(BIN)/python -m pytest -q; \
	status=$$?; scripts/postgres.sh stop; exit $$status

lint: $(DEV)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check app tests infra bench scripts
	$(BIN)/mypy

format: $(DEV)
	$(BIN)/ruff format app tests
	$(BIN)/ruff check --fix .

## bench: instructions per request (valgrind), then side-by-side throughput/latency figures (~15 min)
bench: $(DEV)
	$(BIN)/python bench/instructions.py
	$(BIN)/python bench/connector.py
	$(BIN)/python bench/tls.py
	$(BIN)/python bench/store.py

## loadtest: 60 s of mixed load (basic + mutual TLS) on loopback; fails on any unexpected answer
loadtest: $(DEV)
	$(BIN)/python bench/loadtest.py

## infra-check: offline checks of infra/ (pycep, checkov in .venv-checkov, params, load paths)
infra-check: $(DEV)
	bash infra/check.sh

## deploy: render the policies and deploy infra/ (make deploy RG=<resource group>)
deploy: $(DEV)
	bash infra/deploy.sh --resource-group $(RG)

clean:
	rm -rf build .pytest_cache .mypy_cache .ruff_cache
