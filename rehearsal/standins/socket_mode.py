"""A local stand-in of Slack's Socket Mode, beside the Web API stand-in (standin.py).

What Slack does, as its docs and clients describe it: `apps.connections.open` (app-level token)
answers a single-use WebSocket URL; on connect the server sends `hello`; it delivers envelopes
(`slash_commands`, `interactive`, `events_api`), each with an `envelope_id` that the app must
acknowledge (`{"envelope_id": ...}`, optionally with a `payload`) within 3 seconds; it may ask
the app to reconnect (`disconnect`, reason `refresh_requested`) or turn the link off
(`link_disabled`); and connections drop. This stand-in records every ack with its delay, the late
and the missing ones, redelivers what a dropped connection left unacknowledged (with
`retry_attempt` raised), and queues envelopes while no connection is open.

The stand-in's own model where Slack documents nothing exact: after `link_disabled` the
WebSocket handshake is refused (403) until `enable()`.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import secrets
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlparse

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import ServerConnection, serve

log = logging.getLogger(__name__)

ACK_DEADLINE = 3.0
APP_ID = "A0STANDIN"
KINDS = ("slash_commands", "interactive", "events_api")


@dataclass
class Envelope:
    envelope_id: str
    kind: str
    payload: dict[str, Any]
    accepts_response_payload: bool
    retry_attempt: int = 0
    sent_at: list[float] = field(default_factory=list)  # one entry per delivery
    acked_at: float | None = None
    ack_payload: dict[str, Any] | None = None
    acked: threading.Event = field(default_factory=threading.Event)
    connection: int | None = None  # which connection it was last sent on

    def message(self) -> str:
        body: dict[str, Any] = {
            "envelope_id": self.envelope_id,
            "type": self.kind,
            "payload": self.payload,
            "accepts_response_payload": self.accepts_response_payload,
        }
        if self.kind == "events_api":
            body["retry_attempt"] = self.retry_attempt
            body["retry_reason"] = "timeout" if self.retry_attempt else ""
        return json.dumps(body)

    @property
    def ack_delay(self) -> float | None:
        """From the delivery that was acknowledged (the last one) to its ack."""
        if self.acked_at is None or not self.sent_at:
            return None
        return self.acked_at - self.sent_at[-1]


class SocketModeStandIn:
    def __init__(
        self, *, app_token: str = "xapp-1-A0STANDIN-1-standin", ack_deadline: float = ACK_DEADLINE
    ):
        self.app_token = app_token
        self.ack_deadline = ack_deadline  # Slack's is 3 seconds
        self.enabled = True
        self.envelopes: dict[str, Envelope] = {}
        self.connections_opened = 0
        self.refused_handshakes = 0
        self.unexpected: list[str] = []  # messages from the app that ack nothing we sent
        self.lose_acks: set[str] = set()  # envelope ids whose ack is "lost": the link drops
        self._open: dict[int, ServerConnection] = {}
        self._tickets: set[str] = set()
        self._queue: list[Envelope] = []
        self._ids = itertools.count(1)
        self._lock = threading.RLock()
        self.server = serve(
            self._session,
            "127.0.0.1",
            0,
            process_request=self._handshake,
            ping_interval=None,  # the app pings; we answer
            close_timeout=2,
            logger=log,
        )
        self.port = self.server.socket.getsockname()[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    # lifecycle -----------------------------------------------------------------------------
    def start(self) -> SocketModeStandIn:
        self._thread.start()
        return self

    def stop(self) -> None:
        with self._lock:
            open_now = list(self._open.values())
        for conn in open_now:
            with contextlib.suppress(Exception):
                conn.close()
        self.server.shutdown()

    # apps.connections.open (called by the Web API stand-in) ------------------------------------
    def open_url(self) -> str:
        ticket = secrets.token_hex(8)
        with self._lock:
            self._tickets.add(ticket)
        return f"ws://127.0.0.1:{self.port}/link/?ticket={ticket}&app_id={APP_ID}"

    # what tests do -------------------------------------------------------------------------
    def deliver(
        self,
        kind: str,
        payload: dict[str, Any],
        *,
        accepts_response_payload: bool | None = None,
        lose_ack: bool = False,
    ) -> Envelope:
        """Send an envelope to the app (queued while no connection is open). With `lose_ack`,
        the app's ack never arrives: the link drops as it comes, and the envelope is delivered
        again on the next connection."""
        if kind not in KINDS:
            raise ValueError(f"unknown envelope type {kind!r}")
        if accepts_response_payload is None:
            accepts_response_payload = kind == "slash_commands" or (
                kind == "interactive" and payload.get("type") == "view_submission"
            )
        envelope = Envelope(
            f"{int(time.time())}-{next(self._ids):06d}-{secrets.token_hex(4)}",
            kind,
            payload,
            accepts_response_payload,
        )
        with self._lock:
            self.envelopes[envelope.envelope_id] = envelope
            if lose_ack:
                self.lose_acks.add(envelope.envelope_id)
            self._queue.append(envelope)
        self._flush()
        return envelope

    def disconnect(self, reason: str = "refresh_requested", *, close_after: float = 1.0) -> None:
        """Ask the app to reconnect (refresh_requested) or turn the link off (link_disabled);
        the connections close `close_after` seconds later, as Slack's do."""
        if reason == "link_disabled":
            self.enabled = False
        message = json.dumps(
            {"type": "disconnect", "reason": reason, "debug_info": {"host": "standin"}}
        )
        with self._lock:
            open_now = list(self._open.items())
        for _number, conn in open_now:
            with contextlib.suppress(ConnectionClosed):
                conn.send(message)

        def close_later():
            time.sleep(close_after)
            for number, conn in open_now:
                self._drop(number, conn, graceful=True)

        threading.Thread(target=close_later, daemon=True).start()

    def drop(self) -> None:
        """The network drops every open connection: no close frame, no goodbye."""
        with self._lock:
            open_now = list(self._open.items())
        for number, conn in open_now:
            self._drop(number, conn, graceful=False)

    def enable(self) -> None:
        self.enabled = True

    # what tests read -----------------------------------------------------------------------
    def connected(self) -> int:
        with self._lock:
            return len(self._open)

    def late_acks(self) -> list[Envelope]:
        return [
            e
            for e in self.envelopes.values()
            if e.ack_delay is not None and e.ack_delay > self.ack_deadline
        ]

    def missing_acks(self, now: float | None = None) -> list[Envelope]:
        now = time.time() if now is None else now
        return [
            e
            for e in self.envelopes.values()
            if e.acked_at is None and e.sent_at and now - e.sent_at[-1] > self.ack_deadline
        ]

    # the server ----------------------------------------------------------------------------
    def _handshake(self, connection: ServerConnection, request):
        url = urlparse(request.path)
        ticket = (parse_qs(url.query).get("ticket") or [""])[0]
        with self._lock:
            valid = url.path.rstrip("/") == "/link" and ticket in self._tickets
            self._tickets.discard(ticket)  # single use
        if not valid:
            self.refused_handshakes += 1
            return connection.respond(401, "invalid or used ticket\n")
        if not self.enabled:
            self.refused_handshakes += 1
            return connection.respond(403, "socket mode link disabled\n")
        return None

    def _session(self, conn: ServerConnection) -> None:
        with self._lock:
            self.connections_opened += 1
            number = self.connections_opened
            self._open[number] = conn
            open_count = len(self._open)
        try:
            conn.send(
                json.dumps(
                    {
                        "type": "hello",
                        "num_connections": open_count,
                        "debug_info": {"host": "standin", "approximate_connection_time": 18060},
                        "connection_info": {"app_id": APP_ID},
                    }
                )
            )
            self._flush()
            for raw in conn:
                self._received(number, conn, raw)
        except ConnectionClosed:
            pass
        finally:
            self._closed(number)

    def _received(self, number: int, conn: ServerConnection, raw: str | bytes) -> None:
        at = time.time()
        try:
            message = json.loads(raw)
            envelope_id = message["envelope_id"]
        except (ValueError, TypeError, KeyError):
            self.unexpected.append(str(raw)[:200])
            return
        with self._lock:
            envelope = self.envelopes.get(envelope_id)
            if envelope is None:
                self.unexpected.append(str(raw)[:200])
                return
            if envelope_id in self.lose_acks:  # the ack never reaches Slack: the link drops
                self.lose_acks.discard(envelope_id)
                lose = True
            else:
                lose = False
                if envelope.acked_at is None:
                    envelope.acked_at = at
                    envelope.ack_payload = message.get("payload")
                    envelope.acked.set()
        if lose:
            self._drop(number, conn, graceful=False)

    def _drop(self, number: int, conn: ServerConnection, *, graceful: bool) -> None:
        if graceful:
            with contextlib.suppress(Exception):
                conn.close()
        else:
            with contextlib.suppress(OSError):
                conn.socket.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                conn.socket.close()
        self._closed(number)

    def _closed(self, number: int) -> None:
        with self._lock:
            if self._open.pop(number, None) is None:
                return
            # what this connection left unacknowledged is delivered again, on the next one
            for envelope in self.envelopes.values():
                if envelope.connection == number and envelope.acked_at is None:
                    envelope.connection = None
                    envelope.retry_attempt += 1
                    if envelope not in self._queue:
                        self._queue.append(envelope)
        self._flush()

    def _flush(self) -> None:
        with self._lock:
            if not self._open or not self._queue:
                return
            number = max(self._open)  # the newest connection
            conn = self._open[number]
            pending, self._queue = self._queue, []
            for envelope in pending:
                try:
                    conn.send(envelope.message())
                except ConnectionClosed:
                    self._queue.append(envelope)
                    continue
                envelope.connection = number
                envelope.sent_at.append(time.time())
