"""Events: a mention of the bot is answered in its thread with where to start; every other event
the app receives is acknowledged and ignored (an unacknowledged event is redelivered by Slack)."""

from __future__ import annotations

import re

from slack_bolt import App
from slack_sdk import WebClient

from bot.slack.ids import COMMAND

EVENTS = ("app_mention",)  # what manifest.yml subscribes to


def mentioned(event: dict, client: WebClient) -> None:
    client.chat_postMessage(
        channel=event["channel"],
        thread_ts=event.get("thread_ts") or event["ts"],
        text=f"I run Kafka migrations: `{COMMAND} help` lists what I can do.",
    )


def other_event() -> None:
    """Acknowledged (bolt acks events itself), nothing else."""


def register(app: App, _services) -> None:
    app.event(EVENTS[0])(mentioned)
    app.event(re.compile(".*"))(other_event)
