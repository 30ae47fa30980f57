"""A migration `via=aiven`, driven only through signed Slack requests to the real bolt app, on
the sandbox: the MirrorMaker 2 service is Aiven's (the Aiven API stand-in, whose replication
flows run as MM2 connectors on the sandbox's Connect worker), the target an Aiven Kafka service
(the sandbox target), the source a cluster outside Aiven (joined through an external_kafka
endpoint). The Slack stand-in records what people would see; the Aiven stand-in every request.
"""

from __future__ import annotations

import logging
import re
from collections import Counter

import pytest
from standins.aiven_api import TARGET
from standins.aiven_kafka import IDENTITY

from bot import cli
from bot.kafka.cluster import Cluster
from bot.kafka.groups import committed_offsets
from bot.replicators import aiven_links
from bot.replicators.offsets import offsets_topic_offsets
from tests.aiven_fixtures import PROJECT, TOKEN, aiven_fixture  # noqa: F401 - the fixture
from tests.e2e.harness import LiveConsumer
from tests.kafka_helpers import commit, create_topic, produce
from tests.slack.support import CHANNEL, live_config, running_bot
from tests.waits import wait_for

pytestmark = pytest.mark.sandbox

TOKEN_ENV = "KM_TEST_AIVEN_TOKEN"
RECORDS = 100  # 50 a partition


@pytest.fixture
def mm2(unique) -> str:
    return f"mm2-{unique}"


@pytest.fixture
def aiven_config(sandbox, aiven, tmp_path, monkeypatch, mm2):
    """The live config plus `aiven-target` (Aiven service TARGET of the stand-in: the sandbox
    target, its connection given) and replicator `aiven` (MM2 service `mm2`, created by the bot,
    the token in TOKEN_ENV)."""
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    monkeypatch.setattr(aiven_links, "POLL", 0.2)  # the stand-in's integrations run in 0.2 s
    path = live_config(sandbox, tmp_path)
    target = sandbox.target
    path.write_text(
        path.read_text()
        + f"""
[clusters.aiven-target]
aiven_project = "{PROJECT}"
aiven_service = "{TARGET}"
aiven_token_env = "{TOKEN_ENV}"
aiven_api_url = "{aiven.url}"
bootstrap_servers = "{target.bootstrap_servers}"
security_protocol = "{target.security_protocol}"
sasl_mechanism = "{target.sasl_mechanism}"
sasl_username = "admin"
sasl_password_env = "SANDBOX_TARGET_PASSWORD"

[replicators.aiven]
kind = "aiven"
project = "{PROJECT}"
service = "{mm2}"
token_env = "{TOKEN_ENV}"
api_url = "{aiven.url}"
create_service = true
plan = "startup-4"
"""
    )
    return path


@pytest.fixture
def no_token_anywhere(caplog, tmp_path, standin):
    """After the test: the token in no log line, Slack message or database byte."""
    caplog.set_level(logging.DEBUG)
    yield
    assert TOKEN not in caplog.text
    seen = [str(c) for c in standin.calls] + [str(r) for r in standin.responses]
    assert not [s for s in seen if TOKEN in s]
    for path in tmp_path.glob("km.db*"):
        assert TOKEN.encode() not in path.read_bytes(), path


def mine(name: str, _part: dict) -> bool:
    return name == "MirrorSourceConnector"


def args(topic: str, target: str = "aiven-target") -> str:
    return f"source=sandbox-source target={target} topics={topic} via=aiven"


def answer(driver, text: str, timeout: float = 60) -> str:
    """The response (to the slash command) containing `text`."""
    return wait_for(
        lambda: next(
            (r["text"] for r in driver.standin.responses if text in r.get("text", "")), None
        ),
        timeout,
        f"an answer with {text!r}",
    )


def gate(driver, mid: str, step: str):
    def find():
        for msg in driver.standin.channel_messages(CHANNEL):
            if f"({mid})" in msg.text and any(
                b.get("block_id") == f"gate_{step}" for b in msg.blocks or []
            ):
                return msg
        return None

    return wait_for(find, 120, f"{step} request")


def start(driver, name: str, topic: str) -> str:
    driver.command(f"start {name} {args(topic)}", user="U0BOB")
    return answer(driver, f"Started `{name}-").split("`")[1]


def created(aiven) -> Counter:
    """How many times each kind of thing was created (answered 2xx) on the stand-in."""
    kinds = Counter()
    for r in aiven.requests:
        if r.method == "POST" and isinstance(r.status, int) and r.status < 300:
            path = r.path.removeprefix(f"/v1/project/{PROJECT}")
            kind = "flow" if path.endswith("/replication-flows") else path.split("/")[1]
            kinds[kind] += 1
    return kinds


