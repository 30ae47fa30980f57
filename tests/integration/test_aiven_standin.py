"""The Aiven API stand-in on the real sandbox, all through aiven-client: integrations with
cluster aliases, a replication flow that really copies records between the sandbox clusters,
its progress read from the data, disabling it, a flow named with service names (nothing
happens, as on Aiven), integration errors, native ACLs and topics applied to the target."""

from __future__ import annotations

import re

import httpx
import pytest
from standins.aiven_kafka import IDENTITY

from bot.kafka.acls import Acl, describe_all
from bot.kafka.cluster import Cluster
from tests.aiven_fixtures import (
    PROJECT,
    SOURCE,
    TARGET,
    aiven_fixture,  # noqa: F401 - the `aiven` fixture
    client,
    external_kafka,
)
from tests.kafka_helpers import create_topic, produce, read_partitions
from tests.waits import wait_for


def mm2_with_aliases(standin, sandbox, unique: str):
    """An MM2 service with alias `src` (an external_kafka endpoint: the sandbox's source) and
    alias `dst` (the target Kafka service), both integrations running."""
    api = client(standin)
    api.create_service(PROJECT, "mm2", "kafka_mirrormaker", "startup-4")
    made = api.create_service_integration_endpoint(
        PROJECT, f"ext-{unique}", "external_kafka", external_kafka(sandbox.source)
    )
    endpoint_id = made["service_integration_endpoint"]["endpoint_id"]
    ids = [
        api.create_service_integration(
            PROJECT,
            "kafka_mirrormaker",
            **source,
            dest_service="mm2",
            user_config={"cluster_alias": alias},
        )["service_integration"]["service_integration_id"]
        for source, alias in (
            ({"source_endpoint_id": endpoint_id}, "src"),
            ({"source_service": TARGET}, "dst"),
        )
    ]

    def status(integration_id: str) -> str:
        return api.get_service_integration(PROJECT, integration_id)["integration_status"]["state"][
            "status"
        ]

    wait_for(lambda: [status(i) for i in ids] == ["running", "running"], 30, "integrations running")
    wait_for(lambda: api.get_service(PROJECT, "mm2")["state"] == "RUNNING", 10, "MM2 running")
    return api


def config_of(sandbox, name: str) -> dict:
    """A connector's config as the worker answers it once it can (a 409 while the Connect
    group rebalances after the flow's connectors were created)."""

    def answer():
        got = httpx.get(f"{sandbox.connect_url}/connectors/{name}/config", timeout=10)
        return got.status_code != 409 and got

    got = wait_for(answer, 30, f"{name}'s config answered")
    assert got.status_code == 200, got.text
    return got.json()


def connectors(sandbox, prefix: str) -> list[str]:
    names = httpx.get(f"{sandbox.connect_url}/connectors", timeout=10).json()
    return sorted(n for n in names if n.startswith(prefix + "-"))


def test_a_flow_between_aliases_replicates_and_disabling_removes_it(aiven, sandbox, unique):
    topic = f"aiven-{unique}"
    src = sandbox.source.client_config()
    create_topic(src, topic, 2)
    produce(src, topic, [(None, f"r{i}".encode(), [], i % 2) for i in range(40)])
    api = mm2_with_aliases(aiven, sandbox, unique)
    groups = {"groups": "orders-.*", "groups_exclude": "tmp-.*"}  # per MM2 service on Aiven
    api.update_service(PROJECT, "mm2", user_config={"kafka_mirrormaker": groups})
    flow = {"enabled": True, "topics": [re.escape(topic)], "replication_policy_class": IDENTITY}
    assert api.create_mirrormaker_replication_flow(PROJECT, "mm2", "src", "dst", flow) == {
        "message": "created"
    }
    prefix = aiven.connector_prefix("mm2", "src", "dst")
    assert connectors(sandbox, prefix) == [f"{prefix}-checkpoint", f"{prefix}-source"]
    checkpoint = config_of(sandbox, f"{prefix}-checkpoint")
    assert (checkpoint["groups"], checkpoint["groups.exclude"]) == ("orders-.*", "tmp-.*")
    assert checkpoint["replication.policy.class"] == IDENTITY
    assert checkpoint["source.cluster.bootstrap.servers"] == sandbox.source.bootstrap_servers
    assert checkpoint["target.cluster.bootstrap.servers"] == sandbox.target.bootstrap_servers

    copied = read_partitions(sandbox.target.client_config(), topic, 2, 40, timeout=90)
    assert sum(len(records) for records in copied.values()) == 40  # same name: Identity policy

    def progress() -> float:
        return api.get_mirrormaker_replication_flow(PROJECT, "mm2", "src", "dst")[
            "replication_progress"
        ]

    wait_for(lambda: progress() == 1.0, 60, "replication_progress 1.0")

    answer = api.update_mirrormaker_replication_flow(
        PROJECT, "mm2", "src", "dst", {"enabled": False}
    )
    assert answer["enabled"] is False and answer["replication_progress"] == 0.0
    assert connectors(sandbox, prefix) == []
    api.update_mirrormaker_replication_flow(PROJECT, "mm2", "src", "dst", {"enabled": True})
    assert connectors(sandbox, prefix) == [f"{prefix}-checkpoint", f"{prefix}-source"]
    api.delete_mirrormaker_replication_flow(PROJECT, "mm2", "src", "dst")
    assert connectors(sandbox, prefix) == []


