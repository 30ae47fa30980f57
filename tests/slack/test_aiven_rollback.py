"""The way back on Aiven, driven through signed Slack requests: the forward flow and the reverse
flow are two replication flows of one MM2 service (the Aiven API stand-in's, run as connectors
on the sandbox's workers), the reverse one with its aliases the other way. Aiven's API cannot
say where a flow starts: the bot creates the reverse flow disabled, writes its start positions
into MM2's offsets topic on the source (`mm2-offsets.target.internal`), reads them back, and
enables it. Then a rollback runs to completion with both groups handed back exactly."""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest

from bot.kafka.cluster import Cluster
from bot.kafka.groups import end_offsets
from bot.replicators.offsets import offsets_topic_offsets
from tests.aiven_fixtures import PROJECT, aiven_fixture  # noqa: F401 - the fixture
from tests.connect_helpers import client, worker
from tests.integration.test_aiven_reverse import flow_writes
from tests.kafka_helpers import commit, create_topic, produce, read_from
from tests.rollback_helpers import Member
from tests.slack.support import running_bot
from tests.slack.test_aiven_migration import TOKEN_ENV, aiven_config, mm2  # noqa: F401
from tests.slack.test_rollback import answer, at_step, gate
from tests.waits import wait_for

pytestmark = [pytest.mark.sandbox, pytest.mark.usefixtures("heartbeats_removed")]


@pytest.fixture
def back_config(aiven_config, aiven, mm2):  # noqa: F811 - the fixtures of the forward test
    aiven_config.write_text(
        aiven_config.read_text()
        + f"""
[replicators.aiven-back]
kind = "aiven"
project = "{PROJECT}"
service = "{mm2}"
token_env = "{TOKEN_ENV}"
api_url = "{aiven.url}"
source_alias = "target"
target_alias = "source"
create_service = true
plan = "startup-4"
"""
    )
    return aiven_config


class Flows(threading.Thread):
    """Polls both workers for the two flows' connectors: were they ever listed together?"""

    def __init__(self, sandbox, service: str):
        super().__init__(daemon=True)
        self.workers = (worker(sandbox, "connect"), worker(sandbox, "connect_source"))
        self.forward = f"aiven-{service}-source-target-"
        self.back = f"aiven-{service}-target-source-"
        self.both, self.seen_back, self.looks = 0, False, 0
        self.done = threading.Event()

    def run(self) -> None:
        with client(self.workers[0]) as one, client(self.workers[1]) as other:
            while not self.done.is_set():
                try:
                    names = one.get("/connectors").json() + other.get("/connectors").json()
                except Exception:  # noqa: BLE001 - a worker busy for a moment: look again
                    continue
                self.looks += 1
                forward = any(n.startswith(self.forward) for n in names)
                back = any(n.startswith(self.back) for n in names)
                self.seen_back |= back
                self.both += forward and back
                time.sleep(0.05)


