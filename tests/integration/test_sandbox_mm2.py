"""MirrorMaker 2 in the sandbox really replicates: keys, values, headers and order."""

from __future__ import annotations

import httpx

from tests.kafka_helpers import create_topic, produce, read_partitions
from tests.mm2 import IDENTITY, cluster_settings


def test_mirror_source_connector_replicates_records_exactly(sandbox, unique):
    topic = f"orders-{unique}"
    create_topic(sandbox.source.client_config(), topic, partitions=3)
    records = [
        (
            f"customer-{i % 113}".encode(),
            f"order {i}".encode() * (1 + i % 3),
            [("trace", f"t-{i}".encode()), ("source", b"sandbox")],
        )
        for i in range(10_000)
    ]
    produce(sandbox.source.client_config(), topic, records)
    source = read_partitions(sandbox.source.client_config(), topic, 3, expected=10_000)
    assert sum(len(v) for v in source.values()) == 10_000

    name = f"mm2-{unique}"
    config = {
        "connector.class": "org.apache.kafka.connect.mirror.MirrorSourceConnector",
        "source.cluster.alias": "source",
        "target.cluster.alias": "target",
        **cluster_settings("source.cluster", sandbox.source),
        **cluster_settings("target.cluster", sandbox.target),
        "topics": topic,
        "replication.policy.class": IDENTITY,
        "replication.factor": "1",
        "offset-syncs.topic.replication.factor": "1",
        "sync.topic.acls.enabled": "false",
        "tasks.max": "1",
    }
    with httpx.Client(base_url=sandbox.connect_url, timeout=30) as connect:
        response = connect.put(f"/connectors/{name}/config", json=config)
        assert response.status_code in (200, 201), response.text
        try:
            target = read_partitions(
                sandbox.target.client_config(), topic, 3, expected=10_000, timeout=120
            )
            status = connect.get(f"/connectors/{name}/status").json()
            assert status["connector"]["state"] == "RUNNING", status
        finally:
            connect.delete(f"/connectors/{name}")

    def content(rows):
        return [(key, value, headers) for _offset, key, value, headers in rows]

    for partition in range(3):
        assert len(target[partition]) == len(source[partition])
        assert content(target[partition]) == content(source[partition])
    assert all(len(source[p]) > 0 for p in range(3))
