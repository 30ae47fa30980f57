"""User-typed text never goes live in Slack: `<!channel>`, `<@U…>` and links typed into any
field come back as text — in replies, field errors, the card, the channel and the thread."""

from __future__ import annotations

import json

import pytest

from bot.migration.steps import Status, Step
from bot.models import Migration
from tests.kafka_helpers import create_topic
from tests.slack.support import CHANNEL, live_config, running_bot, submit_form
from tests.waits import wait_for

LIVE = ("<!channel>", "<!here>", "<!everyone>", "<@U0EVIL>", "<https://evil.example")
HOSTILE = "<!channel> <@U0EVIL> <https://evil.example|click> *bold* _it_ ~no~ `tick`"


def everything_posted(standin) -> list[str]:
    texts = []
    for m in standin.messages.values():
        texts += [m.text, json.dumps(m.blocks)]
        texts += [f"{text} {json.dumps(blocks)}" for text, blocks in m.history]
    texts += [json.dumps(e) for e in standin.ephemeral]
    texts += [json.dumps(r) for r in standin.responses]
    texts += [json.dumps(v) for v in standin.views.values()]
    return texts


def live_in(standin) -> list[str]:
    return [t[:300] for t in everything_posted(standin) if any(live in t for live in LIVE)]


def test_hostile_text_in_every_field_of_the_command_and_the_form_comes_back_inert(slackbot):
    lines = [
        f"start {HOSTILE}",
        f"start orders source={HOSTILE} target=dst topics=t via=mm2",
        f"start orders source=src target={HOSTILE} topics=t via=mm2",
        f"start orders source=src target=dst topics=t via={HOSTILE.replace(' ', '')}",
        f"start orders source=src target=dst topics='{HOSTILE}' via=mm2",
        f"start orders source=src target=dst topics=t exclude='{HOSTILE}' via=mm2",
        "start orders source=src target=dst topics=t via=mm2 "
        f"replication_policy={HOSTILE.replace(' ', '')}",
        f"start orders source=src target=dst topics=t via=mm2 fence={HOSTILE.replace(' ', '')}",
        f"start orders source=src target=dst topics=t via=mm2 principals='{HOSTILE}'",
        f"start orders source=src target=dst topics=t via=mm2 fence_allow='{HOSTILE}'",
        f"start orders source=src target=dst topics=t via=mm2 groups_exclude='{HOSTILE}' "
        f"groups_exclude_reason='{HOSTILE}'",
        f"start orders source=src target=dst topics=t via=mm2 {HOSTILE.replace(' ', '')}=1",
        f"plan orders source=src target=dst topics='(?P<{HOSTILE}>x)' via=mm2",
        f"{HOSTILE}",
        f"status {HOSTILE.replace(' ', '')}",
        "pause <!channel>",
        "report <@U0EVIL>",
    ]
    for line in lines:
        seen = len(slackbot.standin.responses)
        answer = slackbot.command(line)
        assert answer.status_code == 200
        if "warning" not in answer.text:  # answered after the ack, through the response_url
            wait_for(lambda seen=seen: len(slackbot.standin.responses) > seen, 30, line)
    for field in ("name", "topics", "exclude", "groups_exclude", "groups_exclude_reason"):
        values = {
            "name": "orders",
            "source": "src",
            "target": "dst",
            "topics": "t",
            "via": "mm2",
            "replication_policy": "identity",
        }
        values[field] = HOSTILE
        seen = len(slackbot.standin.ephemeral)
        answer = submit_form(slackbot, **values)
        if '"errors"' in answer.text:  # the form shows it at the field
            assert not any(live in answer.text for live in LIVE), answer.text
        else:
            wait_for(lambda seen=seen: len(slackbot.standin.ephemeral) > seen, 30, field)
    assert slackbot.bot.store.list() == []
    assert live_in(slackbot.standin) == []
    assert any("&lt;!channel&gt;" in t for t in everything_posted(slackbot.standin))


@pytest.fixture
def live_bot(sandbox, standin, tmp_path):
    path = live_config(sandbox, tmp_path)
    with running_bot(path, standin, tmp_path, paused=False, card_interval=0.2) as driver:
        yield driver


def test_a_failure_that_echoes_user_text_posts_it_inert(sandbox, live_bot, unique):
    """A migration whose options hold hostile text (as one stored before `start` checked the
    principal map would) fails at migrate_acls echoing it: channel alert, thread, card."""
    driver = live_bot
    topic = f"esc-{unique}"
    create_topic(sandbox.source.client_config(), topic, 1)
    store = driver.bot.store
    m = store.create(
        Migration(
            id=f"esc-{unique[:4]}",
            name="esc",
            source="sandbox-source",
            target="sandbox-target",
            replicator="sandbox-mm2",
            topics=f"{topic}|{HOSTILE}",
            exclude=HOSTILE,
            step=Step.PREFLIGHT,
            status=Status.ACTIVE,
            requested_by="U0BOB",
            channel=CHANNEL,
            selected_topics=[topic],
            options={"principals": HOSTILE, "fence_allow": [HOSTILE]},
        ),
        "U0BOB",
    )
    failed = wait_for(lambda: store.get(m.id).status == "failed" and store.get(m.id), 120, "fail")
    assert failed.step == Step.MIGRATE_ACLS and "<!channel>" in failed.reason  # stored as typed
    assert driver.bot.notifier.wait_idle(20)
    channel = [msg.text for msg in driver.standin.channel_messages(CHANNEL)]
    assert any(":x:" in t and "&lt;!channel&gt;" in t for t in channel)
    card = driver.standin.messages[store.get(m.id).card_ts]
    assert "&lt;!channel&gt;" in json.dumps(card.blocks)  # the card says why it failed
    thread = driver.standin.channel_messages(CHANNEL, thread_ts=card.ts)
    assert any("&lt;@U0EVIL&gt;" in t.text for t in thread)
    assert live_in(driver.standin) == []
