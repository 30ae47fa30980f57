"""The engine on its ports (tests/unit/ports.py): every step outcome, gates (expiry,
regression, stale and refused decisions), stall, cancel with its compensations, a failed
connector, fault patience and the lease. No broker: each test runs in well under a second."""

from __future__ import annotations

import logging

import pytest

from bot import config
from bot.errors import UserError
from bot.migration import actions
from bot.migration.approvals import Refused
from bot.migration.context import Result
from bot.migration.engine import Engine
from bot.migration.notify import LogNotifier, NotificationKind
from bot.migration.steps import FORWARD, Status, Step
from tests.support import CONFIG, migration
from tests.unit.ports import MemoryCluster, MemoryReplicator, ScriptedRunbook, fence_step

TIMING = """
[cli]
approvers = ["carol"]

[timing]
gate_expiry_seconds = 100
stall_polls = 3
fault_patience_seconds = 60
"""


class Clock:
    def __init__(self):
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


class Rig:
    """An engine on memory ports, and the handles a test needs."""

    def __init__(self, tmp_path, store, requester="U0ALICE"):
        path = tmp_path / "km.toml"
        path.write_text(CONFIG.replace('[cli]\napprovers = ["carol"]\n', TIMING))
        self.clock, self.notes = Clock(), LogNotifier()
        self.scripted = ScriptedRunbook()
        self.replicator = MemoryReplicator()
        self.clusters = {"src": MemoryCluster("src"), "dst": MemoryCluster("dst")}
        self.engine = Engine(
            config.load(path),
            store,
            self.notes,
            self.clock,
            runbook=self.scripted.runbook(),
            clusters=lambda _s, name: self.clusters[name],
            replicators=lambda _s, _name: self.replicator,
        )
        self.store = store
        self.id = store.create(migration(requested_by=requester), requester).id

    def tick(self):
        return self.engine.mover.tick(self.id)

    def approve(self, who="U0BOB", version=None):
        m = self.store.get(self.id)
        return self.engine.verbs.decide(
            self.id, actor=who, version=version or m.version, interface="slack", approve=True
        )

    def kinds(self) -> list[NotificationKind]:
        return [n.kind for n in self.notes.sent if n.kind != NotificationKind.CARD_CHANGED]

    def to(self, step: Step):
        """Tick (approving the gates on the way) until the migration is at `step`."""
        for _ in range(20):
            m = self.tick()
            if m.step == step or m.status != Status.ACTIVE:
                return m
            if m.state.gate:
                self.approve()
        raise AssertionError(f"never reached {step}: at {m.step}")


@pytest.fixture
def rig(tmp_path, store):
    return Rig(tmp_path, store)


def test_a_clean_run_passes_every_step_with_two_approvals_and_deletes_the_connectors(rig):
    m = rig.tick()
    assert m.step == Step.STOP_PRODUCERS and m.state.gate.version == m.version
    assert m.waiting_for == f"waiting for approval at version {m.version}"
    assert rig.tick().step == Step.STOP_PRODUCERS  # nobody approved: it waits
    rig.approve()
    m = rig.tick()
    assert m.step == Step.REPOINT_CLIENTS and m.state.gate.preview["analytics"]
    rig.approve()
    m = rig.tick()
    assert m.status == Status.COMPLETE
    assert rig.replicator.flows == {} and rig.replicator.calls[-1] == "delete"
    assert [r.state for r in rig.store.step_runs(rig.id)] == ["done"] * len(FORWARD)
    assert (
        rig.kinds().count(NotificationKind.GATE_OPENED) == 2
        and rig.kinds()[-1] == NotificationKind.COMPLETED
    )
    assert rig.kinds().count(NotificationKind.LAG_ZERO) == 2  # caught up, then drained


def test_waiting_holds_the_step_and_shows_each_new_note_once(rig):
    rig.scripted.script[Step.CATCH_UP] = [Result.waiting("lag 50", lag=50)] * 2 + [
        Result.waiting("lag 20", lag=20)
    ]
    assert rig.tick().waiting_for == "lag 50"
    changes = len(rig.notes.sent)
    assert (
        rig.tick().waiting_for == "lag 50" and len(rig.notes.sent) == changes
    )  # same: not re-sent
    m = rig.tick()
    assert (m.step, m.waiting_for, m.status) == (Step.CATCH_UP, "lag 20", Status.ACTIVE)
    assert [s.replication_lag for s in rig.store.lag_samples(rig.id, 10)] == [50, 50, 20]


