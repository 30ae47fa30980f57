"""/kafka-migrate and the start form, dispatched in process to the real bolt App: acks,
errors, answers through the response_url, the form; signatures over HTTP."""

from __future__ import annotations

import time

from bot.migration.notify import Notification, NotificationKind
from tests.slack.support import CHANNEL, answer, open_gate, submit_form
from tests.support import migration
from tests.waits import wait_for


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


def test_a_mention_is_answered_in_its_thread_and_other_events_are_acknowledged(slackbot):
    mention = slackbot.standin.user_message(CHANNEL, "U0EVE", "<@U0BOT> <!channel> what now?")
    assert slackbot.event(slackbot.mention_payload(mention, "U0EVE")).status_code == 200
    replies = wait_for(
        lambda: slackbot.standin.channel_messages(CHANNEL, thread_ts=mention.ts), 10, "reply"
    )
    assert len(replies) == 1 and "/kafka-migrate help" in replies[0].text
    assert "<!channel>" not in replies[0].text and "<@" not in replies[0].text  # never echoed
    other = slackbot.mention_payload(mention, "U0EVE")
    other["event"] = {"type": "reaction_added", "user": "U0EVE", "reaction": "eyes"}
    assert slackbot.event(other).status_code == 200
    slackbot.settle()  # everything the event started has finished
    assert len(slackbot.standin.channel_messages(CHANNEL, thread_ts=mention.ts)) == 1


def test_forged_and_old_requests_are_refused_and_change_nothing(http_bot):
    slackbot = http_bot  # signatures are HTTP's; Socket Mode is authenticated by its link
    store = slackbot.bot.store
    m = store.create(migration(), "U0ALICE")
    calls = len(slackbot.standin.calls)
    forged = slackbot.command(f"pause {m.id}", signature="v0=" + "0" * 64)
    old = slackbot.command(f"pause {m.id}", timestamp=int(time.time()) - 6 * 60)
    wrong_secret = slackbot.command(f"pause {m.id}", secret="not-the-secret")
    assert [r.status_code for r in (forged, old, wrong_secret)] == [401, 401, 401]
    slackbot.settle()  # refused at the edge: no listener ran
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
    stale_trigger = slackbot.standin.trigger(ttl=-1)  # expired, as it is 3 s after the command
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


def test_start_form_errors_go_back_to_the_field_and_config_errors_to_the_user(slackbot):
    bad = submit_form(
        slackbot,
        name="orders",
        source="src",
        target="dst",
        topics="*\\..europe",
        via="mm2",
        replication_policy="identity",
    )
    assert bad.status_code == 200
    # the grammar accepts the text; the regex is checked when the migration starts
    wait_for(
        lambda: any("invalid regex" in e.get("text", "") for e in slackbot.standin.ephemeral),
        what="regex error to the user",
    )
    same = submit_form(
        slackbot,
        name="orders",
        source="src",
        target="src",
        topics="t",
        via="mm2",
        replication_policy="identity",
    )
    assert same.json() == {
        "response_action": "errors",
        "errors": {"source": "start: source and target are the same cluster"},
    }
    unknown = submit_form(
        slackbot,
        name="orders",
        source="src",
        target="dst",
        topics="t",
        via="nope",
        replication_policy="identity",
    )
    assert unknown.status_code == 200
    wait_for(
        lambda: any(
            "the bot's configuration: no replicator named 'nope'" in e.get("text", "")
            and "km.toml" not in e.get("text", "")
            for e in slackbot.standin.ephemeral
        ),
        what="config error",
    )
    assert slackbot.bot.store.list() == []


def test_a_retried_delivery_takes_effect_once(slackbot):
    m, message = open_gate(slackbot)
    slackbot.standin.trigger = lambda: "fixed-trigger"  # a retry repeats the same payload
    fixed_ts = f"{time.time():.6f}"
    original = time.time
    try:
        time.time = lambda: float(fixed_ts)
        first = slackbot.click(message, "gate_approve", "U0DAN")
        second = slackbot.click(message, "gate_approve", "U0DAN")
    finally:
        time.time = original
    assert first.status_code == second.status_code == 200
    slackbot.settle()  # both deliveries have done all they will do
    assert len(slackbot.bot.store.all_approvals(m.id)) == 1
    assert not any("already" in r.get("text", "") for r in slackbot.standin.responses)


def test_cancel_says_what_it_will_undo_and_acts_only_when_confirmed(slackbot):
    store = slackbot.bot.store
    m = store.create(migration(), "U0ALICE")
    m.state = {
        "replication": m.id,
        "fence": [["TOPIC", "orders", "LITERAL", "User:a", "*", "WRITE", "DENY"]],
    }
    store.save(m, 1, actor="bot", kind="step_done", message="replication started")
    slackbot.command(f"cancel {m.id}", user="U0ALICE")
    said = answer(slackbot, "Nothing was done yet")
    assert "delete the MirrorMaker 2 connectors" in said and "1 DENY binding(s)" in said
    assert f"cancel {m.id} yes" in said and store.get(m.id).status == "active"
    bad = slackbot.command(f"cancel {m.id} cleanup=everything yes", user="U0ALICE")
    assert "cleanup='everything' is not known" in bad.text and "cleanup=target" in bad.text
    m = store.get(m.id)
    m.state["created_topics"] = ["orders"]
    store.save(m, m.version, actor="bot", kind="step_done", message="topics created")
    slackbot.command(f"cancel {m.id} cleanup=target", user="U0ALICE")
    said = answer(slackbot, "topic(s) it created")
    assert "delete the 1 topic(s) it created on the target: orders" in said
    assert f"cancel {m.id} cleanup=target yes" in said and store.get(m.id).status == "active"
    slackbot.bot.notifier.notify(Notification(NotificationKind.CARD_CHANGED, m.id, "shown"))
    assert slackbot.bot.notifier.wait_idle(10)
    card = slackbot.standin.messages[store.get(m.id).card_ts]
    cancel = next(
        e
        for b in card.blocks
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == "migration_cancel"
    )
    assert "keep the target's topics and ACLs" in cancel["confirm"]["text"]["text"]


def test_connect_clusters_are_checked_before_anything_is_created(slackbot):
    half = submit_form(
        slackbot,
        name="orders",
        source="src",
        target="dst",
        topics="t",
        via="mm2",
        replication_policy="identity",
        connect_from="old-connect",
    )
    assert half.json()["errors"] == {
        "connect_to": "start: connect_from needs connect_to= too (the Connect cluster on the "
        "other side)"
    }
    slackbot.command(
        "start orders source=src target=dst topics=t via=mm2 connect_from=nope connect_to=other"
    )
    wait_for(
        lambda: any(
            "the bot's configuration: no Kafka Connect cluster named 'nope'" in r.get("text", "")
            and ".toml" not in r.get("text", "")
            for r in slackbot.standin.responses
        ),
        what="unknown Connect cluster refused",
    )
    assert slackbot.bot.store.list() == []
