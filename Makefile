# Two entry points: `make run` and `make test`.  Everything else is a step they
# depend on, so a fresh clone needs nothing installed by hand.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DB ?= instance/date-community.db
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run test install serve db clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)

# Reinstall whenever pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/activate
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed

db: install
	@if [ ! -f "$(DB)" ]; then \
		$(BIN)/date-community --db "$(DB)" init-db && \
		$(BIN)/date-community --db "$(DB)" demo; \
	else \
		echo "Using the existing database $(DB)"; \
		$(BIN)/date-community --db "$(DB)" init-db >/dev/null; \
	fi

run: db
	@echo
	@echo "Demo logins (staff / volunteer):"
	@$(BIN)/python -c 'from date_community import demo; [print(f"  {l[\"role\"]:<10} {l[\"username\"]} / {l[\"password\"]}") for l in demo._logins()]'
	@echo "Serving on http://$(HOST):$(PORT)/  (Ctrl+C to stop)"
	DATE_COMMUNITY_DB="$(DB)" $(BIN)/waitress-serve --host $(HOST) --port $(PORT) --call webapp:create_app

test: install
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis
