"""The runbook's steps, in order: one name each, used alike in code, database, card and log."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    AUTO = "auto"  # the bot does it and verifies it
    WAIT = "wait"  # the bot watches until a condition holds
    GATE = "gate"  # a person approves


class Step(StrEnum):
    PREFLIGHT = "preflight"
    PREPARE_TARGET = "prepare_target"
    CREATE_TOPICS = "create_topics"
    MIGRATE_SCHEMAS = "migrate_schemas"
    MIGRATE_ACLS = "migrate_acls"
    START_REPLICATION = "start_replication"
    CATCH_UP = "catch_up"
    STOP_PRODUCERS = "stop_producers"
    PRODUCERS_STOPPED = "producers_stopped"
    DRAIN = "drain"
    CONSUMERS_STOPPED = "consumers_stopped"
    REPOINT_CLIENTS = "repoint_clients"
    HANDOVER_OFFSETS = "handover_offsets"
    CONSUMERS_ON_TARGET = "consumers_on_target"
    PRODUCERS_ON_TARGET = "producers_on_target"
    VERIFY = "verify"
    SOAK = "soak"
    FINALIZE = "finalize"
    COMPLETE = "complete"
    # the way back (rollback.py): the cutover run backwards, each step verified like its twin
    ROLLBACK = "rollback"
    TARGET_PRODUCERS_STOPPED = "target_producers_stopped"
    REVERSE_DRAIN = "reverse_drain"
    TARGET_CONSUMERS_STOPPED = "target_consumers_stopped"
    REPOINT_TO_SOURCE = "repoint_to_source"
    HANDBACK_OFFSETS = "handback_offsets"
    CONSUMERS_ON_SOURCE = "consumers_on_source"
    PRODUCERS_ON_SOURCE = "producers_on_source"
    VERIFY_SOURCE = "verify_source"
    ROLLED_BACK = "rolled_back"


class Status(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    FAILED = "failed"  # the current step failed: retry or cancel
    CANCELLED = "cancelled"
    COMPLETE = "complete"
    ROLLED_BACK = "rolled_back"  # the rollback ran to its end: clients are on the source again


OPEN = (Status.ACTIVE, Status.PAUSED, Status.FAILED)  # statuses that hold topic locks


@dataclass(frozen=True)
class StepInfo:
    step: Step
    kind: Kind
    title: str
    skippable: bool = False


STEPS: tuple[StepInfo, ...] = (
    StepInfo(Step.PREFLIGHT, Kind.AUTO, "Check clusters, replicator and topic selection"),
    StepInfo(Step.PREPARE_TARGET, Kind.AUTO, "Prepare the target"),
    StepInfo(Step.CREATE_TOPICS, Kind.AUTO, "Create topics with the same partitions and configs"),
    StepInfo(Step.MIGRATE_SCHEMAS, Kind.AUTO, "Migrate schemas", skippable=True),
    StepInfo(Step.MIGRATE_ACLS, Kind.AUTO, "Migrate ACLs", skippable=True),
    StepInfo(Step.START_REPLICATION, Kind.AUTO, "Start MirrorMaker 2"),
    StepInfo(Step.CATCH_UP, Kind.WAIT, "Replicate until lag is ~0"),
    StepInfo(Step.STOP_PRODUCERS, Kind.GATE, "Approve: stop producers on the source"),
    StepInfo(
        Step.PRODUCERS_STOPPED,
        Kind.WAIT,
        "Producers stopped (fenced: no write over a few looks; else the quiet window)",
    ),
    StepInfo(Step.DRAIN, Kind.WAIT, "Consumer lag and replication lag reach 0"),
    StepInfo(Step.CONSUMERS_STOPPED, Kind.WAIT, "Consumers stopped on the source"),
    StepInfo(Step.REPOINT_CLIENTS, Kind.GATE, "Approve: repoint clients to the target"),
    StepInfo(Step.HANDOVER_OFFSETS, Kind.AUTO, "Hand consumer offsets over exactly"),
    # skippable with a reason: a group or producer that is being retired never shows up
    StepInfo(
        Step.CONSUMERS_ON_TARGET, Kind.WAIT, "Consumers running on the target", skippable=True
    ),
    StepInfo(
        Step.PRODUCERS_ON_TARGET, Kind.WAIT, "Producers writing to the target", skippable=True
    ),
    StepInfo(Step.VERIFY, Kind.AUTO, "Verify counts and records", skippable=True),
    # with reverse_via: the reverse flow copies the target's new records back; without, done
    StepInfo(Step.SOAK, Kind.WAIT, "Soak: reverse replication keeps the way back open"),
    StepInfo(Step.FINALIZE, Kind.GATE, "Approve: finalize (end the soak, drop the way back)"),
    StepInfo(Step.COMPLETE, Kind.AUTO, "Report"),
    StepInfo(Step.ROLLBACK, Kind.GATE, "Approve: roll back to the source"),
    StepInfo(
        Step.TARGET_PRODUCERS_STOPPED,
        Kind.WAIT,
        "Producers stopped on the target (no write for the quiet window)",
    ),
    StepInfo(Step.REVERSE_DRAIN, Kind.WAIT, "Reverse replication and target consumer lag reach 0"),
    StepInfo(Step.TARGET_CONSUMERS_STOPPED, Kind.WAIT, "Consumers stopped on the target"),
    StepInfo(Step.REPOINT_TO_SOURCE, Kind.GATE, "Approve: repoint clients to the source"),
    StepInfo(Step.HANDBACK_OFFSETS, Kind.AUTO, "Hand consumer offsets back exactly"),
    StepInfo(
        Step.CONSUMERS_ON_SOURCE, Kind.WAIT, "Consumers running on the source", skippable=True
    ),
    StepInfo(
        Step.PRODUCERS_ON_SOURCE, Kind.WAIT, "Producers writing to the source", skippable=True
    ),
    StepInfo(Step.VERIFY_SOURCE, Kind.AUTO, "Verify the source holds every record", skippable=True),
    StepInfo(Step.ROLLED_BACK, Kind.AUTO, "Report"),
)
INFO = {info.step: info for info in STEPS}
ORDER = [info.step for info in STEPS]
GATES = [info.step for info in STEPS if info.kind == Kind.GATE]
# the way forward ends at COMPLETE; finalize and rollback are entered only from the soak (by
# people: verbs.py), and the rollback ends at ROLLED_BACK
FORWARD = ORDER[: ORDER.index(Step.SOAK) + 1] + [Step.COMPLETE]
BACK = ORDER[ORDER.index(Step.ROLLBACK) :]
# producers stand still from the stop approval until they write to the other side again: the
# bot looks at the cutover's pace here (Timing.cutover_poll_seconds)
CUTOVER = frozenset(
    ORDER[ORDER.index(Step.PRODUCERS_STOPPED) : ORDER.index(Step.PRODUCERS_ON_TARGET)]
    + ORDER[ORDER.index(Step.TARGET_PRODUCERS_STOPPED) : ORDER.index(Step.PRODUCERS_ON_SOURCE)]
)
REQUESTS = (Step.FINALIZE, Step.ROLLBACK)  # gates opened by a request during the soak
NEXT: dict[Step, Step | None] = {
    **dict(zip(FORWARD, FORWARD[1:] + [None], strict=True)),
    Step.FINALIZE: Step.COMPLETE,
    **dict(zip(BACK, BACK[1:] + [None], strict=True)),
}
FINAL = {Step.COMPLETE: Status.COMPLETE, Step.ROLLED_BACK: Status.ROLLED_BACK}


def next_step(step: Step) -> Step | None:
    return NEXT[Step(step)]


def on_the_way_back(step: str) -> bool:
    return Step(step) in BACK


def rollback_hint(step: Step, reverse: bool = False) -> str:
    """What undoing the migration means from this step, said plainly (`reverse`: a reverse
    flow was named, reverse_via)."""
    if on_the_way_back(step):
        return (
            "Rolling back: clients move to the source again; cancelling stops the rollback "
            "where it stands (see what a cancel would undo)."
        )
    if ORDER.index(Step(step)) < ORDER.index(Step.STOP_PRODUCERS):
        return "Nothing has moved yet: cancelling leaves every client on the source."
    if ORDER.index(Step(step)) <= ORDER.index(Step.PRODUCERS_ON_TARGET):
        return (
            "Rollback: restart producers (and consumers) on the source; the source still "
            "holds every record."
        )
    if reverse and Step(step) in (Step.VERIFY, Step.SOAK, Step.FINALIZE):
        return (
            "Producers write to the target now; the reverse flow copies their records back to "
            "the source: `rollback` runs the cutover backwards with exact offsets."
        )
    return "Producers write to the target now: rolling back means replicating back to the source."
