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
    COMPLETE = "complete"


class Status(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    FAILED = "failed"  # the current step failed: retry or cancel
    CANCELLED = "cancelled"
    COMPLETE = "complete"


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
        Step.PRODUCERS_STOPPED, Kind.WAIT, "Producers stopped (no write for the quiet window)"
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
    StepInfo(Step.COMPLETE, Kind.AUTO, "Report"),
)
INFO = {info.step: info for info in STEPS}
ORDER = [info.step for info in STEPS]
GATES = [info.step for info in STEPS if info.kind == Kind.GATE]


def next_step(step: Step) -> Step | None:
    index = ORDER.index(step)
    return ORDER[index + 1] if index + 1 < len(ORDER) else None


def rollback_hint(step: Step) -> str:
    """What undoing the migration means from this step, said plainly."""
    if ORDER.index(Step(step)) < ORDER.index(Step.STOP_PRODUCERS):
        return "Nothing has moved yet: cancelling leaves every client on the source."
    if ORDER.index(Step(step)) <= ORDER.index(Step.PRODUCERS_ON_TARGET):
        return (
            "Rollback: restart producers (and consumers) on the source; the source still "
            "holds every record."
        )
    return "Producers write to the target now: rolling back means replicating back to the source."
