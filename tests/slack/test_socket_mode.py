"""Socket Mode: the link itself — acks, refreshes, a disabled link, drops and redeliveries."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys

import pytest
from standins.socket_mode import SocketModeStandIn
from websockets.sync.client import connect

from tests.slack.support import CHANNEL, CONFIG
from tests.support import migration
from tests.waits import wait_for


def answered(driver, text: str) -> int:
    return sum(text in r.get("text", "") for r in driver.standin.responses)


def test_every_kind_of_envelope_is_acked_in_time_with_its_envelope_id(socket_bot):
    link = socket_bot.standin.socket_mode
    assert socket_bot.command("help").status_code == 200
    store = socket_bot.bot.store
    m = store.create(migration(), "U0ALICE")
    mention = socket_bot.standin.user_message(CHANNEL, "U0EVE", "<@U0BOT> what now?")
    assert socket_bot.event(socket_bot.mention_payload(mention, "U0EVE")).status_code == 200
    other = socket_bot.mention_payload(mention, "U0EVE")
    other["event"] = {"type": "reaction_added", "user": "U0EVE", "reaction": "eyes"}
    assert socket_bot.event(other).status_code == 200  # acked, ignored
    socket_bot.command(f"pause {m.id}")
    wait_for(lambda: store.get(m.id).status == "paused", 10, "paused over the socket")
    assert link.missing_acks() == [] and link.late_acks() == [] and link.unexpected == []
    assert all(e.ack_delay < 3.0 for e in link.envelopes.values())


def test_refresh_requested_reconnects_and_commands_keep_flowing(socket_bot):
    link = socket_bot.standin.socket_mode
    assert link.connections_opened == 1
    link.disconnect("refresh_requested")
    wait_for(lambda: link.connections_opened == 2 and link.connected() == 1, 15, "new link")
    assert "runs a Kafka migration" in socket_bot.command("help").text
    assert len(socket_bot.standin.calls_of("apps.connections.open")) == 2


def test_a_disabled_link_fails_healthz_after_the_grace_period_then_recovers(socket_bot):
    link = socket_bot.standin.socket_mode
    store = socket_bot.bot.store
    m = store.create(migration(), "U0ALICE")
    link.disconnect("link_disabled", close_after=0.2)
    wait_for(lambda: link.connected() == 0, 10, "link closed")
    early = socket_bot.http.get("/healthz")
    assert early.status_code == 200 and early.json()["socket"].startswith("reconnecting")
    pending = link.deliver("slash_commands", socket_bot.command_payload(f"pause {m.id}", "U0ALICE"))
    down = wait_for(
        lambda: (r := socket_bot.http.get("/healthz")).status_code == 503 and r, 15, "503"
    )
    assert down.json()["ok"] is False and down.json()["socket"].startswith("down for")
    assert link.refused_handshakes >= 1 and not pending.acked.is_set()
    assert store.get(m.id).status == "active"  # nothing was acted on while the link was off
    link.enable()
    assert pending.acked.wait(20), "the queued command was not delivered after the link came back"
    wait_for(lambda: store.get(m.id).status == "paused", 10, "queued command acted on")
    wait_for(lambda: socket_bot.http.get("/healthz").status_code == 200, 10, "healthy again")


def test_a_dropped_link_redelivers_unacked_envelopes_and_they_take_effect_once(socket_bot, caplog):
    caplog.set_level(logging.INFO, logger="bot.app")
    link = socket_bot.standin.socket_mode
    store = socket_bot.bot.store
    m = store.create(migration(), "U0ALICE")
    payload = socket_bot.command_payload(f"pause {m.id}", "U0ALICE")
    lost = link.deliver("slash_commands", payload, lose_ack=True)
    # the bot acted and acked, but the ack was lost with the link; it reconnects and gets the
    # same envelope again, which it recognises as a redelivery
    assert lost.acked.wait(20), "no ack after the reconnect"
    assert lost.retry_attempt == 1 and len(lost.sent_at) == 2 and link.connections_opened == 2
    wait_for(lambda: store.get(m.id).status == "paused", 10, "paused")
    # the redelivery was acked by the bot having recognised it: it ran nothing
    assert any(
        r.getMessage() == f"duplicate delivery command:{payload['trigger_id']} ignored"
        for r in caplog.records
    )
    socket_bot.settle()
    paused = [e for e in store.events(m.id) if e.kind == "paused"]
    assert len(paused) == 1
    url_key = payload["response_url"].rsplit("/", 1)[1]
    assert len([r for r in socket_bot.standin.responses if r["url_key"] == url_key]) == 1
    assert answered(socket_bot, "cannot paused") == 0

    link.drop()  # and a command sent while the link is down waits for the next one
    resume = link.deliver("slash_commands", socket_bot.command_payload(f"resume {m.id}", "U0ALICE"))
    assert resume.acked.wait(20)
    wait_for(lambda: store.get(m.id).status == "active", 10, "resumed")
    assert link.missing_acks() == []


def test_the_link_stand_in_records_late_acks_and_refuses_used_tickets():
    link = SocketModeStandIn(ack_deadline=0.3).start()  # Slack's 3 s, shortened
    try:
        url = link.open_url()
        with connect(url) as ws:
            assert json.loads(ws.recv(5))["type"] == "hello"
            envelope = link.deliver("slash_commands", {"command": "/x", "text": ""})
            assert json.loads(ws.recv(5))["envelope_id"] == envelope.envelope_id
            wait_for(lambda: link.missing_acks() == [envelope], 5, "the deadline passed")
            ws.send(json.dumps({"envelope_id": envelope.envelope_id}))
            ws.send(json.dumps({"envelope_id": "never-sent"}))
            wait_for(lambda: link.unexpected, 5, "unexpected ack recorded")
        assert link.late_acks() == [envelope] and envelope.ack_delay > link.ack_deadline
        silent = link.deliver("interactive", {"type": "block_actions"})
        with connect(link.open_url()) as ws:
            ws.recv(5)  # hello
            ws.recv(5)  # the envelope, never acked
            wait_for(lambda: link.missing_acks() == [silent], 6, "missing ack recorded")
        with pytest.raises(Exception, match="401"):
            connect(url)  # a ticket is good for one connection
    finally:
        link.stop()


def test_serve_refuses_a_wrong_app_token_without_echoing_it(standin, tmp_path):
    (tmp_path / "km.toml").write_text(CONFIG)
    env = {
        **os.environ,
        "KAFKA_MIGRATE_CONFIG": str(tmp_path / "km.toml"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'km.db'}",
        "SLACK_BOT_TOKEN": standin.token,
        "SLACK_API_URL": standin.api_url,
        "PORT": "0",
    }
    for token, reason in (
        ("xapp-1-not-the-app-token", "Slack refused SLACK_APP_TOKEN for Socket Mode: invalid_auth"),
        (standin.token, "SLACK_APP_TOKEN must be an app-level token (xapp-...)"),
    ):
        run = subprocess.run(
            [sys.executable, "-m", "bot", "serve"],
            env={**env, "SLACK_APP_TOKEN": token},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert run.returncode == 2 and reason in run.stderr, run.stdout + run.stderr
        assert "not-the-app-token" not in run.stdout + run.stderr
