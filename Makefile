# kafka-migrate: `make run` runs the bot, `make test` runs the whole test suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install jars lint test test-unit run sandbox-up sandbox-down bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@

install: $(BIN)/.installed

# Apache Kafka jars from Maven Central (pom in bot/sandbox/), cached after the first fetch.
jars: install
	$(BIN)/kafka-migrate sandbox fetch

lint: install
	$(BIN)/ruff check bot tests bench
	$(BIN)/ruff format --check bot tests bench

# Everything: lint, unit tests and the integration tests on a real Kafka + MM2 sandbox.
test: jars lint
	$(BIN)/pytest

# Only the fast tests (no JVMs).
test-unit: install
	$(BIN)/pytest -m "not sandbox"

run: jars
	$(BIN)/kafka-migrate serve

sandbox-up: jars
	$(BIN)/kafka-migrate sandbox up

sandbox-down: install
	$(BIN)/kafka-migrate sandbox down

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
