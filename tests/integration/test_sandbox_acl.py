"""Authorization in the sandbox is real: the StandardAuthorizer enforces ACLs."""

from __future__ import annotations

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException
from confluent_kafka.admin import (
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ResourcePatternType,
    ResourceType,
)

from bot.kafka.acls import ANY_ACL
from tests.kafka_helpers import create_topic, produce
from tests.waits import wait_for


def _first_record(conf: dict, topic: str, group: str):
    consumer = Consumer(
        {**conf, "group.id": group, "auto.offset.reset": "earliest", "enable.auto.commit": False}
    )
    consumer.subscribe([topic])
    try:
        for _ in range(30):
            msg = consumer.poll(1)
            if msg is None:
                continue
            if msg.error():
                raise KafkaException(msg.error())
            return msg.value()
        return None
    finally:
        consumer.close()


def test_user_reads_only_the_topic_granted_to_it(sandbox, unique):
    admin_conf = sandbox.source.client_config("admin")
    allowed, denied, group = f"granted-{unique}", f"denied-{unique}", f"alice-{unique}"
    for topic in (allowed, denied):
        create_topic(admin_conf, topic)
        produce(admin_conf, topic, [(b"k", f"hello {topic}".encode(), [])])

    alice = sandbox.source.client_config("alice")
    # before any grant, alice is refused
    with pytest.raises(KafkaException) as before:
        _first_record(alice, allowed, group)
    assert before.value.args[0].code() in (
        KafkaError.TOPIC_AUTHORIZATION_FAILED,
        KafkaError.GROUP_AUTHORIZATION_FAILED,
    )

    admin = AdminClient(admin_conf)
    bindings = [
        AclBinding(
            ResourceType.TOPIC,
            allowed,
            ResourcePatternType.LITERAL,
            "User:alice",
            "*",
            AclOperation.READ,
            AclPermissionType.ALLOW,
        ),
        AclBinding(
            ResourceType.GROUP,
            group,
            ResourcePatternType.LITERAL,
            "User:alice",
            "*",
            AclOperation.READ,
            AclPermissionType.ALLOW,
        ),
    ]
    for future in admin.create_acls(bindings).values():
        future.result(timeout=30)
    # the broker authorizes with its metadata, which shows a binding a moment after its create
    wait_for(
        lambda: set(bindings) <= set(admin.describe_acls(ANY_ACL).result(timeout=30)),
        30,
        "the bindings described",
    )
    try:
        assert _first_record(alice, allowed, group) == f"hello {allowed}".encode()
        with pytest.raises(KafkaException) as refused:
            _first_record(alice, denied, group)
        assert refused.value.args[0].code() == KafkaError.TOPIC_AUTHORIZATION_FAILED
    finally:
        filters = [
            AclBindingFilter(
                b.restype,
                b.name,
                b.resource_pattern_type,
                b.principal,
                b.host,
                b.operation,
                b.permission_type,
            )
            for b in bindings
        ]
        for future in admin.delete_acls(filters).values():
            future.result(timeout=30)
