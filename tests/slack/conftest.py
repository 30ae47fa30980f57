"""The real bolt app, reached over signed HTTP or Socket Mode, talking to the Slack stand-ins."""

from __future__ import annotations

import contextlib
import hmac
import json
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urlencode

import httpx
import pytest
from standins.slack_api import SlackStandIn
from standins.socket_mode import SocketModeStandIn

from bot import config
from bot.service import Bot
from tests.support import CONFIG as UNIT_CONFIG
from tests.waits import wait_for

SECRET = "standin-signing-secret"
CHANNEL = "C0MIGRATE"
USERS = {"U0ALICE": "alice", "U0BOB": "bob", "U0EVE": "eve", "U0DAN": "dan"}
CONFIG = UNIT_CONFIG.replace('channel = "C1"', f'channel = "{CHANNEL}"')


MODES = ("http", "socket")


@pytest.fixture
def standin():
    socket_mode = SocketModeStandIn().start()
    stand = SlackStandIn(
        channels=(CHANNEL,),
        users=USERS,
        usergroups={"S0SRE": ["U0DAN"]},
        socket_mode=socket_mode,
    )
    stand.start()
    yield stand
    stand.stop()
    socket_mode.stop()


@dataclass
class Answer:
    """What the app acknowledged an envelope with (Socket Mode), shaped like an HTTP answer."""

    status_code: int
    payload: dict | None

    @property
    def text(self) -> str:
        return json.dumps(self.payload) if self.payload is not None else ""

    def json(self) -> dict | None:
        return self.payload


class Driver:
    """Sends what Slack sends. Subclasses say how: signed HTTP posts or Socket Mode envelopes."""

    mode = ""

    def __init__(self, standin: SlackStandIn, bot: Bot, health_url: str):
        self.standin, self.bot = standin, bot
        self.http = httpx.Client(base_url=health_url, timeout=10)  # /healthz

    def command_payload(self, text: str, user: str) -> dict:
        return {
            "command": "/kafka-migrate",
            "text": text,
            "user_id": user,
            "user_name": USERS.get(user, user),
            "channel_id": CHANNEL,
            "team_id": "T0STANDIN",
            "trigger_id": self.standin.trigger(),
            "response_url": self.standin.response_url(),
        }

    def click_payload(self, message, action_id: str, user: str) -> dict:
        button = next(
            e
            for b in message.blocks
            if b["type"] == "actions"
            for e in b["elements"]
            if e["action_id"] == action_id
        )
        return {
            "type": "block_actions",
            "user": {"id": user, "username": USERS.get(user)},
            "team": {"id": "T0STANDIN"},
            "channel": {"id": message.channel},
            "message": {"ts": message.ts, "blocks": message.blocks},
            "container": {"type": "message", "message_ts": message.ts},
            "trigger_id": self.standin.trigger(),
            "response_url": self.standin.response_url(),
            "actions": [
                {
                    "action_id": action_id,
                    "value": button["value"],
                    "block_id": "b",
                    "type": "button",
                    "action_ts": f"{time.time():.6f}",
                }
            ],
        }

    def command(self, text: str, user: str = "U0ALICE", **kw):
        return self.slash(self.command_payload(text, user), **kw)

    def click(self, message, action_id: str, user: str, **kw):
        return self.interactive(self.click_payload(message, action_id, user), **kw)

    def mention_payload(self, message, user: str) -> dict:
        return {
            "token": "unused",
            "team_id": "T0STANDIN",
            "api_app_id": "A0STANDIN",
            "type": "event_callback",
            "event_id": f"Ev{time.time_ns()}",
            "event_time": int(time.time()),
            "event": {
                "type": "app_mention",
                "user": user,
                "text": message.text,
                "ts": message.ts,
                "channel": message.channel,
            },
        }

    def event(self, payload: dict, **kw):
        raise NotImplementedError

    def slash(self, payload: dict, **kw):
        raise NotImplementedError

    def interactive(self, payload: dict, **kw):
        raise NotImplementedError


