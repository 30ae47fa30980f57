"""Running the bot: Socket Mode with SLACK_APP_TOKEN, else HTTP on $PORT behind waitress.

HTTP serves `/slack/events` (bolt, signatures verified) and `/healthz` (database and scheduler).
One process owns the scheduler: run one instance.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from sqlalchemy import text

log = logging.getLogger(__name__)


def health(engine_db, scheduler) -> tuple[bool, dict[str, str]]:
    checks: dict[str, str] = {}
    try:
        with engine_db.connect() as conn:
            conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001
        checks["database"] = f"failing: {exc.__class__.__name__}"
    checks["scheduler"] = "ok" if scheduler is not None and scheduler.running else "stopped"
    return all(v == "ok" for v in checks.values()), checks


def wsgi_app(app: App, healthcheck: Callable[[], tuple[bool, dict]]):
    slack = SlackRequestHandler(app, path="/slack/events")

    def application(environ, start_response):
        if environ.get("PATH_INFO") == "/healthz":
            ok, checks = healthcheck()
            body = json.dumps({"ok": ok, **checks}).encode()
            start_response(
                "200 OK" if ok else "503 Service Unavailable",
                [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
            )
            return [body]
        return slack(environ, start_response)

    return application


def make_http_server(
    app: App, healthcheck, *, host: str = "0.0.0.0", port: int | None = None, threads: int = 16
):
    """A waitress server (not bolt's development server); `.run()` serves until closed."""
    from waitress.server import create_server

    port = port if port is not None else int(os.environ.get("PORT", "3000"))
    return create_server(
        wsgi_app(app, healthcheck), host=host, port=port, threads=threads, ident="kafka-migrate"
    )


def run_socket_mode(app: App, app_token: str) -> None:
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    SocketModeHandler(app, app_token).start()
