"""The rehearsal page's two trust boundaries: the mrkdwn renderer (what the bot posted becomes
HTML only through it) and the signing endpoint (what the page sends reaches the bot only as a
signed Slack request of a shape it knows)."""

from __future__ import annotations

import io
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest
from slack_sdk.signature import SignatureVerifier
from standins.page import Page, PageStandIn, Refused
from standins.render import blocks, mrkdwn

USERS = {"U0ALICE": "alice", "U0BOB": "bob"}


@pytest.mark.parametrize(
    ("text", "html"),
    [
        ("<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"),
        ("&lt;script&gt;", "&lt;script&gt;"),
        ("a &amp; b & c", "a &amp; b &amp; c"),
        ('say "hi" it\'s', "say &quot;hi&quot; it&#x27;s"),
        ("*bold* _it_ ~gone~", "<b>bold</b> <i>it</i> <s>gone</s>"),
        ("*bold _nested_*", "<b>bold <i>nested</i></b>"),
        ("`*not bold* <@U0ALICE>`", "<code>*not bold* &lt;@U0ALICE&gt;</code>"),
        ("```a\n<b>x</b>```", "<pre>a\n&lt;b&gt;x&lt;/b&gt;</pre>"),
        ("line1\nline2", "line1<br>line2"),
        ("hi <@U0ALICE>", 'hi <span class="mention">@alice</span>'),
        ("<@U0NOBODY>", '<span class="mention">@U0NOBODY</span>'),
        (
            "<https://example.com/?a=1&amp;b=2|the *docs*>",
            '<a href="https://example.com/?a=1&amp;b=2" target="_blank" '
            'rel="noopener noreferrer">the *docs*</a>',
        ),
        ("<javascript:alert(1)|click>", "&lt;javascript:alert(1)|click&gt;"),
        ('<https://x.test/"onmouseover="alert(1)|x>', "&lt;https://x.test/&quot;"),
        ("<https://x|<img src=x onerror=alert(1)>>", "&lt;img src=x onerror=alert(1)&gt;"),
        ("*<script>*", "<b>&lt;script&gt;</b>"),
        ("nul\x00\x001\x00 byte", "nul1 byte"),
        (
            ":white_check_mark: done",
            '<span class="emoji e-white_check_mark" title=":white_check_mark:">',
        ),
        (":not_an_emoji: <b>", ":not_an_emoji: &lt;b&gt;"),
    ],
)
def test_mrkdwn_is_escaped_before_it_is_formatted(text, html):
    assert html in mrkdwn(text, USERS)
    out = mrkdwn(text, USERS)
    assert (
        "<script" not in out
        and "<img" not in out
        and "onerror=" not in out.replace("&lt;img src=x onerror=alert(1)&gt;", "")
    )


def test_blocks_escape_plain_text_and_attributes():
    html = blocks(
        [
            {"type": "header", "text": {"type": "plain_text", "text": "<b>*x*</b>"}},
            {
                "type": "actions",
                "block_id": 'b"><script>',
                "elements": [
                    {
                        "type": "button",
                        "action_id": "gate_approve",
                        "value": '{"m":"x"}"><script>',
                        "text": {"type": "plain_text", "text": "<i>Approve</i>"},
                        "confirm": {
                            "title": {"type": "plain_text", "text": "Sure?"},
                            "text": {"type": "mrkdwn", "text": "<script>*really*"},
                        },
                    }
                ],
            },
        ],
        USERS,
    )
    assert "<script>" not in html and "<i>Approve" not in html
    assert "&lt;b&gt;*x*&lt;/b&gt;" in html  # plain text: not formatted either
    assert 'data-value="{&quot;m&quot;:&quot;x&quot;}&quot;&gt;&lt;script&gt;"' in html
    assert "&lt;script&gt;<b>really</b>" in html


class Recorder(BaseHTTPRequestHandler):
    seen: list = []

    def log_message(self, *_args):
        pass

    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers["content-length"]))
        self.seen.append((dict(self.headers), body))
        answer = b'{"text": "ok"}'
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)


@pytest.fixture
def page():
    standin = PageStandIn(channels=("C0MIGRATE",), users=USERS)
    events = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=events.serve_forever, args=(0.05,), daemon=True).start()
    Recorder.seen = []
    page = Page(
        standin,
        signing_secret="s3cret-for-tests",
        channel="C0MIGRATE",
        channel_name="kafka-migrations",
        approvers=["U0BOB"],
        requester="U0ALICE",
        events_url=f"http://127.0.0.1:{events.server_address[1]}/slack/events",
    )
    yield page
    events.shutdown()
    events.server_close()
    standin.server.server_close()


def test_a_command_goes_out_signed_as_slack_signs_it(page):
    assert page.send({"type": "command", "user": "U0ALICE", "text": "/kafka-migrate list"}) == {
        "ok": True
    }
    headers, body = Recorder.seen[-1]
    verifier = SignatureVerifier("s3cret-for-tests")
    assert verifier.is_valid(
        body=body.decode(),
        timestamp=headers["X-Slack-Request-Timestamp"],
        signature=headers["X-Slack-Signature"],
    )
    form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
    assert form["command"] == "/kafka-migrate" and form["text"] == "list"
    assert form["user_id"] == "U0ALICE" and form["channel_id"] == "C0MIGRATE"
    assert page.standin.notes[-1]["text"] == "ok"  # the ack, shown to alice only
    assert "s3cret" not in json.dumps(page.state("U0ALICE"))


