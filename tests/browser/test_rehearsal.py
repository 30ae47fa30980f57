"""A whole rehearsal performed in a real headless Chromium on the rehearsal page: the start form
(the demo's file connectors moving with it), a refused self-approval, approvals by a second
person, the cutover's human steps with the demo clients, completion, the report and the chart
in the thread. What the page shows is checked, and so is what the clusters and the
connectors' files hold."""

from __future__ import annotations

import re

import pytest
from confluent_kafka import Consumer, ConsumerGroupTopicPartitions, TopicPartition
from confluent_kafka.admin import AdminClient
from standins.run import start_line

from tests.connect_helpers import lines, state, worker
from tests.kafka_helpers import read_from
from tests.waits import wait_for

pytestmark = pytest.mark.sandbox
LONG = 180_000  # ms: the runbook's own waits (quiet window, drain window) are in seconds


def expect(locator, timeout: int = LONG):
    from playwright.sync_api import expect as pw_expect

    pw_expect(locator).to_be_visible(timeout=timeout)
    return locator


def ends(conf: dict, topic: str, partitions: int) -> list[int]:
    consumer = Consumer({**conf, "group.id": "rehearsal-test-ends"})
    try:
        return [
            consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
            for p in range(partitions)
        ]
    finally:
        consumer.close()


def committed(conf: dict, group: str) -> dict[tuple[str, int], int]:
    admin = AdminClient(conf)
    request = [ConsumerGroupTopicPartitions(group)]
    answer = admin.list_consumer_group_offsets(request)[group].result(timeout=30)
    return {(tp.topic, tp.partition): tp.offset for tp in answer.topic_partitions}


def click_button(page, block: str, action: str, shot=None):
    """Click a gate request's button and confirm its dialog (Approve asks, as in Slack)."""
    page.locator(f'button[data-block-id="{block}"][data-action-id="{action}"]').last.click()
    dialog = expect(page.locator("#confirm:not(.hidden)"), 5_000)
    if shot is not None:
        page.screenshot(path=shot)
    dialog.locator(".confirm-go").click()


def act_as(page, user: str):
    page.locator(f'.person[data-user="{user}"]').click()
    expect(page.locator(f'.person.active[data-user="{user}"]'), 10_000)


