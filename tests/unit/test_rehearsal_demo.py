"""The rehearsal demo's parts that need no sandbox: the migration the page suggests (the bot's
own grammar reads it, connectors included), the file connectors' configs, and the log file's
appender (it counts on from the lines there and stops when told)."""

from __future__ import annotations

from types import SimpleNamespace

from standins.demo import Demo
from standins.demo_connectors import FILE_SINK, FILE_SOURCE, STRING, Appender, DemoConnectors
from standins.run import REGISTRIES, start_line

from bot.migration.grammar import parse_start, tokens
from tests.waits import wait_for


def test_the_suggested_migration_moves_the_demo_connectors(tmp_path):
    demo = Demo(SimpleNamespace(dir=tmp_path), prefix="shop1")
    line = start_line(demo)
    words = tokens(line)
    assert words[:2] == ["/kafka-migrate", "start"]
    request = parse_start(words[2:])
    assert (request.source, request.target, request.via) == (
        "sandbox-source",
        "sandbox-target",
        "sandbox-mm2",
    )
    assert (request.topics, request.exclude) == ("shop1\\..*", "shop1\\.test")
    assert request.options["connect_from"] == "sandbox-connect-source"
    assert request.options["connect_to"] == "sandbox-connect-target"
    assert (request.options["source_registry"], request.options["target_registry"]) == REGISTRIES
    # the connectors' topic is one the migration selects (and the exclude leaves it in)
    assert demo.connectors.topic == "shop1.events"


def test_the_file_connectors_carry_their_converters_and_touch_the_events_topic(tmp_path):
    connectors = DemoConnectors(SimpleNamespace(dir=tmp_path), "shop1", "shop1.events")
    configs = connectors.configs()
    source, sink = configs[connectors.source], configs[connectors.sink]
    assert source["connector.class"] == FILE_SOURCE and sink["connector.class"] == FILE_SINK
    assert source["topic"] == sink["topics"] == "shop1.events"
    assert source["file"] == str(tmp_path / "rehearsal-shop1" / "events.log")
    assert sink["file"] == str(tmp_path / "rehearsal-shop1" / "events-archive.log")
    for config in (source, sink):
        assert config["key.converter"] == config["value.converter"] == STRING
        assert config["tasks.max"] == "1"


def test_the_appender_counts_on_from_the_file_and_stops(tmp_path):
    log = tmp_path / "events.log"
    log.write_text("p event 0\np event 1\np event 2\n")
    appender = Appender(log, "p", per_second=200)
    assert appender.written == 3
    appender.start()
    wait_for(lambda: appender.written >= 8, 30, "lines appended")
    appender.stop()
    assert not appender.is_alive()
    lines = log.read_text().splitlines()
    assert lines == [f"p event {i}" for i in range(len(lines))]
    assert len(lines) == appender.written >= 8
