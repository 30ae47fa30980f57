"""The rollback path on Aiven: a reverse flow (the migration's target -> its source) started at
the target's end offsets of the cutover, through aiven-client against the Aiven API stand-in on
the real sandbox. The stand-in's MM2 starts a flow from the positions in
`mm2-offsets.<source alias>.internal` on the flow's target, read as Kafka Connect reads them
(exact key bytes), and runs a flow into the sandbox's source on the source's Connect worker.

One MM2 service holds both flows, keyed by the two alias pairs (source->target, target->source),
as Aiven allows one flow per pair."""

from __future__ import annotations

import re

import pytest

from bot.aiven.api import AivenApi
from bot.aiven.service import AivenService
from bot.kafka.cluster import Cluster
from bot.kafka.groups import end_offsets
from bot.kafka.records import scan_topic
from bot.replicators.aiven import AivenReplicator
from bot.replicators.base import FlowSpec, ReplicatorError
from bot.replicators.offsets import offset_key
from bot.sandbox.render import worker_topics
from tests.aiven_fixtures import (
    PROJECT,
    SOURCE,
    TARGET,
    TOKEN,
    aiven_fixture,  # noqa: F401 - the `aiven` fixture
)
from tests.connect_helpers import names, worker
from tests.kafka_helpers import create_topic, java_partition, produce, read_from
from tests.waits import wait_for

OLD, EARLY, NEW, MORE = 30, 4, 20, 6  # records before the cutover; after it, before the flow
# starts; once it runs; after a second start_from
PARTITIONS = 2

pytestmark = pytest.mark.usefixtures("heartbeats_removed")


def flows(sandbox, api, unique: str) -> tuple[FlowSpec, FlowSpec]:
    """The migration's flow (of a topic of its own, empty: it only holds the alias pair) and
    the reverse flow of the migrated topic, as the rollback path builds it."""
    source_svc, target_svc = AivenService(api, PROJECT, SOURCE), AivenService(api, PROJECT, TARGET)
    src, tgt = sandbox.source.client_config(), sandbox.target.client_config()
    forward = FlowSpec(
        name=f"km-{unique}",
        source=src,
        target=tgt,
        topics=[re.escape(f"fwd-{unique}")],
        groups=[],
        replication_factor=1,
        source_aiven=source_svc,
        target_aiven=target_svc,
    )
    back = FlowSpec(
        name=f"km-{unique}-back",
        source=tgt,
        target=src,
        topics=[re.escape(f"back-{unique}")],
        groups=[],
        source_alias="target",
        target_alias="source",
        replication_policy="identity",
        replication_factor=1,
        checkpoints=False,
        emit_heartbeats=False,
        source_aiven=target_svc,
        target_aiven=source_svc,
    )
    return forward, back


def records(prefix: str, count: int) -> list[tuple]:
    return [(None, f"{prefix}-{i}".encode(), [], i % PARTITIONS) for i in range(count)]


def expected(prefix: str, count: int, partition: int) -> list[bytes]:
    return [f"{prefix}-{i}".encode() for i in range(count) if i % PARTITIONS == partition]


def only(positions: dict, tps: list) -> dict:
    """The positions of these partitions (MM2's offsets topic holds every topic of the alias,
    `heartbeats` included: MM2 always copies it)."""
    return {tp: n for tp, n in positions.items() if tp in tps}


def committed(rep: AivenReplicator, flow: FlowSpec, tps: list) -> dict:
    """MM2's committed positions of these partitions."""
    return only(rep.replicated_offsets(flow), tps)


def offsets_records(cluster: Cluster, topic: str, of_topic: str) -> list[tuple[int, bytes, bytes]]:
    """(partition, key, value) of the records in an offsets topic about `of_topic`."""
    found: list[tuple[int, bytes, bytes]] = []

    def keep(msg) -> None:
        if f'"topic":"{of_topic}"'.encode() in (msg.key() or b""):
            found.append((msg.partition(), msg.key(), msg.value()))

    scan_topic(cluster, topic, keep)
    return found


