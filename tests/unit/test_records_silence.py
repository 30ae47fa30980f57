"""A broker that stops answering (frozen, half-open connection) does not hold a read for its whole
deadline: silence is a TimeoutError, which the runbook holds as degraded (bot/reasons.py)."""

from __future__ import annotations

import socket
import threading

import pytest

from bot.kafka.cluster import Cluster
from bot.kafka.records import read_ranges
from bot.reasons import transient


@pytest.fixture
def silent_broker():
    """A TCP listener that accepts connections and never answers, as a frozen broker does."""
    server = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join(5)
    for conn in accepted:
        conn.close()
    server.close()


def test_a_broker_that_stops_answering_times_out_the_read_after_the_silence(silent_broker):
    cluster = Cluster("frozen", {"bootstrap.servers": silent_broker})
    with pytest.raises(TimeoutError, match="no answer from its brokers for 2s") as raised:
        read_ranges(cluster, {("orders", 0): (0, 10)}, silence=2, timeout=600)  # not the deadline
    assert transient(raised.value)
