"""The bolt App: every request read once into its typed model, retried deliveries handled once,
one error path, listeners wired.

The signature of an HTTP request is checked once, by the web edge (bot/web.py), before
anything of its body is parsed; bolt's own check is off here, as it would read the body first
and check again. Socket Mode requests come over a link opened with the app token.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from concurrent.futures import Executor, ThreadPoolExecutor

from slack_bolt import App, BoltContext, BoltRequest, BoltResponse
from slack_bolt.middleware import Middleware

from bot import commands
from bot.commands.answers import on_error
from bot.errors import UserError
from bot.slack.ids import START_VIEW, Action
from bot.slack.payloads import BlockActions, Malformed, ViewSubmission, parse, read_value

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


class Typed(Middleware):
    """Read the request into its model, once, for every listener: `context["payload"]` (a
    SlashCommand, BlockActions or ViewSubmission; None for events). A malformed one is
    answered 400 with the reason and reaches no listener. (A class, as bolt builds the keyword
    arguments of a function middleware from the body, and a malformed body breaks that.)"""

    def process(self, *, req: BoltRequest, resp: BoltResponse, next):  # noqa: A002 - bolt's name
        try:
            payload = parse(req.body)
        except Malformed as exc:
            log.warning("malformed request refused: %s", exc)
            return BoltResponse(status=400, body=f"malformed request: {exc}")
        if isinstance(payload, ViewSubmission) and payload.view.callback_id != START_VIEW:
            return BoltResponse(status=400, body="malformed request: unknown form")
        req.context["payload"] = payload
        return next()


def button(context: BoltContext, next) -> BoltResponse | None:  # noqa: A002 - bolt injects `next` by name
    """A button's value read into `context["button"]` (a ButtonValue). A button that is not
    one of ours, or a value the bot did not write, is refused (UserError, see on_error)."""
    payload = context["payload"]
    if isinstance(payload, BlockActions):
        if payload.action.action_id not in set(Action):
            log.warning("unknown action %r refused", payload.action.action_id[:80])
            raise UserError("this button is not one of kafka-migrate's: nothing was done")
        context["button"] = read_value(payload.action.value)
    return next()


def build_app(
    services: commands.Services,
    *,
    client,
    workers: int = 16,
    listener_executor: Executor | None = None,
) -> App:
    """`listener_executor`: the pool bolt runs listeners on (16 threads by default)."""
    app = App(
        client=client,
        request_verification_enabled=False,  # checked once, by the web edge (bot/web.py)
        process_before_response=False,
        listener_executor=listener_executor
        or ThreadPoolExecutor(max_workers=workers, thread_name_prefix="bolt"),
    )
    seen = SeenDeliveries()

    def once(body, next):  # noqa: A002 - bolt injects `next` by name
        key = delivery_key(body)
        if key is not None and not seen.first_time(key):
            log.info("duplicate delivery %s ignored", key)
            return BoltResponse(status=200, body="")
        return next()

    def shared(context, next):  # noqa: A002 - bolt injects `next` by name
        context["services"] = services
        return next()

    for middleware in (Typed(), once, button, shared):
        app.use(middleware)
    app.error(on_error)
    commands.register(app, services)
    return app