def test_a_rollback_on_aiven(sandbox, aiven, back_config, standin, tmp_path, unique, mm2):  # noqa: F811
    src, tgt = sandbox.source.client_config(), sandbox.target.client_config()
    topic = f"avrb-{unique}"
    create_topic(src, topic, 2)
    produce(src, topic, [(None, f"s{i}".encode(), [], i % 2) for i in range(40)])
    tps = [(topic, 0), (topic, 1)]
    source = Cluster("source", src)
    caught, partway = f"caught-{unique}", f"partway-{unique}"
    commit(source, caught, end_offsets(source, tps))
    commit(source, partway, {(topic, 0): 4, (topic, 1): 6})
    flows = Flows(sandbox, mm2)
    flows.start()
    members: list[Member] = []
    with running_bot(back_config, standin, tmp_path, paused=False, card_interval=0.5) as driver:
        store = driver.bot.store
        try:
            driver.command(
                f"start avrb source=sandbox-source target=aiven-target topics={topic} via=aiven "
                "reverse_via=aiven-back soak=1h",
                user="U0BOB",
            )
            mid = answer(driver, "Started `").split("`")[1]
            driver.click(gate(driver, mid, "stop_producers"), "gate_approve", "U0DAN")
            driver.click(gate(driver, mid, "repoint_clients"), "gate_approve", "U0DAN")
            at_step(store, mid, "consumers_on_target")
            m = store.get(mid)
            cut_source = {(t, int(p)): o for t, p, o in m.state.quiet_offsets}
            cut_target = {(t, int(p)): o for t, p, o in m.state.handover_ends}
            # the start, written where Aiven's MM2 keeps it on the source, and read back
            written = offsets_topic_offsets(
                source,
                "mm2-offsets.target.internal",
                lambda n, p: (
                    n == "MirrorSourceConnector"
                    and p.get("cluster") == "target"
                    and p.get("topic") == topic
                ),
            )
            assert written == {tp: cut_target[tp] - 1 for tp in tps}, written
            # created disabled, enabled once its start was read back: never started elsewhere
            enabled = [b.get("enabled") for _m, _s, b in flow_writes(aiven, 0, "target", "source")]
            assert enabled[0] is False and enabled[-1] is True and None not in enabled[:1]
            on_target = [Member(tgt, caught, [topic]), Member(tgt, partway, [topic], limit=5)]
            members += on_target
            for member in on_target:
                member.start()
            at_step(store, mid, "producers_on_target")
            produce(tgt, topic, [(None, f"t{i}".encode(), [], i % 2) for i in range(4)])
            at_step(store, mid, "soak", 120)
            produce(tgt, topic, [(None, f"t{i}".encode(), [], i % 2) for i in range(4, 20)])
            wait_for(
                lambda: all(end_offsets(source, [tp])[tp] == cut_source[tp] + 10 for tp in tps),
                120,
                "the target's records copied back",
            )
            for p in (0, 1):
                back = read_from(src, {(topic, p): cut_source[(topic, p)]})
                assert back == [f"t{i}".encode() for i in range(p, 20, 2)], back
            partway_on_target = on_target[1].stop()
            driver.command(f"rollback {mid}", user="U0BOB")
            driver.click(gate(driver, mid, "rollback"), "gate_approve", "U0DAN")
            at_step(store, mid, "target_consumers_stopped", 120)
            caught_on_target = on_target[0].stop()
            driver.click(gate(driver, mid, "repoint_to_source"), "gate_approve", "U0DAN")
            at_step(store, mid, "consumers_on_source", 120)
            on_source = [Member(src, caught, [topic]), Member(src, partway, [topic])]
            members += on_source
            for member in on_source:
                member.start()
            at_step(store, mid, "producers_on_source", 120)
            produce(src, topic, [(None, b"again", [], 0)])
            wait_for(lambda: store.get(mid).status == "rolled_back", 120, "rolled back")
            everything = read_from(src, {tp: 0 for tp in tps})
            wait_for(lambda: len(on_source[0].values) >= 1, 60, "caught-up group reads on")
            wait_for(
                lambda: (
                    4 + 6 + len(partway_on_target) + len(on_source[1].values) >= len(everything)
                ),
                60,
                "part-way group reads on",
            )
            before = read_from(src, {(topic, 0): 0}, {(topic, 0): 4}) + read_from(
                src, {(topic, 1): 0}, {(topic, 1): 6}
            )
            for read in (
                before + partway_on_target + on_source[1].stop(),
                [v for v in everything if v.startswith(b"s")]
                + caught_on_target
                + on_source[0].stop(),
            ):
                assert [v for v, n in Counter(read).items() if n > 1] == []
                assert set(everything) - set(read) == set()
        finally:
            for member in members:
                member.done.set()
            flows.done.set()
            flows.join(10)
    assert flows.looks > 20 and flows.seen_back and flows.both == 0
    assert store.get(mid).state.handback == {caught: {"exact": 2}, partway: {"exact": 2}}
