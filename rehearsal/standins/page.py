"""The rehearsal page: a Slack channel in the browser, served by the bot's own HTTP server.

It shows what the bot really posted through the Slack stand-in (messages, thread replies,
updates, ephemeral replies, modals, uploaded charts) and lets a person act as one of the
stand-in's users. Whatever the page sends goes the way Slack's requests go: `send` checks that it
is a slash command, a button click or a form submission it knows, builds the payload Slack would
send, signs it with the rehearsal's signing secret and POSTs it to /slack/events, where the
server's guard and bolt check it like any other. There is no other way into the engine.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Mapping
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, urlencode

import httpx

from bot.slack.ids import COMMAND
from standins import render
from standins.slack_api import BOT_USER, SlackStandIn

log = logging.getLogger(__name__)
MAX_REQUEST = 64 * 1024
STATIC = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/rehearsal/app.js": ("app.js", "text/javascript; charset=utf-8"),
    "/rehearsal/style.css": ("style.css", "text/css; charset=utf-8"),
}
_TS = re.compile(r"^\d+\.\d+$")
_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


class Refused(ValueError):
    """What the page sent is not a request it knows: answered 400 with the reason."""


class PageStandIn(SlackStandIn):
    """The Slack stand-in, also remembering what the page needs to draw a channel: who each
    trigger and response_url belongs to (the person who acted), which modal each person has
    open, and when files and ephemeral replies arrived."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.owners: dict[str, str] = {}  # trigger id or response_url key -> user
        self.open_views: dict[str, str] = {}  # view id -> user
        self.notes: list[dict[str, Any]] = []  # ephemeral replies, in order, with their user

    def trigger_for(self, user: str) -> str:
        trigger = self.trigger()
        self.owners[trigger] = user
        return trigger

    def response_url_for(self, user: str) -> str:
        url = self.response_url()
        self.owners[url.rsplit("/", 1)[1]] = user
        return url

    def note(self, user: str, text: str, blocks: list | None = None) -> None:
        with self._lock:
            self.notes.append({"user": user, "ts": self._ts(), "text": text, "blocks": blocks})

    def _views_open(self, args):
        answer = super()._views_open(args)
        if answer.get("ok"):
            user = self.owners.get(args.get("trigger_id", ""))
            if user:
                self.open_views[answer["view"]["id"]] = user
        return answer

    def _chat_postEphemeral(self, args):  # noqa: N802
        answer = super()._chat_postEphemeral(args)
        if answer.get("ok"):
            self.notes.append(
                {
                    "user": args["user"],
                    "ts": answer["message_ts"],
                    "text": args.get("text", ""),
                    "blocks": args.get("blocks"),
                }
            )
        return answer

    def _files_completeUploadExternal(self, args):  # noqa: N802
        answer = super()._files_completeUploadExternal(args)
        if answer.get("ok"):
            for item in answer["files"]:
                self.files[item["id"]]["ts"] = self._ts()
        return answer

    def _response(self, handler, key: str, body: bytes) -> None:
        before = len(self.responses)
        super()._response(handler, key, body)
        if len(self.responses) > before and key in self.owners:
            answer = self.responses[-1]
            self.note(self.owners[key], answer.get("text", ""), answer.get("blocks"))


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """Slack's request signature: v0=HMAC-SHA256(secret, "v0:{timestamp}:{body}")."""
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, "sha256").hexdigest()


