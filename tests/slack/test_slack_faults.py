"""Slack answering bursts of 429 and 5xx: what the bot has to say is kept and sent again, once,
in order; a definite error drops only its notification; nobody sees a traceback."""

from __future__ import annotations

import logging
from collections import Counter
from types import SimpleNamespace
from urllib.error import URLError

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import builtin_handlers
from slack_sdk.http_retry.builtin_interval_calculators import FixedValueRetryIntervalCalculator
from slack_sdk.web import SlackResponse

from bot.db import open_database
from bot.dbmigrations import init_db
from bot.migration.notify import Notification, NotificationKind
from bot.migration.steps import Step
from bot.migration.store import Store
from bot.slack import blocks
from bot.slack.client import web_client
from bot.slack.notifier import SlackNotifier
from bot.slack.retrying import Backoff, Lanes, transient
from tests.kafka_helpers import create_topic, produce
from tests.slack.support import CHANNEL, live_config, running_bot
from tests.support import migration
from tests.waits import wait_for


def slack_error(status: int, error: str, **headers: str) -> SlackApiError:
    response = SlackResponse(
        client=None,
        http_verb="POST",
        api_url="https://slack.com/api/chat.postMessage",
        req_args={},
        data={"ok": False, "error": error},
        headers=headers,
        status_code=status,
    )
    return SlackApiError("The request to the Slack API failed.", response)


# the retry queue alone, on a clock the test moves ------------------------------------------
class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_what_is_transient_and_what_slack_asked_to_wait():
    assert transient(slack_error(429, "ratelimited", **{"Retry-After": "7"})) == 7
    assert transient(slack_error(500, "internal_error")) == 0
    assert transient(slack_error(503, "Received a response in a non-JSON format: <html>")) == 0
    assert transient(slack_error(200, "service_unavailable")) == 0
    assert transient(URLError(ConnectionRefusedError(111, "refused"))) == 0
    assert transient(TimeoutError("read timed out")) == 0
    for definite in ("channel_not_found", "invalid_blocks", "msg_too_long", "not_in_channel"):
        assert transient(slack_error(200, definite)) is None
    assert transient(KeyError("ts")) is None
    assert Backoff(first=1, cap=30).delay(1) == 1
    assert Backoff(first=1, cap=30).delay(3) == 4
    assert Backoff(first=1, cap=30).delay(9) == 30
    assert Backoff(first=1, cap=30).delay(1, asked=12) == 12


def test_a_waiting_lane_keeps_its_order_and_does_not_hold_up_the_others(caplog):
    clock, sent = Clock(), []
    lanes = Lanes(Backoff(first=1, cap=4), clock=clock)
    failures = [slack_error(429, "ratelimited", **{"Retry-After": "3"}), OSError("reset")]

    def flaky():
        if failures:
            raise failures.pop(0)
        sent.append("a1")

    def claim():  # done once; what it returns is retried on its own
        sent.append("claimed")
        return [lambda: sent.append("a2 update")]

    lanes.add("A", "notes of A", [flaky, claim, lambda: sent.append("a3")])
    lanes.add("B", "notes of B", [lambda: sent.append("b1")])
    lanes.run()
    assert sent == ["b1"] and lanes.waiting("A") and lanes.pending()
    clock.now += 2.9  # Retry-After said 3
    lanes.run()
    assert sent == ["b1"]
    clock.now += 0.1
    lanes.run()  # the connection reset: backoff 2 s
    assert sent == ["b1"] and lanes.waiting("A")
    lanes.add("B", "more of B", [lambda: sent.append("b2")])
    lanes.run()
    assert sent == ["b1", "b2"]
    clock.now += 2
    lanes.run()
    assert sent == ["b1", "b2", "a1", "claimed", "a2 update", "a3"]
    assert not lanes.pending() and not lanes.waiting("A")
    warnings = [r for r in caplog.records if r.name.startswith("bot.")]
    assert [r.levelno for r in warnings] == [logging.WARNING, logging.WARNING]
    assert all(r.exc_info is None and "\n" not in r.getMessage() for r in warnings)
    assert "notes of A not sent yet: ratelimited (HTTP 429)" in warnings[0].getMessage()


def test_a_definite_error_drops_the_rest_of_its_notification_only(caplog):
    sent, clock = [], Clock()
    lanes = Lanes(Backoff(), clock=clock)

    def refused():
        raise slack_error(200, "invalid_blocks")

    lanes.add("A", "stall for A", [refused, lambda: sent.append("thread of the stall")])
    lanes.add("A", "step_done for A", [lambda: sent.append("next")])
    lanes.run()
    assert sent == ["next"] and not lanes.pending() and not lanes.waiting("A")
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and errors[0].exc_info is None
    assert "stall for A" in errors[0].getMessage() and "invalid_blocks" in errors[0].getMessage()