def test_a_failed_step_fails_loudly_and_a_retry_goes_on(rig, caplog):
    rig.scripted.script[Step.CREATE_TOPICS] = [Result.failed("orders: cleanup.policy differs")]
    with caplog.at_level(logging.ERROR):
        m = rig.tick()
    assert (m.status, m.step) == (Status.FAILED, Step.CREATE_TOPICS)
    assert any(
        r.levelno == logging.ERROR and "create_topics failed" in r.message for r in caplog.records
    )
    failure = [n for n in rig.notes.sent if n.kind == NotificationKind.FAILURE][-1]
    assert "cleanup.policy differs" in failure.text and "Nothing has moved yet" in failure.text
    assert rig.tick().status == Status.FAILED  # a failed migration is not moved
    rig.engine.verbs.retry(rig.id, "U0ALICE")
    assert rig.tick().step == Step.STOP_PRODUCERS


def test_an_expired_gate_is_opened_again_and_the_old_approval_is_refused(rig):
    first = rig.tick().state.gate.version
    rig.clock.now += 101
    m = rig.tick()
    assert m.state.gate.version > first
    assert "gate_expired" in [e.kind for e in rig.store.events(rig.id)]
    with pytest.raises(Refused, match="stale approval"):
        rig.approve(version=first)
    assert "refused" in [e.kind for e in rig.store.events(rig.id)]
    rig.approve()
    assert rig.tick().step == Step.REPOINT_CLIENTS


def test_a_gate_whose_condition_broke_goes_back_and_wants_a_new_approval(rig):
    rig.tick()
    rig.scripted.script[Step.STOP_PRODUCERS] = [
        Result.regress(Step.CATCH_UP, "replication fell behind: lag 900", lag=900)
    ]
    rig.scripted.script[Step.CATCH_UP] = [Result.waiting("lag 900", lag=900)]
    m = rig.tick()
    assert (m.step, m.state.gate) == (Step.CATCH_UP, None)
    closed = [n for n in rig.notes.sent if n.kind == NotificationKind.GATE_CLOSED][-1]
    assert "any approval must be given again" in closed.text
    m = rig.tick()  # caught up again: a new request, at a new version
    assert m.step == Step.STOP_PRODUCERS and rig.kinds().count(NotificationKind.GATE_OPENED) == 2
    assert [r.state for r in rig.store.step_runs(rig.id) if r.step == Step.STOP_PRODUCERS][0] == (
        "regressed"
    )


def test_the_requester_and_strangers_cannot_approve_and_the_refusals_are_audited(tmp_path, store):
    rig = Rig(tmp_path, store, requester="U0BOB")  # an approver who asked for the migration
    rig.tick()
    with pytest.raises(Refused, match="two-person rule"):
        rig.approve(who="U0BOB")
    with pytest.raises(Refused, match="not an approver"):
        rig.approve(who="U0MALLORY")
    refused = [e for e in rig.store.events(rig.id) if e.kind == "refused"]
    assert [e.actor for e in refused] == ["U0BOB", "U0MALLORY"]
    assert rig.tick().step == Step.STOP_PRODUCERS


def test_a_stall_is_said_once_while_nothing_is_copied_and_again_after_progress(rig):
    stuck = Result.waiting("lag 500", lag=500, copied=10)
    moved = Result.waiting("lag 400", lag=400, copied=110)
    rig.scripted.script[Step.CATCH_UP] = [stuck] * 5 + [moved] * 4
    for _ in range(5):
        rig.tick()
    assert rig.kinds().count(NotificationKind.STALL) == 1
    for _ in range(4):
        rig.tick()
    assert rig.kinds().count(NotificationKind.STALL) == 2


def test_cancel_in_the_quiet_window_removes_the_fence_and_the_connectors(rig):
    rig.scripted.script[Step.PRODUCERS_STOPPED] = [fence_step] * 3
    m = rig.to(Step.PRODUCERS_STOPPED)
    assert m.step == Step.PRODUCERS_STOPPED and len(rig.clusters["src"].acls) == 2
    assert rig.engine.verbs.undo_plan(rig.id)[:2] == [
        "delete the MirrorMaker 2 connectors",
        "remove the write fence (2 DENY binding(s)): producers may write to the source again",
    ]
    m = rig.engine.verbs.cancel(rig.id, "U0ALICE")
    assert m.status == Status.CANCELLED and "write fence removed (2 DENY" in m.reason
    assert rig.clusters["src"].acls == set() and rig.replicator.flows == {}


