"""Cancel is a rollback: it undoes what the migration did to the source and to Connect."""

from __future__ import annotations

import time

import httpx
import pytest

from bot.kafka.acls import Acl, apply_acls, describe_all, plan_acls
from bot.kafka.cluster import Cluster
from tests.e2e.harness import Workspace
from tests.kafka_helpers import commit, create_topic, produce, write
from tests.waits import wait_for

pytestmark = pytest.mark.sandbox


def allow(cluster: Cluster, acl: Acl) -> None:
    """Create one binding on the cluster, as its admins would (read back until visible)."""
    plan = plan_acls(cluster, cluster, [acl.name], [])
    plan.missing, plan.planned = [acl], {acl: acl}
    apply_acls(cluster, plan)


def connectors(sandbox, mid: str) -> list[str]:
    with httpx.Client(base_url=sandbox.connect_url) as connect:
        return [c for c in connect.get("/connectors").json() if c.startswith(f"km-{mid}-")]


def test_cancel_during_the_quiet_window_removes_the_fence_and_the_connectors(sandbox, unique):
    src = sandbox.source.client_config()
    users = sandbox.source.users
    topic = f"fenced-{unique}"
    create_topic(src, topic, 1)
    produce(src, topic, [(None, b"before", [])])
    source = Cluster("source", src)
    grant = Acl("TOPIC", topic, "LITERAL", "User:alice", "*", "WRITE", "ALLOW")
    allow(source, grant)  # alice may write: the fence is for her
    ws = Workspace(sandbox, quiet=600, drain=1, ready=0)  # the quiet window never ends here
    ws.serve()
    try:
        mid = ws.start(
            f"fenced source=sandbox-source target=sandbox-target topics={topic} "
            "via=sandbox-mm2 fence=yes"
        )
        gate = ws.wait_gate(mid, "stop_producers", 120)
        ws.ok("approve", mid, "--version", str(gate["version"]), user="bob")
        ws.wait_step(mid, "producers_stopped", 60)
        denied = lambda: [  # noqa: E731
            a for a in describe_all(source) if a.permission == "DENY" and a.name == topic
        ]
        ws.wait(mid, lambda _s: denied(), 60, "the fence applied")
        # ACL changes take a moment to reach the authorizer: each write is tried until it holds
        refused = lambda: write(src, "alice", users["alice"], topic) is not None  # noqa: E731
        wait_for(refused, 60, "alice fenced")
        assert len(connectors(sandbox, mid)) == 3

        asked = ws.cli("cancel", mid, user="alice")  # says what it will undo, does nothing
        assert asked.returncode == 2 and "Nothing was done: add --yes" in asked.stderr
        for words in (
            "delete the MirrorMaker 2 connectors",
            "remove the write fence (1 DENY binding(s))",
            "keep the target's topics and ACLs",
        ):
            assert words in asked.stderr
        assert denied() and len(connectors(sandbox, mid)) == 3
        out = ws.ok("cancel", mid, "--yes", user="alice")
        assert "cancelled" in out
        assert denied() == []
        wait_for(lambda: not refused(), 60, "alice writes again")  # producers work again
        assert connectors(sandbox, mid) == []
        status = ws.status(mid)
        assert status["status"] == "cancelled"
        assert "MirrorMaker 2 connectors deleted" in status["reason"]
        assert "write fence removed (1 DENY binding(s))" in status["reason"]
    finally:
        ws.stop_serve()


