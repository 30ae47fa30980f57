"""The bolt App: signature verification on, retried deliveries handled once, listeners wired."""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor

from slack_bolt import App, BoltResponse

from bot import commands
from bot.slack.ids import START_VIEW, Action
from bot.slack.payloads import problem

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
    def well_formed(body, next, respond):  # noqa: A002 - bolt injects `next` by name
        """Every request reaches a listener in the shape it expects, or is answered here: over
        HTTP the server checked it already; over Socket Mode this is the check."""
        reason = problem(body)
        if reason is not None:
            log.warning("malformed request refused: %s", reason)
            return BoltResponse(status=400, body=f"malformed request: {reason}")
        kind = body.get("type")
        if kind == "block_actions" and body["actions"][0]["action_id"] not in set(Action):
            log.warning("unknown action %r refused", body["actions"][0]["action_id"][:80])
            if body.get("response_url"):
                respond(
                    text=":no_entry: this button is not one of kafka-migrate's: nothing was done",
                    response_type="ephemeral",
                    replace_original=False,
                )
            return BoltResponse(status=200, body="")
        if kind == "view_submission" and body["view"]["callback_id"] != START_VIEW:
            return BoltResponse(status=400, body="malformed request: unknown form")
        return next()

    @app.middleware
    def once(body, next):  # noqa: A002 - bolt injects `next` by name
        key = delivery_key(body)
        if key is not None and not seen.first_time(key):
            log.info("duplicate delivery %s ignored", key)
            return BoltResponse(status=200, body="")
        return next()

    commands.register(app, services)
    return app
