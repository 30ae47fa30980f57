"""Kafka Connect connectors move with a migration driven only through signed Slack requests, on
the sandbox's two real Connect workers: a FileStreamSource writing a growing file's lines into a
selected topic, a FileStreamSink writing that topic to a file, and a sink whose group was
part-way (PAUSED, behind) when the migration began."""

from __future__ import annotations

import pytest

from bot.kafka.cluster import Cluster
from tests.connect_helpers import (
    GrowingFile,
    config_of,
    delete_all,
    file_sink,
    file_source,
    lines,
    offsets,
    pause,
    state,
    wait_state,
    worker,
)
from tests.kafka_helpers import create_topic, group_at_end, produce, read_from
from tests.slack.support import CHANNEL, live_config, running_bot
from tests.waits import wait_for

pytestmark = pytest.mark.sandbox


@pytest.fixture
def signed_bot(sandbox, standin, tmp_path):
    path = live_config(sandbox, tmp_path)
    with running_bot(path, standin, tmp_path, paused=False, card_interval=0.5, mode="http") as d:
        yield d


def answer(driver, words: str, timeout: float = 60) -> str:
    return wait_for(
        lambda: next((r["text"] for r in driver.standin.responses if words in r["text"]), None),
        timeout,
        repr(words),
    )


def gate(driver, mid: str, step: str):
    def find():
        for msg in driver.standin.channel_messages(CHANNEL):
            blocks = msg.blocks or []
            if f"({mid})" in msg.text and any(b.get("block_id") == f"gate_{step}" for b in blocks):
                return msg
        return None

    return wait_for(find, 120, f"{step} request")


def start(driver, text: str) -> str:
    driver.command(f"start {text}", user="U0BOB")
    return answer(driver, "Started `").split("`")[1]


def test_file_connectors_move_with_the_migration(sandbox, signed_bot, unique, tmp_path):
    driver, store = signed_bot, signed_bot.bot.store
    old, new = worker(sandbox, "connect_source"), worker(sandbox, "connect")
    src = sandbox.source.client_config()
    topic, behind = f"lines-{unique}", f"behind-{unique}"
    create_topic(src, topic, 1)
    create_topic(src, behind, 1)
    feed, out, late = tmp_path / "in.txt", tmp_path / "out.txt", tmp_path / "late.txt"
    source, sink, paused = f"file-in-{unique}", f"file-out {unique}", f"file-late-{unique}"
    growing = GrowingFile(feed, "line")
    growing.start()
    try:
        file_source(old, source, feed, topic)
        secret = f"s3cret-{unique}"  # a credential in its config: copied, never shown
        provided = "${file:/etc/kafka/secrets.properties:note}"
        file_sink(  # a name with a space: percent-encoded everywhere
            old, sink, out, topic, **{"audit.db.password": secret, "audit.note": provided}
        )
        # the part-way sink: it read 40 records, then was paused, 25 more arrived after
        produce(src, behind, [(None, f"b{i}".encode(), []) for i in range(40)])
        file_sink(old, paused, late, behind)
        group_at_end(Cluster("source", src), f"connect-{paused}", [(behind, 0)])
        pause(old, paused)
        wait_state(old, paused, "PAUSED")
        produce(src, behind, [(None, f"b{i}".encode(), []) for i in range(40, 65)])
        wait_for(lambda: len(lines(out)) >= 20, 60, "the old sink writing")

        args = (
            f"conn source=sandbox-source target=sandbox-target topics={topic},{behind} "
            "via=sandbox-mm2 connect_from=sandbox-connect-source connect_to=sandbox-connect-target"
        )
        driver.command(f"plan {args}", user="U0BOB")
        plan = answer(driver, "*Plan*")
        assert "*Connectors*: 3 move" in plan, plan
        assert f"{source} (source, FileStreamSourceConnector, tasks.max 1): writes {topic}" in plan
        assert f"group connect-{paused} handed over exactly" in plan
        assert "the target worker must provide the config providers of: audit.note" in plan
        mid = start(driver, args)

        driver.click(gate(driver, mid, "stop_producers"), "gate_approve", "U0DAN")
        wait_state(old, source, "STOPPED")
        wait_state(old, paused, "STOPPED")  # idle: stopped with the producers
        stopped_at = offsets(old, source)
        assert stopped_at and stopped_at[0]["offset"]["position"] > 0

        repoint = gate(driver, mid, "repoint_clients")
        assert state(old, sink) == "STOPPED"
        for name in (source, sink, paused):
            assert state(new, name) == "STOPPED"  # created STOPPED before the gate opened
        assert offsets(new, source) == stopped_at  # copied exactly, read back
        shown = str(driver.standin.messages[repoint.ts].blocks)
        assert "*Connectors*" in shown and f"{source} (source" in shown, shown
        assert "1 offset(s) copied" in shown
        driver.click(repoint, "gate_approve", "U0DAN")
        wait_for(lambda: store.get(mid).status == "complete", 180, "complete")

        written = growing.stop()
        # every line of the file, on the target topic exactly once and in order (those
        # appended while the connector was stopped included)
        target = sandbox.target.client_config()
        wait_for(lambda: len(read_from(target, {(topic, 0): 0})) == len(written), 60, "all lines")
        assert [v.decode() for v in read_from(target, {(topic, 0): 0})] == written
        # the sink's file, continued on the new side: no line twice, none missing
        wait_for(lambda: len(lines(out)) == len(written), 60, "the new sink caught up")
        assert lines(out) == written
        # the part-way group, handed over exactly: 0 lost, 0 duplicated
        wait_for(lambda: len(lines(late)) >= 65, 60, "the late sink caught up")
        assert lines(late) == [f"b{i}" for i in range(65)]
        for name in (source, sink, paused):
            assert state(old, name) == "STOPPED"
            assert state(new, name) == "RUNNING"
        card = str(driver.standin.messages[store.get(mid).card_ts].blocks)
        assert f"{source} (source, FileStreamSourceConnector): old STOPPED, new RUNNING" in card
        # the copy has its credential; Slack, the database and the report never saw it
        copied = config_of(new, sink)
        assert copied["audit.db.password"] == secret and copied["audit.note"] == provided
        said = str([c for c in driver.standin.calls]) + str(driver.standin.responses)
        assert secret not in said
        assert secret not in str(store.get(mid).state.dump()) + str(store.events(mid))
        assert "[hidden]" in str(store.get(mid).state.connectors)
    finally:
        growing.stop()
        for url in (old, new):
            delete_all(url, "file-")
