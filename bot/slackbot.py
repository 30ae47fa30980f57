"""Everything the Slack bot is made of, wired once: storage, engine, notifier, bolt app, server."""

from __future__ import annotations

from bot import metrics
from bot.app import build_app
from bot.commands import Services
from bot.config import Settings
from bot.db import database_url, init_db, open_database
from bot.errors import ConfigError
from bot.jobs import runner
from bot.migration.engine import Engine
from bot.migration.store import Store
from bot.server import SocketMode, health, make_http_server
from bot.slack.client import web_client
from bot.slack.directory import Directory
from bot.slack.notifier import SlackNotifier


class SlackBot:
    def __init__(
        self,
        settings: Settings,
        *,
        token: str,
        signing_secret: str | None,
        api_url: str | None = None,
        db_url: str | None = None,
        card_interval: float = 2.0,
    ):
        slack = settings.config.slack
        if slack is None:
            raise ConfigError(
                f"{settings.path}: [slack] is needed to run the Slack bot (channel and approvers)"
            )
        self.db_url = database_url(db_url)
        self.db = open_database(self.db_url)
        init_db(self.db)
        self.store = Store(self.db)
        self.client = web_client(token, api_url)
        self.notifier = SlackNotifier(
            self.client, self.store, slack.channel, slack.approvers, card_interval=card_interval
        )
        self.engine = Engine(settings, self.store, self.notifier)
        self.directory = Directory(self.client, slack.approvers)
        self.app = build_app(
            Services(self.engine, self.notifier, self.directory, settings),
            client=self.client,
            signing_secret=signing_secret,
        )
        self.signing_secret = signing_secret
        self.lead: runner.Lead | None = None
        self.socket_mode: SocketMode | None = None

    def connect_socket_mode(
        self, app_token: str, *, grace: float = 30.0, ping_interval: float = 3
    ) -> SocketMode:
        """Socket Mode: Slack's requests come over a WebSocket the bot opens (no public URL)."""
        self.socket_mode = SocketMode(
            self.app, app_token, grace=grace, ping_interval=ping_interval
        ).connect()
        return self.socket_mode

    def start_scheduler(self, *, paused: bool = False) -> runner.Lead:
        """Move migrations if this process holds the lease; otherwise stand by for it."""
        self.lead = runner.Lead(self.engine, paused=paused).begin()
        return self.lead

    def stop(self) -> None:
        if self.socket_mode is not None:
            self.socket_mode.close()
            self.socket_mode = None
        if self.lead is not None:
            self.lead.end()
            self.lead = None
        self.notifier.wait_idle(5)  # what is queued gets a moment to reach Slack
        self.notifier.close()

    def health(self) -> tuple[bool, dict[str, str]]:
        return health(self.db, self.lead, self.socket_mode)

    def http_server(self, host: str = "0.0.0.0", port: int | None = None):
        """HTTP mode: /slack/events, /healthz and /metrics. In Socket Mode: /healthz and
        /metrics."""
        app = None if self.socket_mode is not None else self.app
        return make_http_server(
            app,
            self.health,
            signing_secret=self.signing_secret,
            metrics=lambda: metrics.render(self.store),
            host=host,
            port=port,
        )
