"""The Slack stand-in's Block Kit checker refuses what Slack refuses, with Slack's pointers;
it builds on slack_sdk.models' validation plus the rules slack_sdk lacks."""

from __future__ import annotations

import pytest
from standins.blockkit import check_blocks, check_view, too_long

SECTION = {"type": "section", "text": {"type": "mrkdwn", "text": "ok"}}


def button(action_id="a", text="Go", **more):
    return {
        "type": "button",
        "action_id": action_id,
        "text": {"type": "plain_text", "text": text},
        **more,
    }


@pytest.mark.parametrize(
    ("blocks", "expected"),
    [
        (
            [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}],
            "/blocks/0/text/text",
        ),
        (
            [{"type": "section", "fields": [{"type": "mrkdwn", "text": "f"}] * 11}],
            "/blocks/0/fields",
        ),
        ([{"type": "actions", "elements": [button(text="b" * 76)]}], "/blocks/0/elements/0/text"),
        (
            [{"type": "actions", "elements": [button(value="v" * 2001)]}],
            "/blocks/0/elements/0/value",
        ),
        ([{"type": "actions", "elements": [button(), button()]}], "action_id 'a' is not unique"),
        ([{"type": "header", "text": {"type": "mrkdwn", "text": "*h*"}}], "must be plain_text"),
        ([{"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}], "/blocks/0/text"),
        ([{**SECTION, "colour": "red"}], "unknown field 'colour' [json-pointer:/blocks/0/colour]"),
        ([{"type": "marquee"}], "unsupported type [json-pointer:/blocks/0/type]"),
        ([SECTION] * 51, "must be no more than 50 items [json-pointer:/blocks]"),
        ([{**SECTION, "block_id": "b"}, {**SECTION, "block_id": "b"}], "block_id is not unique"),
        (
            [
                {
                    "type": "actions",
                    "elements": [
                        button(
                            confirm={
                                "title": {"type": "plain_text", "text": "t" * 101},
                                "text": {"type": "plain_text", "text": "sure?"},
                                "confirm": {"type": "plain_text", "text": "Yes"},
                                "deny": {"type": "plain_text", "text": "No"},
                            }
                        )
                    ],
                }
            ],
            "/blocks/0/elements/0/confirm",
        ),
        (
            [{"type": "context", "elements": [{"type": "mrkdwn", "text": "c" * 3001}]}],
            "text must be 1 to 3000 characters [json-pointer:/blocks/0/elements/0/text]",
        ),
        (
            [{"type": "section", "text": {"type": "mrkdwn", "text": ""}}],
            "text must be 1 to 3000 characters [json-pointer:/blocks/0/text/text]",
        ),
        (
            [{"type": "section", "fields": [{"type": "mrkdwn", "text": "f" * 2001}]}],
            "field text cannot exceed 2000 characters [json-pointer:/blocks/0/fields/0/text]",
        ),
        ("not json", "invalid JSON"),
        ({"type": "section"}, "must be an array"),
    ],
)
def test_what_slack_refuses_is_refused_with_its_pointer(blocks, expected):
    errors = check_blocks(blocks)
    assert errors and any(expected in e for e in errors), errors


def test_what_the_bot_sends_passes():
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": "Kafka migration"}},
        SECTION,
        {"type": "divider"},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "rollback"}]},
        {
            "type": "actions",
            "block_id": "x",
            "elements": [button("a"), button("b", style="danger")],
        },
    ]
    assert check_blocks(blocks) == []
    assert check_blocks([SECTION] * 100, surface="modal") == []


def test_total_size_and_views():
    assert too_long([{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 2900}}] * 5)
    assert not too_long([SECTION])
    view = {
        "type": "modal",
        "callback_id": "start",
        "title": {"type": "plain_text", "text": "Start a migration"},
        "submit": {"type": "plain_text", "text": "Start"},
        "blocks": [SECTION],
    }
    assert check_view(view) == []
    long_title = {**view, "title": {"type": "plain_text", "text": "t" * 25}}
    assert any("/view/title" in e for e in check_view(long_title))
    bad_block = {**view, "blocks": [{"type": "marquee"}]}
    assert check_view(bad_block) == ["unsupported type [json-pointer:/view/blocks/0/type]"]
    assert any("unknown field 'colour'" in e for e in check_view({**view, "colour": "red"}))
