"""ACL migration and the producer fence, with the sandbox's real StandardAuthorizer."""

from __future__ import annotations

import pytest
from confluent_kafka import KafkaError

from bot.errors import UserError
from bot.kafka.acls import (
    Acl,
    apply_acls,
    binding_report,
    describe_all,
    parse_principal_map,
    plan_acls,
)
from bot.kafka.cluster import Cluster, gather
from bot.kafka.fence import (
    ProducerWatch,
    apply_fence,
    fence_visible,
    plan_fence,
    remove_fence,
)
from bot.kafka.groups import end_offsets
from tests.kafka_helpers import create_topic, write
from tests.waits import wait_for


def grant(cluster: Cluster, acls: list[Acl]) -> None:
    """Create the bindings and return once the broker describes them (the controller has
    accepted them a moment before the broker's metadata shows them)."""
    gather(cluster.admin.create_acls([a.binding() for a in acls]), "create ACLs")
    wait_for(lambda: set(acls) <= set(describe_all(cluster)), 30, "the bindings described")


def test_acls_export_map_apply_idempotent_and_mm2_report(sandbox, unique):
    source = Cluster("source", sandbox.source.client_config())
    target = Cluster("target", sandbox.target.client_config())
    topic, group = f"orders-{unique}", f"billing-{unique}"
    svc, other = f"User:svc-{unique}", f"User:other-{unique}"
    acls = [
        Acl("TOPIC", topic, "LITERAL", svc, "*", "READ", "ALLOW"),
        Acl("TOPIC", topic, "LITERAL", svc, "*", "WRITE", "ALLOW"),
        Acl("TOPIC", topic, "LITERAL", svc, "*", "ALL", "ALLOW"),
        Acl("TOPIC", f"orders-{unique[:4]}", "PREFIXED", svc, "*", "DESCRIBE", "ALLOW"),
        Acl("TOPIC", topic, "LITERAL", svc, "10.0.0.9", "READ", "DENY"),
        Acl("GROUP", group, "LITERAL", svc, "*", "READ", "ALLOW"),
        Acl("TRANSACTIONAL_ID", f"tx-{unique}", "PREFIXED", svc, "*", "WRITE", "ALLOW"),
        Acl("CLUSTER", "kafka-cluster", "LITERAL", svc, "*", "IDEMPOTENT_WRITE", "ALLOW"),
        Acl("GROUP", group, "LITERAL", other, "*", "READ", "ALLOW"),  # reads the selection
        Acl("TOPIC", f"unrelated-{unique}", "LITERAL", other, "*", "READ", "ALLOW"),
    ]
    grant(source, acls)
    mapped = f"User:svc-new-{unique}"
    plan = plan_acls(
        source, target, [topic], [group], principal_map=parse_principal_map(f"{svc}={mapped}")
    )
    assert set(plan.exported) == set(acls[:9])  # not the unrelated topic's binding
    assert all(a.principal in (mapped, other) for a in plan.planned.values())
    assert plan.mm2[acls[0]] == "copied"
    assert plan.mm2[acls[1]].startswith("dropped: MM2 never syncs ALLOW WRITE")
    assert plan.mm2[acls[2]].startswith("downgraded")
    assert plan.mm2[acls[3]].startswith("dropped: MM2 syncs LITERAL topic ACLs only")
    assert plan.mm2[acls[4]] == "copied"
    assert all(plan.mm2[a].startswith("dropped: MM2 syncs topic ACLs only") for a in acls[5:8])
    assert len(plan.missing) == 9

    created = apply_acls(target, plan)
    assert len(created) == 9
    report = binding_report(plan, created)
    assert len(report) == 9 and all(line.startswith("created: ") for line in report)
    changed = [line for line in report if f" {svc} " in line.split("(from ", 1)[-1]]
    assert len(changed) == 8  # the principal map changed every binding of svc
    assert any("[CLUSTER-WIDE]" in line for line in report)
    on_target = set(describe_all(target))
    assert (
        Acl("TRANSACTIONAL_ID", f"tx-{unique}", "PREFIXED", mapped, "*", "WRITE", "ALLOW")
        in on_target
    )

    again = plan_acls(
        source, target, [topic], [group], principal_map=parse_principal_map(f"{svc}={mapped}")
    )
    assert again.missing == [] and len(again.present) == 9
    assert apply_acls(target, again) == []  # idempotent: nothing created twice
    assert all(line.startswith("already there: ") for line in binding_report(again, []))
    wildcard = Acl("TOPIC", "*", "LITERAL", f"User:intruder-{unique}", "*", "READ", "ALLOW")
    grant(source, [wildcard])
    try:
        wide = plan_acls(source, target, [topic], [group])
        flagged = [line for line in binding_report(wide, []) if "WILDCARD" in line]
        assert any(f"intruder-{unique}" in line for line in flagged)
    finally:
        gather(source.admin.delete_acls([wildcard.filter()]), "delete")

    with pytest.raises(UserError, match="is not 'User:from=User:to'"):
        parse_principal_map("svc=User:a")


def test_fence_denies_writers_but_the_listed_and_rollback_removes_it(sandbox, unique):
    conf = sandbox.source.client_config()
    users = sandbox.source.users
    cluster = Cluster("source", conf)
    topic = f"fenced-{unique}"
    create_topic(conf, topic, 1)
    grant(
        cluster,
        [
            Acl("TOPIC", topic, "LITERAL", f"User:{u}", "*", "WRITE", "ALLOW")
            for u in ("alice", "bob")
        ],
    )
    assert write(conf, "alice", users["alice"], topic) is None

    fence = plan_fence(cluster, [topic], allow=["User:bob"])
    assert fence.fenced == ["User:alice"]
    assert "super users" in fence.warnings[0]
    watch = ProducerWatch(window_s=5)
    before = end_offsets(cluster, [(topic, 0)])
    assert not watch.observe(before, now=100).quiet  # never quiet on first sight

    apply_fence(cluster, fence)
    try:
        wait_for(lambda: fence_visible(cluster, fence.bindings), 30, "the fence described")
        refused = write(conf, "alice", users["alice"], topic)
        assert refused is not None and refused.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED
        assert watch.observe(end_offsets(cluster, [(topic, 0)]), now=103).quiet is False
        state = watch.observe(end_offsets(cluster, [(topic, 0)]), now=106)
        assert state.quiet and state.moved == []
        assert write(conf, "bob", users["bob"], topic) is None  # the listed principal still writes
        assert write(conf, "admin", users["admin"], topic) is None  # a super user: not fenced
        state = watch.observe(end_offsets(cluster, [(topic, 0)]), now=107)
        assert not state.quiet and state.moved == [(topic, 0)]
    finally:
        remove_fence(cluster, fence)
    assert write(conf, "alice", users["alice"], topic) is None
    assert not fence_visible(cluster, fence.bindings)
    assert not [a for a in describe_all(cluster) if a.permission == "DENY" and a.name == topic]


def test_fence_refuses_a_wildcard_writer_with_exceptions(sandbox, unique):
    cluster = Cluster("source", sandbox.source.client_config())
    topic = f"open-{unique}"
    create_topic(cluster.client_config, topic, 1)
    grant(cluster, [Acl("TOPIC", topic, "LITERAL", "User:*", "*", "WRITE", "ALLOW")])
    with pytest.raises(UserError, match="User:\\* may write"):
        plan_fence(cluster, [topic], allow=["User:bob"])