def test_cancel_cleanup_target_deletes_only_the_topics_and_acls_the_migration_created(
    sandbox, unique
):
    src, dst = sandbox.source.client_config(), sandbox.target.client_config()
    made, kept = f"made-{unique}", f"kept-{unique}"
    for topic in (made, kept):
        create_topic(src, topic, 1)
        produce(src, topic, [(None, b"r", [])])
    create_topic(dst, kept, 1)  # on the target before the migration: never deleted by it
    source, target = Cluster("source", src), Cluster("target", dst)
    grant = Acl("TOPIC", made, "LITERAL", "User:bob", "*", "READ", "ALLOW")
    allow(source, grant)
    retired, billing = f"retired-{unique}", f"billing-{unique}"  # one group is left out
    for group in (retired, billing):
        commit(source, group, {(made, 0): 0})
    ws = Workspace(sandbox, quiet=600, drain=1, ready=0)
    ws.serve()
    try:
        mid = ws.start(
            f"cleanup source=sandbox-source target=sandbox-target topics={made},{kept} "
            "via=sandbox-mm2 groups_exclude=retired-.* groups_exclude_reason=decommissioned"
        )
        gate = ws.wait_gate(mid, "stop_producers", 120)
        assert billing in gate["groups"] and retired not in gate["groups"]
        assert f"left out on request (decommissioned): {retired}" in ws.ok("report", mid)
        assert grant in describe_all(target) and len(connectors(sandbox, mid)) == 3
        asked = ws.cli("cancel", mid, "cleanup=target", user="alice")
        assert asked.returncode == 2, asked.stderr
        assert f"delete the 1 topic(s) it created on the target: {made}" in asked.stderr
        assert "delete the 1 ACL binding(s) it created on the target" in asked.stderr
        bad = ws.cli("cancel", mid, "cleanup=all", "--yes", user="alice")
        assert bad.returncode == 2 and "the only cleanup is target" in bad.stderr
        assert ws.status(mid)["status"] == "active" and len(connectors(sandbox, mid)) == 3

        out = ws.ok("cancel", mid, "cleanup=target", "--yes", user="alice")
        assert "cancelled" in out and connectors(sandbox, mid) == []

        def on_target() -> set[str]:
            return set(target.admin.list_topics(timeout=10).topics) & {made, kept}

        wait_for(lambda: on_target() == {kept}, 60, "the created topic deleted")
        time.sleep(5)  # nothing (no MirrorMaker 2 task left) creates it again
        assert on_target() == {kept} and grant not in describe_all(target)
        reason = ws.status(mid)["reason"]
        assert "1 target topic(s) deleted" in reason and "1 target ACL binding(s) deleted" in reason
    finally:
        ws.stop_serve()


def test_skip_after_cancel_is_refused_and_the_migration_stays_cancelled(sandbox, unique):
    """The regression of issue 19: skip on a cancelled migration at a skippable step made it
    active again, its topic locks released and its connectors deleted."""
    src = sandbox.source.client_config()
    topic, group = f"skipped-{unique}", f"readers-{unique}"
    create_topic(src, topic, 1)
    produce(src, topic, [(None, b"r", [])])
    commit(Cluster("source", src), group, {(topic, 0): 1})  # read everything; never on the target
    ws = Workspace(sandbox, quiet=1, drain=1, ready=0)
    ws.serve()
    try:
        mid = ws.start(
            f"skipped source=sandbox-source target=sandbox-target topics={topic} via=sandbox-mm2"
        )
        for gate in ("stop_producers", "repoint_clients"):
            shown = ws.wait_gate(mid, gate, 120)
            ws.ok("approve", mid, "--version", str(shown["version"]), user="bob")
        said = f"start these consumers on the target: {group}"
        ws.wait(mid, lambda s: said in (s["waiting_for"] or ""), 120, "consumers_on_target")
        assert "cancelled" in ws.ok("cancel", mid, "--yes", user="alice")
        assert connectors(sandbox, mid) == []

        refused = ws.cli("skip", mid, "--reason", "retired group", user="alice")
        assert refused.returncode == 2
        assert f"{mid} is cancelled" in refused.stderr and "nothing to skip" in refused.stderr
        status = ws.status(mid)
        assert (status["status"], status["step"]) == ("cancelled", "consumers_on_target")
        assert connectors(sandbox, mid) == []  # nothing recreated
        assert f"{ws.actor('alice')} may not skip {mid}" in ws.ok("report", mid)  # audited
        # the topic is free: another migration may take it
        other = ws.start(
            f"again source=sandbox-source target=sandbox-target topics={topic} via=sandbox-mm2"
        )
        ws.ok("cancel", other, "--yes", user="alice")
    finally:
        ws.stop_serve()
