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
from bot.acks import Acks, acks_first
from bot.commands.answers import on_error
from bot.commands.plain import Plain
from bot.errors import UserError
from bot.slack.ids import START_VIEW, Action
from bot.slack.payloads import BlockActions, Malformed, ViewSubmission, parse, read_value

log = logging.getLogger(__name__)
# Threads for the work after the acks: most of it waits on a cluster, the database or Slack,
# so a few run side by side; more would only contend for the interpreter with the acks.
LAZY_WORKERS = 8


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


class Once(Middleware):
    """A retried or doubled delivery answered 200 and handled no further (SeenDeliveries)."""

    def __init__(self):
        self.seen = SeenDeliveries()

    def process(self, *, req: BoltRequest, resp: BoltResponse, next):  # noqa: A002 - bolt's name
        key = delivery_key(req.body)
        if key is not None and not self.seen.first_time(key):
            log.info("duplicate delivery %s ignored", key)
            return BoltResponse(status=200, body="")
        return next()


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


def button(context: BoltContext, next) -> BoltResponse | None:  # noqa: A002 - bolt's name
    """A button's value read into `context["button"]` (a ButtonValue). A button that is not
    one of ours, or a value the bot did not write, is refused (UserError, see on_error)."""
    payload = context["payload"]
    if isinstance(payload, BlockActions):
        if payload.action.action_id not in set(Action):
            log.warning("unknown action %r refused", payload.action.action_id[:80])
            raise UserError("this button is not one of kafka-migrate's: nothing was done")
        context["button"] = read_value(payload.action.value)
    return next()


def bolt_app(client, executor: Executor, acks: Acks) -> App:
    """A bolt App as the bot runs it, before its middleware and listeners (bench/bare_app.py
    measures the bot against this one):
    - the signature is checked by the web edge (bot/web.py), not by bolt;
    - `process_before_response`: a request's ack function runs in the request's own thread,
      and the ack is sent as soon as it returns. Otherwise bolt queues the ack function on
      the listener pool, behind whatever lazy work is queued there, and polls every 10 ms
      until it has run;
    - the lazy listeners run on `executor`, each once no ack is owed (bot/acks.py)."""
    app = App(
        client=client,
        request_verification_enabled=False,  # checked once, by the web edge (bot/web.py)
        process_before_response=True,
        listener_executor=executor,
    )
    acks_first(app, executor, acks)
    return app


def build_app(
    services: commands.Services,
    *,
    client,
    acks: Acks,
    workers: int = LAZY_WORKERS,
    listener_executor: Executor | None = None,
) -> App:
    """`listener_executor`: the pool the lazy listeners run on (`workers` threads by
    default); `acks`: the acks owed, which the lazy listeners wait for."""
    app = bolt_app(
        client,
        listener_executor or ThreadPoolExecutor(max_workers=workers, thread_name_prefix="lazy"),
        acks,
    )

    def shared(context, next):  # noqa: A002 - bolt's name
        context["services"] = services
        return next()

    for middleware in (Typed(), Once(), Plain(button), Plain(shared)):
        app.use(middleware)
    app.error(on_error)
    commands.register(app, services)
    return app
