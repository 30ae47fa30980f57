"""A local stand-in of the Slack Web API, for tests and rehearsals.

It answers the methods the bot uses, records every call, and rejects what Slack rejects:
bad tokens, unknown channels, Block Kit limit violations (`invalid_blocks`), expired or reused
trigger ids, editing a message that is not the bot's, response_url used more than 5 times. When
a test asks (`burst`), it answers errors as Slack does instead of doing the call: HTTP 429 with
Retry-After, 500 with internal_error, 502-504 with an HTML page from the edge.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from standins.blockkit import check_blocks, check_view, too_long
from standins.socket_mode import SocketModeStandIn

BOT_USER = "U0BOT"
TRIGGER_TTL = 3.0


@dataclass
class Burst:
    """Errors answered instead of calls of `method` ("*": every Web API method): the next
    `times` calls, or every call until `until` (time.monotonic())."""

    method: str
    statuses: Iterator[int]
    times: int | None
    until: float | None
    retry_after: int
    error: str | None

    def takes(self, method: str) -> bool:
        if self.method not in ("*", method):
            return False
        return self.times > 0 if self.times is not None else time.monotonic() < self.until


@dataclass
class Message:
    channel: str
    ts: str
    user: str
    text: str
    blocks: list | None
    thread_ts: str | None = None
    history: list = field(default_factory=list)  # earlier versions, oldest first


class SlackStandIn:
    def __init__(
        self,
        *,
        token: str = "xoxb-standin",
        channels=("C0MIGRATE",),
        users: dict[str, str] | None = None,
        usergroups: dict[str, list[str]] | None = None,
        socket_mode: SocketModeStandIn | None = None,
    ):
        self.token = token
        self.socket_mode = socket_mode  # answers apps.connections.open when set
        self.channels = set(channels)
        self.users = dict(users or {})
        self.usergroups = dict(usergroups or {})
        # every Web API call: method, args, at (time.monotonic()), and the status of a burst
        self.calls: list[dict[str, Any]] = []
        self.messages: dict[str, Message] = {}
        self.ephemeral: list[dict[str, Any]] = []
        self.responses: list[dict[str, Any]] = []  # posts to response_url
        self.views: dict[str, dict] = {}
        self.files: dict[str, dict[str, Any]] = {}
        self._triggers: dict[str, float] = {}
        self._response_uses: dict[str, int] = {}
        self._bursts: list[Burst] = []
        self._ids = itertools.count(1)
        self._clock = itertools.count(1)
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        serve = lambda: self.server.serve_forever(poll_interval=0.05)  # noqa: E731 (quick stop)
        self._thread = threading.Thread(target=serve, daemon=True)

    # lifecycle -----------------------------------------------------------------------------
    def start(self) -> SlackStandIn:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def api_url(self) -> str:
        return self.url + "/api/"

    # what tests arrange --------------------------------------------------------------------
    def trigger(self, ttl: float = TRIGGER_TTL) -> str:
        """A trigger_id as Slack puts in a payload: valid 3 seconds, once (`ttl` < 0: one
        that has expired already, as it has when the bot is that late)."""
        trigger = f"{next(self._ids)}.{int(time.time())}.standin"
        self._triggers[trigger] = time.monotonic() + ttl
        return trigger

    def response_url(self) -> str:
        key = f"r{next(self._ids)}"
        self._response_uses[key] = 0
        return f"{self.url}/response/{key}"

    def user_message(self, channel: str, user: str, text: str) -> Message:
        """A message a person posted (the bot may reply in its thread, not edit it)."""
        message = Message(channel, self._ts(), user, text, None)
        self.messages[message.ts] = message
        return message

    def rate_limit(self, method: str, times: int = 1, retry_after: int = 1) -> None:
        self.burst(429, method=method, times=times, retry_after=retry_after)

    def burst(
        self,
        *statuses: int,
        method: str = "*",
        times: int | None = None,
        seconds: float | None = None,
        retry_after: int = 1,
        error: str | None = None,
    ) -> None:
        """The next `times` calls of `method` ("*": of every Web API method), or all of them for
        `seconds`, answer these HTTP statuses in turn and do nothing: 429 with Retry-After and
        "ratelimited", 500 with "internal_error", 502-504 with an HTML page, 200 with `error`
        (a definite one, e.g. "msg_too_long"). Bursts follow one another."""
        if (times is None) == (seconds is None):
            raise ValueError("say how long: times or seconds")
        until = None if seconds is None else time.monotonic() + seconds
        cycle = itertools.cycle(statuses or (429,))
        self._bursts.append(Burst(method, cycle, times, until, retry_after, error))

    # what tests read -----------------------------------------------------------------------
    def calls_of(self, method: str) -> list[dict[str, Any]]:
        return [c for c in self.calls if c["method"] == method]

    def channel_messages(self, channel: str, thread_ts: str | None = None) -> list[Message]:
        return [
            m for m in self.messages.values() if m.channel == channel and m.thread_ts == thread_ts
        ]

    # the server ----------------------------------------------------------------------------
    def _handler(self):
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args):  # quiet
                pass

            def do_POST(self):  # noqa: N802
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length)
                standin._dispatch(self, body)

            do_GET = do_POST  # noqa: N815

        return Handler

    def _reply(
        self,
        handler,
        status: int,
        payload: Any,
        headers: dict | None = None,
        kind: str = "application/json; charset=utf-8",
    ) -> None:
        data = json.dumps(payload).encode() if not isinstance(payload, bytes) else payload
        handler.send_response(status)
        handler.send_header("content-type", kind)
        for key, value in (headers or {}).items():
            handler.send_header(key, value)
        handler.send_header("content-length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def _dispatch(self, handler, body: bytes) -> None:
        url = urlparse(handler.path)
        if url.path.startswith("/upload/"):
            return self._upload(handler, url.path.rsplit("/", 1)[1], body)
        if url.path.startswith("/response/"):
            return self._response(handler, url.path.rsplit("/", 1)[1], body)
        if not url.path.startswith("/api/"):
            return self._reply(handler, 404, {"ok": False, "error": "unknown_path"})
        method = url.path[len("/api/") :]
        args = self._args(handler, body, url.query)
        with self._lock:
            self.calls.append({"method": method, "args": args, "at": time.monotonic()})
            burst = next((b for b in self._bursts if b.takes(method)), None)
            if burst is not None:
                return self._fail(handler, burst)
            token = (handler.headers.get("authorization") or "").removeprefix("Bearer ")
            if error := self._token_error(method, token or args.get("token") or ""):
                return self._reply(handler, 200, {"ok": False, "error": error})
            answer = getattr(self, "_" + method.replace(".", "_"), None)
            if answer is None:
                return self._reply(handler, 200, {"ok": False, "error": "unknown_method"})
            result = answer(args)
        self._reply(handler, 200, result)

    def _fail(self, handler, burst: Burst) -> None:
        status = next(burst.statuses)
        if burst.times is not None:
            burst.times -= 1
        self.calls[-1]["status"] = status
        if status == 429:
            headers = {"Retry-After": str(burst.retry_after)}
            return self._reply(handler, 429, {"ok": False, "error": "ratelimited"}, headers)
        if status in (502, 503, 504):  # from the edge, not from the API
            page = f"<html><body><h1>{status}</h1>Service unavailable</body></html>".encode()
            return self._reply(handler, status, page, kind="text/html; charset=utf-8")
        error = burst.error or "internal_error"
        self._reply(handler, status, {"ok": False, "error": error})

    @staticmethod
    def _args(handler, body: bytes, query: str) -> dict[str, Any]:
        args: dict[str, Any] = {k: v[0] for k, v in parse_qs(query).items()}
        kind = handler.headers.get("content-type") or ""
        if "json" in kind and body:
            args.update(json.loads(body))
        elif body:
            args.update({k: v[0] for k, v in parse_qs(body.decode()).items()})
        for key in ("blocks", "view", "files", "attachments"):
            if isinstance(args.get(key), str):
                with contextlib.suppress(ValueError):
                    args[key] = json.loads(args[key])
        return args

    def _token_error(self, method: str, token: str) -> str | None:
        """apps.connections.open takes the app-level token (xapp-) and nothing else takes it."""
        app_level = method == "apps.connections.open"
        app_token = self.socket_mode.app_token if self.socket_mode else None
        if token in (self.token, app_token) and app_level != (token == app_token):
            return "not_allowed_token_type"
        if token not in (self.token, app_token):
            return "invalid_auth"
        return None

    # methods -------------------------------------------------------------------------------
    def _apps_connections_open(self, _args):
        return {"ok": True, "url": self.socket_mode.open_url()}

    def _ts(self) -> str:
        return f"{int(time.time())}.{next(self._clock):06d}"

    def _auth_test(self, _args):
        return {
            "ok": True,
            "url": "https://standin.slack.local/",
            "team": "Stand-in",
            "user": "kafka-migrate",
            "team_id": "T0STANDIN",
            "user_id": BOT_USER,
            "bot_id": "B0BOT",
        }

    def _message_errors(self, args) -> dict | None:
        if args.get("channel") not in self.channels:
            return {"ok": False, "error": "channel_not_found"}
        blocks = args.get("blocks")
        if blocks is None and not args.get("text"):
            return {"ok": False, "error": "no_text"}
        if blocks is not None:
            errors = check_blocks(blocks)
            if errors:
                return {"ok": False, "error": "invalid_blocks", "errors": errors}
            if too_long(blocks):
                return {"ok": False, "error": "msg_blocks_too_long"}
        return None

    def _chat_postMessage(self, args):  # noqa: N802
        if error := self._message_errors(args):
            return error
        thread = args.get("thread_ts")
        if thread and thread not in self.messages:
            return {"ok": False, "error": "thread_not_found"}
        ts = self._ts()
        self.messages[ts] = Message(
            args["channel"], ts, BOT_USER, args.get("text", ""), args.get("blocks"), thread
        )
        return {
            "ok": True,
            "channel": args["channel"],
            "ts": ts,
            "message": {"ts": ts, "text": args.get("text", ""), "user": BOT_USER},
        }

    def _chat_update(self, args):
        if error := self._message_errors(args):
            return error
        message = self.messages.get(args.get("ts", ""))
        if message is None or message.channel != args["channel"]:
            return {"ok": False, "error": "message_not_found"}
        if message.user != BOT_USER:
            return {"ok": False, "error": "cant_update_message"}
        message.history.append((message.text, message.blocks))
        message.text = args.get("text", message.text)
        message.blocks = args.get("blocks")  # text without blocks removes the blocks
        return {"ok": True, "channel": message.channel, "ts": message.ts}

    def _chat_postEphemeral(self, args):  # noqa: N802
        if args.get("channel") not in self.channels:
            return {"ok": False, "error": "channel_not_found"}
        if args.get("user") not in self.users:
            return {"ok": False, "error": "user_not_in_channel"}
        if args.get("blocks") is not None and (errors := check_blocks(args["blocks"])):
            return {"ok": False, "error": "invalid_blocks", "errors": errors}
        self.ephemeral.append(args)
        return {"ok": True, "message_ts": self._ts()}

    def _views_open(self, args):
        trigger = args.get("trigger_id", "")
        expiry = self._triggers.pop(trigger, None)
        if expiry is None:
            return {"ok": False, "error": "invalid_trigger_id"}
        if time.monotonic() > expiry:
            return {"ok": False, "error": "expired_trigger_id"}
        view = args.get("view") or {}
        if errors := check_view(view):
            return {
                "ok": False,
                "error": "invalid_arguments",
                "response_metadata": {"messages": errors},
            }
        view_id = f"V{next(self._ids):08d}"
        self.views[view_id] = view
        return {"ok": True, "view": {**view, "id": view_id}}

    def _views_update(self, args):
        view_id = args.get("view_id")
        if view_id not in self.views:
            return {"ok": False, "error": "not_found"}
        if errors := check_view(args.get("view") or {}):
            return {
                "ok": False,
                "error": "invalid_arguments",
                "response_metadata": {"messages": errors},
            }
        self.views[view_id] = args["view"]
        return {"ok": True, "view": {**args["view"], "id": view_id}}

    def _files_getUploadURLExternal(self, args):  # noqa: N802
        if not args.get("filename") or not str(args.get("length", "")).isdigit():
            return {"ok": False, "error": "invalid_arguments"}
        file_id = f"F{next(self._ids):08d}"
        self.files[file_id] = {
            "filename": args["filename"],
            "length": int(args["length"]),
            "data": None,
            "shared": None,
        }
        return {"ok": True, "upload_url": f"{self.url}/upload/{file_id}", "file_id": file_id}

    def _upload(self, handler, file_id: str, body: bytes) -> None:
        entry = self.files.get(file_id)
        if entry is None:
            return self._reply(handler, 404, b"not found")
        entry["data"] = body
        self._reply(handler, 200, f"OK - {len(body)}".encode())

    def _files_completeUploadExternal(self, args):  # noqa: N802
        files = args.get("files") or []
        channel = args.get("channel_id")
        if channel is not None and channel not in self.channels:
            return {"ok": False, "error": "channel_not_found"}
        for item in files:
            entry = self.files.get(item.get("id"))
            if entry is None or entry["data"] is None:
                return {"ok": False, "error": "file_not_found"}
            entry["shared"] = {
                "channel": channel,
                "thread_ts": args.get("thread_ts"),
                "title": item.get("title"),
            }
        return {"ok": True, "files": [{"id": f["id"], "title": f.get("title")} for f in files]}

    def _usergroups_users_list(self, args):
        group = args.get("usergroup")
        if group not in self.usergroups:
            return {"ok": False, "error": "no_such_subteam"}
        return {"ok": True, "users": list(self.usergroups[group])}

    def _users_info(self, args):
        user = args.get("user")
        if user not in self.users:
            return {"ok": False, "error": "user_not_found"}
        return {
            "ok": True,
            "user": {"id": user, "name": self.users[user], "real_name": self.users[user]},
        }

    def _response(self, handler, key: str, body: bytes) -> None:
        if key not in self._response_uses:
            return self._reply(handler, 404, b"no_such_url")
        self._response_uses[key] += 1
        if self._response_uses[key] > 5:
            return self._reply(handler, 404, b"used_url")
        payload = json.loads(body or b"{}")
        if payload.get("blocks") and (errors := check_blocks(payload["blocks"])):
            return self._reply(
                handler, 400, {"ok": False, "error": "invalid_blocks", "errors": errors}
            )
        self.responses.append({"url_key": key, **payload})
        self._reply(handler, 200, b"ok")
