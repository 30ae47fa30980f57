"""Approve / Reject buttons of a gate request: authorized on the server at click time."""

from __future__ import annotations

from slack_bolt import App

from bot.errors import UserError
from bot.slack import blocks
from bot.slack.ids import Action, read_value


def register(app: App, services) -> None:
    engine = services.engine

    def decide(ack, body, action, client, respond, approve: bool) -> None:
        ack()
        user = body["user"]["id"]
        migration_id, version, step = read_value(action["value"])
        try:
            engine.decide(
                migration_id,
                actor=user,
                version=version,
                via="slack",
                approve=approve,
                step=step,
                actor_groups=services.directory.groups_of(user),
            )
        except UserError as exc:
            respond(
                text=blocks.clip(f":no_entry: {exc}"),
                response_type="ephemeral",
                replace_original=False,
            )
            return
        approved = [
            a
            for a in engine.store.approvals(migration_id, step, version)
            if a.decision == "approved"
        ]
        required = engine.approval_policy().required
        message = body["message"]
        original = message["blocks"][0]["text"]["text"]
        if approve and len(approved) < required:
            respond(
                text=f"Approval recorded ({len(approved)} of {required}).",
                response_type="ephemeral",
                replace_original=False,
            )
            return
        client.chat_update(
            channel=body["channel"]["id"],
            ts=message["ts"],
            text=f"{step} {'approved' if approve else 'rejected'} by {user}",
            blocks=blocks.as_dicts(
                blocks.decided(original, "approved" if approve else "rejected", user)
            ),
        )

    @app.action(Action.APPROVE)
    def approve(ack, body, action, client, respond):
        decide(ack, body, action, client, respond, approve=True)

    @app.action(Action.REJECT)
    def reject(ack, body, action, client, respond):
        decide(ack, body, action, client, respond, approve=False)
