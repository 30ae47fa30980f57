"""What the Slack tests share: the real bot reached in process (bolt's App.dispatch, as
bolt's own scenario tests do), over signed HTTP (waitress) or over Socket Mode, talking to the
Slack Web API stand-in; what Slack sends; and the waits that prove a request was handled."""

from __future__ import annotations

import contextlib
import hmac
import json
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urlencode

import httpx
from standins.slack_api import SlackStandIn

from bot import config
from bot.migration.notify import Notification, NotificationKind
from bot.migration.steps import Step
from bot.sandbox.state import write_private
from bot.service import Bot
from bot.web import SlackRequest, parse, wsgi_app
from tests.support import CONFIG as UNIT_CONFIG
from tests.support import migration
from tests.waits import wait_for

SECRET = "standin-signing-secret"
CHANNEL = "C0MIGRATE"
USERS = {"U0ALICE": "alice", "U0BOB": "bob", "U0EVE": "eve", "U0DAN": "dan"}
CONFIG = UNIT_CONFIG.replace('channel = "C1"', f'channel = "{CHANNEL}"')
FORM = "application/x-www-form-urlencoded"


@dataclass
class Answer:
    """What the app answered a request with: the HTTP answer, or the Socket Mode ack."""

    status_code: int
    text: str

    def json(self) -> dict | None:
        return json.loads(self.text) if self.text else None


class WatchedPool(ThreadPoolExecutor):
    """bolt's listener pool, counting the work in flight. Every listener of a request (its ack
    function and its lazy ones) is submitted before the request is answered, so once the
    answer is in and the pool is idle, the request has done all it will do."""

    def __init__(self):
        super().__init__(max_workers=16, thread_name_prefix="bolt")
        self._busy = 0
        self._idle = threading.Condition()

    def submit(self, fn, /, *args, **kwargs):
        with self._idle:
            self._busy += 1
        future = super().submit(fn, *args, **kwargs)
        future.add_done_callback(self._done)
        return future

    def _done(self, _future) -> None:
        with self._idle:
            self._busy -= 1
            self._idle.notify_all()

    def wait_idle(self, timeout: float = 10) -> bool:
        with self._idle:
            return self._idle.wait_for(lambda: self._busy == 0, timeout)


def signed(
    body: str | bytes, *, timestamp: int | None = None, secret: str = SECRET
) -> dict[str, str]:
    """Slack's headers: v0=HMAC-SHA256("v0:{timestamp}:{raw body}")."""
    ts = str(timestamp if timestamp is not None else int(time.time()))
    raw = body.encode() if isinstance(body, str) else body
    mac = hmac.new(secret.encode(), b"v0:%s:%s" % (ts.encode(), raw), "sha256").hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={mac}"}


class Driver:
    """Sends what Slack sends. Subclasses say how: in process, signed HTTP posts, or Socket
    Mode envelopes."""

    mode = ""

    def __init__(self, standin: SlackStandIn, bot: Bot, pool: WatchedPool, http: httpx.Client):
        self.standin, self.bot, self.pool = standin, bot, pool
        self.http = http  # /healthz, /metrics (and /slack/events over HTTP)

    def settle(self, timeout: float = 10) -> None:
        """Every request answered so far has done all it will do, and the notifier has sent
        what it was given: what did not happen by now will not."""
        assert self.pool.wait_idle(timeout), "listeners still running"
        assert self.bot.notifier.wait_idle(timeout), "notifier still sending"

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

    def command(self, text: str, user: str = "U0ALICE", **kw):
        return self.slash(self.command_payload(text, user), **kw)

    def click(self, message, action_id: str, user: str, **kw):
        return self.interactive(self.click_payload(message, action_id, user), **kw)

    def slash(self, payload: dict, **kw):
        raise NotImplementedError

    def interactive(self, payload: dict, **kw):
        raise NotImplementedError

    def event(self, payload: dict, **kw):
        raise NotImplementedError


class InProcessDriver(Driver):
    """Requests dispatched to the real bolt App in this process, read as the web edge reads
    them (bot/web.py): no server, no socket; bolt acks and runs its lazy listeners as it does
    behind either transport."""

    mode = "in-process"

    def dispatch(self, body: str, content_type: str = FORM) -> Answer:
        request = SlackRequest(
            body=parse(body, content_type),
            raw_body=body,
            headers={"content-type": content_type, **signed(body)},
        )
        response = self.bot.app.dispatch(request)
        return Answer(response.status, response.body)

    def slash(self, payload: dict, **_kw) -> Answer:
        return self.dispatch(urlencode(payload))

    def interactive(self, payload: dict, **_kw) -> Answer:
        return self.dispatch(urlencode({"payload": json.dumps(payload)}))

    def event(self, payload: dict, **_kw) -> Answer:
        return self.dispatch(json.dumps(payload), "application/json")


