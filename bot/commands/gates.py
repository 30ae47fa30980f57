"""Approve / Reject buttons of a gate request: authorized on the server at click time, and only
for the migration, step and version of the message they sit on (stored when it was posted)."""

from __future__ import annotations

from slack_bolt import App, BoltContext, Respond

from bot.commands.answers import ack_at_once, after_ack
from bot.errors import UserError
from bot.slack.ids import Action


def decide(respond: Respond, context: BoltContext, approve: bool) -> None:
    """Record the click as the approver's decision; say how many approvals the gate has, or
    show the request decided."""
    services, click, value = context["services"], context["payload"], context["button"]
    user, store = click.user.id, services.engine.store
    message = store.gate_message(*click.clicked_on)
    if message is None or (message.migration_id, message.step, message.version) != (
        value.m,
        value.s,
        value.v,
    ):
        raise UserError(
            "this button does not belong to the message it was clicked on: nothing was done"
        )
    if message.closed:
        mine = [a for a in store.approvals(value.m, value.s, value.v) if a.actor == user]
        if mine:
            raise UserError(f"{user} already {mine[0].decision} {value.s} at this version")
        raise UserError(f"this request is closed ({message.closed}): nothing was done")
    decision = services.engine.verbs.decide(
        value.m,
        actor=user,
        version=value.v,
        interface="slack",
        approve=approve,
        step=value.s,
        actor_groups=services.directory.groups_of(user),
    )
    if decision.approved and not decision.passed:
        respond(
            text=f"Approval recorded ({len(decision.approvals)} of {decision.required}).",
            response_type="ephemeral",
            replace_original=False,
        )
        return
    services.notifier.gate_decided(message, "approved" if approve else "rejected", user)


@after_ack(lambda _context: "approve")
def approve(respond: Respond, context: BoltContext) -> None:
    decide(respond, context, approve=True)


@after_ack(lambda _context: "reject")
def reject(respond: Respond, context: BoltContext) -> None:
    decide(respond, context, approve=False)


def register(app: App, _services) -> None:
    app.action(Action.APPROVE)(ack=ack_at_once, lazy=[approve])
    app.action(Action.REJECT)(ack=ack_at_once, lazy=[reject])
