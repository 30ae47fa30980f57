"""The lifecycle table (bot/migration/lifecycle.py) through the real verbs on a stored migration:
every verb of people in every status. Where it makes no sense it is refused with the reason,
the refusal is in the audit trail and nothing changed; where it is allowed the status changes
as declared."""

from __future__ import annotations

import pytest

from bot.migration import lifecycle
from bot.migration.lifecycle import Refused, Verb
from bot.migration.state import GateRound
from bot.migration.steps import Status, Step
from bot.models import EventKind
from tests.support import migration

# what each verb leads to, from the statuses it acts from (and nowhere else)
ALLOWED = {
    Verb.SKIP: {Status.ACTIVE: Status.ACTIVE, Status.FAILED: Status.ACTIVE},
    Verb.RETRY: {Status.FAILED: Status.ACTIVE},
    Verb.RESUME: {Status.PAUSED: Status.ACTIVE},
    Verb.PAUSE: {Status.ACTIVE: Status.PAUSED},
    Verb.APPROVE: {Status.ACTIVE: Status.ACTIVE},
    Verb.REJECT: {Status.ACTIVE: Status.PAUSED},
    Verb.CANCEL: {s: Status.CANCELLED for s in (Status.ACTIVE, Status.PAUSED, Status.FAILED)},
    Verb.FINALIZE: {Status.ACTIVE: Status.ACTIVE},
    Verb.ROLLBACK: {Status.ACTIVE: Status.ACTIVE},
}
WHY = {  # what a refusal says after "<id> is <status> (<reason>): "
    Verb.SKIP: "nothing to skip",
    Verb.RETRY: "cannot retry it",
    Verb.RESUME: "cannot resume it",
    Verb.PAUSE: "cannot pause it",
    Verb.APPROVE: "nothing to approve",
    Verb.REJECT: "nothing to reject",
    Verb.CANCEL: "cannot cancel it",
    Verb.FINALIZE: "nothing to finalize",
    Verb.ROLLBACK: "nothing to roll back",
}
SAID = {  # ... or, in these statuses, this
    (Verb.SKIP, Status.PAUSED): "resume it first",
    (Verb.FINALIZE, Status.PAUSED): "resume it first",
    (Verb.FINALIZE, Status.COMPLETE): "it is final already",
    (Verb.ROLLBACK, Status.PAUSED): "resume it first",
    (Verb.ROLLBACK, Status.FAILED): "retry it first (the reverse flow must run to roll back "
    "exactly)",
    (Verb.ROLLBACK, Status.COMPLETE): "it was finalized: the reverse flow is gone, there is no "
    "way back",
    (Verb.ROLLBACK, Status.ROLLED_BACK): "it is rolled back already",
}
GATED = (Verb.APPROVE, Verb.REJECT)
REQUESTS = (Verb.FINALIZE, Verb.ROLLBACK)  # asked for during the soak


def stored(store, status: Status, verb: Verb):
    """A migration in `status`: at an open gate for approve/reject, else at a skippable step."""
    step = Step.STOP_PRODUCERS if verb in GATED else Step.MIGRATE_SCHEMAS
    options = {}
    if verb in REQUESTS:
        step, options = Step.SOAK, {"reverse_via": "mm2-back", "soak": 3600}
    reason = None if status == Status.ACTIVE else f"{status} for the test"
    m = store.create(migration(step=step, options=options), "U0ALICE")
    m.status, m.reason = status, reason
    if verb in GATED:
        m.state.gate = GateRound(step=step, opened_at=0, version=2)
    return store.save(m, 1, actor="bot", kind=EventKind.STEP_DONE, message="set up")


def act(engine, verb: Verb, m):
    verbs, actor = engine.verbs, "U0BOB"  # an approver, not the requester
    if verb in GATED:
        return verbs.decide(
            m.id, actor=actor, version=m.version, interface="slack", approve=verb == Verb.APPROVE
        )
    if verb == Verb.SKIP:
        return verbs.skip(m.id, actor, "no registry in use")
    if verb == Verb.PAUSE:
        return verbs.pause(m.id, actor)
    return getattr(verbs, str(verb))(m.id, actor)


