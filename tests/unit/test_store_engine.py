"""Store: conditional updates, topic locks, one decision per actor. Engine: decisions."""

from __future__ import annotations

import pytest

from bot.errors import UserError
from bot.migration.approvals import Refused
from bot.migration.steps import Status, Step
from bot.migration.store import ConcurrentUpdate
from bot.models import Approval, Migration
from tests.support import migration


def test_conditional_update_refuses_a_stale_writer(store):
    m = store.create(migration(), "U0ALICE")
    first, second = store.get(m.id), store.get(m.id)
    first.step = Step.PREPARE_TARGET
    store.save(first, 1, actor="bot", kind="step_done", message="preflight done")
    second.status = Status.PAUSED
    with pytest.raises(ConcurrentUpdate, match="changed meanwhile"):
        store.save(second, 1, actor="U0BOB", kind="paused", message="paused")
    fresh = store.get(m.id)
    assert (fresh.version, fresh.step, fresh.status) == (2, "prepare_target", "active")
    assert [e.kind for e in store.events(m.id)] == ["created", "step_done"]


def test_a_topic_belongs_to_one_open_migration(store):
    store.create(migration(), "U0ALICE")
    with pytest.raises(UserError, match=r"payments \(by orders-abc\)"):
        store.create(migration("other-xyz", topics=("payments", "refunds")), "U0BOB")
    assert store.list() and len(store.list()) == 1  # nothing of the refused one was stored
    m = store.get("orders-abc")
    m.status = Status.CANCELLED
    store.save(m, 1, actor="U0ALICE", kind="cancelled", message="cancelled")
    store.create(migration("other-xyz", topics=("payments",)), "U0BOB")  # lock released


def test_one_decision_per_actor_and_version(store):
    store.create(migration(), "U0ALICE")
    approval = dict(
        migration_id="orders-abc",
        step="stop_producers",
        decision="approved",
        actor="U0BOB",
        interface="slack",
        version=3,
    )
    assert store.add_approval(Approval(**approval)) is True
    assert store.add_approval(Approval(**approval)) is False  # a double click
    assert len(store.approvals("orders-abc", "stop_producers", 3)) == 1


def at_gate(store, step=Step.STOP_PRODUCERS, version=5) -> Migration:
    m = store.create(migration(requested_by="U0BOB"), "U0BOB")
    m.step, m.state = step, {"gate": {"step": step, "opened_at": 0, "version": version - 0}}
    for v in range(1, version):
        store.save(m, v, actor="bot", kind="step", message="moved")
    return store.get(m.id)


def test_engine_decisions_are_checked_and_recorded(engine, store):
    m = at_gate(store)
    assert m.version == 5
    with pytest.raises(Refused, match="two-person rule"):
        engine.verbs.decide(m.id, actor="U0BOB", version=5, interface="slack")
    with pytest.raises(Refused, match="not an approver"):
        engine.verbs.decide(m.id, actor="U0EVE", version=5, interface="slack")
    with pytest.raises(Refused, match="stale approval"):
        engine.verbs.decide(m.id, actor="cli:carol", version=4, interface="cli")
    decided = engine.verbs.decide(
        m.id, actor="U0DAN", version=5, interface="slack", actor_groups=frozenset({"S0SRE"})
    )
    assert "approved by U0DAN" in decided.text
    assert (decided.approved, decided.approvals, decided.required, decided.passed) == (
        True,
        ("U0DAN",),
        1,
        True,
    )
    with pytest.raises(Refused, match="already approved"):
        engine.verbs.decide(
            m.id, actor="U0DAN", version=5, interface="slack", actor_groups=frozenset({"S0SRE"})
        )
    assert engine.verbs.decide(m.id, actor="cli:carol", version=5, interface="cli").text
    assert [(a.actor, a.interface) for a in store.all_approvals(m.id)] == [
        ("U0DAN", "slack"),
        ("cli:carol", "cli"),
    ]


def test_rejection_pauses_and_nothing_to_approve_elsewhere(engine, store):
    m = at_gate(store)
    engine.verbs.decide(
        m.id, actor="cli:carol", version=5, interface="cli", approve=False, reason="not today"
    )
    paused = store.get(m.id)
    assert paused.status == Status.PAUSED and "rejected by cli:carol: not today" in paused.reason
    with pytest.raises(Refused, match="is paused"):
        engine.verbs.decide(m.id, actor="cli:carol", version=6, interface="cli")
    resumed = engine.verbs.resume(m.id, "U0BOB")
    assert resumed.status == Status.ACTIVE
    with pytest.raises(UserError, match="cannot resume"):
        engine.verbs.resume(m.id, "U0BOB")


def test_skip_only_where_allowed_with_a_reason(engine, store):
    m = store.create(migration(step=Step.MIGRATE_SCHEMAS), "U0ALICE")
    with pytest.raises(UserError, match="needs a reason"):
        engine.verbs.skip(m.id, "U0BOB", " ")
    skipped = engine.verbs.skip(m.id, "U0BOB", "no registry in use")
    assert skipped.step == Step.MIGRATE_ACLS
    skipped.step = Step.DRAIN
    store.save(skipped, skipped.version, actor="bot", kind="step", message="moved")
    with pytest.raises(UserError, match="drain cannot be skipped"):
        engine.verbs.skip(m.id, "U0BOB", "hurry")
