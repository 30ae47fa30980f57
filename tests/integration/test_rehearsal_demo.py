"""The rehearsal demo's seed on the real sandbox, run twice: the second run creates nothing
(topics, connectors, the log file's lines), the file connectors run on the old Connect cluster
(with its basic auth), the log's lines reach the events topic and the archive file, and
`stop()` stops the appender."""

from __future__ import annotations

import pytest
from confluent_kafka.admin import AdminClient
from standins.demo import Demo
from standins.demo_connectors import FIRST_LINES

from tests.connect_helpers import lines, names, wait_state, worker
from tests.kafka_helpers import read_from
from tests.waits import wait_for

pytestmark = pytest.mark.sandbox


def topics(sandbox, prefix: str) -> set[str]:
    admin = AdminClient({**sandbox.source.client_config(), "log_level": 0})
    return {t for t in admin.list_topics(timeout=15).topics if t.startswith(prefix + ".")}


def test_a_second_seed_creates_nothing_and_the_connectors_carry_the_log(sandbox, unique):
    prefix = f"demo{unique}"
    demo = Demo(sandbox, prefix=prefix).seed()
    old, new = worker(sandbox, "connect_source"), worker(sandbox, "connect")
    try:
        connectors = demo.connectors
        for name in connectors.names:
            wait_state(old, name, "RUNNING")
        assert not set(connectors.names) & set(names(new))
        first = (topics(sandbox, prefix), connectors.log_file.read_text())
        assert f"{prefix}.events" in first[0]
        assert len(first[1].splitlines()) == FIRST_LINES

        again = Demo(sandbox, prefix=prefix)
        again.seed()  # on the same sandbox: nothing twice, nothing rewritten
        assert (topics(sandbox, prefix), again.connectors.log_file.read_text()) == first
        assert again.connectors.seed() == []  # both connectors were there
        assert sorted(n for n in names(old) if n.startswith(prefix)) == sorted(connectors.names)

        connectors.start()  # what demo.start() starts beside the live clients
        appender = connectors.appender
        wait_for(lambda: connectors.status()["lines"] > FIRST_LINES + 3, 60, "log growing")
        demo.stop()
        assert not appender.is_alive() and connectors.appender is None
        assert demo.status()["connectors"]["appending"] is False
        written = connectors.log_file.read_text().splitlines()
        assert written == [f"{prefix} event {i}" for i in range(len(written))]
        source = sandbox.source.client_config()
        wait_for(
            lambda: len(read_from(source, {(f"{prefix}.events", 0): 0})) == len(written),
            60,
            "every line on the events topic",
        )
        assert [v.decode() for v in read_from(source, {(f"{prefix}.events", 0): 0})] == written
        wait_for(lambda: lines(connectors.archive) == written, 60, "the archive complete")
    finally:
        demo.stop()
        demo.connectors.remove()
    assert not [n for n in names(old) if n.startswith(prefix)]
