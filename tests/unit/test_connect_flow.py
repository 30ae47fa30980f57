"""The MirrorMaker 2 connector configs for every flow option, secrets quoted safely."""

from __future__ import annotations

from bot.replicators.base import FlowSpec
from bot.replicators.connect import connector_configs

SOURCE = {
    "bootstrap.servers": "src:9093",
    "security.protocol": "SASL_SSL",
    "sasl.mechanism": "SCRAM-SHA-512",
    "sasl.username": "migrator",
    "sasl.password": 'p"a\\ss',
    "ssl.ca.location": "/etc/ssl/ca.pem",
}
TARGET = {"bootstrap.servers": "dst:9092", "security.protocol": "PLAINTEXT"}


def test_three_connectors_with_the_flow_options():
    flow = FlowSpec(
        name="km-orders-abc",
        source=SOURCE,
        target=TARGET,
        topics=["orders\\.eu", "orders\\.us"],
        topics_exclude=[".*\\.test"],
        groups=["billing"],
        source_alias="onprem",
        target_alias="aiven",
        replication_policy="default",
        replication_factor=3,
        sync_group_offsets=True,
        sync_group_offsets_interval_s=20,
        offset_syncs_location="source",
        emit_heartbeats=True,
    )
    configs = connector_configs(flow)
    assert list(configs) == [
        "km-orders-abc-source",
        "km-orders-abc-checkpoint",
        "km-orders-abc-heartbeat",
    ]
    src = configs["km-orders-abc-source"]
    assert src["connector.class"].endswith("MirrorSourceConnector")
    assert src["topics"] == "orders\\.eu,orders\\.us" and src["topics.exclude"] == ".*\\.test"
    assert src["replication.policy.class"].endswith("DefaultReplicationPolicy")
    assert src["source.cluster.alias"] == "onprem" and src["target.cluster.alias"] == "aiven"
    assert src["replication.factor"] == "3"
    assert src["offset-syncs.topic.location"] == "source"
    assert src["sync.topic.acls.enabled"] == "false"
    assert src["source.consumer.isolation.level"] == "read_committed"
    assert src["source.cluster.sasl.jaas.config"] == (
        "org.apache.kafka.common.security.scram.ScramLoginModule required "
        'username="migrator" password="p\\"a\\\\ss";'
    )
    assert src["source.cluster.ssl.truststore.type"] == "PEM"
    assert "target.cluster.sasl.jaas.config" not in src
    cp = configs["km-orders-abc-checkpoint"]
    assert cp["groups"] == "billing" and cp["sync.group.offsets.enabled"] == "true"
    assert cp["sync.group.offsets.interval.seconds"] == "20"
    assert cp["offset-syncs.topic.location"] == "source"


def test_heartbeats_off_and_flow_repr_hides_secrets():
    flow = FlowSpec(name="km-x", source=SOURCE, target=TARGET, topics=["a"], emit_heartbeats=False)
    assert list(connector_configs(flow)) == ["km-x-source", "km-x-checkpoint"]
    assert 'p"a' not in repr(flow) and "migrator" not in repr(flow)
