"""Notifications are domain events sent through a port (the mover and the verbs `announce`
them, journal.py); Slack implements it, the CLI logs."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol


class NotificationKind(StrEnum):
    CARD_CHANGED = "card_changed"
    STEP_DONE = "step_done"
    GATE_OPENED = "gate_opened"
    GATE_CLOSED = "gate_closed"
    LAG_ZERO = "lag_zero"
    STALL = "stall"
    FAILURE = "failure"
    ALERT = "alert"  # something people must look at now (a write on the source during the soak)
    COMPLETED = "completed"


@dataclass(frozen=True)
class Notification:
    kind: NotificationKind
    migration_id: str
    text: str
    step: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


class Notifier(Protocol):
    def notify(self, notification: Notification) -> None: ...


class LogNotifier:
    """Writes notifications to the log (the CLI's and the headless engine's port)."""

    def __init__(self, logger: logging.Logger | None = None):
        self.log = logger or logging.getLogger("kafka_migrate.notify")
        self.sent: list[Notification] = []

    def notify(self, notification: Notification) -> None:
        self.sent.append(notification)
        if notification.kind != NotificationKind.CARD_CHANGED:
            self.log.info(
                "[%s] %s: %s", notification.migration_id, notification.kind, notification.text
            )
