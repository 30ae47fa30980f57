"""The write side the mover and the verbs share: a change saved with its audit event (a
conditional update, see store.py), then announced through the notifier port."""

from __future__ import annotations

import logging
from typing import Any

from bot.migration.notify import Notification, NotificationKind, Notifier
from bot.migration.store import Store
from bot.models import EventKind, Migration

log = logging.getLogger(__name__)


class Journal:
    def __init__(self, store: Store, notifier: Notifier):
        self.store = store
        self.notifier = notifier

    def announce(self, m: Migration, kind: NotificationKind, text: str, **data: Any) -> None:
        try:
            self.notifier.notify(Notification(kind, m.id, text, m.step, data))
        except Exception:  # noqa: BLE001 - a notification failure must not stop the runbook
            log.exception("notification %s for %s failed", kind, m.id)

    def save(
        self,
        m: Migration,
        version: int,
        actor: str,
        kind: EventKind,
        message: str,
        reason: str | None = None,
        step: str | None = None,
        **data: Any,
    ) -> Migration:
        m = self.store.save(
            m,
            version,
            actor=actor,
            kind=kind,
            message=message,
            reason=reason,
            data=data,
            step=step,
        )
        self.announce(m, NotificationKind.CARD_CHANGED, message)
        return m