def test_a_fence_recorded_but_not_applied_is_still_undone_and_a_failed_undo_cancels_nothing(rig):
    rig.clusters["src"].down = True  # the fence is recorded, then applying it times out
    rig.scripted.script[Step.PRODUCERS_STOPPED] = [fence_step] * 3
    m = rig.to(Step.PRODUCERS_STOPPED)
    assert m.waiting_for.startswith("degraded for 0s") and rig.store.get(rig.id).state.fence
    with pytest.raises(UserError, match=r"undoing its side effects failed.*already done: Mirror"):
        rig.engine.verbs.cancel(rig.id, "U0ALICE")
    assert rig.store.get(rig.id).status == Status.ACTIVE
    rig.clusters["src"].down = False
    assert rig.engine.verbs.cancel(rig.id, "U0ALICE").status == Status.CANCELLED


def created_on_target(ctx):
    """create_topics as the real one records it: what it creates, before creating it."""
    ctx.record_side_effect("created_topics", ["orders", "payments"])
    ctx.target.topics |= {"orders", "payments"}
    return Result.done("2 created")


def test_cancel_cleanup_target_deletes_only_what_the_migration_created(rig):
    rig.clusters["dst"].topics = {"existing"}
    rig.scripted.script[Step.CREATE_TOPICS] = [created_on_target]
    rig.to(Step.STOP_PRODUCERS)
    assert (
        "keep the target's topics and ACLs (2 created topic(s)"
        in rig.engine.verbs.undo_plan(rig.id)[-1]
    )
    assert "delete the 2 topic(s) it created on the target: orders, payments" in (
        rig.engine.verbs.undo_plan(rig.id, "target")
    )
    with pytest.raises(UserError, match="the only cleanup is target"):
        rig.engine.verbs.cancel(rig.id, "U0ALICE", cleanup="source")
    assert rig.store.get(rig.id).status == Status.ACTIVE  # bad input changed nothing
    m = rig.engine.verbs.cancel(rig.id, "U0ALICE", cleanup="target")
    assert rig.clusters["dst"].topics == {"existing"} and "2 target topic(s) deleted" in m.reason


def test_cleanup_target_is_refused_once_clients_may_use_the_target(rig):
    rig.scripted.script[Step.CREATE_TOPICS] = [created_on_target]
    rig.scripted.script[Step.CONSUMERS_ON_TARGET] = [Result.waiting("start consumers")]
    rig.to(Step.CONSUMERS_ON_TARGET)
    with pytest.raises(UserError, match="refused at consumers_on_target"):
        rig.engine.verbs.cancel(rig.id, "U0ALICE", cleanup="target")
    assert rig.clusters["dst"].topics == {"orders", "payments"}
    assert rig.store.get(rig.id).status == Status.ACTIVE


def test_a_failed_connector_fails_the_step_with_the_workers_error_and_retry_restarts_it(rig):
    rig.replicator.flows["km-orders-abc"] = "FAILED"
    rig.replicator.trace = "org.apache.kafka.common.errors.SaslAuthenticationException: bad"
    m = rig.tick()
    assert (m.status, m.step) == (Status.FAILED, Step.START_REPLICATION)
    assert "SaslAuthenticationException" in m.reason and m.state.replication == "km-orders-abc"
    rig.engine.verbs.retry(rig.id, "U0ALICE")
    assert rig.replicator.calls[-1] == "restart"
    assert rig.tick().step == Step.STOP_PRODUCERS


def test_tasks_max_is_decided_once_and_every_later_ensure_writes_the_same(rig):
    """A worker lost (or added) after the start never changes the connector's figure: ensure
    would rewrite it, and Connect restart every task, in the middle of a failover."""

    def preflight(ctx):
        ctx.state.partitions = [["orders", p] for p in range(10)]
        return Result.done("preflight ok")

    def starting(ctx):  # the connectors made, not running yet: the step waits a tick
        actions.start_replication(ctx)
        return Result.waiting("replicator starting")

    rig.scripted.script[Step.PREFLIGHT] = [preflight]
    rig.scripted.script[Step.START_REPLICATION] = [starting]
    rig.replicator.workers = 2
    m = rig.tick()
    assert m.step == Step.START_REPLICATION
    assert m.state.tasks == {
        "tasks_max": 8,
        "partitions": 10,
        "workers": 2,
        "tasks_per_worker": 4,
        "configured": False,
        "workers_seen": False,
    }
    rig.replicator.workers = 1  # a worker died meanwhile
    m = rig.tick()
    assert m.step == Step.STOP_PRODUCERS
    assert rig.replicator.calls.count("size_tasks") == 1
    said = [e.message for e in rig.store.events(rig.id) if e.step == Step.START_REPLICATION]
    assert any("(tasks.max 8: 10 partitions, 2 workers × 4 tasks each)" in t for t in said), said
    # a retry builds its flow from the stored state as well
    assert rig.engine.clients.flow(rig.store.get(rig.id)).tasks_max == 8
    assert {f.tasks_max for f in rig.replicator.ensured} == {8}


