# CityLens: the two commands of the README, and a few helpers.
#   make demo   install, generate the demo city (once) and serve http://127.0.0.1:8050
#   make test   install the test extras and run the whole test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
SCALE  ?= small

.PHONY: demo test bench serve clean-demo

$(BIN)/python:
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "CityLens needs Python 3.11 or newer"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Installs come from the lock files (exact versions, with hashes); pyproject.toml keeps the
# lower bounds. Re-install whenever a lock file changes.
LOCK      := requirements.lock
TEST_LOCK := requirements-test.lock

$(VENV)/.installed: $(LOCK) pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --require-hashes -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $@

$(VENV)/.installed-test: $(TEST_LOCK) pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --require-hashes -r $(TEST_LOCK)
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $@ $(VENV)/.installed

# Refresh both lock files to today's newest releases within pyproject.toml's bounds, for
# every Python the README supports (one universal lock). Run the tests before committing:
#   make lock && make test
# After adding a dependency to pyproject.toml, `make lock UPGRADE=` locks it and keeps
# every other pin.
UPGRADE ?= --upgrade
UV_COMPILE = $(BIN)/uv pip compile pyproject.toml --universal --python-version 3.11 \
	--generate-hashes $(UPGRADE) --custom-compile-command "make lock"
.PHONY: lock
lock: | $(BIN)/python
	$(BIN)/python -m pip install --quiet "uv>=0.5"
	$(UV_COMPILE) --extra test -o $(TEST_LOCK)
	$(UV_COMPILE) -c $(TEST_LOCK) -o $(LOCK)

demo: $(VENV)/.installed
	$(BIN)/citylens demo --scale $(SCALE)

serve: $(VENV)/.installed
	$(BIN)/citylens serve

# axe-core for the accessibility checks of the browser tests (tests/browser/node_modules).
AXE := tests/browser/node_modules/axe-core/axe.min.js
# Without npm the accessibility checks skip (and fail under CITYLENS_REQUIRE_SERVICES=1).
$(AXE): tests/browser/package.json
	@if ! command -v npm >/dev/null; then \
	  echo "npm not found: the accessibility checks (axe-core) will be skipped"; \
	elif [ -f tests/browser/package-lock.json ]; then \
	  npm ci --no-audit --no-fund --prefix tests/browser && touch $@; \
	else \
	  npm install --no-audit --no-fund --prefix tests/browser && touch $@; \
	fi

test: $(VENV)/.installed-test $(AXE)
	$(BIN)/python -m pytest

bench: $(VENV)/.installed
	$(BIN)/python bench/kpi_overview.py

# Message catalogues of the kiosk (docs/i18n.md): extract the strings of babel.cfg's files
# and merge them into every dashboard/locales/<lang>/LC_MESSAGES/messages.po.
.PHONY: messages
messages: $(VENV)/.installed
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	$(BIN)/pybabel extract -F babel.cfg --project=CityLens --version=0.1.0 \
	  --sort-output --add-comments=Translators: -o "$$tmp/messages.pot" . && \
	$(BIN)/pybabel update -i "$$tmp/messages.pot" -d dashboard/locales --ignore-obsolete

clean-demo:
	rm -rf var/citylens.db var/citylens.db-wal var/citylens.db-shm