def thread_texts(driver, mid: str) -> list[str]:
    card = driver.bot.store.get(mid).card_ts
    return [m.text for m in driver.standin.channel_messages(CHANNEL, thread_ts=card)]


def card_text(driver, mid: str) -> str:
    return str(driver.standin.messages[driver.bot.store.get(mid).card_ts].blocks)


def test_an_aiven_migration_from_slack_to_complete(
    sandbox, aiven, aiven_config, standin, tmp_path, unique, mm2, cli_env, no_token_anywhere
):
    src, tgt = sandbox.source.client_config(), sandbox.target.client_config()
    topic, group = f"av-{unique}", f"billing-{unique}"
    create_topic(src, topic, 2)
    produce(src, topic, [(None, f"r{i}".encode(), [], i % 2) for i in range(RECORDS)])
    half = {(topic, p): RECORDS // 4 for p in range(2)}  # the group read 25 of each 50
    commit(Cluster("source", src), group, half)

    with running_bot(aiven_config, standin, tmp_path, paused=False, card_interval=0.5) as driver:
        store = driver.bot.store
        mid = start(driver, "av", topic)
        request = gate(driver, mid, "stop_producers")
        driver.click(request, "gate_approve", "U0DAN")  # not the requester
        repoint = gate(driver, mid, "repoint_clients")
        driver.click(repoint, "gate_approve", "U0DAN")
        wait_for(lambda: store.get(mid).step == "consumers_on_target", 60, "handover done")

        target = Cluster("target", tgt)
        assert committed_offsets(target, [group])[group] == half  # identity: the same offsets
        moved = LiveConsumer(tgt, topic, group)  # the group, started on the target
        moved.start()
        try:
            wait_for(lambda: store.get(mid).step == "producers_on_target", 60, "on the target")
            produce(tgt, topic, [(None, b"new", [], 0)])
            wait_for(lambda: store.get(mid).status == "complete", 120, "complete")
            wait_for(lambda: len(moved.values) == RECORDS // 2 + 1, 30, "the rest, read once")
        finally:
            moved.stop()
        assert driver.bot.notifier.wait_idle(20)
        steps = {r.step: r for r in store.step_runs(mid)}
        thread = thread_texts(driver, mid)
        card = card_text(driver, mid)

    expected = sorted(
        [f"r{i}".encode() for i in range(RECORDS) if i // 2 >= RECORDS // 4] + [b"new"]
    )
    assert sorted(moved.values) == expected  # nothing lost, nothing read twice

    assert "complete" in card and card.count("by <@U0DAN>") == 2
    assert any("Report for" in t for t in thread)
    preflight = steps["preflight"].detail
    assert f"ok: token in {TOKEN_ENV} accepted; project {PROJECT} found" in preflight["aiven"]
    code, report, _ = cli_env("report", mid)  # the preflight report, as people read it
    assert code == 0 and f"• Aiven: ok: token in {TOKEN_ENV} accepted" in report
    assert f"• Aiven: warning: MM2 service {PROJECT}/{mm2} does not exist; it will be" in report

    log = aiven.requests
    endpoints = [r for r in log if r.method == "POST" and r.path.endswith("/integration_endpoint")]
    assert [e.body["endpoint_type"] for e in endpoints] == ["external_kafka"]
    assert endpoints[0].body["user_config"]["bootstrap_servers"] == sandbox.source.bootstrap_servers
    integrations = [r for r in log if r.method == "POST" and r.path.endswith("/integration")]
    assert sorted(
        (i.body["integration_type"], i.body["user_config"]["cluster_alias"]) for i in integrations
    ) == [("kafka_mirrormaker", "source"), ("kafka_mirrormaker", "target")]
    joined = {i.body["user_config"]["cluster_alias"]: i.body for i in integrations}
    assert joined["target"]["source_service"] == TARGET and "source_endpoint_id" in joined["source"]
    flows = [r for r in log if r.method == "POST" and r.path.endswith("/replication-flows")]
    assert [(f.body["source_cluster"], f.body["target_cluster"]) for f in flows] == [
        ("source", "target")
    ]
    assert flows[0].body["replication_policy_class"] == IDENTITY
    assert flows[0].body["topics"] == [re.escape(topic)]
    assert created(aiven) == {"service": 1, "integration_endpoint": 1, "integration": 2, "flow": 1}
    assert any(
        r.method == "DELETE" and r.path.endswith("/replication-flows/source/target") for r in log
    )
    # MM2's committed offsets where Aiven keeps them (copied there by the stand-in)
    mm2_offsets = offsets_topic_offsets(Cluster("t", tgt), "mm2-offsets.source.internal", mine)
    assert {tp: o for tp, o in mm2_offsets.items() if tp[0] == topic} == {
        (topic, 0): RECORDS // 2 - 1,
        (topic, 1): RECORDS // 2 - 1,
    }
    writes = [(r.method, r.path.rsplit("/", 1)[-1]) for r in log if r.method != "GET"]
    assert writes == [
        ("POST", "service"),  # prepare_target: the MM2 service
        ("POST", "integration_endpoint"),  # start_replication: the source, external_kafka
        ("POST", "integration"),
        ("POST", "integration"),
        ("PUT", mm2),  # groups and checkpoints (the MM2 service's user_config)
        ("POST", "replication-flows"),
        ("DELETE", "target"),  # complete: the flow goes, integrations and endpoint stay
    ]


def test_a_bot_restarted_at_catch_up_creates_nothing_twice(
    sandbox, aiven, aiven_config, standin, tmp_path, unique, no_token_anywhere
):
    src = sandbox.source.client_config()
    topic = f"rs-{unique}"
    create_topic(src, topic, 1)
    produce(src, topic, [(None, b"x", [])] * 1500)  # above ready_lag_records (1000)
    aiven.offsets_held = True  # MM2 commits nothing and copies nothing yet: catch_up waits
    aiven.hold_copy(True)
    with running_bot(aiven_config, standin, tmp_path, paused=False, card_interval=0.5) as driver:
        mid = start(driver, "rs", topic)
        store = driver.bot.store
        wait_for(
            lambda: (
                store.get(mid).step == "catch_up"
                and "not copied yet by content on 1 partition" in (store.get(mid).waiting_for or "")
            ),
            60,
            "catch_up waiting",
        )
        # no offset where Aiven keeps them is a degraded signal said with its reason, not lag
        said = store.get(mid).waiting_for
        assert "degraded signal" in said and "1,500" not in said, said
    once = {"service": 1, "integration_endpoint": 1, "integration": 2, "flow": 1}
    assert created(aiven) == once
    mark = len(aiven.requests)
    aiven.offsets_held = False
    aiven.hold_copy(False)
    with running_bot(aiven_config, standin, tmp_path, paused=False, card_interval=0.5) as driver:
        gate(driver, mid, "stop_producers")  # the new process took catch_up to its end
        after = aiven.requests[mark:]
        driver.command(f"cancel {mid} yes", user="U0BOB")
        wait_for(lambda: driver.bot.store.get(mid).status == "cancelled", 30, "cancelled")
    assert created(aiven) == once
    assert [(r.method, r.path) for r in after if r.method != "GET"] == []
    assert any(
        r.method == "DELETE" and r.path.endswith("/replication-flows/source/target")
        for r in aiven.requests[mark:]
    )


@pytest.fixture
def cli_env(aiven_config, tmp_path, monkeypatch, capsys):
    """`kafka-migrate ARGS` in this process, on the bot's configuration and database:
    (exit code, stdout, stderr)."""
    monkeypatch.setenv("KAFKA_MIGRATE_CONFIG", str(aiven_config))
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'km.db'}")

    def run(*argv: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = cli.main(list(argv))
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


def test_a_rejected_token_is_named_by_its_variable_never_shown(
    sandbox, aiven, aiven_config, standin, tmp_path, unique, monkeypatch, cli_env, caplog
):
    caplog.set_level(logging.DEBUG)
    wrong = "aivenv1-revoked-Zq81"
    monkeypatch.setenv(TOKEN_ENV, wrong)
    topic = f"tok-{unique}"
    create_topic(sandbox.source.client_config(), topic, 1)
    said = f"rejected the token in {TOKEN_ENV} (401): check that the variable holds a valid"
    with running_bot(aiven_config, standin, tmp_path, paused=False, card_interval=0.5) as driver:
        driver.command(f"start tok {args(topic)}", user="U0BOB")
        refused = answer(driver, "cannot reach the replicator aiven")
        code, out, err = cli_env("start", "tok", *args(topic).split())
        assert code == 2 and said in err, err

        # the token revoked once the migration runs: preflight fails, saying so in the thread
        monkeypatch.setenv(TOKEN_ENV, TOKEN)
        aiven.fail("GET", f"/service/{TARGET}$", 401)
        mid = start(driver, "tok", topic)
        wait_for(lambda: driver.bot.store.get(mid).status == "failed", 60, "preflight failed")
        assert driver.bot.notifier.wait_idle(20)
        thread = thread_texts(driver, mid)
        code, status, _ = cli_env("status", mid)
        caplog_text = caplog.text
        seen = str(standin.calls) + str(standin.responses)
    assert said in refused
    assert any("preflight failed: 1 problem(s) on Aiven" in t and said in t for t in thread)
    assert code == 0 and said in status
    for text in (caplog_text, seen, out + err + status):
        assert wrong not in text and TOKEN not in text
    for path in tmp_path.glob("km.db*"):
        assert wrong.encode() not in path.read_bytes() and TOKEN.encode() not in path.read_bytes()


def test_a_missing_project_or_service_is_named(
    sandbox, aiven, aiven_config, standin, tmp_path, unique, cli_env, no_token_anywhere
):
    aiven_config.write_text(
        aiven_config.read_text()
        + f"""
[replicators.elsewhere]
kind = "aiven"
project = "no-such-project"
service = "mm2"
token_env = "{TOKEN_ENV}"
api_url = "{aiven.url}"

[replicators.uncreated]
kind = "aiven"
project = "{PROJECT}"
service = "mm2-gone"
token_env = "{TOKEN_ENV}"
api_url = "{aiven.url}"
"""
    )
    topic = f"nf-{unique}"
    create_topic(sandbox.source.client_config(), topic, 1)
    project = "read project no-such-project: not found (404: Project 'no-such-project' does not"
    service = f"MM2 service {PROJECT}/mm2-gone does not exist (404), and the configuration"
    with running_bot(aiven_config, standin, tmp_path, paused=False, card_interval=0.5) as driver:
        for via, said in (("elsewhere", project), ("uncreated", service)):
            line = args(topic).replace("via=aiven", f"via={via}")
            driver.command(f"start nf {line}", user="U0BOB")
            assert said in answer(driver, f"cannot reach the replicator {via}")
            code, _out, err = cli_env("start", "nf", *line.split())
            assert code == 2 and said in err, err

        # the target's Aiven service gone once the migration runs: preflight names it
        aiven.fail("GET", f"/service/{TARGET}$", 404)
        mid = start(driver, "nf", topic)
        wait_for(lambda: driver.bot.store.get(mid).status == "failed", 60, "preflight failed")
        assert driver.bot.notifier.wait_idle(20)
        thread = thread_texts(driver, mid)
    gone = f"read target service {PROJECT}/{TARGET}: not found (404"
    assert any("preflight failed: 1 problem(s) on Aiven" in t and gone in t for t in thread)
    code, status, _ = cli_env("status", mid)
    assert code == 0 and gone in status


def test_a_409_is_reused_and_a_5xx_holds_the_step_degraded_then_it_goes_on(
    sandbox, aiven, aiven_config, standin, tmp_path, unique, cli_env, no_token_anywhere
):
    topic = f"fl-{unique}"
    create_topic(sandbox.source.client_config(), topic, 1)
    aiven.fail("POST", "/integration$", 409)  # as if created meanwhile: read again, go on
    aiven.fail("GET", f"/service/{TARGET}$", 503, times=4)  # a read: tried 4 times, then held
    aiven.fail("POST", "/replication-flows$", 503, times=4)  # creates are not retried
    said = "Aiven answered 503 (Injected error 503); it may pass"
    with running_bot(aiven_config, standin, tmp_path, paused=False, card_interval=0.5) as driver:
        mid = start(driver, "fl", topic)
        store = driver.bot.store

        def degraded(step: str):
            note = store.get(mid).waiting_for or ""
            return store.get(mid).step == step and "degraded" in note and said in note

        wait_for(lambda: degraded("preflight"), 60, "preflight degraded")
        wait_for(lambda: degraded("start_replication"), 60, "start_replication degraded")
        code, status, _ = cli_env("status", mid)
        gate(driver, mid, "stop_producers")  # the fault passed: the runbook went on
        assert driver.bot.notifier.wait_idle(20)
        updates = [str(c) for c in standin.calls_of("chat.update")]
        m = store.get(mid)
        driver.command(f"cancel {mid} yes", user="U0BOB")
        wait_for(lambda: store.get(mid).status == "cancelled", 30, "cancelled")
    assert code == 0 and "degraded for" in status and said in status, status
    assert any("degraded for" in u and said in u for u in updates)
    assert m.status == "active" and store.step_runs(mid)[0].state == "done"
    statuses = [
        (r.path.rsplit("/", 1)[1], r.status)
        for r in aiven.requests
        if r.method == "POST" and r.path.endswith(("/integration", "/replication-flows"))
    ]
    assert statuses == [("integration", 409), ("integration", 200), ("integration", 200)] + [
        ("replication-flows", 503)
    ] * 4 + [("replication-flows", 200)]
    reads = [r.status for r in aiven.requests if r.path.endswith(f"/service/{TARGET}")]
    assert reads == [503] * 4 + [200]  # retried within the call, then again at the next poll