def test_a_replicator_that_sizes_no_tasks_leaves_the_figure_unrecorded(rig):
    assert rig.tick().step == Step.STOP_PRODUCERS
    m = rig.store.get(rig.id)
    assert m.state.tasks is None and rig.replicator.ensured[-1].tasks_max is None


def test_a_fault_holds_the_step_as_degraded_until_the_patience_runs_out(rig):
    rig.scripted.script[Step.CATCH_UP] = [TimeoutError()] * 3
    m = rig.tick()
    assert (m.status, m.step, m.waiting_for) == (
        Status.ACTIVE,
        Step.CATCH_UP,
        "degraded for 0s (retrying): timed out waiting for an answer",
    )
    rig.clock.now += 30
    assert rig.tick().waiting_for.startswith("degraded for 30s")
    rig.clock.now += 31
    m = rig.tick()
    assert (
        m.status == Status.FAILED
        and m.reason == "gave up after 61s of: timed out waiting for an answer"
    )


def test_a_fault_that_passes_leaves_no_trace_in_the_next_fault(rig):
    rig.scripted.script[Step.CATCH_UP] = [
        TimeoutError("timed out"),
        Result.waiting("lag 5", lag=5),
        TimeoutError("timed out"),
    ]
    rig.tick()
    rig.clock.now += 50
    assert rig.tick().waiting_for == "lag 5"
    rig.clock.now += 50
    assert rig.tick().waiting_for.startswith(
        "degraded for 0s"
    )  # patience counts from the new fault


def test_a_definite_error_fails_at_once(rig):
    rig.scripted.script[Step.MIGRATE_ACLS] = [UserError("the target has no authorizer")]
    m = rig.tick()
    assert (m.status, m.reason) == (Status.FAILED, "the target has no authorizer")


def test_a_flow_deleted_by_hand_holds_catch_up_then_retry_creates_it_again(rig):
    def deleted(ctx):
        rig.replicator.flows.clear()  # someone deleted the connectors
        return actions.catch_up(ctx)

    rig.scripted.script[Step.CATCH_UP] = [deleted]
    m = rig.tick()
    assert m.step == Step.CATCH_UP and "does not know km-orders-abc-source" in m.waiting_for
    rig.scripted.script[Step.CATCH_UP] = [lambda ctx: ctx.replicator.replicated_offsets(ctx.flow)]
    rig.clock.now += 61
    m = rig.tick()
    assert m.status == Status.FAILED and m.reason.startswith("gave up after 61s")
    rig.engine.verbs.retry(rig.id, "U0ALICE")
    assert rig.replicator.flows == {"km-orders-abc": "RUNNING"}
    assert rig.tick().step == Step.STOP_PRODUCERS


def test_a_fence_applied_by_a_step_in_flight_after_a_cancel_is_removed_by_the_mover(rig):
    def cancelled_meanwhile(ctx):  # another process cancels between record and apply
        bindings = [["TOPIC", t, "LITERAL", "User:app", "*", "WRITE", "DENY"] for t in ctx.topics]
        ctx.record_side_effect("fence", bindings)
        rig.engine.verbs.cancel(rig.id, "U0ALICE")
        ctx.source.acls |= {tuple(b) for b in bindings}
        return Result.waiting("no write for 0s of 3s")

    rig.scripted.script[Step.PRODUCERS_STOPPED] = [cancelled_meanwhile]
    m = rig.to(Step.PRODUCERS_STOPPED)
    assert m.status == Status.CANCELLED and rig.clusters["src"].acls == set()
    late = [e for e in rig.store.events(rig.id) if e.kind == "undo"]
    assert "write fence removed (2 DENY binding(s))" in late[0].message
    assert rig.replicator.flows == {}


def test_a_side_effect_recorded_while_cancel_undoes_is_undone_too(rig):
    rig.to(Step.STOP_PRODUCERS)
    delete = rig.replicator.delete
    bindings = [["TOPIC", "orders", "LITERAL", "User:app", "*", "WRITE", "DENY"]]

    def delete_while_a_step_fences(flow):
        delete(flow)
        if rig.store.get(rig.id).state.fence is None:
            rig.store.record_state(rig.id, "fence", bindings)
            rig.clusters["src"].acls.add(tuple(bindings[0]))

    rig.replicator.delete = delete_while_a_step_fences
    m = rig.engine.verbs.cancel(rig.id, "U0ALICE")
    assert m.status == Status.CANCELLED and rig.clusters["src"].acls == set()
    assert "write fence removed (1 DENY binding(s))" in m.reason
