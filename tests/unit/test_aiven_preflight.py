"""Preflight on Aiven (one finding a line) against the API stand-in, and a service's connection
settings read from the API (secrets masked when printed)."""

from __future__ import annotations

import pytest
from standins.aiven_api import AivenStandIn

from bot.aiven.api import AivenApi
from bot.aiven.service import AivenService, service_client_config
from bot.replicators.aiven import AivenReplicator
from bot.replicators.aiven_preflight import preflight
from bot.replicators.base import FlowSpec, ReplicatorError

TOKEN = "aivenv1-preflight-Tok3n"
TARGET = {"bootstrap.servers": "127.0.0.1:9"}


@pytest.fixture(scope="module")
def standin():
    server = AivenStandIn(
        token=TOKEN,
        project="acme",
        kafka_services={"kafka-target": TARGET},
        connect_url="http://127.0.0.1:9",
        running_delay=0.1,
    ).start()
    yield server
    server.stop()


@pytest.fixture
def api(standin):
    return AivenApi(standin.url, "AIVEN_PF_TOKEN", lambda: TOKEN)


def flow(api: AivenApi | None = None, **kw) -> FlowSpec:
    """A flow to TARGET, which is the Aiven service acme/kafka-target when `api` is given."""
    target = AivenService(api, "acme", "kafka-target") if api else None
    return FlowSpec(
        "km-1", {"bootstrap.servers": "src:9092"}, TARGET, ["orders"], target_aiven=target, **kw
    )


def test_every_check_is_a_line_and_problems_say_what_to_fix(standin, api, unique):
    rep = AivenReplicator(api, "acme", f"mm2-{unique}", create_service=True, plan="startup-4")
    findings = rep.preflight_findings(flow(api, groups=["g1"]), schemas=True)
    lines = [str(f) for f in findings]
    assert lines[0] == "ok: token in AIVEN_PF_TOKEN accepted; project acme found"
    assert lines[1].startswith(f"warning: MM2 service acme/mm2-{unique} does not exist; it will")
    assert "ok: consumer groups as Aiven's groups setting: g1" in lines
    assert "ok: target Aiven service acme/kafka-target: RUNNING, Kafka unknown" in lines
    assert any(line.startswith("ok: topics are created by the bot") for line in lines)
    assert any(
        line.startswith("problem: schema registry (Karapace) on acme/kafka-target is disabled")
        for line in lines
    )
    assert TOKEN not in "\n".join(lines)


def test_a_missing_mm2_service_that_may_not_be_created_is_a_problem(api, unique):
    rep = AivenReplicator(api, "acme", f"nope-{unique}")
    findings = preflight(rep, flow(api, groups=[f"g{i:03d}-{i * 31}" for i in range(60)]))
    problems = [str(f) for f in findings if not f.ok]
    assert any("does not exist (404)" in p for p in problems)
    assert any("Aiven allows 128" in p for p in problems)


def test_an_mm2_service_at_work_is_waited_for_and_one_powered_off_is_a_problem(
    standin, api, unique
):
    rep = AivenReplicator(api, "acme", f"busy-{unique}", create_service=True, plan="startup-4")
    rep.prepare(wait=False)
    standin.services[f"busy-{unique}"].ready_at = float("inf")  # REBUILDING until further notice
    assert (
        f"warning: MM2 service acme/busy-{unique} is REBUILDING; prepare_target waits until RUNNING"
        in {str(f) for f in preflight(rep, flow(api))}
    )
    rep.mm2_service = lambda: {"state": "POWEROFF"}
    assert (
        f"problem: MM2 service acme/busy-{unique} is POWEROFF: power it on "
        "(avn service update --power-on)"
    ) in {str(f) for f in preflight(rep, flow(api))}


def test_a_fault_that_may_pass_is_raised_to_hold_the_step_not_a_finding(standin, api):
    api.sleep = lambda _s: None  # the retries of a read, without their pauses
    standin.fail("GET", "/project/acme$", 503, times=4)
    with pytest.raises(ReplicatorError, match="Aiven answered 503") as caught:
        preflight(AivenReplicator(api, "acme", "mm2"), flow(api))
    assert caught.value.retriable


def test_a_rejected_token_is_the_only_finding(standin):
    wrong = AivenApi(standin.url, "AIVEN_PF_WRONG", lambda: "nope")
    findings = preflight(AivenReplicator(wrong, "acme", "mm2"), flow())
    assert [f.ok for f in findings] == [False]
    assert "rejected the token in AIVEN_PF_WRONG (401)" in findings[0].text


def test_status_before_the_service_exists_says_it_will_be_created(api, unique):
    rep = AivenReplicator(api, "acme", f"later-{unique}", create_service=True, plan="p")
    status = rep.status(flow(api))
    assert not status.running and status.parts[f"MM2 service acme/later-{unique}"] == "TO CREATE"
    with pytest.raises(ReplicatorError, match="does not exist"):
        AivenReplicator(api, "acme", f"later-{unique}").status(flow(api))


class FakeApi:
    """What service_client_config reads: a service with SASL or certificates, the project CA."""

    def __init__(self, service: dict):
        self.service = service

    def call(self, _what, method, *args, **kw):
        return {"get_service": self.service, "get_project_ca": {"certificate": "CA-PEM"}}[method]


def kafka_service(method: str, users: list[dict]) -> dict:
    component = {"component": "kafka", "host": "k.aiven", "port": 1234, "route": "dynamic"}
    return {
        "service_type": "kafka",
        "components": [{**component, "kafka_authentication_method": method}],
        "users": users,
    }


def test_connection_settings_read_from_the_service_prefer_sasl_and_mask_secrets():
    svc = kafka_service("sasl", [{"username": "avnadmin", "password": "pw-SECRET"}])
    conf = service_client_config(FakeApi(svc), "acme", "kafka")
    assert conf == {
        "bootstrap.servers": "k.aiven:1234",
        "ssl.ca.pem": "CA-PEM",
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-256",
        "sasl.username": "avnadmin",
        "sasl.password": "pw-SECRET",
    }
    assert "pw-SECRET" not in repr(conf)
    given = service_client_config(FakeApi(svc), "acme", "kafka", username="app", password="given")
    assert (given["sasl.username"], given["sasl.password"]) == ("app", "given")


def test_certificate_auth_when_sasl_is_off_and_clear_errors_when_nothing_fits():
    user = {"username": "avnadmin", "access_cert": "CERT", "access_key": "KEY-SECRET"}
    conf = service_client_config(FakeApi(kafka_service("certificate", [user])), "acme", "k")
    assert conf["security.protocol"] == "SSL" and conf["ssl.certificate.pem"] == "CERT"
    assert "KEY-SECRET" not in repr(conf)
    with pytest.raises(ReplicatorError, match="no client certificate for user 'avnadmin'"):
        service_client_config(FakeApi(kafka_service("certificate", [])), "acme", "k")
    with pytest.raises(ReplicatorError, match="give sasl_password_env"):
        service_client_config(FakeApi(kafka_service("sasl", [])), "acme", "k")
    with pytest.raises(ReplicatorError, match="shows no Kafka address yet"):
        service_client_config(FakeApi({"service_type": "kafka"}), "acme", "k")