class HttpDriver(Driver):
    """Signed form posts to /slack/events, over a real socket to the bot's waitress server."""

    mode = "http"

    def post(
        self,
        body: str | bytes,
        *,
        timestamp: int | None = None,
        secret: str = SECRET,
        signature: str | None = None,
        content_type: str = FORM,
    ) -> httpx.Response:
        headers = signed(body, timestamp=timestamp, secret=secret)
        if signature is not None:
            headers["X-Slack-Signature"] = signature
        return self.http.post(
            "/slack/events", content=body, headers={**headers, "Content-Type": content_type}
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
            return Answer(0, "")
        ack = envelope.ack_payload
        return Answer(200, json.dumps(ack) if ack is not None else "")

    def slash(self, payload: dict, **kw) -> Answer:
        return self.deliver("slash_commands", payload, **kw)

    def interactive(self, payload: dict, **kw) -> Answer:
        return self.deliver("interactive", payload, **kw)

    def event(self, payload: dict, **kw) -> Answer:
        return self.deliver("events_api", payload, **kw)


DRIVERS = {d.mode: d for d in (InProcessDriver, HttpDriver, SocketDriver)}


@contextmanager
def running_bot(path, standin, tmp_path, *, paused: bool, card_interval: float, mode="http"):
    """The real bot (engine, store, scheduler, notifier, bolt App) on the stand-in, reached in
    `mode`: "in-process", "http" (waitress) or "socket"; yields its Driver."""
    pool = WatchedPool()
    bot = Bot(
        config.load(path),
        token=standin.token,
        signing_secret=SECRET if mode != "socket" else None,
        api_url=standin.api_url,
        db_url=f"sqlite:///{tmp_path / 'km.db'}",
        card_interval=card_interval,
        listener_executor=pool,
    )
    bot.start_scheduler(paused=paused)
    server = None
    try:
        if mode == "socket":
            bot.connect_socket_mode(standin.socket_mode.app_token, grace=2.0, ping_interval=1)
        if mode == "in-process":
            from bot import metrics

            web = wsgi_app(bot.app, bot.health, SECRET, lambda: metrics.render(bot.store))
            http = httpx.Client(transport=httpx.WSGITransport(app=web), base_url="http://bot")
        else:
            server = bot.http_server(host="127.0.0.1", port=0)

            def serve() -> None:
                with contextlib.suppress(OSError):  # the listening socket closes under it
                    server.run()

            threading.Thread(target=serve, daemon=True).start()
            http = httpx.Client(base_url=f"http://127.0.0.1:{server.effective_port}", timeout=10)
        if mode == "socket":
            wait_for(lambda: standin.socket_mode.connected(), 10, "socket mode connection")
        yield DRIVERS[mode](standin, bot, pool, http)
    finally:
        if server is not None:
            server.close()
        bot.stop()
        pool.shutdown(wait=False)


def bot_in(mode: str, standin, tmp_path):
    path = tmp_path / "km.toml"
    path.write_text(CONFIG)
    return running_bot(path, standin, tmp_path, paused=True, card_interval=0.2, mode=mode)


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
    write_private(tmp_path / "sandbox.env", (sandbox.dir / "sandbox.env").read_text())
    path = tmp_path / "kafka-migrate.toml"
    path.write_text(base[: base.index("[timing]")] + LIVE)
    return path


# what the tests arrange and read ---------------------------------------------------------------
def open_gate(slackbot, requested_by="U0ALICE", mid="orders-abc"):
    """A migration waiting at stop_producers, its gate request posted; (migration, message)."""
    store = slackbot.bot.store
    m = store.create(
        migration(mid, topics=(f"{mid}-topic",), requested_by=requested_by), requested_by
    )
    m.step = Step.STOP_PRODUCERS
    m.state = {"gate": {"step": "stop_producers", "opened_at": 0, "version": 2}}
    store.save(m, 1, actor="bot", kind="gate_opened", message="stop_producers open")
    slackbot.bot.notifier.notify(
        Notification(NotificationKind.GATE_OPENED, m.id, "stop the producers", "stop_producers")
    )

    def gate_message():
        for msg in slackbot.standin.channel_messages(CHANNEL):
            if (
                msg.blocks
                and f"({mid})" in msg.text
                and any(
                    b["type"] == "actions" and b.get("block_id") == "gate_stop_producers"
                    for b in msg.blocks
                )
            ):
                return msg
        return None

    return store.get(m.id), wait_for(gate_message, what="gate request")


def submit_form(slackbot, **values) -> Answer | httpx.Response:
    """The start form submitted with these fields."""
    state = {
        key: {
            "value": (
                {"type": "static_select", "selected_option": {"value": v}}
                if key in ("source", "target", "via", "replication_policy")
                else {"type": "plain_text_input", "value": v}
            )
        }
        for key, v in values.items()
    }
    payload = {
        "type": "view_submission",
        "user": {"id": "U0ALICE"},
        "team": {"id": "T0STANDIN"},
        "view": {
            "id": "V1",
            "type": "modal",
            "hash": str(time.time()),
            "callback_id": "start_migration",
            "private_metadata": CHANNEL,
            "state": {"values": state},
        },
    }
    return slackbot.interactive(payload)


def answers(slackbot, text: str) -> bool:
    """Some answer through a response_url says `text`."""
    return any(text in r.get("text", "") for r in slackbot.standin.responses)


def answer(slackbot, words: str) -> str:
    """The first answer (through response_url) that says `words`."""
    return wait_for(
        lambda: next((r["text"] for r in slackbot.standin.responses if words in r["text"]), None),
        what=words,
    )


def dump(driver) -> str:
    """The whole database, as SQL: equal dumps, nothing changed. Of the scheduler's lease, who
    holds it and not until when: its holder renews it every few seconds (bot/jobs/runner.py),
    whatever the requests do."""
    path = driver.bot.store.db.url.database
    with sqlite3.connect(path) as conn:
        held = conn.execute("SELECT name, holder FROM leases ORDER BY name").fetchall()
        rows = [row for row in conn.iterdump() if not row.startswith('INSERT INTO "leases"')]
    return "\n".join(rows + [f"lease {name} held by {holder}" for name, holder in held])
