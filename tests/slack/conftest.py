"""The real bolt app behind the real HTTP server, talking to the Slack stand-in."""

from __future__ import annotations

import json
import threading
import time
from contextlib import contextmanager
from urllib.parse import urlencode

import httpx
import pytest
from slack_sdk.signature import SignatureVerifier

from bot import config
from bot.slack.standin import SlackStandIn
from bot.slackbot import SlackBot
from tests.unit.conftest import CONFIG as UNIT_CONFIG
from tests.waits import wait_for  # noqa: F401 - used by the Slack tests

SECRET = "standin-signing-secret"
CHANNEL = "C0MIGRATE"
USERS = {"U0ALICE": "alice", "U0BOB": "bob", "U0EVE": "eve", "U0DAN": "dan"}
CONFIG = UNIT_CONFIG.replace('channel = "C1"', f'channel = "{CHANNEL}"')


@pytest.fixture
def standin():
    stand = SlackStandIn(channels=(CHANNEL,), users=USERS, usergroups={"S0SRE": ["U0DAN"]})
    stand.start()
    yield stand
    stand.stop()


class Driver:
    """Sends what Slack sends: signed form posts to /slack/events."""

    def __init__(self, url: str, standin: SlackStandIn, bot: SlackBot):
        self.url, self.standin, self.bot = url, standin, bot
        self.http = httpx.Client(base_url=url, timeout=10)

    def post(
        self,
        body: str,
        *,
        timestamp: int | None = None,
        secret: str = SECRET,
        signature: str | None = None,
    ) -> httpx.Response:
        ts = str(timestamp if timestamp is not None else int(time.time()))
        sig = signature or SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
        return self.http.post(
            "/slack/events",
            content=body,
            headers={
                "X-Slack-Request-Timestamp": ts,
                "X-Slack-Signature": sig,
                "Content-Type": "application/x-www-form-urlencoded",
            },
        )

    def command(self, text: str, user: str = "U0ALICE", **kw) -> httpx.Response:
        body = urlencode(
            {
                "command": "/kafka-migrate",
                "text": text,
                "user_id": user,
                "user_name": USERS.get(user, user),
                "channel_id": CHANNEL,
                "team_id": "T0STANDIN",
                "trigger_id": self.standin.trigger(),
                "response_url": self.standin.response_url(),
            }
        )
        return self.post(body, **kw)

    def click(self, message, action_id: str, user: str, **kw) -> httpx.Response:
        button = next(
            e
            for b in message.blocks
            if b["type"] == "actions"
            for e in b["elements"]
            if e["action_id"] == action_id
        )
        payload = {
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
        return self.post(urlencode({"payload": json.dumps(payload)}), **kw)


@contextmanager
def running_bot(path, standin, tmp_path, *, paused: bool, card_interval: float):
    """The real bot behind the real waitress server; yields a Driver that signs requests."""
    bot = SlackBot(
        config.load(path),
        token=standin.token,
        signing_secret=SECRET,
        api_url=standin.api_url,
        db_url=f"sqlite:///{tmp_path / 'km.db'}",
        card_interval=card_interval,
    )
    bot.start_scheduler(paused=paused)
    server = bot.http_server(host="127.0.0.1", port=0)
    threading.Thread(target=server.run, daemon=True).start()
    try:
        yield Driver(f"http://127.0.0.1:{server.effective_port}", standin, bot)
    finally:
        server.close()
        bot.stop()


@pytest.fixture
def slackbot(standin, tmp_path):
    path = tmp_path / "km.toml"
    path.write_text(CONFIG)
    with running_bot(path, standin, tmp_path, paused=True, card_interval=0.2) as driver:
        yield driver
