"""A cutover taken back, driven only through signed Slack requests on the sandbox: the reverse
flow (a MirrorSourceConnector on the worker attached to the source) starts at the target's end
offsets of the handover, copies what is written on the target during the soak back to the
source exactly once, and a gated rollback runs the cutover backwards: a caught-up group and a
part-way group resume on the source with nothing lost and nothing read twice (by content, a
transactional topic included). Meanwhile a watcher polls both Connect workers: forward and
reverse connectors never exist together."""

from __future__ import annotations

import json
import time
from collections import Counter

import pytest

from bot.kafka.cluster import Cluster
from bot.kafka.groups import end_offsets
from tests.connect_helpers import client, worker
from tests.kafka_helpers import commit, create_topic, produce, read_from
from tests.rollback_helpers import Member, Watcher, committed_records, transactions
from tests.slack.support import CHANNEL, live_config, running_bot
from tests.waits import wait_for

pytestmark = [pytest.mark.sandbox, pytest.mark.usefixtures("heartbeats_removed")]


@pytest.fixture
def signed_bot(sandbox, standin, tmp_path):
    path = live_config(sandbox, tmp_path)
    with running_bot(path, standin, tmp_path, paused=False, card_interval=0.5, mode="http") as d:
        yield d


def answer(driver, words: str, timeout: float = 60) -> str:
    return wait_for(
        lambda: next((r["text"] for r in driver.standin.responses if words in r["text"]), None),
        timeout,
        repr(words),
    )


def gate(driver, mid: str, step: str, timeout: float = 300):
    def find():
        for msg in reversed(driver.standin.channel_messages(CHANNEL)):
            blocks = msg.blocks or []
            ours = f"({mid})" in msg.text
            if ours and any(b.get("block_id") == f"gate_{step}" for b in blocks):  # noqa: SIM102
                if any(b["type"] == "actions" for b in blocks):  # still open
                    return msg
        return None

    return wait_for(find, timeout, f"{step} request")


def press(driver, store, mid: str, action: str, user: str, words: str, timeout: float = 90):
    """Click a button of the card once the card shows the migration's current version; the
    soak's first look moves the version on, so a stale answer means: look again, click again."""
    deadline = time.monotonic() + timeout
    while True:

        def current():
            m = store.get(mid)
            msg = driver.standin.messages.get(m.card_ts)
            values = [
                json.loads(e["value"])
                for b in (msg.blocks or [] if msg else [])
                if b["type"] == "actions"
                for e in b["elements"]
                if e["action_id"] == action
            ]
            return msg if values and values[0]["v"] == m.version else None

        msg = wait_for(current, max(1, deadline - time.monotonic()), f"the card's {action}")
        before = len(driver.standin.responses)
        driver.click(msg, action, user)
        said = wait_for(
            lambda seen=before: next(
                (
                    r["text"]
                    for r in driver.standin.responses[seen:]
                    if words in r["text"] or "this card showed version" in r["text"]
                ),
                None,
            ),
            max(1, deadline - time.monotonic()),
            repr(words),
        )
        if words in said:
            return said
        assert time.monotonic() < deadline, said


def at_step(store, mid: str, step: str, timeout: float = 180) -> None:
    wait_for(lambda: store.get(mid).step == step, timeout, f"{mid} at {step}")


