"""Who may approve a gate, and when."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from bot.migration.approvals import ApprovalRule, Refused, check
from bot.migration.state import GateRound

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


def test_an_approver_may_approve_an_open_gate():
    decide()
    decide(actor="U0DAN", actor_groups=frozenset({"S0SRE"}))  # through a user group
    decide(actor="cli:carol")


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


def test_two_person_rule_off_lets_the_requester_approve():
    policy = ApprovalRule(frozenset({"U0BOB"}), two_person_rule=False)
    check(
        policy,
        actor="U0BOB",
        actor_groups=frozenset(),
        requested_by="U0BOB",
        step="repoint_clients",
        current_step="repoint_clients",
        waiting_for="",
        version=1,
        current_version=1,
        already=frozenset(),
    )


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


def test_the_requester_may_reject_their_own_request_but_not_approve_it():
    decide(actor="U0ALICE", approve=False)
    with pytest.raises(Refused, match="cannot approve it"):
        decide(actor="U0ALICE", approve=True)
    with pytest.raises(Refused, match="U0EVE is not an approver for this migration: cannot reject"):
        decide(actor="U0EVE", approve=False)
