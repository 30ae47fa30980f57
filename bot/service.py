"""Everything the bot is made of, built in one place: the database and its store, the notifier
(Slack, or the log when there is no Slack), the engine, the scheduler's lead, and with Slack
the bolt app, the user directory and Socket Mode. `serve` (bot/serve.py), the CLI's verbs
and the tests all build through here."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.acks import Acks
from bot.config import Settings
from bot.errors import ConfigError
from bot.migration.engine import Engine
from bot.migration.notify import LogNotifier
from bot.migration.store import Store

if TYPE_CHECKING:  # the CLI's verbs never load the scheduler
    from bot.jobs import runner


def open_store(db_url: str | None = None) -> tuple[Store, str]:
    """The store on the database (DATABASE_URL by default), migrated to the newest schema."""
    from bot.db import database_url, open_database
    from bot.dbmigrations import init_db

    url = database_url(db_url)
    db = open_database(url)
    init_db(db)
    return Store(db), url


class Bot:
    """One process's bot. With a Slack `token` it talks to Slack (the card, threads, gates);
    without, it runs headless and notifies through the log."""

    def __init__(
        self,
        settings: Settings,
        *,
        token: str | None = None,
        signing_secret: str | None = None,
        api_url: str | None = None,
        db_url: str | None = None,
        card_interval: float = 2.0,
        listener_executor=None,
    ):
        """`listener_executor`: the pool the Slack listeners' lazy work runs on (its own by
        default)."""
        self.settings = settings
        self.store, self.db_url = open_store(db_url)
        self.app = self.client = self.directory = None
        self.acks = Acks()  # the acks owed, which the lazy listeners wait for (bot/acks.py)
        if token is None:
            self.notifier = LogNotifier()
            self.engine = Engine(settings, self.store, self.notifier)
        else:
            self._wire_slack(token, api_url, card_interval, listener_executor)
        self.signing_secret = signing_secret
        self.lead: runner.Lead | None = None
        self.socket_mode = None

    def _wire_slack(self, token, api_url, card_interval, listener_executor) -> None:
        from bot.app import build_app
        from bot.commands import Services
        from bot.slack.client import web_client
        from bot.slack.directory import Directory
        from bot.slack.notifier import SlackNotifier

        slack = self.settings.config.slack
        if slack is None:
            raise ConfigError(
                f"{self.settings.path}: [slack] is needed to run the Slack bot "
                "(channel and approvers)"
            )
        self.client = web_client(token, api_url)
        self.notifier = SlackNotifier(
            self.client, self.store, slack.channel, slack.approvers, card_interval=card_interval
        )
        self.engine = Engine(self.settings, self.store, self.notifier)
        self.directory = Directory(self.client, slack.approvers)
        self.app = build_app(
            Services(self.engine, self.notifier, self.directory, self.settings),
            client=self.client,
            acks=self.acks,
            listener_executor=listener_executor,
        )

    def connect_socket_mode(self, app_token: str, *, grace: float = 30.0, ping_interval=3):
        """Socket Mode: Slack's requests come over a WebSocket the bot opens (no public URL)."""
        from bot.web import SocketMode

        self.socket_mode = SocketMode(
            self.app, app_token, self.acks, grace=grace, ping_interval=ping_interval
        ).connect()
        return self.socket_mode

    def start_scheduler(self, *, paused: bool = False) -> runner.Lead:
        """Move migrations if this process holds the lease; otherwise stand by for it."""
        from bot.jobs import runner

        self.lead = runner.Lead(self.engine, paused=paused).begin()
        return self.lead

    def health(self) -> tuple[bool, dict[str, str]]:
        from bot.web import health

        return health(self.store.db, self.lead, self.socket_mode)

    def http_server(self, host: str = "0.0.0.0", port: int | None = None, routes=None):
        """/healthz and /metrics, and /slack/events in HTTP mode (not over Socket Mode, nor
        headless); `routes` adds WSGI apps by path (the rehearsal page)."""
        from bot import metrics
        from bot.web import make_http_server

        app = self.app if self.socket_mode is None else None
        return make_http_server(
            app,
            self.health,
            signing_secret=self.signing_secret,
            metrics=lambda: metrics.render(self.store),
            host=host,
            port=port,
            routes=routes,
            acks=self.acks,
        )

    def stop(self) -> None:
        if self.socket_mode is not None:
            self.socket_mode.close()
            self.socket_mode = None
        if self.lead is not None:
            self.lead.end()
            self.lead = None
        if hasattr(self.notifier, "wait_idle"):
            self.notifier.wait_idle(5)  # what is queued gets a moment to reach Slack
            self.notifier.close()


def cli_engine(config_path: str | None) -> Engine:
    """The engine of one CLI command: the configuration, the store, the log as notifier."""
    from bot import config

    settings = config.load(config_path)
    store, _url = open_store()
    return Engine(settings, store, LogNotifier())