def test_a_flow_named_with_service_names_replicates_nothing_and_says_nothing(
    aiven, sandbox, unique
):
    api = mm2_with_aliases(aiven, sandbox, unique)
    api.create_mirrormaker_replication_flow(PROJECT, "mm2", SOURCE, TARGET, {"enabled": True})
    found = api.get_mirrormaker_replication_flow(PROJECT, "mm2", SOURCE, TARGET)
    assert found["enabled"] is True and found["replication_progress"] == 0.0
    assert connectors(sandbox, aiven.connector_prefix("mm2", SOURCE, TARGET)) == []


def test_an_integration_whose_source_refuses_the_login_fails_with_the_error(aiven, sandbox, unique):
    api = client(aiven)
    api.create_service(PROJECT, "mm2", "kafka_mirrormaker", "startup-4")
    config = {**external_kafka(sandbox.source), "sasl_plain_password": "wrong-pass-word"}
    endpoint = api.create_service_integration_endpoint(
        PROJECT, f"bad-{unique}", "external_kafka", config
    )
    made = api.create_service_integration(
        PROJECT,
        "kafka_mirrormaker",
        source_endpoint_id=endpoint["service_integration_endpoint"]["endpoint_id"],
        dest_service="mm2",
        user_config={"cluster_alias": "src"},
    )
    integration_id = made["service_integration"]["service_integration_id"]

    def state() -> dict:
        return api.get_service_integration(PROJECT, integration_id)["integration_status"]["state"]

    failed = wait_for(lambda: state()["status"] == "failed" and state(), 30, "integration failed")
    assert failed["likely_error_cause"] == "source" and failed["errors"]
    assert "wrong-pass-word" not in repr(failed) + repr(aiven.requests)


def test_native_acls_and_topics_are_applied_to_the_cluster(aiven, sandbox, unique):
    api = client(aiven)
    target = Cluster("target", sandbox.target.client_config())
    topic = f"aiven-acl-{unique}"
    added = api.service_kafka_native_acl_add(
        PROJECT, TARGET, "User:alice", "*", topic, "Topic", "LITERAL", "Read", "ALLOW"
    )["acl"]
    wanted = Acl("TOPIC", topic, "LITERAL", "User:alice", "*", "READ", "ALLOW")
    wait_for(lambda: wanted in describe_all(target), 30, "the ACL on the target")
    assert [a["id"] for a in api.service_kafka_native_acl_list(PROJECT, TARGET)["kafka_acl"]] == [
        added["id"]
    ]
    with pytest.raises(Exception, match="User:") as refused:
        api.service_kafka_native_acl_add(
            PROJECT, TARGET, "Group:x", "*", topic, "Topic", "LITERAL", "Read", "ALLOW"
        )
    assert refused.value.status == 400
    api.service_kafka_native_acl_delete(PROJECT, TARGET, added["id"])
    wait_for(lambda: wanted not in describe_all(target), 30, "the ACL gone")

    api.create_service_topic(PROJECT, TARGET, topic, 3, 1, 1, -1, 24, "delete")
    found = api.get_service_topic(PROJECT, TARGET, topic)
    assert [p["partition"] for p in found["partitions"]] == [0, 1, 2]
    with pytest.raises(Exception) as again:
        api.create_service_topic(PROJECT, TARGET, topic, 3, 1, 1, -1, 24, "delete")
    assert again.value.status == 409
