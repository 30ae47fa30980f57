"""The Aiven replicator through aiven-client against the Aiven API stand-in on the real sandbox:
the stand-in runs each replication flow as MM2 connectors on the sandbox's Connect worker and
applies native ACLs to the sandbox target (rehearsal/standins/aiven_api.py).

The source joins through an external_kafka endpoint, the target as the Aiven Kafka service
`kafka-target`. The stand-in's MM2 commits its offsets to the Connect worker's `connect-offsets`
and copies them to `mm2-offsets.<source alias>.internal` on the target under
`MirrorSourceConnector`, where the replicator reads them on Aiven (its defaults)."""

from __future__ import annotations

import logging
import re

import httpx
import pytest
from standins.aiven_api import AivenStandIn

from bot.aiven import acls as aiven_acls
from bot.aiven.api import AivenApi
from bot.aiven.service import AivenService
from bot.kafka.acls import Acl, AclPlan, describe_all
from bot.kafka.cluster import Cluster, gather
from bot.replicators.aiven import AivenReplicator
from bot.replicators.base import FlowSpec, ReplicatorError
from tests.kafka_helpers import create_topic, produce, read_partitions
from tests.waits import wait_for

TOKEN = "aivenv1-sandbox-Tok3n-never-shown"
PROJECT = "acme"


@pytest.fixture(scope="module")
def standin(sandbox):
    server = AivenStandIn(
        token=TOKEN,
        project=PROJECT,
        kafka_services={"kafka-target": sandbox.target.client_config()},
        connect_url=sandbox.connect_url,
        running_delay=0.5,
    ).start()
    yield server
    server.stop()


@pytest.fixture
def api(standin, sandbox, caplog, capsys):
    client = AivenApi(standin.url, "AIVEN_SANDBOX_TOKEN", lambda: TOKEN)
    caplog.set_level(logging.DEBUG)
    yield client
    out = capsys.readouterr()
    assert TOKEN not in caplog.text + out.out + out.err
    assert not standin.problems, standin.problems


def replicator(standin, unique: str, api, wait: float = 60) -> tuple[AivenReplicator, str, str]:
    src, dst = f"src-{unique}", f"dst-{unique}"
    service = f"mm2-{unique}"
    rep = AivenReplicator(
        api,
        PROJECT,
        service,
        create_service=True,
        plan="startup-4",
        integration_wait_s=wait,
    )
    return rep, src, dst


def kafka_target(api) -> AivenService:
    """The sandbox target, as the stand-in's Aiven Kafka service `kafka-target`."""
    return AivenService(api, PROJECT, "kafka-target")


def flow_of(sandbox, api, unique, topics, src, dst, **kw) -> FlowSpec:
    return FlowSpec(
        name=f"km-{unique}",
        source=sandbox.source.client_config(),
        target=sandbox.target.client_config(),
        topics=[re.escape(t) for t in topics],
        groups=[],
        source_alias=src,
        target_alias=dst,
        offset_syncs_location="target",
        replication_factor=1,
        target_aiven=kafka_target(api),
        **kw,
    )


def writes(standin, since: int) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in standin.requests[since:] if r.method != "GET"]


def connectors(sandbox, prefix: str) -> list[str]:
    names = httpx.get(f"{sandbox.connect_url}/connectors", timeout=10).json()
    return sorted(n for n in names if n.startswith(prefix + "-"))


def test_ensure_twice_replicates_updates_in_place_pauses_resumes_deletes(
    standin, sandbox, api, unique
):
    topic, second = f"av-{unique}", f"av2-{unique}"
    src_conf, tgt_conf = sandbox.source.client_config(), sandbox.target.client_config()
    for name in (topic, second):
        create_topic(src_conf, name, 2)
        create_topic(tgt_conf, name, 2)  # the bot creates the topics first, with their configs
    produce(src_conf, topic, [(None, f"r{i}".encode(), [], i % 2) for i in range(100)])
    rep, src, dst = replicator(standin, unique, api)
    flow = flow_of(sandbox, api, unique, [topic], src, dst)
    prefix = standin.connector_prefix(rep.service, src, dst)
    try:
        parts = rep.ensure(flow)
        assert parts == [f"integration {src}", f"integration {dst}", f"flow {src}->{dst}"]
        first = writes(standin, 0)
        assert sum(1 for m, p in first if m == "POST" and p.endswith("/integration")) >= 2
        mark = len(standin.requests)
        restarted = AivenApi(standin.url, "AIVEN_SANDBOX_TOKEN", lambda: TOKEN)
        assert replicator(standin, unique, restarted)[0].ensure(flow) == parts  # a new process
        assert writes(standin, mark) == []  # the second run reads and changes nothing

        endpoint = [
            r for r in standin.requests if r.method == "POST" and r.path.endswith("_endpoint")
        ]
        assert endpoint and endpoint[0].body["user_config"]["sasl_plain_password"] == "***"

        wait_for(lambda: rep.status(flow).running, 60, "integrations and flow running")
        copied = read_partitions(tgt_conf, topic, 2, 100, timeout=90)
        assert sum(len(records) for records in copied.values()) == 100
        wait_for(
            lambda: sum(o + 1 for o in rep.replicated_offsets(flow).values()) == 100,
            90,
            "100 records in MM2's offsets",
        )
        wait_for(
            lambda: "100% replicated" in rep.status(flow).parts[f"flow {src}->{dst}"],
            60,
            "Aiven's replication_progress 1.0 beside the figures",
        )

        # a changed topic selection: the flow is updated in place (one PUT, no POST)
        mark = len(standin.requests)
        wider = flow_of(sandbox, api, unique, [topic, second], src, dst)
        rep.ensure(wider)
        flow_writes = [w for w in writes(standin, mark) if "replication-flows" in w[1]]
        assert [m for m, _ in flow_writes] == ["PUT"]
        produce(src_conf, second, [(None, b"x", [], 0)])
        read_partitions(tgt_conf, second, 1, 1, timeout=90)

        rep.pause(wider)
        status = rep.status(wider)
        assert status.parts[f"flow {src}->{dst}"].startswith("PAUSED") and not status.running
        wait_for(lambda: connectors(sandbox, prefix) == [], 30, "connectors gone while paused")
        rep.resume(wider)
        wait_for(lambda: rep.status(wider).running, 60, "resumed")
        wait_for(lambda: connectors(sandbox, prefix) != [], 30, "connectors back")
    finally:
        rep.delete(flow)
    assert rep.status(flow).parts[f"flow {src}->{dst}"] == "MISSING"
    wait_for(lambda: connectors(sandbox, prefix) == [], 30, "connectors deleted")


