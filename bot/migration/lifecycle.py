"""The lifecycle of a migration: every allowed status change, declared once.

A verb of people (verbs.py) or of the mover (mover.py) changes a migration's status only through
`move`, which knows, per verb, the statuses it may act from and the status it leads to. A verb in
any other status is refused by the table itself, with the reason ("orders-7k2 is cancelled:
nothing to skip"); the verbs audit the refusal.

    start         -> active          (hold: -> paused, until the caller resumes it)
    pause         active -> paused
    resume        paused -> active
    retry         failed -> active
    cancel        active, paused, failed -> cancelled
    skip          active, failed -> active (at the next step; a paused one: resume it first)
    approve       active -> active   (at an open gate)
    reject        active -> paused
    finalize      active -> active   (during the soak: opens the finalize gate)
    rollback      active -> active   (during the soak: opens the rollback gate)
    decline       active -> active   (a finalize or rollback request rejected: back to the soak)
    mover: open_gate, advance, regress keep active; fail -> failed; complete -> complete;
           finish_rollback -> rolled_back

Skip acts on a failed migration too: a skippable step (schemas, ACLs, clients on the target,
verify) that keeps failing is passed over deliberately, with a reason in the audit trail;
refusing it would leave cancel as the only way out, since a retry runs the step again and it
fails again at the next poll. Skip never acts on a paused migration (the pause is someone's
decision: resume it first) nor on a closed one (cancelled or complete: its topic locks are
released and its replication undone).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from bot.errors import UserError
from bot.migration.steps import Status
from bot.models import Migration


class Refused(UserError):
    """A verb or decision that is not allowed now; the message says why (and it is audited)."""


class Verb(StrEnum):
    # people's
    START = "start"
    HOLD = "hold"
    PAUSE = "pause"
    RESUME = "resume"
    RETRY = "retry"
    CANCEL = "cancel"
    SKIP = "skip"
    APPROVE = "approve"
    REJECT = "reject"
    FINALIZE = "finalize"
    ROLLBACK = "rollback"
    DECLINE = "decline"
    # the mover's
    OPEN_GATE = "open_gate"
    ADVANCE = "advance"
    REGRESS = "regress"
    FAIL = "fail"
    COMPLETE = "complete"
    FINISH_ROLLBACK = "finish_rollback"


@dataclass(frozen=True)
class Transition:
    verb: Verb
    sources: frozenset[Status]  # empty: a new migration
    to: Status
    why_not: str  # what a refusal says after "<id> is <status>: "
    refusals: dict[Status, str] = field(default_factory=dict)  # ... or, for that status, this


def _t(
    verb: Verb, sources: tuple[Status, ...], to: Status, why_not: str = "", **refusals: str
) -> Transition:
    return Transition(
        verb,
        frozenset(sources),
        to,
        why_not or f"cannot {verb} it",
        {Status(k): v for k, v in refusals.items()},
    )


A, P, F = Status.ACTIVE, Status.PAUSED, Status.FAILED
TRANSITIONS: dict[Verb, Transition] = {
    t.verb: t
    for t in (
        _t(Verb.START, (), A),
        _t(Verb.HOLD, (), P),
        _t(Verb.PAUSE, (A,), P),
        _t(Verb.RESUME, (P,), A),
        _t(Verb.RETRY, (F,), A),
        _t(Verb.CANCEL, (A, P, F), Status.CANCELLED),
        _t(Verb.SKIP, (A, F), A, "nothing to skip", paused="resume it first"),
        _t(Verb.APPROVE, (A,), A, "nothing to approve"),
        _t(Verb.REJECT, (A,), P, "nothing to reject"),
        _t(
            Verb.FINALIZE,
            (A,),
            A,
            "nothing to finalize",
            paused="resume it first",
            complete="it is final already",
        ),
        _t(
            Verb.ROLLBACK,
            (A,),
            A,
            "nothing to roll back",
            paused="resume it first",
            failed="retry it first (the reverse flow must run to roll back exactly)",
            complete="it was finalized: the reverse flow is gone, there is no way back",
            rolled_back="it is rolled back already",
        ),
        _t(Verb.DECLINE, (A,), A, "nothing to decline"),
        _t(Verb.OPEN_GATE, (A,), A),
        _t(Verb.ADVANCE, (A,), A),
        _t(Verb.REGRESS, (A,), A),
        _t(Verb.FAIL, (A,), F),
        _t(Verb.COMPLETE, (A,), Status.COMPLETE),
        _t(Verb.FINISH_ROLLBACK, (A,), Status.ROLLED_BACK),
    )
}
PEOPLE = (
    Verb.SKIP,
    Verb.RETRY,
    Verb.RESUME,
    Verb.PAUSE,
    Verb.APPROVE,
    Verb.REJECT,
    Verb.CANCEL,
    Verb.FINALIZE,
    Verb.ROLLBACK,
)


def allowed(verb: Verb, status: Status) -> bool:
    return status in TRANSITIONS[verb].sources


def check(m: Migration, verb: Verb) -> Transition:
    """The transition `verb` makes from the migration's status, or Refused with the reason."""
    transition = TRANSITIONS[verb]
    status = Status(m.status)
    if status not in transition.sources:
        why = transition.refusals.get(status, transition.why_not)
        raise Refused(f"{m.id} is {status}" + (f" ({m.reason})" if m.reason else "") + f": {why}")
    return transition


def move(m: Migration, verb: Verb, reason: str | None = None) -> None:
    """Change the migration's status as `verb` does (its reason with it), or raise Refused.
    The caller saves it (a conditional update: a racing writer is refused there)."""
    transition = check(m, verb)
    if transition.to != m.status or reason is not None:
        m.status, m.reason = transition.to, reason


def initial(hold: str | None) -> Status:
    """The status a new migration starts in (held, with the hold as its reason, or active)."""
    return TRANSITIONS[Verb.HOLD if hold else Verb.START].to
