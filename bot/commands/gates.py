"""Approve / Reject buttons of a gate request: authorized on the server at click time, and only
for the migration, step and version of the message they sit on (stored when it was posted)."""

from __future__ import annotations

from slack_bolt import App

from bot.errors import UserError
from bot.slack import blocks
from bot.slack.ids import Action
from bot.slack.payloads import read_value


def register(app: App, services) -> None:
    engine = services.engine

    def decide(ack, body, action, respond, approve: bool) -> None:
        ack()
        user = body["user"]["id"]
        try:
            value = read_value(action.get("value"))
            message = engine.store.gate_message(
                (body.get("channel") or {}).get("id", ""), (body.get("message") or {}).get("ts", "")
            )
            if message is None or (message.migration_id, message.step, message.version) != (
                value.m,
                value.s,
                value.v,
            ):
                raise UserError(
                    "this button does not belong to the message it was clicked on: nothing was done"
                )
            if message.closed:
                mine = [
                    a for a in engine.store.approvals(value.m, value.s, value.v) if a.actor == user
                ]
                if mine:
                    raise UserError(f"{user} already {mine[0].decision} {value.s} at this version")
                raise UserError(f"this request is closed ({message.closed}): nothing was done")
            decision = engine.verbs.decide(
                value.m,
                actor=user,
                version=value.v,
                interface="slack",
                approve=approve,
                step=value.s,
                actor_groups=services.directory.groups_of(user),
            )
        except UserError as exc:
            respond(
                text=blocks.refusal(exc, user),
                response_type="ephemeral",
                replace_original=False,
            )
            return
        if decision.approved and not decision.passed:
            respond(
                text=f"Approval recorded ({len(decision.approvals)} of {decision.required}).",
                response_type="ephemeral",
                replace_original=False,
            )
            return
        services.notifier.gate_decided(message, "approved" if approve else "rejected", user)

    @app.action(Action.APPROVE)
    def approve(ack, body, action, respond):
        decide(ack, body, action, respond, approve=True)

    @app.action(Action.REJECT)
    def reject(ack, body, action, respond):
        decide(ack, body, action, respond, approve=False)