class HttpDriver(Driver):
    """Signed form posts to /slack/events."""

    mode = "http"

    def post(
        self,
        body: str | bytes,
        *,
        timestamp: int | None = None,
        secret: str = SECRET,
        signature: str | None = None,
        content_type: str = "application/x-www-form-urlencoded",
    ) -> httpx.Response:
        """Signed as Slack signs: v0=HMAC-SHA256("v0:{timestamp}:{raw body}")."""
        ts = str(timestamp if timestamp is not None else int(time.time()))
        raw = body.encode() if isinstance(body, str) else body
        sig = (
            signature
            or "v0="
            + hmac.new(secret.encode(), b"v0:%s:%s" % (ts.encode(), raw), "sha256").hexdigest()
        )
        return self.http.post(
            "/slack/events",
            content=body,
            headers={
                "X-Slack-Request-Timestamp": ts,
                "X-Slack-Signature": sig,
                "Content-Type": content_type,
            },
        )

    def slash(self, payload: dict, **kw) -> httpx.Response:
        return self.post(urlencode(payload), **kw)

    def interactive(self, payload: dict, **kw) -> httpx.Response:
        return self.post(urlencode({"payload": json.dumps(payload)}), **kw)

    def event(self, payload: dict, **kw) -> httpx.Response:
        return self.post(json.dumps(payload), content_type="application/json", **kw)


class SocketDriver(Driver):
    """Envelopes over the Socket Mode stand-in's WebSocket; answers are the acks."""

    mode = "socket"

    def deliver(
        self, kind: str, payload: dict, ack_timeout: float = 10, lose_ack: bool = False
    ) -> Answer:
        envelope = self.standin.socket_mode.deliver(kind, payload, lose_ack=lose_ack)
        if not envelope.acked.wait(ack_timeout):
            return Answer(0, None)
        return Answer(200, envelope.ack_payload)

    def slash(self, payload: dict, **kw) -> Answer:
        return self.deliver("slash_commands", payload, **kw)

    def interactive(self, payload: dict, **kw) -> Answer:
        return self.deliver("interactive", payload, **kw)

    def event(self, payload: dict, **kw) -> Answer:
        return self.deliver("events_api", payload, **kw)


@contextmanager
def running_bot(path, standin, tmp_path, *, paused: bool, card_interval: float, mode="http"):
    """The real bot, reached over signed HTTP (waitress) or Socket Mode; yields its Driver."""
    bot = Bot(
        config.load(path),
        token=standin.token,
        signing_secret=SECRET if mode == "http" else None,
        api_url=standin.api_url,
        db_url=f"sqlite:///{tmp_path / 'km.db'}",
        card_interval=card_interval,
    )
    bot.start_scheduler(paused=paused)
    if mode == "socket":
        bot.connect_socket_mode(standin.socket_mode.app_token, grace=2.0, ping_interval=1)
    server = bot.http_server(host="127.0.0.1", port=0)

    def serve() -> None:
        with contextlib.suppress(OSError):  # the listening socket closes under it at the end
            server.run()

    threading.Thread(target=serve, daemon=True).start()
    url = f"http://127.0.0.1:{server.effective_port}"
    try:
        if mode == "socket":
            wait_for(lambda: standin.socket_mode.connected(), 10, "socket mode connection")
            yield SocketDriver(standin, bot, url)
        else:
            yield HttpDriver(standin, bot, url)
    finally:
        server.close()
        bot.stop()


@pytest.fixture(params=MODES)
def mode(request) -> str:
    return request.param


def _bot(standin, tmp_path, mode):
    path = tmp_path / "km.toml"
    path.write_text(CONFIG)
    return running_bot(path, standin, tmp_path, paused=True, card_interval=0.2, mode=mode)


@pytest.fixture
def slackbot(standin, tmp_path, mode):
    """The bot in each mode: the same tests run over signed HTTP and over Socket Mode."""
    with _bot(standin, tmp_path, mode) as driver:
        yield driver


@pytest.fixture
def http_bot(standin, tmp_path):
    """For what only HTTP has: request signatures."""
    with _bot(standin, tmp_path, "http") as driver:
        yield driver


@pytest.fixture
def socket_bot(standin, tmp_path):
    """For what only Socket Mode has: the link, its acks, reconnects."""
    with _bot(standin, tmp_path, "socket") as driver:
        yield driver


LIVE = f"""
[timing]
poll_interval_seconds = 1
quiet_window_seconds = 2
drain_window_seconds = 1

[slack]
channel = "{CHANNEL}"
approvers = ["U0BOB", "S0SRE"]
"""


def live_config(sandbox, tmp_path):
    """The sandbox's clusters with a fast timing and the test channel: a whole migration runs
    in seconds."""
    base = sandbox.config_file.read_text()
    (tmp_path / "sandbox.env").write_text((sandbox.dir / "sandbox.env").read_text())
    path = tmp_path / "kafka-migrate.toml"
    path.write_text(base[: base.index("[timing]")] + LIVE)
    return path