class Page:
    def __init__(
        self,
        standin: PageStandIn,
        *,
        signing_secret: str,
        channel: str,
        channel_name: str,
        approvers: list[str],
        requester: str,
        demo=None,
        events_url: str | None = None,
        suggestion: str | None = None,
    ):
        self.standin = standin
        self._secret = signing_secret
        self.channel = channel
        self.channel_name = channel_name
        self.approvers = list(approvers)
        self.requester = requester
        self.demo = demo
        self.suggestion = suggestion  # a command the page offers to put in the composer
        self.events_url = events_url  # set once the server has its port
        self._lock = threading.Lock()

    # routes --------------------------------------------------------------------------------
    def routes(self) -> dict[str, Callable]:
        """For the bot's HTTP server: the page and its /rehearsal/ endpoints."""
        return {"/": self.wsgi, "/rehearsal/": self.wsgi}

    def wsgi(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        try:
            if path in STATIC and method == "GET":
                name, kind = STATIC[path]
                body = resources.files("standins").joinpath("page", name).read_bytes()
                return _send(start_response, "200 OK", body, kind)
            if path == "/rehearsal/state" and method == "GET":
                query = parse_qs(environ.get("QUERY_STRING", ""))
                user = (query.get("user") or [self.requester])[0]
                return _json(start_response, "200 OK", self.state(user))
            if path.startswith("/rehearsal/files/") and method == "GET":
                return self._file(start_response, path.rsplit("/", 1)[1])
            if path == "/rehearsal/send" and method == "POST":
                return _json(start_response, "200 OK", self.send(_read_json(environ)))
            if path == "/rehearsal/demo" and method == "POST":
                return _json(start_response, "200 OK", self.control(_read_json(environ)))
        except Refused as exc:
            log.warning("rehearsal page: refused: %s", exc)
            return _json(start_response, "400 Bad Request", {"ok": False, "error": str(exc)})
        return _send(start_response, "404 Not Found", b"not found\n", "text/plain")

    def _file(self, start_response, file_id: str):
        entry = self.standin.files.get(file_id)
        if entry is None or not entry.get("data") or not entry["data"].startswith(b"\x89PNG"):
            return _send(start_response, "404 Not Found", b"not found\n", "text/plain")
        return _send(start_response, "200 OK", entry["data"], "image/png")

    # what the page shows -------------------------------------------------------------------
    def people(self) -> list[dict[str, str]]:
        out = []
        for user, name in self.standin.users.items():
            if user == self.requester:
                role = "requester" + (" (an approver)" if user in self.approvers else "")
            elif user in self.approvers:
                role = "approver"
            else:
                role = "neither requester nor approver"
            out.append({"id": user, "name": name, "role": role})
        return out

    def _names(self) -> dict[str, str]:
        return {**self.standin.users, BOT_USER: "kafka-migrate", self.channel: self.channel_name}

    def _entry(self, ts: str, user: str, html: str, **extra) -> dict[str, Any]:
        names = self._names()
        return {
            "ts": ts,
            "user": user,
            "name": names.get(user, user),
            "time": time.strftime("%H:%M:%S", time.localtime(float(ts.split(".")[0]))),
            "html": html,
            **extra,
        }

    def state(self, user: str) -> dict[str, Any]:
        if user not in self.standin.users:
            raise Refused("unknown user")
        names = self._names()
        top: list[dict] = []
        threads: dict[str, list[dict]] = {}
        for message in list(self.standin.messages.values()):
            if message.channel != self.channel:
                continue
            html = render.blocks(message.blocks, names, message.text)
            entry = self._entry(message.ts, message.user, html, edited=bool(message.history))
            if message.thread_ts:
                threads.setdefault(message.thread_ts, []).append(entry)
            else:
                top.append(entry)
        for file_id, item in list(self.standin.files.items()):
            shared = item.get("shared")
            if not shared or shared.get("channel") != self.channel or "ts" not in item:
                continue
            title = render.mrkdwn(shared.get("title") or item["filename"], names)
            html = (
                f'<figure class="b-image"><figcaption>{title}</figcaption>'
                f'<img src="/rehearsal/files/{file_id}" alt="{title}"></figure>'
            )
            entry = self._entry(item["ts"], BOT_USER, html, file=file_id)
            if shared.get("thread_ts"):
                threads.setdefault(shared["thread_ts"], []).append(entry)
            else:
                top.append(entry)
        for note in list(self.standin.notes):
            if note["user"] == user:
                html = render.blocks(note["blocks"], names, note["text"])
                top.append(self._entry(note["ts"], BOT_USER, html, ephemeral=True))
        top.sort(key=lambda e: float(e["ts"]))
        for replies in threads.values():
            replies.sort(key=lambda e: float(e["ts"]))
        for entry in top:
            replies = threads.get(entry["ts"], [])
            entry["replies"] = len(replies)
        modal = None
        for view_id, owner in list(self.standin.open_views.items()):
            if owner == user and view_id in self.standin.views:
                modal = {"id": view_id, **render.view(self.standin.views[view_id], names)}
        return {
            "me": user,
            "people": self.people(),
            "channel": {"id": self.channel, "name": self.channel_name},
            "messages": top,
            "threads": threads,
            "modal": modal,
            "demo": self.demo.status() if self.demo is not None else None,
            "suggestion": self.suggestion,
        }

    # what the page sends -------------------------------------------------------------------
    def send(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """Build what Slack would send for this request, sign it, POST it to /slack/events."""
        if not isinstance(request, Mapping):
            raise Refused("expected a JSON object")
        user = request.get("user")
        if not isinstance(user, str) or user not in self.standin.users:
            raise Refused("unknown user")
        kind = request.get("type")
        if kind == "command":
            body = urlencode(self._command(user, request.get("text")))
        elif kind == "block_actions":
            body = urlencode({"payload": json.dumps(self._click(user, request))})
        elif kind == "view_submission":
            body = urlencode({"payload": json.dumps(self._submission(user, request))})
        elif kind == "view_closed":
            return self._close(user, request)
        else:
            raise Refused("only a slash command, a button click or a form submission")
        answer = self._post(body.encode())
        return self._after(kind, user, request, answer)

    def _command(self, user: str, text: Any) -> dict[str, str]:
        if not isinstance(text, str) or len(text) > 3000:
            raise Refused("a command is text, at most 3000 characters")
        line = text.strip()
        if line != COMMAND and not line.startswith(COMMAND + " "):
            raise Refused(f"the rehearsal sends {COMMAND} commands only")
        return {
            "token": "unused",
            "team_id": "T0STANDIN",
            "team_domain": "rehearsal",
            "channel_id": self.channel,
            "channel_name": self.channel_name,
            "user_id": user,
            "user_name": self.standin.users[user],
            "command": COMMAND,
            "text": line[len(COMMAND) :].strip(),
            "api_app_id": "A0STANDIN",
            "trigger_id": self.standin.trigger_for(user),
            "response_url": self.standin.response_url_for(user),
        }

    def _click(self, user: str, request: Mapping[str, Any]) -> dict[str, Any]:
        ts, action_id = request.get("message_ts"), request.get("action_id")
        if not isinstance(ts, str) or not _TS.match(ts):
            raise Refused("message_ts is not a message timestamp")
        if not isinstance(action_id, str) or not _ID.match(action_id):
            raise Refused("action_id is not an action id")
        message = self.standin.messages.get(ts)
        if message is None or message.channel != self.channel or not message.blocks:
            raise Refused("no such message in the channel")
        for item in message.blocks:
            for element in item.get("elements", []) if item.get("type") == "actions" else []:
                if element.get("type") == "button" and element.get("action_id") == action_id:
                    return {
                        "type": "block_actions",
                        "user": {"id": user, "username": self.standin.users[user]},
                        "api_app_id": "A0STANDIN",
                        "team": {"id": "T0STANDIN"},
                        "channel": {"id": self.channel, "name": self.channel_name},
                        "container": {"type": "message", "message_ts": ts},
                        "message": {"ts": ts, "text": message.text, "blocks": message.blocks},
                        "trigger_id": self.standin.trigger_for(user),
                        "response_url": self.standin.response_url_for(user),
                        "actions": [
                            {
                                "type": "button",
                                "action_id": action_id,
                                "block_id": item.get("block_id", ""),
                                "value": element.get("value", ""),
                                "action_ts": f"{time.time():.6f}",
                            }
                        ],
                    }
        raise Refused("that message has no such button")

    def _submission(self, user: str, request: Mapping[str, Any]) -> dict[str, Any]:
        view_id, values = request.get("view_id"), request.get("values")
        if self.standin.open_views.get(view_id) != user or view_id not in self.standin.views:
            raise Refused("no such form open for this user")
        if not isinstance(values, Mapping):
            raise Refused("values must be an object")
        view = self.standin.views[view_id]
        inputs = {
            b["block_id"]: b["element"]
            for b in view.get("blocks", [])
            if b.get("type") == "input" and b.get("block_id") and b.get("element")
        }
        state: dict[str, dict] = {}
        for block_id, element in inputs.items():
            given = values.get(block_id, "")
            if not isinstance(given, str) or len(given) > 3000:
                raise Refused(f"{block_id}: a value is text")
            action_id = element.get("action_id", "value")
            if element.get("type") == "static_select":
                options = {o["value"]: o for o in element.get("options", [])}
                if given and given not in options:
                    raise Refused(f"{block_id}: not one of the form's options")
                option = options.get(given)
                state[block_id] = {action_id: {"type": "static_select", "selected_option": option}}
            else:
                state[block_id] = {action_id: {"type": "plain_text_input", "value": given or None}}
        unknown = set(values) - set(inputs)
        if unknown:
            raise Refused("values for fields the form does not have")
        return {
            "type": "view_submission",
            "team": {"id": "T0STANDIN"},
            "user": {"id": user, "username": self.standin.users[user]},
            "api_app_id": "A0STANDIN",
            "trigger_id": self.standin.trigger_for(user),
            "view": {
                **view,
                "id": view_id,
                "hash": f"{time.time_ns()}",
                "state": {"values": state},
                "private_metadata": view.get("private_metadata", ""),
            },
        }

    def _close(self, user: str, request: Mapping[str, Any]) -> dict[str, Any]:
        view_id = request.get("view_id")
        if self.standin.open_views.get(view_id) != user:
            raise Refused("no such form open for this user")
        self.standin.open_views.pop(view_id, None)
        return {"ok": True}

    def _post(self, body: bytes) -> httpx.Response:
        if self.events_url is None:
            raise Refused("the bot is not listening yet")
        timestamp = str(int(time.time()))
        return httpx.post(
            self.events_url,
            content=body,
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "X-Slack-Request-Timestamp": timestamp,
                "X-Slack-Signature": sign(self._secret, timestamp, body),
            },
            timeout=15,
        )

    def _after(self, kind: str, user: str, request, answer: httpx.Response) -> dict[str, Any]:
        """What the bot answered: an acknowledgement text (shown to the sender only), form
        errors, or a refusal status."""
        try:
            data = answer.json() if answer.content else {}
        except ValueError:
            data = {"text": answer.text}
        if not isinstance(data, dict):
            data = {}
        if answer.status_code != 200:
            return {"ok": False, "status": answer.status_code, "error": answer.text[:300]}
        if kind == "command" and data.get("text"):
            self.standin.note(user, data["text"], data.get("blocks"))
        if kind == "view_submission":
            if data.get("response_action") == "errors":
                errors = {
                    k: render.mrkdwn(str(v), self._names())
                    for k, v in (data.get("errors") or {}).items()
                }
                return {"ok": True, "errors": errors}
            self.standin.open_views.pop(request.get("view_id"), None)
        return {"ok": True}

    # the demo's clients --------------------------------------------------------------------
    def control(self, request: Mapping[str, Any]) -> dict[str, Any]:
        if self.demo is None:
            raise Refused("no demo clients in this rehearsal")
        if not isinstance(request, Mapping):
            raise Refused("expected a JSON object")
        what, where = request.get("clients"), request.get("cluster")
        if what not in ("producer", "consumers") or where not in ("source", "target", None):
            raise Refused("clients: producer or consumers; cluster: source, target or null")
        with self._lock:
            self.demo.switch(what, where)
        return {"ok": True, "demo": self.demo.status()}


def _read_json(environ) -> Any:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise Refused("malformed Content-Length") from None
    if length <= 0 or length > MAX_REQUEST:
        raise Refused("the body is empty or too large")
    if (environ.get("CONTENT_TYPE") or "").split(";")[0].strip() != "application/json":
        raise Refused("the body must be JSON")
    try:
        return json.loads(environ["wsgi.input"].read(length))
    except ValueError:
        raise Refused("the body is not JSON") from None


def _send(start_response, status: str, body: bytes, kind: str):
    start_response(
        status,
        [
            ("Content-Type", kind),
            ("Content-Length", str(len(body))),
            ("Cache-Control", "no-store"),
            ("X-Content-Type-Options", "nosniff"),
            (
                "Content-Security-Policy",
                "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'",
            ),
        ],
    )
    return [body]


def _json(start_response, status: str, value: Any):
    return _send(start_response, status, json.dumps(value).encode(), "application/json")
