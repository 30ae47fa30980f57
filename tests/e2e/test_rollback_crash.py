"""The way back driven through the CLI and a real `serve` process, as people do.

SIGKILL `serve` while the rollback's reverse drain waits for a group that is behind on the
target: after the restart the rollback goes on to `rolled_back`, nothing created twice (the
forward and the reverse connectors never listed together, the reverse connector created once and
never moved back: the source holds exactly what the target got since the cutover), both groups
handed back with nothing lost and nothing read twice.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime

import pytest

from bot.kafka.cluster import Cluster
from bot.kafka.groups import end_offsets
from tests.e2e.harness import Workspace
from tests.kafka_helpers import commit, create_topic, produce, read_from
from tests.rollback_helpers import (
    BACK,
    Member,
    Watcher,
    approve,
    committed_records,
    ours,
    transactions,
)
from tests.waits import wait_for

pytestmark = [pytest.mark.sandbox, pytest.mark.usefixtures("heartbeats_removed")]


def when(text: str) -> datetime:
    at = datetime.fromisoformat(text)
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def rollback_timings(report: dict, released: datetime) -> None:
    """Print (for the record, not asserted) how long the way from the rollback's approval to the
    repoint_to_source gate took, step by step, from the audit trail's timestamps."""
    approved = next(
        when(a["at"])
        for a in report["approvals"]
        if a["step"] == "rollback" and a["decision"] == "approved"
    )
    opened = next(
        when(e["at"])
        for e in report["timeline"]
        if e["kind"] == "gate_opened" and "repoint_to_source" in e["message"]
    )
    print(
        f"\nrollback approved -> repoint_to_source open: {(opened - approved).total_seconds():.1f}s"
    )
    last = approved
    for e in report["timeline"]:
        if e["kind"] in ("step_done", "reverify") and approved <= when(e["at"]) <= opened:
            print(f"  +{(when(e['at']) - last).total_seconds():5.1f}s {e['kind']} {e['step']}")
            last = when(e["at"])
    print(f"  +{(opened - last).total_seconds():5.1f}s gate_opened repoint_to_source")
    print(f"  hold released -> gate open: {(opened - released).total_seconds():.1f}s")


