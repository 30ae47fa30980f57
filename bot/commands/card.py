"""The card's buttons: Pause, Resume, Retry, Cancel and, during the soak, Roll back and
Finalize (requester or approvers only; the last two open an approval gate)."""

from __future__ import annotations

from slack_bolt import App, BoltContext, Respond

from bot.commands.answers import ack_at_once, after_ack
from bot.commands.auth import check_operator
from bot.errors import UserError
from bot.migration.notify import Notification, NotificationKind
from bot.slack import blocks
from bot.slack.ids import Action

VERBS = {
    Action.PAUSE: "pause",
    Action.RESUME: "resume",
    Action.RETRY: "retry",
    Action.CANCEL: "cancel",
    Action.ROLLBACK: "rollback",
    Action.FINALIZE: "finalize",
}


@after_ack(lambda context: VERBS[Action(context["payload"].action.action_id)])
def operate(respond: Respond, context: BoltContext) -> None:
    """Pause, resume, retry, cancel, roll back or finalize from the card, for the version
    the card showed."""
    services, click, value = context["services"], context["payload"], context["button"]
    user = click.user.id
    current = services.engine.store.get(value.m)
    if click.clicked_on != (current.channel or services.notifier.channel, current.card_ts):
        raise UserError(
            "this button does not belong to the message it was clicked on: nothing was done"
        )
    check_operator(services, value.m, user)  # an outsider is told so, whatever the card showed
    if current.version != value.v:
        services.notifier.notify(Notification(NotificationKind.CARD_CHANGED, value.m, "stale"))
        raise UserError(
            f"this card showed version {value.v}; {value.m} is at "
            f"version {current.version} now ({current.status} at "
            f"{current.step}). The card is being refreshed: look again."
        )
    m = getattr(services.engine.verbs, VERBS[Action(click.action.action_id)])(value.m, user)
    respond(
        text=f"{blocks.code(m.id)}: {m.status} at {blocks.code(m.step)}",
        response_type="ephemeral",
        replace_original=False,
    )


def register(app: App, _services) -> None:
    for action_id in VERBS:
        app.action(action_id)(ack=ack_at_once, lazy=[operate])