@pytest.mark.parametrize("status", list(Status))
@pytest.mark.parametrize("verb", lifecycle.PEOPLE)
def test_every_verb_in_every_status(engine, store, verb, status):
    m = stored(store, status, verb)
    if status not in ALLOWED[verb]:
        why = SAID.get((verb, status), WHY[verb])
        with pytest.raises(Refused) as refused:
            act(engine, verb, m)
        said = "" if status == Status.ACTIVE else f" ({status} for the test)"
        assert str(refused.value) == f"{m.id} is {status}{said}: {why}"
        after = store.get(m.id)
        assert (after.status, after.step, after.version) == (status, m.step, m.version)
        [event] = [e for e in store.events(m.id) if e.kind == EventKind.REFUSED]
        assert (event.actor, event.data["verb"], event.reason) == (
            "U0BOB",
            verb,
            str(refused.value),
        )
        assert store.all_approvals(m.id) == []
        return
    act(engine, verb, m)
    after = store.get(m.id)
    assert after.status == ALLOWED[verb][status]
    if verb == Verb.APPROVE:  # recorded beside the migration; the mover passes the gate
        assert [a.actor for a in store.all_approvals(m.id)] == ["U0BOB"]
    else:
        assert after.version > m.version
    after_step = {Verb.SKIP: Step.MIGRATE_ACLS, Verb.FINALIZE: Step.FINALIZE}
    after_step[Verb.ROLLBACK] = Step.ROLLBACK
    assert after.step == after_step.get(verb, m.step)
    assert [e for e in store.events(m.id) if e.kind == EventKind.REFUSED] == []


def test_skip_on_a_cancelled_migration_does_not_bring_it_back(engine, store):
    m = stored(store, Status.ACTIVE, Verb.SKIP)
    engine.verbs.cancel(m.id, "U0ALICE")
    assert store.locks_held("src", ["orders", "payments"]) == {}
    with pytest.raises(Refused, match="is cancelled .*: nothing to skip"):
        engine.verbs.skip(m.id, "U0ALICE", "not needed")
    after = store.get(m.id)
    assert (after.status, after.step) == (Status.CANCELLED, Step.MIGRATE_SCHEMAS)
    assert store.locks_held("src", ["orders", "payments"]) == {}


def test_a_step_that_cannot_be_skipped_is_refused_and_audited(engine, store):
    m = store.create(migration(step=Step.DRAIN), "U0ALICE")
    with pytest.raises(Refused, match="drain cannot be skipped"):
        engine.verbs.skip(m.id, "U0BOB", "hurry")
    [event] = [e for e in store.events(m.id) if e.kind == EventKind.REFUSED]
    assert event.data["verb"] == "skip" and "cannot be skipped" in event.reason


def test_approve_returns_what_was_decided(engine, store):
    m = stored(store, Status.ACTIVE, Verb.APPROVE)
    decision = engine.verbs.decide(m.id, actor="U0BOB", version=m.version, interface="slack")
    assert (decision.migration_id, decision.step, decision.version) == (m.id, m.step, m.version)
    assert (decision.actor, decision.approved, decision.approvals) == ("U0BOB", True, ("U0BOB",))
    assert (decision.required, decision.passed) == (1, True)
    assert decision.text == f"stop_producers approved by U0BOB (version {m.version})"


def test_the_mover_changes_status_only_as_declared():
    assert lifecycle.allowed(Verb.FAIL, Status.ACTIVE)
    for verb in (
        Verb.FAIL,
        Verb.COMPLETE,
        Verb.ADVANCE,
        Verb.REGRESS,
        Verb.OPEN_GATE,
        Verb.FINISH_ROLLBACK,
        Verb.DECLINE,
    ):
        assert [s for s in Status if lifecycle.allowed(verb, s)] == [Status.ACTIVE]
    assert set(lifecycle.TRANSITIONS) == set(Verb)


@pytest.mark.parametrize(
    ("actor", "groups", "allowed"),
    [
        ("U0ALICE", frozenset(), True),  # the requester
        ("U0BOB", frozenset(), True),  # an approver
        ("U0DAN", frozenset({"S0SRE"}), True),  # in an approver group
        ("cli:carol", frozenset(), True),  # a CLI approver
        ("U0EVE", frozenset(), False),
        ("cli:mallory", frozenset(), False),
    ],
)
def test_who_may_operate(engine, store, actor, groups, allowed):
    m = store.create(migration(), "U0ALICE")
    if allowed:
        engine.check_operator(m.id, actor, groups)
        return
    with pytest.raises(Refused, match=f"{actor} may not operate {m.id}"):
        engine.check_operator(m.id, actor, groups)