def flow_writes(standin, since: int, source: str, target: str) -> list[tuple[str, int, dict]]:
    """(method, status, body) of each write to that flow, its create included."""
    path = re.compile(rf"/mirrormaker/replication-flows(/{source}/{target})?$")
    return [
        (r.method, r.status, r.body or {})
        for r in standin.requests[since:]
        if r.method in ("POST", "PUT")
        and path.search(r.path)
        and (r.method == "PUT" or (r.body or {}).get("source_cluster") == source)
    ]


@pytest.fixture
def api(aiven):
    client = AivenApi(aiven.url, "AIVEN_SANDBOX_TOKEN", lambda: TOKEN)
    client.sleep = lambda _s: None  # retries without waiting
    return client


def test_the_reverse_flow_copies_exactly_what_clients_write_on_the_target_after_the_cutover(
    aiven, sandbox, api, unique
):
    topic = f"back-{unique}"
    src, tgt = sandbox.source.client_config(), sandbox.target.client_config()
    for conf in (src, tgt):  # the same history on both sides, as after a migration
        create_topic(conf, topic, PARTITIONS)
        produce(conf, topic, records("old", OLD))
    create_topic(src, f"fwd-{unique}", 1)
    create_topic(tgt, f"fwd-{unique}", 1)
    tps = [(topic, p) for p in range(PARTITIONS)]
    source_cluster, target_cluster = Cluster("source", src), Cluster("target", tgt)
    rep = AivenReplicator(api, PROJECT, f"mm2-{unique}", create_service=True, plan="startup-4")
    rep.sleep = lambda _s: None
    forward, back = flows(sandbox, api, unique)
    prefix = aiven.connector_prefix(rep.service, "target", "source")
    old_worker, new_worker = worker(sandbox, "connect_source"), worker(sandbox, "connect")
    try:
        rep.ensure(forward)  # the migration's flow, source->target, on the same MM2 service
        rep.pause(forward)  # stopped at the cutover (with both running, `heartbeats` would loop)
        starts = end_offsets(target_cluster, tps)  # the cutover: the target's end offsets
        source_ends = end_offsets(source_cluster, tps)
        assert starts == source_ends == {tp: OLD // PARTITIONS for tp in tps}
        produce(tgt, topic, records("early", EARLY))  # clients on the target already
        mark = len(aiven.requests)

        # the bot stops between writing the start positions and enabling the flow
        aiven.fail("PUT", r"/replication-flows/target/source$", 503, times=4)
        with pytest.raises(ReplicatorError, match="503") as stopped:
            rep.start_from(back, starts)
        assert stopped.value.retriable
        assert [
            (m, s, b.get("enabled")) for m, s, b in flow_writes(aiven, mark, "target", "source")
        ] == [
            ("POST", 200, False),
            *[("PUT", 503, True)] * 4,
        ]
        assert rep.read_flow(back)["enabled"] is False
        assert not [n for n in names(old_worker) if n.startswith(prefix)]  # nothing runs
        wanted = {tp: start - 1 for tp, start in starts.items()}
        assert only(rep.start_store(back).read(), tps) == wanted  # read back before it runs
        assert only(aiven.offsets.stored(back), tps) == wanted  # as the stand-in's MM2 reads them
        store = "mm2-offsets.target.internal"
        meta = source_cluster.admin.list_topics(store, timeout=30).topics[store]
        written = offsets_records(source_cluster, store, topic)
        assert sorted((k, v) for _p, k, v in written) == sorted(
            (offset_key("MirrorSourceConnector", "target", tp), f'{{"offset":{n}}}'.encode())
            for tp, n in wanted.items()
        )
        assert all(p == java_partition(k, len(meta.partitions)) for p, k, _v in written)

        # run again: the positions written again (the same), the flow enabled
        again = len(aiven.requests)
        parts = rep.start_from(back, starts)
        assert parts == ["integration target", "integration source", "flow target->source"]
        assert [
            (m, s, b.get("enabled")) for m, s, b in flow_writes(aiven, again, "target", "source")
        ] == [("PUT", 200, True)]
        wait_for(lambda: rep.status(back).running, 60, "the reverse flow running")
        connectors = [n for n in names(old_worker) if n.startswith(prefix)]
        assert f"{prefix}-source" in connectors  # on the worker that writes into the source
        assert not [n for n in names(new_worker) if n.startswith(prefix)]

        produce(tgt, topic, records("new", NEW))  # clients write on the target after the cutover
        ends = end_offsets(target_cluster, tps)
        wait_for(
            lambda: committed(rep, back, tps) == {tp: end - 1 for tp, end in ends.items()},
            90,
            "MM2 committed every new record",
        )
        copied = (EARLY + NEW) // PARTITIONS
        assert end_offsets(source_cluster, tps) == {tp: source_ends[tp] + copied for tp in tps}
        for p in range(PARTITIONS):
            tp = (topic, p)
            got = read_from(src, {tp: source_ends[tp]})
            assert got == expected("early", EARLY, p) + expected("new", NEW, p)

        # Connect's own key bytes and partitions, as its worker wrote them for this connector
        own = offsets_records(source_cluster, worker_topics("connect_source")[1], topic)
        assert own, "the worker committed the reverse connector's offsets"
        for partition, key, _value in own:
            assert partition == java_partition(key, 5)  # the worker's offsets topic: 5
            mine = key.replace(f'["{prefix}-source",'.encode(), b'["MirrorSourceConnector",')
            assert mine in {k for _p, k, _v in written}

        # a second call after the flow ran: left as it is, nothing copied twice
        later = len(aiven.requests)
        assert rep.start_from(back, starts) == parts
        assert flow_writes(aiven, later, "target", "source") == []
        produce(tgt, topic, records("more", MORE))
        ends = end_offsets(target_cluster, tps)
        wait_for(
            lambda: committed(rep, back, tps) == {tp: end - 1 for tp, end in ends.items()},
            90,
            "MM2 committed the records written after the second call",
        )
        total = (EARLY + NEW + MORE) // PARTITIONS
        assert end_offsets(source_cluster, tps) == {tp: source_ends[tp] + total for tp in tps}
        for p in range(PARTITIONS):
            tp = (topic, p)
            got = read_from(src, {tp: source_ends[tp]})
            assert got == [
                *expected("early", EARLY, p),
                *expected("new", NEW, p),
                *expected("more", MORE, p),
            ]
        # every key stored for the topic is one Connect matches
        assert [k for k in aiven.offsets.ignored if topic.encode() in k] == []
        assert rep.read_flow(forward)["enabled"] is False  # the other pair's flow untouched
    finally:
        rep.delete(back)
        rep.delete(forward)
    wait_for(lambda: not [n for n in names(old_worker) if n.startswith(prefix)], 30, "removed")


def test_a_disabled_flow_that_copied_past_its_starts_is_refused_and_left_alone(
    aiven, sandbox, api, unique
):
    """Paused after it ran (or stale positions): moving it back would copy records twice."""
    topic = f"back-{unique}"
    src, tgt = sandbox.source.client_config(), sandbox.target.client_config()
    for conf in (src, tgt):
        create_topic(conf, topic, PARTITIONS)
        produce(conf, topic, records("old", OLD))
    tps = [(topic, p) for p in range(PARTITIONS)]
    target_cluster = Cluster("target", tgt)
    rep = AivenReplicator(api, PROJECT, f"mm2-{unique}", create_service=True, plan="startup-4")
    rep.sleep = lambda _s: None
    _forward, back = flows(sandbox, api, unique)
    try:
        starts = end_offsets(target_cluster, tps)
        rep.start_from(back, starts)
        produce(tgt, topic, records("new", NEW))
        ends = end_offsets(target_cluster, tps)
        wait_for(
            lambda: committed(rep, back, tps) == {tp: end - 1 for tp, end in ends.items()},
            90,
            "the reverse flow copied the new records",
        )
        rep.pause(back)  # its last positions committed as its tasks stop
        stored = only(rep.start_store(back).read(), tps)
        assert stored == {tp: end - 1 for tp, end in ends.items()}
        mark = len(aiven.requests)
        with pytest.raises(ReplicatorError, match="holds positions past the start") as refused:
            rep.start_from(back, starts)
        assert not refused.value.retriable
        assert flow_writes(aiven, mark, "target", "source") == []
        assert rep.read_flow(back)["enabled"] is False
        assert only(rep.start_store(back).read(), tps) == stored  # nothing moved back
    finally:
        rep.delete(back)
