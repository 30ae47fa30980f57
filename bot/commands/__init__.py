"""Slack listeners: thin (ack, parse, call the engine, render). One module per kind, each with
`register(app, services)`; the listeners are module-level functions taking bolt's keyword
arguments, and read what bolt's middleware (bot/app.py) put in the context: `services`,
`payload` (the typed request) and, for buttons, `button` (its value)."""

from __future__ import annotations

from dataclasses import dataclass

from slack_bolt import App

from bot.config import Settings
from bot.migration.engine import Engine
from bot.slack.directory import Directory
from bot.slack.notifier import SlackNotifier


@dataclass
class Services:
    engine: Engine
    notifier: SlackNotifier
    directory: Directory
    settings: Settings

    def __deepcopy__(self, _memo) -> Services:
        """bolt copies a request's context for its lazy listeners: the services are shared."""
        return self


def register(app: App, services: Services) -> None:
    from bot.commands import card, gates, mention, modal, slash

    for kind in (slash, gates, card, modal, mention):
        kind.register(app, services)
