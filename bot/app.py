"""The bolt App: signature verification on, retried deliveries handled once, listeners wired."""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor

from slack_bolt import App, BoltResponse

from bot import commands

log = logging.getLogger(__name__)


class SeenDeliveries:
    """Remembers recent deliveries so a retried or doubled one takes effect once."""

    def __init__(self, size: int = 5000):
        self.size = size
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def first_time(self, key: str) -> bool:
        with self._lock:
            if key in self._seen:
                return False
            self._seen[key] = None
            if len(self._seen) > self.size:
                self._seen.popitem(last=False)
            return True


def delivery_key(body: dict) -> str | None:
    if body.get("type") == "block_actions" and body.get("actions"):
        action = body["actions"][0]
        return f"action:{body.get('user', {}).get('id')}:{action.get('action_ts')}"
    if body.get("command") and body.get("trigger_id"):
        return f"command:{body['trigger_id']}"
    if body.get("type") == "view_submission":
        return f"view:{body.get('view', {}).get('id')}:{body.get('view', {}).get('hash')}"
    return None


def build_app(
    services: commands.Services, *, client, signing_secret: str | None, workers: int = 16
) -> App:
    app = App(
        client=client,
        signing_secret=signing_secret,
        process_before_response=False,
        listener_executor=ThreadPoolExecutor(max_workers=workers, thread_name_prefix="bolt"),
    )
    seen = SeenDeliveries()

    @app.middleware
    def once(body, next):  # noqa: A002 - bolt injects `next` by name
        key = delivery_key(body)
        if key is not None and not seen.first_time(key):
            log.info("duplicate delivery %s ignored", key)
            return BoltResponse(status=200, body="")
        return next()

    commands.register(app, services)
    return app
