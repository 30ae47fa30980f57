"""The Aiven replicator against the Aiven API stand-in, without Kafka: every API failure gives
the intended message (and never the token), idempotent calls are retried, writes are not
repeated, the flow is created once and updated in place, paused, resumed and deleted."""

from __future__ import annotations

import logging
import time

import pytest
from standins.aiven_api import DROP, AivenStandIn

from bot.aiven.acls import uncopyable
from bot.aiven.api import AivenApi
from bot.kafka.acls import Acl, AclPlan
from bot.replicators.aiven import AivenReplicator
from bot.replicators.base import FlowSpec, ReplicatorError

TOKEN = "aivenv1-standin-Tok3n-never-shown"
NOWHERE = "http://127.0.0.1:9"  # no Connect worker: flows are stored, not deployed
FLOW_PATH = r"/mirrormaker/replication-flows"


@pytest.fixture(scope="module")
def standin():
    server = AivenStandIn(
        token=TOKEN,
        project="acme",
        kafka_services={"kafka-target": {"bootstrap.servers": "127.0.0.1:9"}},
        connect_url=NOWHERE,
        running_delay=0.2,
    ).start()
    yield server
    server.stop()


@pytest.fixture
def api(standin, monkeypatch):
    monkeypatch.setenv("AIVEN_TEST_TOKEN", TOKEN)
    client = AivenApi(standin.url, "AIVEN_TEST_TOKEN", lambda: TOKEN)
    client.sleep = lambda _s: None  # backoff without waiting
    return client


def replicator(api, service: str, **kw) -> AivenReplicator:
    rep = AivenReplicator(api, "acme", service, **kw)
    rep.sleep = lambda _s: None
    return rep


def mm2(api, unique) -> AivenReplicator:
    rep = replicator(api, f"mm2-{unique}", create_service=True, plan="startup-4")
    rep.prepare()
    return rep


def spec(unique, topics=("orders",)) -> FlowSpec:
    return FlowSpec(
        name=f"km-{unique}",
        source={"bootstrap.servers": "127.0.0.1:9"},
        target={"bootstrap.servers": "127.0.0.1:9"},
        topics=list(topics),
        source_alias=f"src-{unique}",
        target_alias=f"tgt-{unique}",
    )


def calls(standin, method: str, fragment: str) -> int:
    return sum(1 for r in standin.requests if r.method == method and fragment in r.path)


@pytest.fixture(autouse=True)
def no_token_anywhere(caplog, capsys):
    caplog.set_level(logging.DEBUG)
    yield
    out = capsys.readouterr()
    assert TOKEN not in caplog.text + out.out + out.err


def test_a_rejected_token_names_its_variable_never_the_token(standin):
    wrong = AivenApi(standin.url, "AIVEN_WRONG", lambda: "not-the-token")
    with pytest.raises(ReplicatorError) as caught:
        replicator(wrong, "mm2").check()
    message = str(caught.value)
    assert "rejected the token in AIVEN_WRONG (401)" in message
    assert "not-the-token" not in message and not caught.value.retriable
    unset = AivenApi(standin.url, "AIVEN_UNSET", lambda: {}["AIVEN_UNSET"])
    with pytest.raises(ReplicatorError, match="AIVEN_UNSET .* is not set"):
        replicator(unset, "mm2").check()


def test_404_names_the_project_or_service(api):
    with pytest.raises(ReplicatorError, match=r"read project other: not found \(404"):
        AivenReplicator(api, "other", "mm2").check()
    with pytest.raises(ReplicatorError) as caught:
        replicator(api, "no-such-mm2").check()
    assert "MM2 service acme/no-such-mm2 does not exist (404)" in str(caught.value)
    assert "create_service = true" in str(caught.value)
    with pytest.raises(ReplicatorError, match="acme/kafka-target is a kafka service"):
        replicator(api, "kafka-target").check()


def test_403_says_the_token_lacks_the_right(standin, api):
    standin.fail("GET", r"/project/acme$", 403)
    with pytest.raises(ReplicatorError, match="token in AIVEN_TEST_TOKEN is not allowed"):
        replicator(api, "mm2").check()


def test_5xx_and_dropped_connections_are_retried_for_reads_then_degraded(standin, api, unique):
    rep = mm2(api, unique)
    standin.fail("GET", f"/service/mm2-{unique}$", 503, times=2)
    standin.fail("GET", f"/service/mm2-{unique}$", DROP, times=1)
    before = calls(standin, "GET", f"/service/mm2-{unique}")
    assert rep.mm2_service()["state"] == "RUNNING"
    assert calls(standin, "GET", f"/service/mm2-{unique}") - before == 4
    standin.fail("GET", f"/service/mm2-{unique}$", 502, times=4)  # every attempt
    with pytest.raises(ReplicatorError) as caught:
        rep.mm2_service()
    assert caught.value.retriable and "Aiven answered 502" in str(caught.value)