def test_a_whole_rehearsal_in_the_browser(rehearsal, browser_page, sandbox, tmp_path):
    page, demo, store = browser_page, rehearsal.demo, rehearsal.bot.store
    shots = tmp_path / "screenshots"
    shots.mkdir()
    page.goto(rehearsal.url)
    expect(page.locator('.person.active[data-user="U0ALICE"]'), 15_000)
    # the page suggests the rehearsal's migration, connectors included: a click puts it in
    # the composer (alice uses the form instead, below)
    suggested = expect(page.locator("#suggestion-line"), 15_000)
    assert suggested.inner_text() == start_line(demo)
    assert "connect_from=sandbox-connect-source connect_to=sandbox-connect-target" in (
        suggested.inner_text()
    )
    suggested.click()
    assert page.input_value("#composer-input") == start_line(demo)
    connectors = demo.connectors
    expect(page.locator("#connectors-note", has_text=f"{connectors.source}: log file"), 15_000)

    # alice opens the start form with the slash command and fills it in
    page.fill("#composer-input", "/kafka-migrate start")
    page.press("#composer-input", "Enter")
    form = expect(page.locator("#modal:not(.hidden)"), 20_000)
    assert "Start a migration" in form.inner_text()
    form.locator('input[data-block-id="name"]').fill("rehearsal")
    form.locator('select[data-block-id="source"]').select_option("sandbox-source")
    form.locator('select[data-block-id="target"]').select_option("sandbox-target")
    form.locator('input[data-block-id="topics"]').fill(demo.pattern)
    form.locator('input[data-block-id="exclude"]').fill(demo.exclude)
    form.locator('select[data-block-id="via"]').select_option("sandbox-mm2")
    form.locator('select[data-block-id="source_registry"]').select_option("registry-source")
    form.locator('select[data-block-id="target_registry"]').select_option("registry-target")
    form.locator('select[data-block-id="connect_from"]').select_option("sandbox-connect-source")
    form.locator('select[data-block-id="connect_to"]').select_option("sandbox-connect-target")
    page.screenshot(path=shots / "01-start-form.png")
    page.click("#modal-submit")
    page.locator("#modal.hidden").wait_for(state="attached", timeout=30_000)

    card = expect(page.locator("#list .message", has_text="Kafka migration rehearsal-").first)
    mid = re.search(r"Kafka migration (rehearsal-[a-z0-9]+)", card.inner_text()).group(1)
    expect(page.locator(".message.ephemeral", has_text=f"Started {mid}").first, 30_000)

    # the stop_producers request: the requester may not approve it (two-person rule)
    expect(page.locator('button[data-block-id="gate_stop_producers"]').first)
    page.screenshot(path=shots / "02-stop-producers-requested.png")
    click_button(page, "gate_stop_producers", "gate_approve", shots / "03-confirm-dialog.png")
    refusal = expect(page.locator(".message.ephemeral", has_text="two-person rule").first, 30_000)
    assert "Only visible to you" in refusal.inner_text()
    page.screenshot(path=shots / "04-self-approval-refused.png")
    # someone who is neither requester nor approver is refused too
    act_as(page, "U0EVE")
    click_button(page, "gate_stop_producers", "gate_approve")
    expect(page.locator(".message.ephemeral", has_text="is not an approver").first, 30_000)

    # bob, an approver, approves; then the people stop the producer
    act_as(page, "U0BOB")
    click_button(page, "gate_stop_producers", "gate_approve")
    expect(page.locator("#list .message", has_text="Approved by @bob").first, 60_000)
    page.click('button[data-clients="producer"][data-cluster=""]')
    expect(page.locator("#producer-state", has_text="stopped"), 10_000)
    expect(page.locator("#list .message", has_text="lag reached zero").first)
    page.screenshot(path=shots / "05-lag-reached-zero.png")

    # the consumers stop on the source; bob approves the repoint
    page.click('button[data-clients="consumers"][data-cluster=""]')
    expect(page.locator('button[data-block-id="gate_repoint_clients"]').first)
    click_button(page, "gate_repoint_clients", "gate_approve")

    # consumers and the producer start on the target; the bot verifies and completes
    expect(page.locator("#list .message", has_text="start these consumers on the target").first)
    page.click('button[data-clients="consumers"][data-cluster="target"]')
    expect(page.locator("#consumers-state", has_text="on target"), 10_000)
    page.click('button[data-clients="producer"][data-cluster="target"]')
    expect(
        page.locator("#list .message", has_text=f"Kafka migration {mid}")
        .filter(has_text="complete at")
        .first
    )
    assert store.get(mid).status == "complete"
    # the card's Connectors section: both moved, stopped on the old Connect, running on the new
    card = page.locator("#list .message", has_text=f"Kafka migration {mid}").first
    for name, kind, cls in (
        (connectors.source, "source", "FileStreamSourceConnector"),
        (connectors.sink, "sink", "FileStreamSinkConnector"),
    ):
        expect(card.filter(has_text=f"{name} ({kind}, {cls}): old STOPPED, new RUNNING"), 60_000)
    old, new = worker(sandbox, "connect_source"), worker(sandbox, "connect")
    for name in connectors.names:
        assert (state(old, name), state(new, name)) == ("STOPPED", "RUNNING")

    # the report and the lag chart in the card's thread
    page.locator("#list .message", has_text=f"Kafka migration {mid}").first.locator(
        ".replies"
    ).click()
    thread = expect(page.locator("#thread:not(.hidden)"), 10_000)
    expect(thread.locator(".message", has_text="Report for").first, 60_000)
    expect(thread.locator('img[src^="/rehearsal/files/"]').last, 60_000)
    # the thread is drawn again when it changes: the chart is looked up anew at each look and
    # scrolled to in the same breath (a handle kept from before may be detached by then)
    page.wait_for_function(
        """() => {
            const imgs = document.querySelectorAll('#thread img[src^="/rehearsal/files/"]');
            const img = imgs[imgs.length - 1];
            if (!img || !img.complete || img.naturalWidth === 0) return false;
            img.scrollIntoView({block: "nearest"});
            return true;
        }""",
        timeout=60_000,
    )
    page.screenshot(path=shots / "06-complete-report-and-chart.png")

    # what the clusters hold: every source record of the live topics on the target, and the
    # groups' offsets handed over and moving on the target
    demo.stop()
    source, target = demo.conf("source"), demo.conf("target")
    for topic, partitions in ((demo.topic("created"), 3), (demo.topic("paid"), 2)):
        assert sum(ends(target, topic, partitions)) > sum(ends(source, topic, partitions)) > 0
    for group in demo.groups:
        offsets = committed(target, group)
        assert offsets and all(o > 0 for o in offsets.values()), (group, offsets)
    # every line of the log file, on the target's events topic once and in order (those
    # appended while its connector moved included), and in the archive, continued on the target
    written = connectors.log_file.read_text().splitlines()
    events = {(connectors.topic, 0): 0}
    wait_for(lambda: len(read_from(target, events)) == len(written), 60, "every line on target")
    assert [v.decode() for v in read_from(target, events)] == written
    wait_for(lambda: lines(connectors.archive) == written, 60, "the archive complete")
    assert not page.locator("text=SIGNING").count()
