"""The config a connector is created with on the target's Connect, what is masked, and the
grammar of connect_from/connect_to/connectors (the REST side runs on real workers: e2e)."""

from __future__ import annotations

import pytest

from bot.connect.plan import MASK, mask, target_config
from bot.connect.rest import ConnectorState, version_tuple
from bot.errors import UserError
from bot.kafka.naming import TopicNaming
from bot.migration.grammar import parse_start

BASE = "m source=s target=t topics=orders via=mm2"
SOURCE_CONFIG = {
    "name": "orders-sink",
    "connector.class": "io.example.JdbcSinkConnector",
    "topics": "orders,payments",
    "consumer.override.bootstrap.servers": "old-kafka:9092",
    "consumer.override.security.protocol": "SASL_SSL",
    "consumer.override.sasl.jaas.config": 'x required username="u" password="p4ss";',
    "consumer.override.max.poll.records": "500",
    "value.converter.schema.registry.url": "https://old-registry:8081",
    "connection.password": "hunter2",
    "connection.user": "${file:/etc/secrets/db.properties:user}",
}


def test_the_old_cluster_is_dropped_the_registry_mapped_the_rest_kept():
    config, dropped, mapped, providers = target_config(
        SOURCE_CONFIG,
        TopicNaming("identity"),
        ("https://old-registry:8081", "https://new-registry:8081"),
    )
    assert dropped == [
        "consumer.override.bootstrap.servers",
        "consumer.override.security.protocol",
        "consumer.override.sasl.jaas.config",
    ]
    assert config["value.converter.schema.registry.url"] == "https://new-registry:8081"
    assert mapped == ["value.converter.schema.registry.url → the target registry"]
    assert config["consumer.override.max.poll.records"] == "500"  # not a connection key
    assert config["topics"] == "orders,payments"
    assert "name" not in config and config["connection.password"] == "hunter2"
    assert providers == ["connection.user"]


def test_default_policy_renames_a_sinks_topics():
    config, _d, mapped, _p = target_config(SOURCE_CONFIG, TopicNaming("default", "src"))
    assert config["topics"] == "src.orders,src.payments"
    assert mapped == ["topics → src.orders,src.payments"]
    # no registries named: the converter's URL is kept as written
    assert config["value.converter.schema.registry.url"] == "https://old-registry:8081"


def test_secrets_are_masked_provider_references_are_not():
    shown = mask(SOURCE_CONFIG)
    assert shown["connection.password"] == MASK
    assert shown["consumer.override.sasl.jaas.config"] == MASK
    assert shown["connection.user"] == "${file:/etc/secrets/db.properties:user}"
    assert shown["topics"] == "orders,payments"
    assert "hunter2" not in str(shown) and "p4ss" not in str(shown)


def test_versions_and_states():
    assert version_tuple("3.7.1") == (3, 7, 1)
    assert version_tuple("7.6.0-ccs") == (7, 6, 0)
    assert version_tuple("4.3.1") >= (3, 7)
    assert version_tuple("3.4.0") < (3, 5)
    stopping = ConnectorState("c", "STOPPED", ((0, "RUNNING", None),))
    assert not stopping.stopped  # STOPPED is said a moment before its task goes
    assert ConnectorState("c", "STOPPED").stopped
    assert not ConnectorState("c", "RUNNING").running  # no task yet
    failed = ConnectorState("c", "RUNNING", ((0, "FAILED", "java.io.IOException: gone\n at x"),))
    assert failed.failures == ["c task 0: java.io.IOException: gone"]


def test_grammar_takes_the_connect_clusters_and_connector_regexes():
    req = parse_start(f"{BASE} connect_from=old connect_to=new connectors=orders-.*".split())
    assert req.options["connect_from"] == "old" and req.options["connect_to"] == "new"
    assert req.options["connectors"] == "orders-.*"


@pytest.mark.parametrize(
    ("extra", "field", "words"),
    [
        ("connect_from=old", "connect_to", "needs connect_to="),
        ("connect_to=new", "connect_from", "needs connect_from="),
        ("connect_from=old connect_to=old", "connect_to", "the same Connect cluster"),
        ("connectors=x", "connectors", "needs connect_from= and connect_to="),
        ("connect_from=a connect_to=b connectors_exclude=(", "connectors_exclude", "regex"),
    ],
)
def test_grammar_refuses_what_cannot_work(extra, field, words):
    with pytest.raises(UserError) as refused:
        parse_start(f"{BASE} {extra}".split())
    assert refused.value.field == field
    assert words in refused.value.message