def test_rollback_after_the_cutover_hands_both_groups_back_exactly(sandbox, signed_bot, unique):
    driver, store = signed_bot, signed_bot.bot.store
    src, tgt = sandbox.source.client_config(), sandbox.target.client_config()
    plain, tx = f"rb-{unique}", f"rbtx-{unique}"
    create_topic(src, plain, 2)
    create_topic(src, tx, 1)
    produce(src, plain, [(None, f"s{i}".encode(), [], i % 2) for i in range(40)])
    transactions(src, tx, [[f"st{b}-{i}".encode() for i in range(5)] for b in range(3)], True)
    tps = [(plain, 0), (plain, 1), (tx, 0)]
    caught, partway = f"caught-{unique}", f"partway-{unique}"
    source_cluster = Cluster("source", src)
    src_ends = end_offsets(source_cluster, tps)
    commit(source_cluster, caught, src_ends)  # read everything
    commit(source_cluster, partway, {(plain, 0): 5, (plain, 1): 8, (tx, 0): 3})

    args = (
        f"rb source=sandbox-source target=sandbox-target topics={plain},{tx} via=sandbox-mm2 "
        "reverse_via=sandbox-mm2-back soak=1h"
    )
    driver.command(f"plan {args}", user="U0BOB")
    plan = answer(driver, "*Plan*")
    assert "*Way back* (reverse_via)" in plan, plan
    assert "has MirrorSourceConnector" in plan and "no ACL lets User:admin write" in plan, plan
    driver.command(f"start {args}", user="U0BOB")
    mid = answer(driver, "Started `").split("`")[1]
    watcher = Watcher(sandbox, mid)
    watcher.start()
    members: list[Member] = []
    try:
        driver.click(gate(driver, mid, "stop_producers"), "gate_approve", "U0DAN")
        driver.click(gate(driver, mid, "repoint_clients"), "gate_approve", "U0DAN")
        at_step(store, mid, "consumers_on_target")
        m = store.get(mid)
        cut_source = {(t, int(p)): o for t, p, o in m.state.quiet_offsets}
        cut_target = {(t, int(p)): o for t, p, o in m.state.handover_ends}
        # consumers on the target: the caught-up group reads on; the part-way one reads 7
        # records of what it had left, then stops (part-way on the target)
        on_target = [Member(tgt, caught, [plain, tx]), Member(tgt, partway, [plain, tx], limit=7)]
        members += on_target
        for member in on_target:
            member.start()
        at_step(store, mid, "producers_on_target")
        produce(tgt, plain, [(None, f"t{i}".encode(), [], i % 2) for i in range(10)])
        at_step(store, mid, "soak", 120)
        # during the soak: records written on the target, a transaction aborted among them
        produce(tgt, plain, [(None, f"t{i}".encode(), [], i % 2) for i in range(10, 30)])
        transactions(tgt, tx, [[f"tt{b}-{i}".encode() for i in range(4)] for b in range(3)], True)
        written = {(plain, 0): 15, (plain, 1): 15}
        wait_for(
            lambda: all(
                end_offsets(source_cluster, [tp])[tp] == cut_source[tp] + n
                for tp, n in written.items()
            ),
            90,
            "the target's records copied back",
        )
        wait_for(lambda: len(committed_records(src, [(tx, 0)])) == 10 + 8, 90, "tx copied back")
        # exactly once, in order per partition, nothing older copied back
        for p in (0, 1):
            back = read_from(src, {(plain, p): cut_source[(plain, p)]})
            assert back == [f"t{i}".encode() for i in range(p, 30, 2)], back
        assert end_offsets(source_cluster, [(plain, 0)])[(plain, 0)] == cut_source[(plain, 0)] + 15
        time.sleep(2)  # nothing more arrives (no cycle: forward is gone)
        assert end_offsets(source_cluster, [(plain, 1)])[(plain, 1)] == cut_source[(plain, 1)] + 15
        assert (
            end_offsets(Cluster("t", tgt), [(plain, 0)])[(plain, 0)] == cut_target[(plain, 0)] + 15
        )

        partway_on_target = on_target[1].stop()  # it stopped part-way: no member left
        assert len(partway_on_target) == 7
        card = driver.standin.messages[store.get(mid).card_ts]
        assert "of the soak left" in str(card.blocks)
        driver.command(f"rollback {mid}", user="U0BOB")
        answer(driver, "at `rollback`")
        request = gate(driver, mid, "rollback")
        driver.click(request, "gate_approve", "U0BOB")  # asked for it, requested the migration
        answer(driver, "two-person rule")
        driver.click(request, "gate_approve", "U0DAN")
        at_step(store, mid, "target_consumers_stopped", 120)
        caught_on_target = on_target[0].stop()
        back_gate = gate(driver, mid, "repoint_to_source")
        assert "Offsets handed back" in str(back_gate.blocks)
        driver.click(back_gate, "gate_approve", "U0DAN")
        at_step(store, mid, "consumers_on_source", 120)
        on_source = [Member(src, caught, [plain, tx]), Member(src, partway, [plain, tx])]
        members += on_source
        for member in on_source:
            member.start()
        at_step(store, mid, "producers_on_source", 120)
        produce(src, plain, [(None, b"again", [], 0)])  # producers write to the source again
        wait_for(lambda: store.get(mid).status == "rolled_back", 120, "rolled back")

        # every record once, per group, over its whole life: on the source before, on the
        # target during the soak, on the source after the rollback
        everything = committed_records(src, tps)
        assert len(everything) == len(set(everything))
        wait_for(lambda: len(on_source[0].values) >= 1, 60, "caught-up group read on")
        wait_for(
            lambda: (
                len(partway_on_target) + len(on_source[1].values) + 5 + 8 + 3 >= len(everything)
            ),
            60,
            "part-way group read on",
        )
        time.sleep(1)
        read_before_partway = (
            read_from(src, {(plain, 0): 0}, {(plain, 0): 5})
            + read_from(src, {(plain, 1): 0}, {(plain, 1): 8})
            + committed_records(src, [(tx, 0)])[:3]
        )
        for read in (
            read_before_partway + partway_on_target + on_source[1].stop(),
            committed_records(src, tps)[:0]
            + [v for v in everything if v.startswith(b"s")]
            + caught_on_target
            + on_source[0].stop(),
        ):
            counts = Counter(read)
            assert [v for v, n in counts.items() if n > 1] == []  # nothing twice
            assert set(everything) - set(read) == set()  # nothing lost
    finally:
        for member in members:
            member.done.set()
        watcher.stop()
    assert watcher.looks > 20 and watcher.seen_back
    assert watcher.both == []  # never together
    with (
        client(worker(sandbox, "connect")) as fwd,
        client(worker(sandbox, "connect_source")) as back,
    ):
        left = fwd.get("/connectors").json() + back.get("/connectors").json()
    assert [n for n in left if n.startswith(f"km-{mid}-")] == []
    m = store.get(mid)
    assert m.status == "rolled_back"
    decisions = [(a.step, a.actor) for a in store.all_approvals(mid) if a.decision == "approved"]
    assert decisions == [
        ("stop_producers", "U0DAN"),
        ("repoint_clients", "U0DAN"),
        ("rollback", "U0DAN"),
        ("repoint_to_source", "U0DAN"),
    ]
    assert m.state.handback == {caught: {"exact": 3}, partway: {"exact": 3}}
    assert driver.bot.notifier.wait_idle(20)
    thread = driver.standin.channel_messages(CHANNEL, thread_ts=m.card_ts)
    said = next(t.text for t in thread if "Report for" in t.text)
    for step in ("stop_producers", "repoint_clients", "rollback", "repoint_to_source"):
        assert f"{step} approved by <@U0DAN>" in said, said
    assert f"*Handback*: {caught}: 3 exact; {partway}: 3 exact" in said, said
    report = driver.bot.engine.report(mid)
    assert {"handover_offsets", "handback_offsets"} <= {
        s.step for s in report.migration.steps if s.state == "done"
    }


