"""Running the bot: Socket Mode with SLACK_APP_TOKEN, else HTTP on $PORT behind waitress.

HTTP serves `/slack/events` (bolt, signatures verified) and `/healthz` (database and scheduler).
In Socket Mode the same server serves `/healthz` only (Slack's requests come over the socket),
and the socket's state is part of it. One process owns the scheduler: run one instance.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from sqlalchemy import text

log = logging.getLogger(__name__)


def health(engine_db, scheduler, socket_mode: SocketMode | None = None) -> tuple[bool, dict]:
    checks: dict[str, str] = {}
    try:
        with engine_db.connect() as conn:
            conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001
        checks["database"] = f"failing: {exc.__class__.__name__}"
    checks["scheduler"] = "ok" if scheduler is not None and scheduler.running else "stopped"
    ok = all(v == "ok" for v in checks.values())
    if socket_mode is not None:
        checks["socket"] = socket_mode.state()
        ok = ok and socket_mode.healthy()
    return ok, checks


def wsgi_app(app: App | None, healthcheck: Callable[[], tuple[bool, dict]]):
    """`/healthz`, and `/slack/events` when `app` is given (HTTP mode)."""
    slack = SlackRequestHandler(app, path="/slack/events") if app is not None else None

    def application(environ, start_response):
        if environ.get("PATH_INFO") == "/healthz":
            ok, checks = healthcheck()
            body = json.dumps({"ok": ok, **checks}).encode()
            start_response(
                "200 OK" if ok else "503 Service Unavailable",
                [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
            )
            return [body]
        if slack is None:
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found: in Socket Mode Slack's requests arrive over the socket\n"]
        return slack(environ, start_response)

    return application


def make_http_server(
    app: App | None,
    healthcheck,
    *,
    host: str = "0.0.0.0",
    port: int | None = None,
    threads: int = 16,
):
    """A waitress server (not bolt's development server); `.run()` serves until closed."""
    from waitress.server import create_server

    port = port if port is not None else int(os.environ.get("PORT", "3000"))
    return create_server(
        wsgi_app(app, healthcheck), host=host, port=port, threads=threads, ident="kafka-migrate"
    )


class SocketMode:
    """The bot's Socket Mode link to Slack (slack_sdk's built-in client, through bolt's handler):
    connects, reconnects on its own (dropped link, `disconnect` messages), and reports its state
    for `/healthz`: failing once it has been down longer than `grace` seconds.

    A link closed by Slack is replaced at once; a link that dropped silently is noticed by the
    client's pings (no pong for 4 intervals, or 5 failed pings), so `ping_interval` bounds how
    long a dropped link goes unnoticed (about 4-5 intervals)."""

    def __init__(self, app: App, app_token: str, *, grace: float = 30.0, ping_interval: float = 3):
        from slack_bolt.adapter.socket_mode import SocketModeHandler

        self.grace = grace
        self.handler = SocketModeHandler(app, app_token, ping_interval=ping_interval)
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

    def close(self) -> None:
        self._stop.set()
        self.handler.close()
