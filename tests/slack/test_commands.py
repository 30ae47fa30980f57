"""/kafka-migrate over signed HTTP: acks, errors, signatures, the start form."""

from __future__ import annotations

import time

from tests.slack.conftest import wait_for
from tests.unit.conftest import migration


def test_help_and_bad_input_are_answered_in_the_ack(slackbot):
    help_ = slackbot.command("help")
    assert help_.status_code == 200 and "runs a Kafka migration" in help_.text
    unknown = slackbot.command("explode orders")
    assert unknown.status_code == 200
    assert "unknown subcommand 'explode'" in unknown.text
    assert "/kafka-migrate start | plan" in unknown.text
    bad = slackbot.command("start orders source=src target=dst topics='*\\..europe' via=mm2 x=1")
    assert "unknown argument 'x'" in bad.text and "Usage:" in bad.text
    missing = slackbot.command("status")
    assert "status takes one migration id" in missing.text


def test_forged_and_old_requests_are_refused_and_change_nothing(slackbot):
    store = slackbot.bot.store
    m = store.create(migration(), "U0ALICE")
    calls = len(slackbot.standin.calls)
    forged = slackbot.command(f"pause {m.id}", signature="v0=" + "0" * 64)
    old = slackbot.command(f"pause {m.id}", timestamp=int(time.time()) - 6 * 60)
    wrong_secret = slackbot.command(f"pause {m.id}", secret="not-the-secret")
    assert [r.status_code for r in (forged, old, wrong_secret)] == [401, 401, 401]
    time.sleep(0.5)
    assert store.get(m.id).status == "active" and store.get(m.id).version == m.version
    assert len(slackbot.standin.calls) == calls and slackbot.standin.responses == []


def test_list_status_and_operations_answer_through_response_url(slackbot):
    store = slackbot.bot.store
    m = store.create(migration(), "U0ALICE")
    assert slackbot.command("list").status_code == 200
    wait_for(
        lambda: any(m.id in r.get("text", "") for r in slackbot.standin.responses),
        what="list answer",
    )
    slackbot.command(f"status {m.id}")
    wait_for(lambda: any(r.get("blocks") for r in slackbot.standin.responses), what="status card")
    slackbot.command(f"pause {m.id}", user="U0EVE")  # neither requester nor approver
    wait_for(
        lambda: any("may not operate" in r.get("text", "") for r in slackbot.standin.responses),
        what="refusal",
    )
    assert store.get(m.id).status == "active"
    slackbot.command(f"pause {m.id}", user="U0ALICE")
    wait_for(lambda: store.get(m.id).status == "paused", what="paused")
    slackbot.command("status nope-123")
    wait_for(
        lambda: any(
            "no migration 'nope-123'" in r.get("text", "") for r in slackbot.standin.responses
        ),
        what="unknown id",
    )


def test_start_without_arguments_opens_the_form_and_expired_triggers_fail(slackbot):
    slackbot.command("start")
    view = wait_for(lambda: list(slackbot.standin.views.values()), what="modal")[0]
    assert view["callback_id"] == "start_migration" and view["title"]["text"]
    stale_trigger = slackbot.standin.trigger()
    time.sleep(3.1)
    body_trigger = slackbot.standin.trigger  # the command below must carry the stale one
    slackbot.standin.trigger = lambda: stale_trigger
    try:
        slackbot.command("start")
    finally:
        slackbot.standin.trigger = body_trigger
    wait_for(
        lambda: any(c["method"] == "views.open" for c in slackbot.standin.calls[-3:]),
        what="second views.open",
    )
    wait_for(
        lambda: any("start failed" in r.get("text", "") for r in slackbot.standin.responses),
        what="failure answer",
    )
    assert len(slackbot.standin.views) == 1


def test_healthz(slackbot):
    response = slackbot.http.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"ok": True, "database": "ok", "scheduler": "ok"}
