"""`kafka-migrate serve`: run the bot in the mode the environment asks for.

- SLACK_BOT_TOKEN + SLACK_APP_TOKEN: Socket Mode (no public URL); /healthz and /metrics on $PORT.
- SLACK_BOT_TOKEN + SLACK_SIGNING_SECRET: HTTP on $PORT: /slack/events, /healthz, /metrics.
- no Slack variables, a config file: headless (the log notifies); /healthz, /metrics on $PORT.
- no Slack variables, no config file: a local rehearsal on the sandbox, from the stand-ins'
  distribution (rehearsal/, the `rehearsal` extra) found through its entry point.
"""

from __future__ import annotations

import os
import signal
import threading

from bot import config
from bot.errors import UserError
from bot.service import Bot


def serve(config_arg: str | None, sandbox_dir: str) -> int:
    if os.environ.get("SLACK_BOT_TOKEN"):
        return _slack(config_arg)
    if os.environ.get("SLACK_APP_TOKEN"):
        raise UserError(
            "SLACK_APP_TOKEN is set but SLACK_BOT_TOKEN is not: Socket Mode needs both "
            "(the bot token xoxb-... posts messages, the app token xapp-... opens the socket)"
        )
    path = config.config_path(config_arg)
    if path.exists():
        return _headless(str(path))
    return _rehearsal()(sandbox_dir)


REHEARSAL = "kafka_migrate.rehearsal"  # the entry point group the stand-ins' distribution fills


def _rehearsal():
    """The browser rehearsal (the page, the Slack stand-in, the sandbox), installed apart from
    the bot: the bot names no module of it, only the entry point."""
    from importlib.metadata import entry_points

    found = entry_points(group=REHEARSAL)
    if not found:
        raise UserError(
            "no config file and no Slack credentials: that runs the local rehearsal, which is "
            "not installed (pip install 'kafka-migrate[rehearsal]' with ./rehearsal, as "
            "`make run` does); or give a config file (KAFKA_MIGRATE_CONFIG, --config) or "
            "SLACK_BOT_TOKEN"
        )
    return next(iter(found)).load()


def _wait_for_signal() -> None:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()


def _in_thread(server) -> None:
    threading.Thread(target=server.run, name="http", daemon=True).start()


def _headless(path: str) -> int:
    from sqlalchemy.engine import make_url

    bot = Bot(config.load(path))
    shown = make_url(bot.db_url).render_as_string(hide_password=True)  # never a DB password
    print(
        f"engine running on {path} ({', '.join(bot.settings.config.clusters)}); drive it "
        f"with: KAFKA_MIGRATE_CONFIG={path} DATABASE_URL={shown} kafka-migrate start ..."
    )
    lead = bot.start_scheduler()
    server = None
    try:
        _one_per_sqlite(lead, bot.db_url)
        if os.environ.get("PORT"):  # headless too: /healthz and /metrics for the operators
            server = bot.http_server()
            print(f"/healthz and /metrics on port {server.effective_port}")
            _in_thread(server)
        _wait_for_signal()
    finally:
        if server is not None:
            server.close()
        bot.stop()
    return 0


def _slack(config_arg: str | None) -> int:
    app_token = os.environ.get("SLACK_APP_TOKEN")
    secret = os.environ.get("SLACK_SIGNING_SECRET")
    if not app_token and not secret:
        raise UserError(
            "HTTP mode needs SLACK_SIGNING_SECRET (or set SLACK_APP_TOKEN for Socket Mode)"
        )
    if app_token and not app_token.startswith("xapp-"):
        raise UserError("SLACK_APP_TOKEN must be an app-level token (xapp-...) for Socket Mode")
    bot = Bot(config.load(config_arg), token=os.environ["SLACK_BOT_TOKEN"], signing_secret=secret)
    lead = bot.start_scheduler()
    settle()
    server = None
    try:
        _one_per_sqlite(lead, bot.db_url)
        if app_token:
            from slack_sdk.errors import SlackApiError

            try:
                bot.connect_socket_mode(app_token)
            except SlackApiError as exc:
                raise UserError(
                    f"Slack refused SLACK_APP_TOKEN for Socket Mode: {exc.response.get('error')}"
                ) from None
            server = bot.http_server()
            print(f"Slack bot running in Socket Mode; /healthz on port {server.effective_port}")
            _in_thread(server)
            _wait_for_signal()
        else:
            server = bot.http_server()
            print(f"Slack bot listening on port {server.effective_port}: /slack/events, /healthz")
            server.run()
    finally:
        if server is not None:
            server.close()
        bot.stop()
    return 0


def settle() -> None:
    """What was built to serve (the modules, the app, the engine: some 90,000 objects) is
    left out of the garbage collector's full passes, which stop every thread for tens of
    milliseconds, acks included, each time they look at all of it."""
    import gc

    gc.collect()
    gc.freeze()


def _one_per_sqlite(lead, url: str) -> None:
    """On SQLite a second `serve` has nothing to stand by for: say so and stop."""
    if not lead.leading and url.startswith("sqlite"):
        raise UserError(
            f"another kafka-migrate serve ({lead.leader}) moves migrations with this database: "
            "run one per SQLite database (PostgreSQL allows standby processes)"
        )