# the notifier against the Slack stand-in ---------------------------------------------------
@pytest.fixture
def notifier(standin, tmp_path, monkeypatch):
    db = open_database(f"sqlite:///{tmp_path / 'km.db'}")
    init_db(db)
    client = web_client(standin.token, standin.api_url)
    # the waits shortened: the client's between its retries of a 5xx (slack_sdk's backoff from
    # 0.5 s, plus up to 1 s at random), the random second slack_sdk adds to what Retry-After
    # asks (the bursts below ask for none: Retry-After: 0; that what it asks is waited for:
    # test_gates_card.py), the lanes' own backoff: the same failures and retries, in less time
    for handler in client.retry_handlers:
        handler.interval_calculator = FixedValueRetryIntervalCalculator(0.01)
    monkeypatch.setattr(builtin_handlers, "random", SimpleNamespace(random=lambda: 0.0))
    notifier = SlackNotifier(
        client, Store(db), CHANNEL, ["U0BOB"], card_interval=0.2, backoff=Backoff(0.1, 1.0)
    )
    yield notifier
    notifier.close()


def thread_texts(standin, card_ts: str) -> list[str]:
    return [m.text for m in standin.channel_messages(CHANNEL, thread_ts=card_ts)]


def assert_no_traceback_logged(caplog) -> None:
    ours = [r for r in caplog.records if r.name.startswith("bot.")]
    assert all(r.exc_info is None for r in ours), [r.getMessage() for r in ours]


def test_a_burst_of_429_and_5xx_loses_nothing_and_duplicates_nothing(standin, notifier, caplog):
    caplog.set_level(logging.WARNING)
    store = notifier.store
    m = store.create(migration(), "U0ALICE")
    # beyond the client's 3 retries of a 429, then beyond its 2 of a 5xx
    standin.burst(429, method="chat.postMessage", times=5, retry_after=0)
    standin.burst(500, 503, method="chat.postMessage", times=4)
    standin.burst(502, 500, 503, method="chat.update", times=6)
    notifier.notify(Notification(NotificationKind.CARD_CHANGED, m.id, "started"))
    for i in range(4):
        notifier.notify(
            Notification(NotificationKind.STEP_DONE, m.id, f"step {i} done", "preflight")
        )
    m = store.get(m.id)
    m.step = Step.STOP_PRODUCERS
    m.state = {"gate": {"step": "stop_producers", "opened_at": 0, "version": 2}}
    store.save(m, 1, actor="bot", kind="gate_opened", message="stop_producers open")
    notifier.notify(
        Notification(NotificationKind.GATE_OPENED, m.id, "stop the producers", "stop_producers")
    )
    notifier.notify(Notification(NotificationKind.STALL, m.id, "copied nothing", "catch_up"))
    assert notifier.wait_idle(180)

    failed = Counter(
        (c["method"], c["status"]) for c in standin.calls if c.get("status", 200) != 200
    )
    assert failed[("chat.postMessage", 429)] == 5 and failed[("chat.update", 502)] == 2
    m = store.get(m.id)
    top = standin.channel_messages(CHANNEL)
    assert [msg.text for msg in top] == [
        f"Kafka migration {m.id}",
        f"Approve: stop producers on the source ({m.id})",
        f":warning: `{m.id}`: copied nothing",
    ]
    assert thread_texts(standin, m.card_ts) == [
        *(f":white_check_mark: step {i} done" for i in range(4)),
        ":warning: copied nothing",
    ]
    gate_messages = store.open_gate_messages(m.id)
    assert [g.ts for g in gate_messages] == [top[1].ts]
    card = str(standin.messages[m.card_ts].blocks)
    assert f"*Version*\\n{m.version}" in card and "stop_producers" in card  # current
    warnings = [r for r in caplog.records if r.name.startswith("bot.")]
    assert warnings and all(r.levelno == logging.WARNING for r in warnings)
    assert_no_traceback_logged(caplog)


def test_a_definite_error_drops_only_that_notification(standin, notifier, caplog):
    caplog.set_level(logging.WARNING)
    store = notifier.store
    m = store.create(migration(), "U0ALICE")
    notifier.notify(Notification(NotificationKind.STEP_DONE, m.id, "first done", "preflight"))
    assert notifier.wait_idle(30)
    standin.burst(200, method="chat.postMessage", times=1, error="msg_too_long")
    standin.burst(429, 500, method="chat.postMessage", times=5, retry_after=0)
    notifier.notify(Notification(NotificationKind.STALL, m.id, "copied nothing", "catch_up"))
    notifier.notify(Notification(NotificationKind.STEP_DONE, m.id, "second done", "prepare_target"))
    assert notifier.wait_idle(120)

    card_ts = store.get(m.id).card_ts
    assert thread_texts(standin, card_ts) == [
        ":white_check_mark: first done",
        ":white_check_mark: second done",
    ]
    assert not any("copied nothing" in msg.text for msg in standin.messages.values())
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR and r.name.startswith("bot.")]
    assert len(errors) == 1 and "msg_too_long" in errors[0].getMessage()
    assert "stall" in errors[0].getMessage()
    assert_no_traceback_logged(caplog)


