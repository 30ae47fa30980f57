# kafka-migrate: `make run` runs the bot, `make test` runs the whole test suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install jars lint test test-unit run sandbox-up sandbox-down bench clean

# what the bot needs to run (make run): the bot and its rehearsal extra, the stand-ins of
# rehearsal/ (a distribution of their own: `pip install .` gives the bot without them); then the
# tools of the tests and the linters (make test)
# --no-compile: bytecode is written on first import, for the modules used (10 s less here)
$(BIN)/.runtime: pyproject.toml rehearsal/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --no-compile -e '.[rehearsal]' -e ./rehearsal
	touch $@

$(BIN)/.installed: $(BIN)/.runtime
	$(BIN)/python -m pip install -q -e '.[dev,rehearsal]' -e ./rehearsal
	touch $@

install: $(BIN)/.installed

# Apache Kafka jars from Maven Central (pom in bot/sandbox/), cached after the first fetch.
jars: $(BIN)/.runtime
	$(BIN)/kafka-migrate sandbox fetch

lint: install
	$(BIN)/ruff check bot rehearsal tests bench
	$(BIN)/ruff format --check bot rehearsal tests bench

# The test runs write bytecode (into the __pycache__ folders git ignores) even where
# PYTHONDONTWRITEBYTECODE is set: without it each test worker, and each process a test starts,
# compiles the bot and its libraries again (seconds of CPU each, on every run).
test test-unit: export PYTHONDONTWRITEBYTECODE =

# Everything: lint, unit tests and the integration tests on a real Kafka + MM2 sandbox.
# TEST_WORKERS pytest processes side by side, each with a sandbox of its own (most of a test's
# time is spent waiting on brokers and MirrorMaker 2, not on a core: three on two cores took
# 12:52 where two took 14:43, four 13:08 with load failures); a test file stays on one.
TEST_WORKERS ?= 3
test: install jars lint
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile

# Only the fast tests (no JVMs): they use a core each, so one worker per core.
UNIT_WORKERS ?= 2
test-unit: install
	$(BIN)/pytest -n $(UNIT_WORKERS) --dist loadfile -m "not sandbox"

run: jars
	$(BIN)/kafka-migrate serve

sandbox-up: jars
	$(BIN)/kafka-migrate sandbox up

sandbox-down: $(BIN)/.runtime
	$(BIN)/kafka-migrate sandbox down

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
