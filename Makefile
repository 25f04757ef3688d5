# Two entry points: `make run` and `make test`.  Everything else is a step they
# depend on, so a fresh clone needs nothing installed by hand.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DB ?= instance/date-community.db
HOST ?= 127.0.0.1
PORT ?= 5000
# waitress reads a whole request body (spooling it to disk) before the app
# sees it, so it must refuse big bodies itself: MAX_UPLOAD_BYTES (40 MiB, the
# sheet upload) plus 1 MiB for the multipart framing.  The app then holds
# every other route to MAX_BODY_BYTES (1 MiB).  deploy/systemd uses the same.
MAX_REQUEST_BODY_SIZE := 42991616

.PHONY: run test install serve db clean system-deps translations update-translations vendor sqlite

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)

# Reinstall whenever pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/activate
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

# The .po files are committed; the compiled .mo files are build output.
TRANSLATIONS_PO := $(wildcard translations/*/LC_MESSAGES/messages.po)
TRANSLATIONS_MO := $(TRANSLATIONS_PO:.po=.mo)

%.mo: %.po $(VENV)/.installed
	@$(BIN)/pybabel compile -i $< -o $@ >/dev/null
	@test -f $@

translations: $(TRANSLATIONS_MO)

# After changing UI strings: refresh every catalogue, then translate the new
# entries by hand (the i18n test lists what is missing).
update-translations: $(VENV)/.installed
	$(BIN)/python tools/update_translations.py

# A secret key for `make run`, made once and kept in instance/ (never committed).
instance/secret_key:
	@mkdir -p instance
	@$(PYTHON) -c 'import secrets; print(secrets.token_hex(32))' > $@
	@chmod 600 $@

# A-Frame, AR.js and Leaflet at pinned versions from the npm registry, served
# by the app itself (never from a CDN) and never committed.
vendor: webapp/static/vendor/.versions

webapp/static/vendor/.versions: tools/vendor.sh
	bash tools/vendor.sh

# SQLite with the WAL-reset fix, compiled once per venv (tools/sqlite.sh).
sqlite: $(VENV)/.sqlite

$(VENV)/.sqlite: tools/sqlite.sh | $(VENV)/.installed
	bash tools/sqlite.sh $(BIN)/python
	touch $@

install: $(VENV)/.installed $(VENV)/.sqlite translations vendor system-deps

db: install
	@if [ ! -f "$(DB)" ]; then \
		$(BIN)/date-community --db "$(DB)" init-db && \
		$(BIN)/date-community --db "$(DB)" demo; \
	else \
		echo "Using the existing database $(DB)"; \
		$(BIN)/date-community --db "$(DB)" init-db >/dev/null; \
	fi

run: db instance/secret_key
	@echo
	@echo "Demo logins (staff / volunteer):"
	@$(BIN)/python -c 'from date_community import demo; print("\n".join("  %-10s %s / %s" % (l["role"], l["username"], l["password"]) for l in demo.logins()))'
	@echo "Serving on http://$(HOST):$(PORT)/  (Ctrl+C to stop)"
	SECRET_KEY="$$(cat instance/secret_key)" DATE_COMMUNITY_DB="$(DB)" $(BIN)/waitress-serve --host $(HOST) --port $(PORT) --max-request-body-size=$(MAX_REQUEST_BODY_SIZE) --call webapp:create_service

# Debian packages: Chromium for the browser tests (driven by Playwright; its
# own browser download is never used); BIZ UD Gothic, the Japanese UD font of
# the printed forms and the stylesheet's first choice; TrueType fonts for the
# Chinese and Korean lines of printed signs (PDF embedding needs TrueType
# outlines, which Noto CJK lacks); Noto CJK for the pages in the browser;
# nginx and openssl for tests/test_proxy_nginx.py, which runs
# deploy/nginx/date-community.conf with a certificate it makes (the test
# starts its own nginx from a temporary folder; the system service is not
# used).  Nothing happens when everything is installed.
SYSTEM_PACKAGES := chromium fonts-noto-cjk fonts-morisawa-bizud-gothic fonts-wqy-microhei fonts-nanum nginx openssl
OPTIONAL_SYSTEM_PACKAGES :=
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

system-deps:
	@missing=""; \
	for pkg in $(SYSTEM_PACKAGES); do \
		dpkg -s $$pkg 2>/dev/null | grep -q "^Status: install ok installed" || missing="$$missing $$pkg"; \
	done; \
	for pkg in $(OPTIONAL_SYSTEM_PACKAGES); do \
		dpkg -s $$pkg 2>/dev/null | grep -q "^Status: install ok installed" && continue; \
		apt-cache policy $$pkg 2>/dev/null | grep -q 'Candidate: [0-9]' && missing="$$missing $$pkg"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "Installing Debian packages:$$missing"; \
		$(SUDO) apt-get update -qq && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

test: install
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis
