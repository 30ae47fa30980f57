"""Who may approve a gate, and when: checked on the server at the moment of the decision.

An approval names the gate step and the state version the approver was shown. It is refused
when the gate is not open (its condition does not hold yet), when the version moved on (stale),
when the actor is not an approver (user id, member of an approver user group, or a listed CLI
user), when the actor requested the migration (two-person rule), or when the actor already
approved this gate. Who may operate a migration (pause, resume, retry, cancel, skip) is decided
here too, for Slack and the CLI alike: its requester or an approver.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.migration.lifecycle import Refused
from bot.migration.steps import GATES, Step

__all__ = ["ApprovalRule", "Decision", "Refused", "check", "check_operator", "rule_of"]


@dataclass(frozen=True)
class ApprovalRule:
    approvers: frozenset[str]  # Slack user ids (U…/W…), user-group ids (S…), "cli:<os user>"
    two_person_rule: bool = True
    required: int = 1

    def is_approver(self, actor: str, actor_groups: frozenset[str] = frozenset()) -> bool:
        return actor in self.approvers or bool(actor_groups & self.approvers)


def rule_of(config) -> ApprovalRule:
    """The rule a configuration sets: Slack approvers (users, user groups) and the CLI's
    (`cli:<os account>`), the two-person rule and how many approvals a gate needs."""
    slack = config.slack
    cli = {f"cli:{u}" for u in config.cli.approvers}
    return ApprovalRule(
        approvers=frozenset(set(slack.approvers if slack else []) | cli),
        two_person_rule=slack.two_person_rule if slack else True,
        required=slack.required_approvals if slack else 1,
    )


@dataclass(frozen=True)
class Decision:
    """What `decide` recorded: who decided which gate round, and where the gate stands now."""

    migration_id: str
    step: Step
    version: int  # the gate round's (the version the decider was shown)
    actor: str
    approved: bool  # False: rejected (the migration is paused)
    approvals: tuple[str, ...]  # who approved this round so far, this decision included
    required: int
    passed: bool  # enough approvals: the mover passes the gate at its next tick
    text: str  # said to the decider


def check_operator(
    rule: ApprovalRule,
    *,
    migration_id: str,
    requested_by: str,
    actor: str,
    actor_groups: frozenset[str] = frozenset(),
) -> None:
    """Raise Refused unless `actor` may operate the migration: its requester or an approver."""
    if actor == requested_by or rule.is_approver(actor, actor_groups):
        return
    raise Refused(
        f"{actor} may not operate {migration_id}: only its requester and the approvers may"
    )


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
