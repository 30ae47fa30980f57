"""Events: a mention of the bot is answered in its thread with where to start (after the ack, as
every answer that calls Slack); every other event the app receives is acknowledged and ignored
(an unacknowledged event is redelivered by Slack)."""

from __future__ import annotations

import logging
import re

from slack_bolt import App
from slack_sdk import WebClient

from bot.reasons import reason
from bot.slack.ids import COMMAND

log = logging.getLogger(__name__)

EVENTS = ("app_mention",)  # what manifest.yml subscribes to


def mentioned(event: dict, client: WebClient) -> None:
    try:
        client.chat_postMessage(
            channel=event["channel"],
            thread_ts=event.get("thread_ts") or event["ts"],
            text=f"I run Kafka migrations: `{COMMAND} help` lists what I can do.",
        )
    except Exception as exc:  # noqa: BLE001 - logged as the error handler logs (on_error)
        log.error("Slack listener failed: %s", reason(exc), exc_info=exc)


def other_event() -> None:
    """Acknowledged (bolt acks events itself), nothing else."""


def register(app: App, _services) -> None:
    app.event(EVENTS[0])(ack=other_event, lazy=[mentioned])
    app.event(re.compile(".*"))(other_event)