def test_a_write_whose_connection_dropped_is_not_repeated_and_a_rerun_creates_it_once(
    standin, api, unique
):
    rep, flow = mm2(api, unique), spec(unique)
    standin.fail("POST", FLOW_PATH, DROP)
    with pytest.raises(ReplicatorError) as caught:
        rep.write_flow(flow)
    assert caught.value.retriable and "checked on the next try" in str(caught.value)
    assert calls(standin, "POST", f"mm2-{unique}{FLOW_PATH}") == 1
    rep.write_flow(flow)  # the re-run: created now, once
    assert calls(standin, "POST", f"mm2-{unique}{FLOW_PATH}") == 2
    assert rep.read_flow(flow)["topics"] == ["orders"]


def test_a_flow_created_meanwhile_409_is_reused(standin, api, unique):
    rep, flow = mm2(api, unique), spec(unique)
    rep.write_flow(flow)
    standin.fail("GET", f"{FLOW_PATH}/src-{unique}/tgt-{unique}", 404)  # looks missing once
    rep.write_flow(spec(unique, topics=["orders", "payments"]))
    posts = [r for r in standin.requests if r.method == "POST" and FLOW_PATH in r.path]
    assert [r.status for r in posts if f"mm2-{unique}" in r.path] == [200, 409]
    assert rep.read_flow(flow)["topics"] == ["orders", "payments"]


def test_the_flow_is_created_once_updated_in_place_and_left_alone_when_it_matches(
    standin, api, unique
):
    rep, path = mm2(api, unique), f"mm2-{unique}{FLOW_PATH}"
    rep.write_flow(spec(unique))
    rep.write_flow(spec(unique))
    assert (calls(standin, "POST", path), calls(standin, "PUT", path)) == (1, 0)
    rep.write_flow(spec(unique, topics=["orders", "refunds"]))
    assert (calls(standin, "POST", path), calls(standin, "PUT", path)) == (1, 1)
    stored = rep.read_flow(spec(unique))
    assert stored["topics"] == ["orders", "refunds"] and stored["enabled"] is True
    put = [r for r in standin.requests if r.method == "PUT" and path in r.path][-1]
    assert "config_properties_exclude" not in put.body and "topics_exclude" not in put.body


def test_pause_resume_delete_through_enabled(standin, api, unique):
    rep, flow = mm2(api, unique), spec(unique)
    rep.write_flow(flow)
    rep.pause(flow)
    assert rep.read_flow(flow)["enabled"] is False
    assert rep.status(flow).parts[f"flow src-{unique}->tgt-{unique}"].startswith("PAUSED")
    rep.write_flow(flow)  # a re-run of ensure keeps a paused flow paused
    assert rep.read_flow(flow)["enabled"] is False
    rep.resume(flow)
    assert rep.read_flow(flow)["enabled"] is True
    rep.delete(flow)
    rep.delete(flow)  # twice: nothing to delete is fine
    status = rep.status(flow)
    assert set(status.parts.values()) == {"MISSING"} and not status.running


def test_creating_the_mm2_service_waits_for_running_with_progress(standin, api, unique):
    rep = replicator(api, f"new-{unique}", create_service=True, plan="startup-4", cloud="local")
    # the new service rebuilds until the replicator has waited once: what it reports does not
    # hang on how soon after the create its first read comes (after 0.2 s it read RUNNING)
    standin.running_delay = 3600

    def wait(_seconds: float) -> None:
        standin.services[f"new-{unique}"].ready_at = time.monotonic()

    rep.sleep = wait
    said: list[str] = []
    try:
        assert rep.prepare(said.append)["state"] == "RUNNING"
    finally:
        standin.running_delay = 0.2
    assert said[0].startswith(f"MM2 service acme/new-{unique} created (plan startup-4)")
    assert any("REBUILDING" in s for s in said)
    rep.prepare()  # exists: not created twice
    assert calls(standin, "POST", "/service") - calls(standin, "POST", "/service/") >= 1
    creates = [r for r in standin.requests if r.method == "POST" and r.path.endswith("/service")]
    assert sum(1 for r in creates if r.body["service_name"] == f"new-{unique}") == 1


def test_prepare_without_waiting_creates_and_answers_at_once(standin, api, unique):
    rep = replicator(api, f"poll-{unique}", create_service=True, plan="startup-4")
    standin.running_delay = 60
    try:
        assert rep.prepare(wait=False)["state"] == "REBUILDING"
        assert rep.prepare(wait=False)["state"] == "REBUILDING"  # exists: not created again
    finally:
        standin.running_delay = 0.2
    creates = [r for r in standin.requests if r.method == "POST" and r.path.endswith("/service")]
    assert sum(1 for r in creates if r.body["service_name"] == f"poll-{unique}") == 1


