"""Gate buttons authorized at click time; the card kept current; alerts, charts, limits (the
requests dispatched in process)."""

from __future__ import annotations

import copy

import pytest
from slack_sdk.errors import SlackApiError

from bot.migration.notify import Notification, NotificationKind
from tests.slack.support import CHANNEL, answers, open_gate
from tests.support import migration
from tests.waits import wait_for


def test_gate_request_mentions_approvers_and_only_an_approver_other_than_the_requester_passes(
    slackbot,
):
    m, message = open_gate(slackbot)
    first = message.blocks[0]["text"]["text"]
    assert "<@U0BOB>" in first and "<!subteam^S0SRE>" in first and "version 2" in first

    slackbot.click(message, "gate_approve", "U0EVE")  # not an approver
    wait_for(lambda: answers(slackbot, "<@U0EVE> is not an approver"), what="unauthorized refusal")
    store = slackbot.bot.store
    assert store.all_approvals(m.id) == []

    m2, message2 = open_gate(
        slackbot, requested_by="U0BOB", mid="bobs-xyz"
    )  # bob asked: bob may not approve
    slackbot.click(message2, "gate_approve", "U0BOB")
    wait_for(
        lambda: answers(slackbot, "cannot approve it (two-person rule)"),
        what="self-approval refusal",
    )
    assert store.all_approvals(m2.id) == []

    # dan is an approver through the S0SRE user group (asked at click time), clicking twice
    seen = copy.deepcopy(message)  # both clicks carry the message as the user saw it
    slackbot.click(seen, "gate_approve", "U0DAN")
    slackbot.click(seen, "gate_approve", "U0DAN")
    wait_for(lambda: answers(slackbot, "<@U0DAN> already approved"), what="double click answer")
    approvals = store.all_approvals(m.id)
    assert [(a.actor, a.decision, a.version) for a in approvals] == [("U0DAN", "approved", 2)]
    assert slackbot.standin.calls_of("usergroups.users.list")
    updated = wait_for(
        lambda: (
            not any(b["type"] == "actions" for b in slackbot.standin.messages[message.ts].blocks)
        ),
        what="buttons replaced",
    )
    assert updated
    context = slackbot.standin.messages[message.ts].blocks[-1]["elements"][0]["text"]
    assert "Approved by <@U0DAN> at <!date^" in context


def test_stale_gate_buttons_get_an_explanation(slackbot):
    m, message = open_gate(slackbot)
    m.state = {"gate": {"step": "stop_producers", "opened_at": 0, "version": 3}}
    slackbot.bot.store.save(m, 2, actor="bot", kind="gate_opened", message="reopened")
    slackbot.click(message, "gate_approve", "U0BOB")
    wait_for(lambda: answers(slackbot, "stale approval: you saw version 2"), what="stale")
    assert slackbot.bot.store.all_approvals(m.id) == []


def test_card_is_posted_once_updated_coalesced_and_summarised(slackbot):
    topics = [f"orders.region{i:03d}" for i in range(300)]
    m = slackbot.bot.store.create(migration(topics=topics), "U0ALICE")
    notifier = slackbot.bot.notifier
    for i in range(30):
        notifier.notify(Notification(NotificationKind.CARD_CHANGED, m.id, f"change {i}"))
    assert notifier.wait_idle(10)
    posts = [
        c
        for c in slackbot.standin.calls_of("chat.postMessage")
        if c["args"].get("channel") == CHANNEL and not c["args"].get("thread_ts")
    ]
    updates = slackbot.standin.calls_of("chat.update")
    assert len(posts) == 1 and 1 <= len(updates) <= 3  # 30 changes, coalesced
    card = slackbot.standin.messages[slackbot.bot.store.get(m.id).card_ts]
    text = " ".join(b.get("text", {}).get("text", "") for b in card.blocks)
    assert "and 295 more" in text and "Pause" in str(card.blocks)


def test_card_buttons_check_the_operator_and_the_version(slackbot):
    store = slackbot.bot.store
    m = store.create(migration(), "U0ALICE")
    slackbot.bot.notifier.notify(Notification(NotificationKind.CARD_CHANGED, m.id, "new"))
    assert slackbot.bot.notifier.wait_idle(10)
    card = copy.deepcopy(slackbot.standin.messages[store.get(m.id).card_ts])  # as seen
    slackbot.click(card, "migration_pause", "U0EVE")
    wait_for(lambda: answers(slackbot, "may not operate"), what="refusal")
    slackbot.click(card, "migration_pause", "U0ALICE")
    wait_for(lambda: store.get(m.id).status == "paused", what="paused by the requester")
    slackbot.click(card, "migration_cancel", "U0ALICE")  # the card showed version 1
    wait_for(lambda: answers(slackbot, "this card showed version 1"), what="stale card")
    assert store.get(m.id).status == "paused"


