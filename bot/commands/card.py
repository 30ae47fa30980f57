"""The card's buttons: Pause, Resume, Retry, Cancel (requester or approvers only)."""

from __future__ import annotations

from slack_bolt import App

from bot.commands.auth import check_operator
from bot.errors import UserError
from bot.migration.notify import Notification, NotificationKind
from bot.slack import blocks
from bot.slack.ids import Action
from bot.slack.payloads import read_value

VERBS = {
    Action.PAUSE: "pause",
    Action.RESUME: "resume",
    Action.RETRY: "retry",
    Action.CANCEL: "cancel",
}


def register(app: App, services) -> None:
    engine = services.engine

    def operate(ack, body, action, respond) -> None:
        ack()
        user = body["user"]["id"]
        verb = VERBS[Action(action["action_id"])]
        try:
            value = read_value(action.get("value"))
            migration_id, version = value.m, value.v
            current = engine.store.get(migration_id)
            clicked = (
                (body.get("channel") or {}).get("id"),
                (body.get("message") or {}).get("ts"),
            )
            if clicked != (current.channel or services.notifier.channel, current.card_ts):
                raise UserError(
                    "this button does not belong to the message it was clicked on: nothing was done"
                )
            if current.version != version:
                services.notifier.notify(
                    Notification(NotificationKind.CARD_CHANGED, migration_id, "stale")
                )
                raise UserError(
                    f"this card showed version {version}; {migration_id} is at "
                    f"version {current.version} now ({current.status} at "
                    f"{current.step}). The card is being refreshed: look again."
                )
            check_operator(services, migration_id, user)
            m = getattr(engine.verbs, verb)(migration_id, user)
        except UserError as exc:
            respond(
                text=blocks.refusal(exc, user),
                response_type="ephemeral",
                replace_original=False,
            )
            return
        respond(
            text=f"{blocks.code(m.id)}: {m.status} at {blocks.code(m.step)}",
            response_type="ephemeral",
            replace_original=False,
        )

    for action_id in VERBS:
        app.action(action_id)(operate)
