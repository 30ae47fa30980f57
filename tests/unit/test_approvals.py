"""Who may approve a gate, and when."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from bot import config
from bot.migration.approvals import ApprovalRule, Refused, check
from bot.migration.engine import Engine
from bot.migration.notify import LogNotifier
from bot.migration.state import GateRound
from bot.migration.steps import Status, Step
from bot.models import EventKind
from tests.support import CONFIG, migration

POLICY = ApprovalRule(frozenset({"U0BOB", "S0SRE", "cli:carol"}), two_person_rule=True, required=2)


def decide(**overrides):
    args = dict(
        actor="U0BOB",
        actor_groups=frozenset(),
        requested_by="U0ALICE",
        step="stop_producers",
        current_step="stop_producers",
        waiting_for="",
        version=7,
        current_version=7,
        already=frozenset(),
    )
    args.update(overrides)
    check(POLICY, **args)


def at_gate(store, requested_by: str = "U0ALICE", mid: str = "orders-abc"):
    """A stored migration whose stop_producers gate is open at version 2."""
    m = store.create(
        migration(mid, (f"{mid}-topic",), step=Step.STOP_PRODUCERS, requested_by=requested_by),
        "U0ALICE",
    )
    m.state.gate = GateRound(step=Step.STOP_PRODUCERS, opened_at=0, version=2)
    return store.save(m, 1, actor="bot", kind=EventKind.GATE_OPENED, message="open")


def recorded(store, m) -> list[tuple[str, str]]:
    return [(a.actor, a.decision) for a in store.approvals(m.id, Step.STOP_PRODUCERS, 2)]


@pytest.mark.parametrize(
    ("actor", "groups"),
    [("U0BOB", frozenset()), ("U0DAN", frozenset({"S0SRE"})), ("cli:carol", frozenset())],
    ids=["listed", "through a user group", "on the cli"],
)
def test_an_approver_may_approve_an_open_gate(engine, store, actor, groups):
    m = at_gate(store)
    decision = engine.verbs.decide(
        m.id, actor=actor, version=2, interface="slack", actor_groups=groups
    )
    assert (decision.approved, decision.approvals, decision.step) == (
        True,
        (actor,),
        Step.STOP_PRODUCERS,
    )
    assert recorded(store, m) == [(actor, "approved")]


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"step": "drain"}, "is not an approval step"),
        (
            {"current_step": "catch_up", "waiting_for": "replication lag 1,234 records"},
            "stop_producers is not open for approval: the migration is at catch_up (replication "
            "lag 1,234 records)",
        ),
        ({"version": 6}, "stale approval: you saw version 6"),
        ({"actor": "U0EVE"}, "U0EVE is not an approver"),
        ({"actor": "U0EVE", "actor_groups": frozenset({"S0OTHER"})}, "is not an approver"),
        ({"requested_by": "U0BOB"}, "cannot approve it (two-person rule)"),
        ({"already": frozenset({"U0BOB"})}, "already approved"),
    ],
)
def test_refusals_say_why(overrides, reason):
    with pytest.raises(Refused) as caught:
        decide(**overrides)
    assert reason in str(caught.value)


def test_two_person_rule_off_lets_the_requester_approve(tmp_path, store):
    path = tmp_path / "two-person-off.toml"
    path.write_text(CONFIG.replace("[cli]", "two_person_rule = false\n[cli]"))
    engine = Engine(config.load(path), store, LogNotifier())
    m = at_gate(store, requested_by="U0BOB")
    decision = engine.verbs.decide(m.id, actor="U0BOB", version=2, interface="slack")
    assert decision.approved and decision.passed  # one approval is required, the requester's
    assert recorded(store, m) == [("U0BOB", "approved")]


def test_n_approvals():
    gate = GateRound(step="stop_producers", opened_at=0, version=7)

    def approved(*actors, version=7):
        return [
            SimpleNamespace(step="stop_producers", version=version, actor=a, decision="approved")
            for a in actors
        ]

    assert not gate.passed(approved("U0BOB"), POLICY.required)
    assert gate.passed(approved("U0BOB", "cli:carol"), POLICY.required)
    assert not gate.passed(approved("U0BOB") + approved("cli:carol", version=6), POLICY.required)
    assert gate.whose(approved("cli:carol", "U0BOB")) == ("cli:carol", "U0BOB")


def test_the_requester_may_reject_their_own_request_but_not_approve_it(engine, store):
    m = at_gate(store)
    decision = engine.verbs.decide(
        m.id, actor="U0ALICE", version=2, interface="slack", approve=False
    )
    assert not decision.approved and recorded(store, m) == [("U0ALICE", "rejected")]
    assert store.get(m.id).status == Status.PAUSED  # a rejection pauses the migration
    with pytest.raises(Refused, match="cannot approve it"):
        decide(actor="U0ALICE", approve=True)
    with pytest.raises(Refused, match="U0EVE is not an approver for this migration: cannot reject"):
        decide(actor="U0EVE", approve=False)


def test_a_double_click_records_once_and_the_second_is_told_already_approved(engine, store):
    """Two clicks of one approver racing (bolt runs each in its own thread): one decision is
    recorded, the other refused with the same words whichever check catches it."""
    import threading

    for round_ in range(10):
        m = at_gate(store, mid=f"race-{round_}")
        results: list[object] = []
        start = threading.Barrier(2)

        def click(m=m, results=results, start=start):
            start.wait()
            try:
                results.append(
                    engine.verbs.decide(m.id, actor="U0BOB", version=2, interface="slack")
                )
            except Refused as exc:
                results.append(exc)

        threads = [threading.Thread(target=click) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        refused = [r for r in results if isinstance(r, Refused)]
        assert len(results) == 2 and len(refused) == 1, results
        assert str(refused[0]) == "U0BOB already approved stop_producers at this version"
        assert recorded(store, m) == [("U0BOB", "approved")]
