"""Moving connectors, refused, failed and taken back, through signed Slack requests on the
sandbox's real Connect workers: a cancel at the repoint gate puts the old connectors back as they
were and deletes the copies; a plugin missing on the target fails preflight, naming connector
and class; a copy whose task fails on the target fails its step with the worker's trace, and
`retry` restarts it."""

from __future__ import annotations

import pytest

from bot import sandbox as sandbox_mod
from tests.connect_helpers import (
    FILE_SOURCE,
    GrowingFile,
    delete_all,
    file_sink,
    file_source,
    lines,
    names,
    pause,
    state,
    wait_state,
    worker,
)
from tests.kafka_helpers import create_topic, produce, read_from
from tests.slack.support import live_config, running_bot
from tests.slack.test_connectors_migration import answer, gate, start
from tests.waits import wait_for

pytestmark = pytest.mark.sandbox


def test_cancel_at_the_repoint_gate_puts_the_old_connectors_back(
    sandbox, standin, tmp_path, unique
):
    old, new = worker(sandbox, "connect_source"), worker(sandbox, "connect")
    topic = f"undo-{unique}"
    create_topic(sandbox.source.client_config(), topic, 1)
    feed = tmp_path / "in.txt"
    growing = GrowingFile(feed, "undo", per_second=20)
    growing.start()
    source, sink = f"file-undo-in-{unique}", f"file-undo-out-{unique}"
    path = live_config(sandbox, tmp_path)
    try:
        file_source(old, source, feed, topic)
        file_sink(old, sink, tmp_path / "out.txt", topic)
        wait_state(old, sink, "RUNNING")
        pause(old, sink)  # paused before the migration: it must come back paused
        wait_state(old, sink, "PAUSED")
        with running_bot(path, standin, tmp_path, paused=False, card_interval=0.5) as driver:
            store = driver.bot.store
            mid = start(
                driver,
                f"undo source=sandbox-source target=sandbox-target topics={topic} "
                "via=sandbox-mm2 connect_from=sandbox-connect-source "
                "connect_to=sandbox-connect-target",
            )
            driver.click(gate(driver, mid, "stop_producers"), "gate_approve", "U0DAN")
            gate(driver, mid, "repoint_clients")
            assert state(new, source) == "STOPPED" and state(new, sink) == "STOPPED"
            assert state(old, source) == "STOPPED" and state(old, sink) == "STOPPED"
            driver.command(f"cancel {mid} yes", user="U0BOB")
            wait_for(lambda: store.get(mid).status == "cancelled", 120, "cancelled")
            reason = store.get(mid).reason
            assert "2 connector cop(ies) deleted" in reason, reason
            assert f"{source} resumed" in reason and f"{sink} PAUSED again" in reason
        wait_state(old, source, "RUNNING", 120)
        wait_state(old, sink, "PAUSED", 120)
        assert source not in names(new) and sink not in names(new)
        # the source connector reads on from where it stopped: the lines appended meanwhile
        # arrive on the source topic
        written = growing.stop()
        wait_for(
            lambda: len(read_from(sandbox.source.client_config(), {(topic, 0): 0})) == len(written),
            120,
            "every line on the source topic",
        )
    finally:
        growing.stop()
        for url in (old, new):
            delete_all(url, "file-undo-")


def test_a_plugin_missing_on_the_target_fails_preflight(sandbox, standin, tmp_path, unique):
    old = worker(sandbox, "connect_source")
    topic = f"noplug-{unique}"
    create_topic(sandbox.source.client_config(), topic, 1)
    source = f"file-noplug-{unique}"
    (tmp_path / "in.txt").write_text("a\n")
    bare = sandbox_mod.start_worker(sandbox, f"bare_{unique}", cluster="target", plugins=False)
    path = live_config(sandbox, tmp_path)
    path.write_text(path.read_text() + f'\n[connect_clusters.bare]\nurl = "{bare.url}"\n')
    try:
        file_source(old, source, tmp_path / "in.txt", topic)
        wait_state(old, source, "RUNNING")
        with running_bot(path, standin, tmp_path, paused=False, card_interval=0.5) as driver:
            args = (
                f"noplug source=sandbox-source target=sandbox-target topics={topic} "
                "via=sandbox-mm2 connect_from=sandbox-connect-source connect_to=bare"
            )
            driver.command(f"plan {args}", user="U0BOB")
            plan = answer(driver, "*Plan*")
            assert f"its plugin {FILE_SOURCE} is not installed on connect_to=bare" in plan, plan
            mid = start(driver, args)
            store = driver.bot.store
            wait_for(lambda: store.get(mid).status == "failed", 60, "preflight failed")
            failed = store.get(mid)
            assert failed.step == "preflight"
            assert f"connector {source}: its plugin {FILE_SOURCE} is not installed" in failed.reason
            assert state(old, source) == "RUNNING"  # nothing was stopped
            assert not [n for n in names(bare) if n.startswith("file-")]
    finally:
        sandbox_mod.remove_worker(sandbox, bare)
        delete_all(old, "file-noplug-")


def test_a_copy_failing_on_the_target_fails_its_step_and_retry_restarts_it(
    sandbox, standin, tmp_path, unique
):
    old, new = worker(sandbox, "connect_source"), worker(sandbox, "connect")
    topic = f"fails-{unique}"
    create_topic(sandbox.source.client_config(), topic, 1)
    produce(
        sandbox.source.client_config(), topic, [(None, f"f{i}".encode(), []) for i in range(10)]
    )
    sink, out = f"file-fails-{unique}", tmp_path / "out.txt"
    path = live_config(sandbox, tmp_path)
    try:
        file_sink(old, sink, out, topic)
        wait_for(lambda: len(lines(out)) == 10, 60, "the old sink wrote")
        with running_bot(path, standin, tmp_path, paused=False, card_interval=0.5) as driver:
            store = driver.bot.store
            mid = start(
                driver,
                f"fails source=sandbox-source target=sandbox-target topics={topic} "
                "via=sandbox-mm2 connect_from=sandbox-connect-source "
                "connect_to=sandbox-connect-target",
            )
            driver.click(gate(driver, mid, "stop_producers"), "gate_approve", "U0DAN")
            repoint = gate(driver, mid, "repoint_clients")
            kept = out.rename(tmp_path / "kept.txt")
            out.mkdir()  # the file it writes is now a directory: its task cannot start
            driver.click(repoint, "gate_approve", "U0DAN")
            wait_for(lambda: store.get(mid).status == "failed", 90, "consumers_on_target failed")
            failed = store.get(mid)
            assert failed.step == "consumers_on_target"
            assert f"sink connector failed on sandbox-connect-target: {sink} task 0:" in (
                failed.reason
            ), failed.reason
            out.rmdir()
            kept.rename(out)
            driver.command(f"retry {mid}", user="U0BOB")
            wait_for(lambda: store.get(mid).step == "producers_on_target", 90, "sink running")
            assert state(new, sink) == "RUNNING"
            produce(sandbox.target.client_config(), topic, [(None, b"on-target", [])])
            wait_for(lambda: store.get(mid).status == "complete", 90, "complete")
        wait_for(lambda: len(lines(out)) == 11, 60, "the new sink wrote the new record")
        assert lines(out) == [f"f{i}" for i in range(10)] + ["on-target"]
    finally:
        for url in (old, new):
            delete_all(url, "file-fails-")
