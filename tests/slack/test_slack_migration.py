"""A whole migration driven from Slack (signed HTTP or Socket Mode to the real bolt app) on the
real sandbox."""

from __future__ import annotations

import httpx
import pytest

from tests.kafka_helpers import create_topic, produce
from tests.slack.support import CHANNEL, live_config, running_bot
from tests.waits import wait_for

pytestmark = pytest.mark.sandbox


@pytest.fixture
def live_bot(sandbox, standin, tmp_path, mode):
    path = live_config(sandbox, tmp_path)
    with running_bot(path, standin, tmp_path, paused=False, card_interval=0.5, mode=mode) as driver:
        yield driver


def lost_ack(driver) -> dict:
    return {"lose_ack": True} if driver.mode == "socket" else {}


def gate(driver, mid: str, step: str):
    def find():
        for msg in driver.standin.channel_messages(CHANNEL):
            if (
                f"({mid})" in msg.text
                and msg.blocks
                and any(b.get("block_id") == f"gate_{step}" for b in msg.blocks)
            ):
                return msg
        return None

    return wait_for(find, 120, f"{step} request")


def test_migration_from_slack_to_complete(sandbox, live_bot, unique):
    driver = live_bot
    topic = f"slack-{unique}"
    create_topic(sandbox.source.client_config(), topic, 2)
    produce(
        sandbox.source.client_config(), topic, [(None, f"r{i}".encode(), []) for i in range(50)]
    )

    driver.command(
        f"plan slk source=sandbox-source target=sandbox-target topics={topic} via=sandbox-mm2",
        user="U0BOB",
    )
    plan = wait_for(
        lambda: next(
            (r["text"] for r in driver.standin.responses if r.get("text", "").startswith("*Plan*")),
            None,
        ),
        60,
        "plan",
    )
    assert f"`{topic}` → `{topic}`: 2 partition(s), create" in plan
    ack = driver.command(
        f"start slk source=sandbox-source target=sandbox-target topics={topic} via=sandbox-mm2",
        user="U0BOB",
    )
    assert ack.status_code == 200
    started = wait_for(
        lambda: next(
            (r["text"] for r in driver.standin.responses if "Started `slk-" in r.get("text", "")),
            None,
        ),
        60,
        "start",
    )
    mid = started.split("`")[1]
    store = driver.bot.store
    link = driver.standin.socket_mode
    if driver.mode == "socket":
        link.drop()  # mid-migration the link drops; the bot reconnects on its own
        updates_at_drop = len(driver.standin.calls_of("chat.update"))

    request = gate(driver, mid, "stop_producers")
    driver.click(request, "gate_approve", "U0BOB")  # the requester, an approver otherwise
    wait_for(
        lambda: any("two-person rule" in r.get("text", "") for r in driver.standin.responses),
        30,
        "self-approval refused",
    )
    # an approver through S0SRE; over Socket Mode the ack is lost with the link, the click is
    # delivered again on the next connection, and counts once
    driver.click(request, "gate_approve", "U0DAN", **lost_ack(driver))
    wait_for(lambda: store.get(mid).step not in ("stop_producers",), 60, "past stop_producers")

    repoint = gate(driver, mid, "repoint_clients")
    channel_texts = [m.text for m in driver.standin.channel_messages(CHANNEL)]
    assert any("lag reached zero" in t for t in channel_texts)
    driver.click(repoint, "gate_approve", "U0DAN")
    wait_for(lambda: store.get(mid).step == "producers_on_target", 150, "producers_on_target")
    produce(sandbox.target.client_config(), topic, [(None, b"new", [])])
    wait_for(lambda: store.get(mid).status == "complete", 120, "complete")
    assert driver.bot.notifier.wait_idle(20)

    card = driver.standin.messages[store.get(mid).card_ts]
    card_text = str(card.blocks)
    assert "complete" in card_text and card_text.count("by <@U0DAN>") == 2
    thread = driver.standin.channel_messages(CHANNEL, thread_ts=card.ts)
    assert any("Report for" in m.text and "from slack" in m.text for m in thread)
    charts = [
        f
        for f in driver.standin.files.values()
        if f["shared"] and f["shared"]["thread_ts"] == card.ts
    ]
    assert charts and all(f["data"].startswith(b"\x89PNG") for f in charts)
    for message in (request, repoint):
        assert not any(b["type"] == "actions" for b in driver.standin.messages[message.ts].blocks)
    decisions = [(a.step, a.actor, a.decision) for a in store.all_approvals(mid)]
    assert decisions == [
        ("stop_producers", "U0DAN", "approved"),
        ("repoint_clients", "U0DAN", "approved"),
    ]
    if driver.mode == "socket":
        assert link.connections_opened >= 3  # first, after the drop, after the lost ack
        assert link.missing_acks() == [] and link.late_acks() == []
        assert any(e.retry_attempt for e in link.envelopes.values())
        assert len(driver.standin.calls_of("chat.update")) > updates_at_drop
    with httpx.Client(base_url=sandbox.connect_url) as connect:
        assert not [n for n in connect.get("/connectors").json() if n.startswith(f"km-{mid}-")]


def test_a_migration_runs_only_once_its_card_is_where_people_see_it(sandbox, live_bot, unique):
    driver, store = live_bot, live_bot.bot.store
    topic = f"where-{unique}"
    create_topic(sandbox.source.client_config(), topic, 1)
    args = f"source=sandbox-source target=sandbox-target topics={topic} via=sandbox-mm2"

    def start(name: str, channel: str) -> str:
        payload = driver.command_payload(f"start {name} {args}", "U0BOB")
        payload["channel_id"] = channel
        key = payload["response_url"].rsplit("/", 1)[1]
        driver.slash(payload)
        return wait_for(
            lambda: next(
                (r["text"] for r in driver.standin.responses if r["url_key"] == key), None
            ),
            60,
            f"answer to start {name}",
        )

    # started from a channel the bot is not in: the card goes to the configured channel
    elsewhere = start("away", "C0ELSEWHERE")
    assert f"its card is in <#{CHANNEL}>" in elsewhere, elsewhere
    away = store.get(elsewhere.split("`")[1])
    assert away.status == "active" and away.channel == CHANNEL and away.card_ts
    driver.command(f"cancel {away.id} yes", user="U0BOB")
    wait_for(lambda: store.get(away.id).status == "cancelled", 30, "cancelled")

    # nowhere to post: created, held paused with the reason, told what to do
    driver.standin.channels.discard(CHANNEL)
    nowhere = start("hidden", "C0ELSEWHERE")
    assert "stays paused" in nowhere and "channel_not_found" in nowhere, nowhere
    assert "/invite @kafka-migrate" in nowhere and "<!channel>" not in nowhere
    held = store.get(nowhere.split("`")[1])
    assert held.status == "paused" and held.reason == "waiting until its card is posted in Slack"
    assert [r.state for r in store.step_runs(held.id)] == []  # nothing ran
    driver.standin.channels.add(CHANNEL)
    driver.command(f"resume {held.id}", user="U0BOB")
    wait_for(lambda: store.get(held.id).card_ts, 30, "card posted after the resume")
    driver.command(f"cancel {held.id} yes", user="U0BOB")
    wait_for(lambda: store.get(held.id).status == "cancelled", 30, "cancelled")