def test_a_service_that_never_runs_times_out_as_degraded(standin, api, unique):
    rep = replicator(api, f"slow-{unique}", create_service=True, plan="p", service_wait_s=0.0)
    standin.running_delay = 60
    try:
        with pytest.raises(ReplicatorError, match="is REBUILDING, not RUNNING") as caught:
            rep.prepare()
    finally:
        standin.running_delay = 0.2
    assert caught.value.retriable


def test_an_alias_taken_by_another_cluster_is_refused_clearly(standin, api, unique):
    rep = mm2(api, unique)
    rep.links.integration({"source_service": "kafka-target"}, f"tgt-{unique}")
    rep.links.integration({"source_service": "kafka-target"}, f"tgt-{unique}")  # reused
    assert calls(standin, "POST", "/integration") >= 1
    with pytest.raises(ReplicatorError, match=f"alias 'tgt-{unique}' already belongs to"):
        rep.links.integration({"source_endpoint_id": "e-1"}, f"tgt-{unique}")
    with pytest.raises(ReplicatorError, match="integrated already, under the alias"):
        rep.links.integration({"source_service": "kafka-target"}, f"other-{unique}")


def test_acls_aiven_cannot_hold_are_listed_with_the_reason():
    good = Acl("TOPIC", "orders", "LITERAL", "User:app", "*", "READ", "ALLOW")
    group = Acl("GROUP", "g", "LITERAL", "Group:ops", "*", "READ", "ALLOW")
    match = Acl("TOPIC", "o", "MATCH", "User:app", "*", "READ", "ALLOW")
    plan = AclPlan([good, group, match], {good: good, group: group, match: match})
    lines = uncopyable(plan)
    assert len(lines) == 2
    assert any("Group:ops" in line and "User: principals only" in line for line in lines)
    assert any("pattern type MATCH" in line for line in lines)


def test_restart_turns_an_enabled_flow_off_and_on_and_leaves_a_paused_one(standin, api, unique):
    rep, flow = mm2(api, unique), spec(unique)
    rep.restart(flow)  # no flow: nothing to do
    rep.write_flow(flow)
    mark = len(standin.requests)
    rep.restart(flow)
    puts = [r.body["enabled"] for r in standin.requests[mark:] if r.method == "PUT"]
    assert puts == [False, True] and rep.read_flow(flow)["enabled"] is True
    rep.pause(flow)
    mark = len(standin.requests)
    rep.restart(flow)
    assert not [r for r in standin.requests[mark:] if r.method == "PUT"]


def test_groups_are_set_once_and_never_changed_under_another_flow(standin, api, unique):
    rep = mm2(api, unique)
    first = FlowSpec(**{**vars(spec(unique)), "groups": ["billing"]})
    tuned = {"kafka_mirrormaker": {"tasks_max_per_cpu": 2}}  # set by someone else: kept
    api.call("tune", "update_service", "acme", rep.service, user_config=tuned)
    rep._service_settings(first, rep.mm2_service())
    rep.write_flow(first)
    settings = rep.mm2_service()["user_config"]["kafka_mirrormaker"]
    assert settings["groups"] == "billing" and settings["emit_checkpoints_enabled"] is True
    assert settings["tasks_max_per_cpu"] == 2
    mark = len(standin.requests)
    rep._service_settings(first, rep.mm2_service())  # as wanted: no write
    assert not [r for r in standin.requests[mark:] if r.method == "PUT"]
    other = FlowSpec(
        **{**vars(spec(unique)), "groups": ["audit"], "source_alias": f"other-{unique}"}
    )
    with pytest.raises(ReplicatorError, match=f"also runs flow\\(s\\) src-{unique}->tgt-{unique}"):
        rep._service_settings(other, rep.mm2_service())
    rep.delete(first)
    rep._service_settings(other, rep.mm2_service())  # alone on the service now: changed
    assert rep.mm2_service()["user_config"]["kafka_mirrormaker"]["groups"] == "audit"


def test_an_outage_page_instead_of_json_is_a_retriable_error_without_the_token():
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Html(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            body = b"<html>maintenance</html>"
            self.send_response(200)
            self.send_header("content-type", "text/html")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Html)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        client = AivenApi(
            f"http://127.0.0.1:{server.server_address[1]}", "AIVEN_HTML", lambda: TOKEN
        )
        client.sleep = lambda _s: None
        with pytest.raises(ReplicatorError, match=r"not JSON .*\(after 4 attempts\)") as caught:
            replicator(client, "mm2").check()
    finally:
        server.shutdown()
        server.server_close()
    assert caught.value.retriable and TOKEN not in str(caught.value)