def test_a_refused_login_fails_the_integration_with_aivens_error_until_fixed(
    standin, sandbox, api, unique
):
    rep, src, dst = replicator(standin, unique, api, wait=5)  # a new integration may start failed
    good = sandbox.source.client_config()
    bad = {**good, "sasl.password": "wrong-password-shown-nowhere"}
    flow = flow_of(sandbox, api, unique, [f"fix-{unique}"], src, dst)
    broken = FlowSpec(**{**vars(flow), "source": bad})
    with pytest.raises(ReplicatorError) as caught:
        rep.ensure(broken)
    message = str(caught.value)
    assert f"integration of cluster '{src}' failed" in message
    assert "likely cause: source" in message
    assert "wrong-password-shown-nowhere" not in message and not caught.value.retriable
    assert rep.read_flow(flow) is None  # nothing replicates from a cluster it cannot read
    errors = rep.status(flow).errors
    assert errors and errors[0].startswith(f"integration {src}: failed")
    try:
        rep.ensure(flow)  # the password fixed: the endpoint is updated, the integration runs
        assert rep.status(flow).parts[f"integration {src}"] == "RUNNING"
    finally:
        rep.delete(flow)


def test_a_5xx_during_ensure_is_degraded_and_the_rerun_completes(standin, sandbox, api, unique):
    rep, src, dst = replicator(standin, unique, api)
    flow = flow_of(sandbox, api, unique, [f"none-{unique}"], src, dst)
    standin.fail("POST", "/mirrormaker/replication-flows$", 503)
    try:
        with pytest.raises(ReplicatorError, match="Aiven answered 503") as caught:
            rep.ensure(flow)
        assert caught.value.retriable
        rep.ensure(flow)
        assert rep.read_flow(flow)["topics"] == [re.escape(f"none-{unique}")]
    finally:
        rep.delete(flow)


def test_acls_go_through_aivens_native_acl_api_once(standin, sandbox, api, unique):
    svc = kafka_target(api)
    acl = Acl("TOPIC", f"acl-{unique}", "LITERAL", f"User:app-{unique}", "*", "READ", "ALLOW")
    group = Acl("GROUP", f"g-{unique}", "PREFIXED", f"User:app-{unique}", "*", "READ", "ALLOW")
    plan = AclPlan([acl, group], {acl: acl, group: group})
    target = Cluster("target", sandbox.target.client_config(), aiven=svc)
    assert set(aiven_acls.acl_applier(target)(target, plan)) == {acl, group}
    assert aiven_acls.apply(svc, plan) == []  # present: nothing added twice
    adds = [r for r in standin.requests if r.method == "POST" and r.path.endswith("/kafka/acl")]
    assert len([r for r in adds if unique in r.body["resource_name"]]) == 2
    on_target = set(describe_all(target))
    assert {acl, group} <= on_target
    assert aiven_acls.delete(svc, [acl, group]) == 2
    wait_for(lambda: not ({acl, group} & set(describe_all(target))), 30, "ACLs deleted")


def test_the_acl_step_and_its_undo_use_aivens_api_on_an_aiven_target(standin, sandbox, api, unique):
    """actions.migrate_acls / drop_acls as the engine runs them, the target an Aiven service."""
    from bot.migration import actions
    from bot.migration.context import Context
    from bot.models import Migration

    source = Cluster("source", sandbox.source.client_config())
    target = Cluster("target", sandbox.target.client_config(), aiven=kafka_target(api))
    topic, app = f"acl-step-{unique}", f"User:app-{unique}"
    create_topic(sandbox.source.client_config(), topic, 1)
    read = Acl("TOPIC", topic, "LITERAL", app, "*", "READ", "ALLOW")
    gather(source.admin.create_acls([read.binding()]), "grant on the source")
    wait_for(lambda: read in set(describe_all(source)), 30, "the binding described")
    migration = Migration(
        id=f"m-{unique}",
        name="acls",
        source="s",
        target="t",
        replicator="aiven",
        topics=topic,
        step="migrate_acls",
        requested_by="test",
        selected_topics=[topic],
    )
    flow = flow_of(sandbox, api, unique, [topic], "source", "target")
    ctx = Context(migration, source, target, None, flow, None, None, 0.0)
    result = actions.migrate_acls(ctx)
    assert "1 created" in result.message, result.message
    adds = [r for r in standin.requests if r.method == "POST" and r.path.endswith("/kafka/acl")]
    assert [r.body["resource_name"] for r in adds if unique in r.body["resource_name"]] == [topic]
    assert read in set(describe_all(target))
    actions.drop_acls(target, ctx.state.created_acls)
    deletes = [r for r in standin.requests if r.method == "DELETE" and "/kafka/acl/" in r.path]
    assert deletes and read not in set(describe_all(target))
