# rasoat: the two commands are `make run` (try it on SQLite) and `make test` (the whole suite,
# on SQLite and on PostgreSQL). Both create the virtualenv and install what they need.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml constraints.txt | cksum | cut -d' ' -f1)
HOST ?= 127.0.0.1
PORT ?= 5000
WORKERS ?= 2
PYTEST_ARGS ?=

.PHONY: install run test test-js test-sqlite test-postgres lock clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade 'pip>=24'
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

## Try it: SQLite in ./instance, areas + bundled forms + demo accounts, gunicorn on :5000.
run: install
	RASOAT_DEMO=1 $(BIN)/rasoat demo
	$(BIN)/rasoat serve --host $(HOST) --port $(PORT) --workers $(WORKERS)

## The whole suite, on SQLite and then on a throwaway PostgreSQL database.
test: install
	scripts/ensure-chromium
	scripts/ensure-nginx
	$(MAKE) --no-print-directory test-js test-sqlite test-postgres

## The field app's JavaScript expression evaluator on the shared conformance cases.
test-js:
	scripts/ensure-node
	@echo "== JavaScript tests (node --test)"
	node --test tests/js/*.test.mjs

test-sqlite: install
	@echo "== tests on SQLite"
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-postgres: install
	@echo "== tests on PostgreSQL"
	scripts/with-postgres $(BIN)/python -m pytest $(PYTEST_ARGS)

## Refresh the constraints file from the current virtualenv (after changing pyproject.toml).
lock:
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^-e ' > constraints.txt

clean:
	rm -rf $(VENV) instance .pytest_cache .hypothesis