def test_killed_during_the_rollbacks_drain(sandbox, tmp_path, unique):
    src, tgt = sandbox.source.client_config(), sandbox.target.client_config()
    plain, tx = f"rbk-{unique}", f"rbktx-{unique}"
    create_topic(src, plain, 2)
    create_topic(src, tx, 1)
    produce(src, plain, [(None, f"s{i}".encode(), [], i % 2) for i in range(40)])
    transactions(src, tx, [[f"st{b}-{i}".encode() for i in range(5)] for b in range(3)], True)
    tps = [(plain, 0), (plain, 1), (tx, 0)]
    caught, partway = f"caught-{unique}", f"partway-{unique}"
    source, target = Cluster("source", src), Cluster("target", tgt)
    commit(source, caught, end_offsets(source, tps))  # read everything
    commit(source, partway, {(plain, 0): 5, (plain, 1): 8, (tx, 0): 3})
    ws = Workspace(sandbox, tmp_path, quiet=3, drain=2)
    ws.serve()
    try:
        members: list[Member] = []
        watcher = None
        try:
            mid = ws.start(
                f"rbk source=sandbox-source target=sandbox-target topics={plain},{tx} "
                f"via=sandbox-mm2 {BACK}"
            )
            watcher = Watcher(sandbox, mid)
            watcher.start()
            approve(ws, mid, "stop_producers")
            approve(ws, mid, "repoint_clients")
            ws.wait_step(mid, "consumers_on_target")
            state = ws._store.get(mid).state
            cut_source = {(t, int(p)): o for t, p, o in state.quiet_offsets}
            cut_target = {(t, int(p)): o for t, p, o in state.handover_ends}
            # on the target: the caught-up group reads on; the part-way one reads 7 records of
            # what it had left, then stops (part-way on the target)
            held = Member(tgt, caught, [plain, tx])
            on_target = [held, Member(tgt, partway, [plain, tx], limit=7)]
            members += on_target
            for member in on_target:
                member.start()
            ws.wait_step(mid, "producers_on_target")
            produce(tgt, plain, [(None, f"t{i}".encode(), [], i % 2) for i in range(10)])
            ws.wait_step(mid, "soak", 120)
            wait_for(lambda: len(held.values) == 10, 60, "the caught-up group read the first 10")
            # from here the caught-up group's member reads nothing, still a member: behind on the
            # target, it holds the rollback's drain
            held.hold.set()
            wait_for(held.holding.is_set, 30, "the caught-up member paused")
            produce(tgt, plain, [(None, f"t{i}".encode(), [], i % 2) for i in range(10, 30)])
            transactions(
                tgt, tx, [[f"tt{b}-{i}".encode() for i in range(4)] for b in range(3)], True
            )
            written = {(plain, 0): 15, (plain, 1): 15}
            wait_for(
                lambda: all(
                    end_offsets(source, [tp])[tp] == cut_source[tp] + n for tp, n in written.items()
                ),
                90,
                "the target's records copied back",
            )
            wait_for(lambda: len(committed_records(src, [(tx, 0)])) == 10 + 8, 90, "tx copied back")
            partway_on_target = on_target[1].stop()  # it stopped part-way: no member left
            assert len(partway_on_target) == 7

            ws.ok("rollback", mid)  # alice, who requested the migration, asks for it
            gate = ws.wait_gate(mid, "rollback")
            refused = ws.cli("approve", mid, "--version", str(gate["version"]))
            assert refused.returncode != 0 and "two-person rule" in refused.stderr, refused.stderr
            ws.ok("approve", mid, "--version", str(gate["version"]), user="bob")
            drain = ws.wait(
                mid,
                lambda s: s["step"] == "reverse_drain" and caught in (s["waiting_for"] or ""),
                120,
                "the reverse drain held by the caught-up group",
            )
            assert "consumer lag on the target" in drain["waiting_for"], drain["waiting_for"]
            ws.kill_serve()
            assert ours(sandbox, mid) == [f"km-{mid}-back-source"]

            ws.serve()
            wait_for(
                lambda: any(e.kind == "reverify" for e in ws._store.events(mid)),
                90,
                "the restarted serve at the migration",
            )
            assert ws.peek(mid)["step"] == "reverse_drain"
            released = datetime.now(UTC)
            held.hold.clear()  # the caught-up group reads on: the drain ends
            ws.wait_step(mid, "target_consumers_stopped", 120)
            caught_on_target = held.stop()
            back_gate = ws.wait_gate(mid, "repoint_to_source", 120)
            # the reverse flow was not moved back by the restart: the source grew by exactly what
            # the target got since the cutover, nothing copied twice
            target_now, source_now = end_offsets(target, tps), end_offsets(source, tps)
            for tp, n in written.items():
                assert (
                    source_now[tp]
                    == cut_source[tp] + n
                    == cut_source[tp] + (target_now[tp] - cut_target[tp])
                ), (tp, source_now[tp], cut_source[tp], target_now[tp], cut_target[tp])
            assert len(committed_records(src, [(tx, 0)])) == 10 + 8
            assert back_gate["gate"]["preview"], back_gate["gate"]
            ws.ok("approve", mid, "--version", str(back_gate["version"]), user="bob")
            ws.wait_step(mid, "consumers_on_source", 120)
            on_source = [Member(src, caught, [plain, tx]), Member(src, partway, [plain, tx])]
            members += on_source
            for member in on_source:
                member.start()
            ws.wait_step(mid, "producers_on_source", 120)
            produce(src, plain, [(None, b"again", [], 0)])  # producers write to the source again
            ws.wait(mid, lambda s: s["status"] == "rolled_back", 120, "rolled back")

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
            read_before_partway = (
                read_from(src, {(plain, 0): 0}, {(plain, 0): 5})
                + read_from(src, {(plain, 1): 0}, {(plain, 1): 8})
                + committed_records(src, [(tx, 0)])[:3]
            )
            assert len(caught_on_target) == 10 + 20 + 8
            for read in (
                read_before_partway + partway_on_target + on_source[1].stop(),
                [v for v in everything if v.startswith(b"s")]
                + caught_on_target
                + on_source[0].stop(),
            ):
                counts = Counter(read)
                assert [v for v, n in counts.items() if n > 1] == []  # nothing twice
                assert set(everything) - set(read) == set()  # nothing lost
        finally:
            for member in members:
                member.done.set()
            if watcher is not None:
                watcher.stop()
        assert watcher.looks > 20 and watcher.seen_back
        assert watcher.both == []  # never forward and reverse together
        assert watcher.most_back == 1 and watcher.back_appeared == 1  # one, created once
        assert ours(sandbox, mid) == []
        assert ws._store.get(mid).state.handback == {caught: {"exact": 3}, partway: {"exact": 3}}
        report = json.loads(ws.ok("report", mid, "--json"))
        decided = [
            (a["step"], a["actor"]) for a in report["approvals"] if a["decision"] == "approved"
        ]
        bob = ws.actor("bob")
        assert decided == [
            ("stop_producers", bob),
            ("repoint_clients", bob),
            ("rollback", bob),
            ("repoint_to_source", bob),
        ]
        reverified = [e for e in report["timeline"] if e["kind"] == "reverify"]
        assert [e["step"] for e in reverified] == ["reverse_drain"]
        done = [e["step"] for e in report["timeline"] if e["kind"] == "step_done"]
        assert done.count("reverse_drain") == 1 and done[-1] == "rolled_back"
        rollback_timings(report, released)
    finally:
        ws.stop_serve()
