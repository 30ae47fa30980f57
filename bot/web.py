"""The bot's web side: HTTP on $PORT behind waitress, and the Socket Mode link.

HTTP serves `/slack/events` (signature checked here, then bolt), `/healthz` (database and
scheduler) and `/metrics` (Prometheus text, see metrics.py). In Socket Mode the same server
serves `/healthz` and `/metrics` only (Slack's requests come over the socket), and the
socket's state is part of `/healthz`. One process owns the scheduler: run one instance.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from urllib.parse import parse_qs

from slack_bolt import App, BoltContext, BoltRequest
from slack_bolt.adapter.wsgi.http_response import WsgiHttpResponse
from slack_sdk.signature import SignatureVerifier
from sqlalchemy import text

from bot.acks import Acks

MAX_BODY = 1 << 20  # Slack's payloads are far smaller

log = logging.getLogger(__name__)


def health(db, lead, socket_mode: SocketMode | None = None) -> tuple[bool, dict]:
    """Database, scheduler (or standby: another process holds the lease) and, in Socket Mode,
    the link."""
    checks: dict[str, str] = {}
    try:
        with db.connect() as conn:
            conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001
        checks["database"] = f"failing: {exc.__class__.__name__}"
    if lead is not None and not lead.leading and lead.leader:
        checks["scheduler"] = "ok"
        checks["role"] = f"standby ({lead.leader} moves migrations)"
    else:
        running = lead is not None and lead.scheduler is not None and lead.scheduler.running
        checks["scheduler"] = "ok" if running else "stopped"
    ok = all(v == "ok" for k, v in checks.items() if k != "role")
    if socket_mode is not None:
        checks["socket"] = socket_mode.state()
        ok = ok and socket_mode.healthy()
    return ok, checks


def _answer(start_response, status: str, message: str) -> list[bytes]:
    body = (message + "\n").encode()
    start_response(
        status, [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))]
    )
    return [body]


class Refused(Exception):
    """A request to /slack/events answered at the edge: its HTTP status and the reason."""

    def __init__(self, status: str, reason: str):
        super().__init__(reason)
        self.status, self.reason = status, reason


class SlackRequest(BoltRequest):
    """A request for bolt whose body the edge parsed, once (over HTTP after its signature was
    checked; over Socket Mode as the envelope's payload). Bolt's own reading of a body guesses
    the format from the text (a slash command whose text says "payload" comes out empty) and
    reads it again for every lazy listener; this one hands bolt the body as read.

    A lazy listener gets a copy, which bolt deep-copies: the body, the typed payload, the
    client, every value of the context, for each request, in the thread that owes Slack the
    ack (most of the ack's own work). The copy here shares them instead: the body and what the
    middleware read from it (the typed payload, the command line, the button) are never
    changed once read, and bolt's own values (client, respond, say) are safe across threads;
    only the context itself is new, less the values bolt keeps per thread."""

    def __init__(
        self,
        *,
        body: dict,
        raw_body: str = "",
        headers=None,
        query=None,
        context=None,
        mode: str = "http",
    ):
        super().__init__(
            body=body, query=query, headers=headers, context=context, mode="socket_mode"
        )
        self.raw_body, self.mode = raw_body, mode  # bolt takes a dict body only in that mode

    def to_copyable(self) -> SlackRequest:
        copy = object.__new__(SlackRequest)  # as read already: bolt's reading is not redone
        copy.__dict__.update(self.__dict__)
        per_thread = BoltContext.non_copyable_standard_property_names
        copy.context = BoltContext({k: v for k, v in self.context.items() if k not in per_thread})
        return copy

    def __deepcopy__(self, _memo) -> SlackRequest:
        return self.to_copyable()


def parse(text: str, content_type: str) -> dict:
    """The body of a request, read once: a form (a slash command, or `payload=` JSON) or JSON
    (events). Raises Refused when it is neither, or not a JSON object."""
    kind = content_type.split(";")[0].strip().lower()
    try:
        if kind == "application/x-www-form-urlencoded":
            form = {k: v[0] for k, v in parse_qs(text, keep_blank_values=True).items()}
            data = json.loads(form["payload"]) if "payload" in form else form
        elif kind == "application/json":
            data = json.loads(text)
        else:
            raise Refused("415 Unsupported Media Type", f"unsupported content type {kind[:60]!r}")
    except (ValueError, RecursionError):
        raise Refused("400 Bad Request", "the payload is not JSON") from None
    if not isinstance(data, dict):
        raise Refused("400 Bad Request", "the payload is not a JSON object")
    if kind == "application/json" and "command" in data:
        raise Refused("400 Bad Request", "slash commands come form-encoded")
    return data


def read(environ, verifier: SignatureVerifier) -> SlackRequest:
    """A request to /slack/events as bolt dispatches it, or Refused. Authenticated first: the
    signature (timestamp within 5 minutes) is checked here, once, before anything of the body
    is parsed; bolt's own check is off (build_app), and Socket Mode needs none (its link is
    opened with the app token). What the body says is checked once, by bolt's middleware
    (bot/app.py), over HTTP and Socket Mode alike."""
    if environ.get("REQUEST_METHOD") != "POST":
        raise Refused("405 Method Not Allowed", "POST only")
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise Refused("400 Bad Request", "malformed Content-Length") from None
    if length > MAX_BODY:
        raise Refused("413 Payload Too Large", "request body too large")
    raw = environ["wsgi.input"].read(length) if length > 0 else b""
    timestamp = environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP") or ""
    signature = environ.get("HTTP_X_SLACK_SIGNATURE") or ""
    if not timestamp.isdigit() or not signature:
        raise Refused("401 Unauthorized", "missing or malformed Slack signature headers")
    try:
        body = raw.decode()
    except UnicodeDecodeError:
        raise Refused("400 Bad Request", "the body is not UTF-8") from None
    if not verifier.is_valid(body=body, timestamp=timestamp, signature=signature):
        raise Refused("401 Unauthorized", "invalid signature or a request older than 5 minutes")
    content_type = environ.get("CONTENT_TYPE") or ""
    headers = {
        "content-type": content_type,
        "x-slack-request-timestamp": timestamp,
        "x-slack-signature": signature,
        **{
            key[5:].lower().replace("_", "-"): value
            for key, value in environ.items()
            if key.startswith("HTTP_X_SLACK_")
        },
    }
    return SlackRequest(
        body=parse(body, content_type),
        raw_body=body,
        headers=headers,
        query=environ.get("QUERY_STRING") or None,
    )


def wsgi_app(
    app: App | None,
    healthcheck: Callable[[], tuple[bool, dict]],
    signing_secret: str | None = None,
    metrics: Callable[[], bytes] | None = None,
    routes: dict[str, Callable] | None = None,
    acks: Acks | None = None,
):
    """`/healthz`, `/metrics` when `metrics` (the exposition) is given, and `/slack/events`
    when `app` is given (HTTP mode). `routes` adds WSGI apps by path (a path ending in "/" is a
    prefix), e.g. the rehearsal page. `acks` counts the requests to /slack/events not yet
    answered (bot/acks.py: the lazy listeners wait for them)."""
    if app is not None and not signing_secret:
        raise ValueError("Slack requests over HTTP need the signing secret")
    verifier = SignatureVerifier(signing_secret) if app is not None else None
    owed = acks.owed if acks is not None else contextlib.nullcontext

    def application(environ, start_response):
        if environ.get("PATH_INFO") == "/healthz":
            ok, checks = healthcheck()
            body = json.dumps({"ok": ok, **checks}).encode()
            start_response(
                "200 OK" if ok else "503 Service Unavailable",
                [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
            )
            return [body]
        if metrics is not None and environ.get("PATH_INFO") == "/metrics":
            return _metrics(metrics, start_response)
        if (extra := _route(routes, environ.get("PATH_INFO") or "")) is not None:
            return extra(environ, start_response)
        if app is None:
            return _answer(
                start_response,
                "404 Not Found",
                "not found: no Slack requests over HTTP here (Socket Mode or headless)",
            )
        if environ.get("PATH_INFO") != "/slack/events":
            return _answer(start_response, "404 Not Found", "not found")
        with owed():
            try:
                request = read(environ, verifier)
            except Refused as refused:
                log.warning("refused a request to /slack/events: %s", refused.reason)
                return _answer(start_response, refused.status, refused.reason)
            answer = app.dispatch(request)
            response = WsgiHttpResponse(answer.status, answer.headers, answer.body)
            start_response(response.status, response.get_headers())
            return response.get_body()

    return application


def _route(routes: dict[str, Callable] | None, path: str) -> Callable | None:
    for prefix, extra in (routes or {}).items():
        if path == prefix or (prefix.endswith("/") and prefix != "/" and path.startswith(prefix)):
            return extra
    return None


def _metrics(render: Callable[[], bytes], start_response) -> list[bytes]:
    from bot.metrics import CONTENT_TYPE

    try:
        body = render()
    except Exception as exc:  # noqa: BLE001 - the database is away: say so, Prometheus retries
        log.warning("cannot render /metrics: %s", exc.__class__.__name__)
        return _answer(
            start_response,
            "503 Service Unavailable",
            f"metrics unavailable: {exc.__class__.__name__}",
        )
    start_response("200 OK", [("Content-Type", CONTENT_TYPE), ("Content-Length", str(len(body)))])
    return [body]


def make_http_server(
    app: App | None,
    healthcheck,
    *,
    signing_secret: str | None = None,
    metrics: Callable[[], bytes] | None = None,
    host: str = "0.0.0.0",
    port: int | None = None,
    threads: int = 16,
    routes: dict[str, Callable] | None = None,
    acks: Acks | None = None,
):
    """A waitress server (not bolt's development server); `.run()` serves until closed."""
    from waitress.server import create_server

    port = port if port is not None else int(os.environ.get("PORT", "3000"))
    return create_server(
        wsgi_app(app, healthcheck, signing_secret, metrics, routes, acks),
        host=host,
        port=port,
        threads=threads,
        ident="kafka-migrate",
    )


class SocketMode:
    """The bot's Socket Mode link to Slack (slack_sdk's built-in client, through bolt's handler):
    connects, reconnects on its own (dropped link, `disconnect` messages), and reports its state
    for `/healthz`: failing once it has been down longer than `grace` seconds.

    A link closed by Slack is replaced at once; a link that dropped silently is noticed by the
    client's pings (no pong for 4 intervals, or 5 failed pings), so `ping_interval` bounds how
    long a dropped link goes unnoticed (about 4-5 intervals)."""

    def __init__(
        self,
        app: App,
        app_token: str,
        acks: Acks | None = None,
        *,
        grace: float = 30.0,
        ping_interval: float = 3,
    ):
        self.grace = grace
        self.handler = _handler(acks or Acks())(app, app_token, ping_interval=ping_interval)
        self.down_since: float | None = time.monotonic()
        self._stop = threading.Event()
        self._watch = threading.Thread(target=self._watch_link, name="socket-watch", daemon=True)

    def connect(self) -> SocketMode:
        self.handler.connect()  # raises when Slack refuses the app token
        self._watch.start()
        return self

    def connected(self) -> bool:
        return self.handler.client.is_connected()

    def _watch_link(self) -> None:
        while not self._stop.wait(0.5):
            if self.connected():
                if self.down_since is not None:
                    log.info("Socket Mode connected")
                self.down_since = None
            elif self.down_since is None:
                log.warning("Socket Mode link down; reconnecting")
                self.down_since = time.monotonic()

    def state(self) -> str:
        if self.connected():
            return "ok"
        down = time.monotonic() - (self.down_since or time.monotonic())
        return f"reconnecting for {down:.0f}s" if down <= self.grace else f"down for {down:.0f}s"

    def healthy(self) -> bool:
        return self.state().startswith(("ok", "reconnecting"))

    def close(self, wait: float = 10.0) -> None:
        """Closes the link at once, and for good. slack_sdk's close is racy: its session
        runner, looking again 0.1 s after a session ends, marks the session's state running
        again while the socket is still open, and a reconnect under way makes a new state and
        turns auto-reconnect back on; either leaves the runner reading forever and close()
        joining it forever. So: no reconnect, the runners told to stop looking, the state
        marked terminated until the runner has stopped, then slack_sdk's close. Shutting the
        socket's read side ends the reader's wait on it (it reads end-of-file) at once; the
        message processor, told the client is closed, takes a None (which it skips) and stops."""
        self._stop.set()
        client = self.handler.client
        client.closed = True
        client.auto_reconnect_enabled = client.default_auto_reconnect_enabled = False
        client.current_app_monitor.event.set()
        runner = client.current_session_runner
        runner.event.set()
        client.current_session_state.terminated = True
        sock = getattr(client.current_session, "sock", None)
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RD)
        deadline = time.monotonic() + wait
        while runner.thread is not None and runner.thread.is_alive():
            if time.monotonic() > deadline:
                log.warning("Socket Mode: the session reader did not stop; leaving it")
                return
            client.current_session_state.terminated = True
            runner.thread.join(0.1)
        client.message_queue.put(None)
        self.handler.close()


def _handler(acks: Acks):
    """bolt's Socket Mode handler, its request read as the HTTP edge's are (a SlackRequest:
    the copies for lazy listeners share its body) and counted in `acks` until its ack is
    sent."""
    from slack_bolt.adapter.socket_mode import SocketModeHandler
    from slack_bolt.adapter.socket_mode.internals import build_headers, send_response

    class Handler(SocketModeHandler):
        def handle(self, client, req) -> None:
            started = time.time()
            with acks.owed():
                request = SlackRequest(
                    body=req.payload, headers=build_headers(req), mode="socket_mode"
                )
                send_response(client, req, self.app.dispatch(request), started)

    return Handler
