"""Slack listeners: thin (ack, parse, call the engine, render). One module per kind."""

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


def register(app: App, services: Services) -> None:
    from bot.commands import card, gates, mention, modal, slash

    slash.register(app, services)
    gates.register(app, services)
    card.register(app, services)
    modal.register(app, services)
    mention.register(app, services)