def test_alerts_go_to_the_channel_and_charts_to_the_thread(slackbot):
    store = slackbot.bot.store
    m = store.create(migration(), "U0ALICE")
    for lag in (500, 200, 0):
        store.add_lag(m.id, lag, lag // 2, None)
    notifier = slackbot.bot.notifier
    notifier.notify(Notification(NotificationKind.LAG_ZERO, m.id, "lag reached zero", "drain"))
    notifier.notify(
        Notification(NotificationKind.STALL, m.id, "MirrorMaker 2 copied nothing", "catch_up")
    )
    assert notifier.wait_idle(60)  # the first chart imports its plotting library
    texts = [msg.text for msg in slackbot.standin.channel_messages(CHANNEL)]
    assert any("lag reached zero" in t for t in texts)
    assert any(":warning:" in t and "copied nothing" in t for t in texts)
    card_ts = store.get(m.id).card_ts
    shared = [f for f in slackbot.standin.files.values() if f["shared"]]
    assert shared and shared[0]["shared"]["thread_ts"] == card_ts
    assert shared[0]["data"].startswith(b"\x89PNG")


def test_rate_limits_are_retried_after_retry_after(slackbot):
    store = slackbot.bot.store
    m = store.create(migration(), "U0ALICE")
    slackbot.standin.rate_limit("chat.postMessage", times=1, retry_after=1)
    slackbot.bot.notifier.notify(Notification(NotificationKind.CARD_CHANGED, m.id, "new"))
    assert slackbot.bot.notifier.wait_idle(15)
    assert store.get(m.id).card_ts  # posted on the second try
    refused, posted = slackbot.standin.calls_of("chat.postMessage")
    assert refused["status"] == 429 and "status" not in posted
    assert posted["at"] - refused["at"] >= 1  # not before Retry-After said


def test_the_standin_rejects_what_slack_rejects(slackbot):
    client = slackbot.bot.client
    too_many = [{"type": "divider"}] * 51
    with pytest.raises(SlackApiError) as caught:
        client.chat_postMessage(channel=CHANNEL, text="x", blocks=too_many)
    assert caught.value.response["error"] == "invalid_blocks"
    assert "[json-pointer:/blocks]" in caught.value.response["errors"][0]
    long_text = [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}]
    with pytest.raises(SlackApiError) as caught:
        client.chat_postMessage(channel=CHANNEL, text="x", blocks=long_text)
    assert "[json-pointer:/blocks/0/text/text]" in caught.value.response["errors"][0]
    with pytest.raises(SlackApiError, match="channel_not_found"):
        client.chat_postMessage(channel="C0NOWHERE", text="x")


def test_the_requester_may_reject_their_own_request(slackbot):
    m, message = open_gate(slackbot)
    slackbot.click(message, "gate_reject", "U0ALICE")
    store = slackbot.bot.store
    wait_for(lambda: store.get(m.id).status == "paused", what="paused by the rejection")
    assert "rejected by U0ALICE" in store.get(m.id).reason
    wait_for(
        lambda: "Rejected by <@U0ALICE>" in str(slackbot.standin.messages[message.ts].blocks),
        what="request shows the rejection",
    )


def test_gate_requests_lose_their_buttons_when_the_migration_moves_on(slackbot):
    store, notifier = slackbot.bot.store, slackbot.bot.notifier
    m, message = open_gate(slackbot)
    as_seen = copy.deepcopy(message)  # what a person still has on screen
    expired = store.get(m.id)
    expired.state = {"gate": {"step": "stop_producers", "opened_at": 0, "version": 3}}
    store.save(expired, 2, actor="bot", kind="gate_opened", message="asked again")
    notifier.notify(Notification(NotificationKind.CARD_CHANGED, m.id, "asked again"))
    closed = wait_for(
        lambda: (
            not any(b["type"] == "actions" for b in slackbot.standin.messages[message.ts].blocks)
            and str(slackbot.standin.messages[message.ts].blocks)
        ),
        what="the expired request closed",
    )
    assert "expired; a new request (version 3) replaces it" in closed
    notifier.notify(
        Notification(NotificationKind.GATE_OPENED, m.id, "asked again", "stop_producers")
    )
    again = wait_for(
        lambda: next(
            (
                msg
                for msg in slackbot.standin.channel_messages(CHANNEL)
                if msg.ts != message.ts and "version 3" in msg.text + str(msg.blocks)
            ),
            None,
        ),
        what="the new request",
    )
    slackbot.click(as_seen, "gate_approve", "U0DAN")  # a click on the old one does nothing
    wait_for(lambda: answers(slackbot, "this request is closed"), what="closed refusal")
    slackbot.command(f"cancel {m.id} yes", user="U0ALICE")
    wait_for(lambda: store.get(m.id).status == "cancelled", what="cancelled")
    after = wait_for(
        lambda: (
            not any(b["type"] == "actions" for b in slackbot.standin.messages[again.ts].blocks)
            and str(slackbot.standin.messages[again.ts].blocks)
        ),
        what="the open request closed by the cancel",
    )
    assert "the migration is cancelled" in after and "A new request follows" not in after
    assert store.all_approvals(m.id) == []
