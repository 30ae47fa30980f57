"""The same bot over each transport Slack uses, signed HTTP (waitress) and Socket Mode: each
kind of request (a command answered in the ack and after it, an event, a button, the form)
reaches its listener and is answered as in process; /healthz says how the bot is."""

from __future__ import annotations

import copy
from concurrent.futures import ThreadPoolExecutor

from bot.migration.notify import Notification, NotificationKind
from tests.slack.support import CHANNEL, answers, submit_form
from tests.support import migration
from tests.waits import wait_for


def test_healthz(wired_bot):
    response = wired_bot.http.get("/healthz")
    assert response.status_code == 200
    expected = {"ok": True, "database": "ok", "scheduler": "ok"}
    if wired_bot.mode == "socket":
        expected["socket"] = "ok"
    assert response.json() == expected


def test_every_kind_of_request_reaches_its_listener(wired_bot):
    bot, standin = wired_bot.bot, wired_bot.standin
    help_ = wired_bot.command("help")
    assert help_.status_code == 200 and "runs a Kafka migration" in help_.text
    unknown = wired_bot.command("explode orders")
    assert "unknown subcommand 'explode'" in unknown.text
    mention = standin.user_message(CHANNEL, "U0EVE", "<@U0BOT> what now?")
    assert wired_bot.event(wired_bot.mention_payload(mention, "U0EVE")).status_code == 200
    wait_for(lambda: standin.channel_messages(CHANNEL, thread_ts=mention.ts), 10, "reply")

    m = bot.store.create(migration(), "U0ALICE")
    bot.notifier.notify(Notification(NotificationKind.CARD_CHANGED, m.id, "new"))
    assert bot.notifier.wait_idle(10)
    card = copy.deepcopy(standin.messages[bot.store.get(m.id).card_ts])
    assert wired_bot.click(card, "migration_pause", "U0EVE").status_code == 200
    wait_for(lambda: answers(wired_bot, "may not operate"), what="refusal of a click")
    wired_bot.command(f"pause {m.id}", user="U0ALICE")  # answered after the ack
    wait_for(lambda: bot.store.get(m.id).status == "paused", what="paused")
    wait_for(lambda: answers(wired_bot, "paused at"), what="answer after the ack")

    same = submit_form(wired_bot, name="orders", source="src", target="src", topics="t", via="mm2")
    assert same.json() == {
        "response_action": "errors",
        "errors": {"source": "start: source and target are the same cluster"},
    }


def test_a_command_whose_text_says_payload_is_read_as_typed(http_bot):
    """bolt's own reading of a form guesses from the text: one with "payload" in it came out
    empty and was refused as "not a Slack request"; the edge reads it as the form it is."""
    answered = http_bot.command("status payload-events")
    assert answered.status_code == 200
    wait_for(lambda: answers(http_bot, "no migration 'payload-events'"), what="the answer")


def test_a_burst_of_commands_is_acked_and_each_answered_once_after_its_ack(wired_bot):
    """Many commands at once: the work after the acks waits for the acks owed (bot/acks.py),
    and none is lost or answered twice."""
    m = wired_bot.bot.store.create(migration(), "U0ALICE")
    asked = [("list", m.id), (f"status {m.id}", m.id), ("status nope", "no migration 'nope'")]
    lines = asked * 8
    payloads = [wired_bot.command_payload(text, "U0ALICE") for text, _ in lines]
    with ThreadPoolExecutor(8) as pool:
        acked = list(pool.map(wired_bot.slash, payloads))
    assert [a.status_code for a in acked] == [200] * len(lines)
    wanted = {
        p["response_url"].rsplit("/", 1)[1]: want
        for p, (_, want) in zip(payloads, lines, strict=True)
    }

    def answered() -> list[dict]:
        return [r for r in wired_bot.standin.responses if r["url_key"] in wanted]

    wait_for(lambda: len(answered()) >= len(wanted), 60, "an answer to each command")
    wired_bot.settle(30)
    got = answered()
    assert sorted(r["url_key"] for r in got) == sorted(wanted)  # each once
    for r in got:
        assert wanted[r["url_key"]] in r["text"] + str(r.get("blocks", ""))
