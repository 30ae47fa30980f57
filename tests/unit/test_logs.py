"""Log lines: JSON objects with LOG_FORMAT=json, readable text otherwise; both name the
migration and the step a line is about, carried by a context set around each tick."""

from __future__ import annotations

import io
import json
import logging
from datetime import datetime
from types import SimpleNamespace

import pytest

from bot import logs
from bot.jobs import runner


@pytest.fixture
def capture():
    """A logger of its own writing through the handler `logs.setup` installs."""
    out = io.StringIO()
    made: list[logging.Handler] = []

    def using(fmt: str | None) -> logging.Logger:
        handler = logs.handler(fmt, out)
        made.append(handler)
        logger = logging.getLogger(f"tests.logs.{fmt}")
        logger.handlers, logger.propagate = [handler], False
        logger.setLevel(logging.INFO)
        return logger

    yield using, out
    for handler in made:
        handler.close()


def test_json_lines_are_one_object_each_with_the_context(capture):
    using, out = capture
    log = using("json")
    with logs.context("orders-7k2", "catch_up"):
        log.info("lag %d records", 57)
        logs.set_step("stop_producers")  # the tick moved on
        try:
            raise ValueError("boom")
        except ValueError:
            log.exception("step failed")
    log.warning("outside a tick")

    first, failed, outside = [json.loads(line) for line in out.getvalue().splitlines()]
    assert first["message"] == "lag 57 records" and first["level"] == "INFO"
    assert first["logger"] == "tests.logs.json"
    assert first["migration_id"] == "orders-7k2" and first["step"] == "catch_up"
    at = datetime.fromisoformat(first["time"].replace("Z", "+00:00"))
    assert at.utcoffset().total_seconds() == 0  # UTC
    assert failed["step"] == "stop_producers" and failed["level"] == "ERROR"
    assert "ValueError: boom" in failed["exc_info"] and "Traceback" in failed["exc_info"]
    assert "migration_id" not in outside and "step" not in outside  # cleared after
    assert "exc_info" not in first


def test_text_lines_show_the_migration_and_step_when_known(capture):
    using, out = capture
    log = using(None)
    with logs.context("orders-7k2", "drain"):
        log.info("waiting")
    log.info("idle")
    inside, outside = out.getvalue().splitlines()
    assert " INFO tests.logs.None [orders-7k2 drain]: waiting" in inside
    assert outside.endswith(" INFO tests.logs.None: idle") and "[" not in outside


def test_the_context_is_set_around_a_tick_and_cleared_after():
    seen = []

    class Mover:
        def tick(self, mid):
            seen.append(logs.current())
            return SimpleNamespace(id=mid, status="paused", step="catch_up")

    class Engine:
        store = SimpleNamespace(
            get=lambda mid: SimpleNamespace(id=mid, step="catch_up"), last_decisions=dict
        )
        mover = Mover()

    runner.bind(Engine())
    try:
        runner.tick("orders-7k2")
    finally:
        runner.bind(None)
    assert seen == [{"migration_id": "orders-7k2", "step": "catch_up"}]
    assert logs.current() == {}
