"""The start form (`/kafka-migrate start` with no arguments): read once, before the ack; a
grammar error goes back to the field it is about, anything later to the user."""

from __future__ import annotations

from slack_bolt import App, BoltContext

from bot.commands.answers import ack_at_once, after_ack, tell
from bot.commands.plain import Plain
from bot.commands.starting import start_in_slack
from bot.migration.grammar import parse_start
from bot.slack.ids import START_FIELDS, START_VIEW
from bot.slack.payloads import ViewSubmission


def values(submission: ViewSubmission) -> dict[str, str]:
    """What the form's fields hold, by block id (a field left empty is absent)."""
    out = {}
    for block_id, actions in submission.view.state.values.items():
        element = actions.get("value")
        if element is None:
            continue
        selected = element.selected_option or {}
        value = selected.get("value") if selected else element.value
        if value:
            out[block_id] = value.strip()
    return out


def arguments(fields: dict[str, str]) -> list[str]:
    """The form as start's arguments: the name, then key=value for each field given."""
    return [fields.get("name", "")] + [
        f"{key}={fields[key]}" for key in START_FIELDS[1:] if fields.get(key)
    ]


def read_form(context: BoltContext, next):  # noqa: A002 - bolt injects `next` by name
    """The form read once into `context["start_request"]`, before the ack: a grammar error is
    refused at its field (UserError.field, answered by the one error path)."""
    context["start_request"] = parse_start(arguments(values(context["payload"])))
    return next()


@after_ack(lambda _context: "start")
def start(context: BoltContext) -> None:
    services, submission = context["services"], context["payload"]
    channel = submission.view.private_metadata or None
    text = start_in_slack(services, context["start_request"], submission.user.id, channel)
    tell(context, text)


def register(app: App, _services) -> None:
    app.view(START_VIEW, middleware=[Plain(read_form)])(ack=ack_at_once, lazy=[start])