def test_finalize_needs_another_approver_and_closes_the_way_back(sandbox, signed_bot, unique):
    driver, store = signed_bot, signed_bot.bot.store
    src, tgt = sandbox.source.client_config(), sandbox.target.client_config()
    topic = f"fin-{unique}"
    create_topic(src, topic, 1)
    produce(src, topic, [(None, f"s{i}".encode(), []) for i in range(10)])
    driver.command(
        f"start fin source=sandbox-source target=sandbox-target topics={topic} "
        "via=sandbox-mm2 reverse_via=sandbox-mm2-back soak=1h",
        user="U0BOB",
    )
    mid = answer(driver, "Started `").split("`")[1]
    driver.click(gate(driver, mid, "stop_producers"), "gate_approve", "U0DAN")
    driver.click(gate(driver, mid, "repoint_clients"), "gate_approve", "U0DAN")
    at_step(store, mid, "producers_on_target")
    produce(tgt, topic, [(None, b"t0", [])])
    at_step(store, mid, "soak", 120)
    back = worker(sandbox, "connect_source")
    with client(back) as connect:
        assert f"km-{mid}-back-source" in connect.get("/connectors").json()

    press(driver, store, mid, "migration_finalize", "U0EVE", "may not operate")  # an outsider
    assert store.get(mid).step == "soak"
    press(driver, store, mid, "migration_finalize", "U0BOB", "at `finalize`")
    request = gate(driver, mid, "finalize")
    driver.click(request, "gate_approve", "U0BOB")
    answer(driver, "cannot approve it (two-person rule)")
    driver.click(request, "gate_approve", "U0EVE")
    answer(driver, "is not an approver for this migration")
    assert store.get(mid).step == "finalize"
    driver.click(request, "gate_approve", "U0DAN")
    wait_for(lambda: store.get(mid).status == "complete", 120, "complete")
    with client(back) as connect:
        assert [n for n in connect.get("/connectors").json() if n.startswith(f"km-{mid}-")] == []
    driver.command(f"rollback {mid}", user="U0BOB")
    said = answer(driver, "there is no way back")
    assert f"{mid} is complete: it was finalized" in said, said
    refused = [
        e for e in store.events(mid) if e.kind == "refused" and e.data.get("verb") == "rollback"
    ]
    assert refused and refused[-1].actor == "U0BOB"
    approvals = [(a.step, a.actor) for a in store.all_approvals(mid) if a.decision == "approved"]
    assert approvals[-1] == ("finalize", "U0DAN")
