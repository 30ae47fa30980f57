"""Where a flow on Aiven starts: the records the bot writes to MM2's offsets topic, byte for byte
as Kafka Connect writes them (captured from the sandbox's Connect 4.3.1 worker, after an offsets
PATCH of a STOPPED connector named MirrorSourceConnector), on the partition Java's producer
picks for the key, and the positions written for the starts."""

from __future__ import annotations

import pytest
from standins.aiven_api import AivenStandIn

from bot.aiven.api import AivenApi
from bot.replicators.aiven import AivenReplicator
from bot.replicators.aiven_start import OFFSETS_PARTITIONS, past_starts, positions
from bot.replicators.base import FlowSpec
from bot.replicators.offsets import offset_record
from tests.kafka_helpers import java_partition

# (alias, topic, partition, offset) -> the key and value Connect wrote, and the partition of its
# 5-partition offsets topic the worker's producer put the key on
MSC = b'["MirrorSourceConnector",'
WRITTEN_BY_CONNECT = [
    (
        ("target", "payments.eu", 0, 0),
        b'{"cluster":"target","partition":0,"topic":"payments.eu"}]',
        b'{"offset":0}',
        0,
    ),
    (
        ("target", "a", 11, 5),
        b'{"cluster":"target","partition":11,"topic":"a"}]',
        b'{"offset":5}',
        2,
    ),
    (
        ("target", "orders", 2, 1234567),
        b'{"cluster":"target","partition":2,"topic":"orders"}]',
        b'{"offset":1234567}',
        2,
    ),
    (
        ("target", "payments.eu", 3, 99),
        b'{"cluster":"target","partition":3,"topic":"payments.eu"}]',
        b'{"offset":99}',
        4,
    ),
    (
        ("target", "orders", 0, 41),
        b'{"cluster":"target","partition":0,"topic":"orders"}]',
        b'{"offset":41}',
        4,
    ),
    (
        ("target", "orders", 1, 7),
        b'{"cluster":"target","partition":1,"topic":"orders"}]',
        b'{"offset":7}',
        4,
    ),
]


@pytest.mark.parametrize(("entry", "part", "value", "partition"), WRITTEN_BY_CONNECT)
def test_the_record_is_connects_own_bytes_on_javas_partition(entry, part, value, partition):
    alias, topic, number, offset = entry
    key, got_value = offset_record("MirrorSourceConnector", alias, (topic, number), offset)
    assert (key, got_value) == (MSC + part, value)
    assert java_partition(key, 5) == partition  # the hash the bot's partitioner must match


def test_a_tombstone_resets_a_partition():
    key, value = offset_record("MirrorSourceConnector", "target", ("orders", 3), None)
    assert value is None and key == MSC + b'{"cluster":"target","partition":3,"topic":"orders"}]'


def test_the_positions_are_the_records_before_the_starts_and_none_for_an_empty_partition():
    starts = {("orders", 0): 120, ("orders", 1): 0, ("audit", 0): 1}
    assert positions(starts) == {("orders", 0): 119, ("audit", 0): 0}
    assert OFFSETS_PARTITIONS == 25


def test_stored_positions_past_the_starts_are_told_apart_from_older_or_equal_ones():
    starts = {("orders", 0): 120, ("orders", 1): 0, ("audit", 0): 10}
    assert past_starts({("orders", 0): 119, ("audit", 0): 3}, starts) == {}
    stored = {("orders", 0): 120, ("orders", 1): 0, ("other", 0): 99}
    assert past_starts(stored, starts) == {("orders", 0): (120, 120), ("orders", 1): (0, 0)}


def test_preflight_says_what_a_reverse_flow_relies_on():
    nowhere = {"bootstrap.servers": "127.0.0.1:9"}
    server = AivenStandIn(
        token="aivenv1-back-Tok3n",
        project="acme",
        kafka_services={"kafka-target": nowhere},
        connect_url="http://127.0.0.1:9",
        running_delay=0.0,
    ).start()
    try:
        api = AivenApi(server.url, "AIVEN_BACK_TOKEN", lambda: "aivenv1-back-Tok3n")
        rep = AivenReplicator(api, "acme", "mm2", create_service=True, plan="startup-4")
        back = FlowSpec(
            "km-1-back",
            nowhere,
            nowhere,
            ["orders"],
            groups=[],
            source_alias="target",
            target_alias="source",
            checkpoints=False,
            emit_heartbeats=False,
        )
        lines = [str(f) for f in rep.preflight_findings(back)]
        forward = [
            str(f) for f in rep.preflight_findings(FlowSpec("km-1", nowhere, nowhere, ["o"]))
        ]
    finally:
        server.stop()
    relies = [line for line in lines if "mm2-offsets.target.internal on source" in line]
    assert len(relies) == 1 and relies[0].startswith("warning: the target->source flow starts")
    assert "relies on Aiven's MM2 reading its start positions from that topic" in relies[0]
    assert not any("groups setting" in line for line in lines)  # left as the service has it
    assert not any("mm2-offsets" in line for line in forward)