def test_a_click_carries_the_buttons_value_from_the_message_not_from_the_page(page):
    value = '{"m":"orders-1","v":3,"s":"stop_producers"}'
    message = page.standin.user_message("C0MIGRATE", "U0BOT", "gate")
    message.user = "U0BOT"
    message.blocks = [
        {
            "type": "actions",
            "block_id": "gate_stop_producers",
            "elements": [{"type": "button", "action_id": "gate_approve", "value": value}],
        }
    ]
    request = {"type": "block_actions", "user": "U0BOB", "message_ts": message.ts}
    page.send({**request, "action_id": "gate_approve", "value": "forged"})
    payload = json.loads(parse_qs(Recorder.seen[-1][1].decode())["payload"][0])
    assert payload["actions"][0]["value"] == value and payload["user"]["id"] == "U0BOB"
    with pytest.raises(Refused, match="no such button"):
        page.send({**request, "action_id": "gate_reject"})


@pytest.mark.parametrize(
    "request_",
    [
        {"type": "event_callback", "user": "U0ALICE"},
        {"type": "url_verification", "user": "U0ALICE"},
        {"user": "U0ALICE", "text": "/kafka-migrate list"},
        {"type": "command", "user": "U0MALLORY", "text": "/kafka-migrate list"},
        {"type": "command", "user": "U0ALICE", "text": "hello everyone"},
        {"type": "command", "user": "U0ALICE", "text": "/other-command"},
        {"type": "command", "user": "U0ALICE", "text": ["/kafka-migrate"]},
        {"type": "block_actions", "user": "U0ALICE", "message_ts": "1.2", "action_id": "x"},
        {"type": "block_actions", "user": "U0ALICE", "message_ts": "../x", "action_id": "x"},
        {"type": "view_submission", "user": "U0ALICE", "view_id": "V1", "values": {}},
        ["not", "an", "object"],
    ],
)
def test_anything_else_is_refused_and_nothing_is_sent(page, request_):
    with pytest.raises(Refused):
        page.send(request_)
    assert Recorder.seen == []


def test_a_form_is_submitted_only_by_its_owner_with_its_own_fields(page):
    trigger = page.standin.trigger_for("U0ALICE")
    view = {
        "type": "modal",
        "callback_id": "start_migration",
        "title": {"type": "plain_text", "text": "Start"},
        "blocks": [
            {
                "type": "input",
                "block_id": "source",
                "label": {"type": "plain_text", "text": "Source"},
                "element": {
                    "type": "static_select",
                    "action_id": "value",
                    "options": [{"text": {"type": "plain_text", "text": "a"}, "value": "a"}],
                },
            }
        ],
    }
    view_id = page.standin._views_open({"trigger_id": trigger, "view": view})["view"]["id"]
    with pytest.raises(Refused, match="no such form"):
        page.send({"type": "view_submission", "user": "U0BOB", "view_id": view_id, "values": {}})
    with pytest.raises(Refused, match="not one of"):
        page.send(
            {
                "type": "view_submission",
                "user": "U0ALICE",
                "view_id": view_id,
                "values": {"source": "zzz"},
            }
        )
    with pytest.raises(Refused, match="does not have"):
        page.send(
            {
                "type": "view_submission",
                "user": "U0ALICE",
                "view_id": view_id,
                "values": {"source": "a", "extra": "x"},
            }
        )
    assert Recorder.seen == []
    page.send(
        {
            "type": "view_submission",
            "user": "U0ALICE",
            "view_id": view_id,
            "values": {"source": "a"},
        }
    )
    payload = json.loads(parse_qs(Recorder.seen[-1][1].decode())["payload"][0])
    state = payload["view"]["state"]["values"]
    assert state == {
        "source": {
            "value": {
                "type": "static_select",
                "selected_option": view["blocks"][0]["element"]["options"][0],
            }
        }
    }


def test_the_http_endpoint_takes_json_only(page):
    def call(body: bytes, kind: str = "application/json"):
        status = []
        environ = {
            "PATH_INFO": "/rehearsal/send",
            "REQUEST_METHOD": "POST",
            "CONTENT_TYPE": kind,
            "CONTENT_LENGTH": str(len(body)),
            "wsgi.input": io.BytesIO(body),
        }
        out = b"".join(page.wsgi(environ, lambda s, _h: status.append(s)))
        return status[0], json.loads(out)

    assert call(b"payload=x", "application/x-www-form-urlencoded")[0].startswith("400")
    assert call(b"{not json")[0].startswith("400")
    assert call(b'{"type": "command", "user": "U0ALICE", "text": "/kafka-migrate"}')[0] == "200 OK"
    assert Recorder.seen and Recorder.seen[-1][0]["X-Slack-Signature"].startswith("v0=")


def test_extra_routes_never_shadow_the_bots_own_paths():
    from bot.web import wsgi_app

    def extra(_environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"extra"]

    app = wsgi_app(None, lambda: (True, {}), routes={"/": extra, "/rehearsal/": extra})

    def get(path: str) -> tuple[str, bytes]:
        status = []
        environ = {"PATH_INFO": path, "REQUEST_METHOD": "GET", "wsgi.input": io.BytesIO()}
        body = b"".join(app(environ, lambda s, _h: status.append(s)))
        return status[0], body

    assert get("/") == ("200 OK", b"extra")
    assert get("/rehearsal/state") == ("200 OK", b"extra")
    assert get("/healthz")[1].startswith(b'{"ok": true')
    assert get("/elsewhere")[0].startswith("404")  # "/" is the page, not a prefix of all
