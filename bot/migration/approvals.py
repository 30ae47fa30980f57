"""Who may approve a gate, and when: checked on the server at the moment of the decision.

An approval names the gate step and the state version the approver was shown. It is refused
when the gate is not open (its condition does not hold yet), when the version moved on (stale),
when the actor is not an approver (user id, member of an approver user group, or a listed CLI
user), when the actor requested the migration (two-person rule), or when the actor already
approved this gate.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.errors import UserError
from bot.migration.steps import GATES


class Refused(UserError):
    """An approval or rejection that is not allowed; the message says why."""


@dataclass(frozen=True)
class Decision:
    """What an approval or a rejection decided. `approvals`: the approving actors of this gate
    at this version, this decision included; `passed`: the gate has the approvals it needs."""

    migration_id: str
    step: str
    version: int
    actor: str
    approved: bool
    approvals: tuple[str, ...]
    required: int
    passed: bool
    text: str  # the sentence for people, e.g. "stop_producers approved by U0BOB (version 4)"


@dataclass(frozen=True)
class ApprovalRule:
    approvers: frozenset[str]  # Slack user ids (U…/W…), user-group ids (S…), "cli:<os user>"
    two_person_rule: bool = True
    required: int = 1

    def is_approver(self, actor: str, actor_groups: frozenset[str] = frozenset()) -> bool:
        return actor in self.approvers or bool(actor_groups & self.approvers)


def check(
    rule: ApprovalRule,
    *,
    actor: str,
    actor_groups: frozenset[str],
    requested_by: str,
    step: str,
    current_step: str,
    waiting_for: str,
    version: int,  # the version the person was shown
    current_version: int,
    already: frozenset[str],
    approve: bool = True,
) -> None:
    """Raise Refused with the reason, or return when the decision may be recorded. Approvers
    approve (never their own request); approvers and the requester may reject."""
    what = "approve" if approve else "reject"
    if step not in GATES:
        raise Refused(f"{step} is not an approval step (gates: {', '.join(GATES)})")
    if current_step != step:
        raise Refused(
            f"{step} is not open for approval: the migration is at {current_step}"
            + (f" ({waiting_for})" if waiting_for else "")
        )
    if version != current_version:
        raise Refused(
            f"stale approval: you saw version {version}, the migration is at version "
            f"{current_version} (its state changed); look at the current state and decide again"
        )
    if not approve and actor == requested_by:
        pass  # the requester may always withdraw their own request
    elif not rule.is_approver(actor, actor_groups):
        raise Refused(f"{actor} is not an approver for this migration: cannot {what} it")
    elif approve and rule.two_person_rule and actor == requested_by:
        raise Refused(f"{actor} requested this migration and cannot approve it (two-person rule)")
    if actor in already:
        raise Refused(f"{actor} already {what}d {step} at this version")


def gate_passed(rule: ApprovalRule, approvers: set[str]) -> bool:
    return len(approvers) >= rule.required
