"""The start form (`/kafka-migrate start` with no arguments)."""

from __future__ import annotations

import logging
import re

from slack_bolt import App

from bot.commands.starting import start_in_slack
from bot.errors import UserError
from bot.migration.grammar import parse_start
from bot.reasons import reason
from bot.slack import blocks
from bot.slack.ids import START_VIEW

log = logging.getLogger(__name__)
FIELDS = (
    "name",
    "source",
    "target",
    "topics",
    "exclude",
    "via",
    "replication_policy",
    "groups_exclude",
    "groups_exclude_reason",
    "source_registry",
    "target_registry",
)


def _values(view: dict) -> dict[str, str]:
    out = {}
    for block_id, actions in view["state"]["values"].items():
        element = actions.get("value", {})
        selected = element.get("selected_option") or {}
        value = selected.get("value") if selected else element.get("value")
        if value:
            out[block_id] = value.strip()
    return out


def _args(values: dict[str, str]) -> list[str]:
    args = [values.get("name", "")]
    args += [f"{key}={values[key]}" for key in FIELDS[1:] if values.get(key)]
    return args


def _field_of(message: str) -> str:
    """The form field an error is about (the first field it names)."""
    lowered = message.lower()
    for key in FIELDS:
        if re.search(rf"\b{key}\b", lowered):
            return key
    return "name"


def register(app: App, services) -> None:
    def ack_view(ack, view):
        try:
            parse_start(_args(_values(view)))
        except UserError as exc:
            text = str(exc).split("\nusage:")[0]
            ack(
                response_action="errors",
                errors={_field_of(text): blocks.clip(blocks.escape(text), 150)},
            )
            return
        ack()

    def start(view, body, client):
        user, channel = body["user"]["id"], view.get("private_metadata") or None
        try:
            text = start_in_slack(services, parse_start(_args(_values(view))), user, channel)
        except UserError as exc:
            text = blocks.refusal(exc, user, mark=":warning:")
        except Exception as exc:  # noqa: BLE001
            log.exception("start from the form failed")
            text = blocks.clip(f":x: start failed: {blocks.escape(reason(exc))}")
        client.chat_postEphemeral(
            channel=channel or services.notifier.channel, user=user, text=text
        )

    app.view(START_VIEW)(ack=ack_view, lazy=[start])