def test_the_card_is_kept_current_through_a_burst_of_updates(standin, notifier):
    store = notifier.store
    m = store.create(migration(), "U0ALICE")
    notifier.notify(Notification(NotificationKind.CARD_CHANGED, m.id, "started"))
    assert notifier.wait_idle(30)
    standin.burst(429, 503, method="chat.update", times=8, retry_after=0)
    for version in range(1, 4):
        store.save(store.get(m.id), version, actor="bot", kind="noted", message="noted")
        store.set_waiting_for(m.id, f"change {version}")
        notifier.notify(Notification(NotificationKind.CARD_CHANGED, m.id, f"change {version}"))
    assert not notifier.wait_idle(0.1)  # a retry is pending: not idle
    assert notifier.wait_idle(120)
    card = str(standin.messages[store.get(m.id).card_ts].blocks)
    assert "*Version*\\n4" in card and "change 3" in card
    assert len(standin.calls_of("chat.postMessage")) == 1  # the card, once


# a whole migration on the sandbox, through a burst -----------------------------------------


@pytest.mark.sandbox
def test_a_migration_completes_through_a_burst_of_429_and_5xx(
    sandbox, standin, tmp_path, unique, caplog
):
    caplog.set_level(logging.WARNING)
    path = live_config(sandbox, tmp_path)
    topic = f"faults-{unique}"
    create_topic(sandbox.source.client_config(), topic, 2)
    produce(
        sandbox.source.client_config(), topic, [(None, f"r{i}".encode(), []) for i in range(50)]
    )

    with running_bot(path, standin, tmp_path, paused=False, card_interval=0.5) as driver:
        store, notes, notify = driver.bot.store, [], driver.bot.notifier.notify

        def recorded(note: Notification) -> None:  # what the engine asked to say
            notes.append(note)
            notify(note)

        driver.bot.notifier.notify = recorded
        driver.command(
            f"start flt source=sandbox-source target=sandbox-target topics={topic} via=sandbox-mm2",
            user="U0BOB",
        )
        started = wait_for(
            lambda: next(
                (r["text"] for r in standin.responses if "Started `flt-" in r["text"]), None
            ),
            60,
            "start",
        )
        mid = started.split("`")[1]
        wait_for(
            lambda: store.get(mid).step in (Step.CATCH_UP, Step.STOP_PRODUCERS), 60, "catch_up"
        )
        standin.burst(429, 500, 503, seconds=15)  # every Web API method

        def request(step: str):
            return next(
                (
                    msg
                    for msg in standin.channel_messages(CHANNEL)
                    if f"({mid})" in msg.text
                    and any(b.get("block_id") == f"gate_{step}" for b in msg.blocks or [])
                ),
                None,
            )

        stop = wait_for(lambda: request("stop_producers"), 120, "stop_producers request")
        driver.click(stop, "gate_approve", "U0DAN")
        repoint = wait_for(lambda: request("repoint_clients"), 120, "repoint_clients request")
        driver.click(repoint, "gate_approve", "U0DAN")
        wait_for(lambda: store.get(mid).step == "producers_on_target", 60, "producers_on_target")
        produce(sandbox.target.client_config(), topic, [(None, b"new", [])])
        wait_for(lambda: store.get(mid).status == "complete", 120, "complete")
        assert driver.bot.notifier.wait_idle(90)

    assert any(c.get("status") == 429 for c in standin.calls)
    assert any(c.get("status", 200) >= 500 for c in standin.calls)
    m = store.get(mid)
    top = [msg for msg in standin.channel_messages(CHANNEL) if mid in msg.text]
    assert [msg.text for msg in top if msg.text.startswith("Kafka migration")] == [
        f"Kafka migration {mid}"
    ]
    thread = thread_texts(standin, m.card_ts)
    for note in notes:  # every step done is in the thread, once
        if note.kind == NotificationKind.STEP_DONE:
            assert thread.count(f":white_check_mark: {blocks.escape(note.text)}") == 1, note.text
    assert sum("Report for" in t for t in thread) == 1
    first_texts = [m.history[0][0] if m.history else m.text for m in standin.messages.values()]
    requests = [t for t in first_texts if t.startswith("Approve:") and t.endswith(f"({mid})")]
    assert len(requests) == sum(note.kind == NotificationKind.GATE_OPENED for note in notes) >= 2
    posted = [
        (msg.channel, msg.thread_ts, msg.text, str(msg.blocks)) for msg in standin.messages.values()
    ]
    assert len(posted) == len(set(posted)), "a message was posted twice"
    for message in (stop, repoint):  # decided: no buttons left
        assert not any(b["type"] == "actions" for b in standin.messages[message.ts].blocks)
    everything = str(
        [(msg.text, msg.blocks, msg.history) for msg in standin.messages.values()]
        + standin.responses
        + standin.ephemeral
    )
    assert "Traceback" not in everything
    assert_no_traceback_logged(caplog)
