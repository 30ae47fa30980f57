"""The Aiven API stand-in refuses what Aiven refuses, through the real aiven-client, without a
Kafka cluster: Aiven's OpenAPI document, the field-name allow-list, the token, unknown and
duplicate names, injected faults; and its own answers are checked against the document."""

from __future__ import annotations

import pytest
import requests
from aiven.client.client import Error
from openapi_spec_validator import validate
from standins import aiven_openapi
from standins.aiven_api import DROP

from tests.aiven_fixtures import (
    PROJECT,
    SOURCE,
    TOKEN,
    aiven_offline_fixture,  # noqa: F401 - `aiven_offline`
    client,
)
from tests.waits import wait_for

IDENTITY = "org.apache.kafka.connect.mirror.IdentityReplicationPolicy"
FLOWS = f"/v1/project/{PROJECT}/service/mm2/mirrormaker/replication-flows"


def refusal(call, *args, **kwargs) -> tuple[int, str]:
    with pytest.raises(Error) as caught:
        call(*args, **kwargs)
    return caught.value.status, caught.value.response.json()["message"]


def create_flow(aiven, body: dict) -> None:
    aiven.create_mirrormaker_replication_flow(PROJECT, "mm2", "a", "b", body)


@pytest.fixture
def mm2(aiven_offline):
    client(aiven_offline).create_service(PROJECT, "mm2", "kafka_mirrormaker", "startup-4")
    return aiven_offline


def test_a_misspelt_field_is_refused_even_where_the_document_allows_any(mm2):
    aiven = client(mm2)
    status, message = refusal(create_flow, aiven, {"enabled": True, "topicz": ["orders"]})
    assert (status, message) == (400, "Invalid input: unknown field(s) topicz")
    nested = {"service_name": "x", "service_type": "kafka", "plan": "p"}
    nested["service_integrations"] = [{"integration_type": "kafka_mirrormaker", "dest_servce": "m"}]
    status, message = refusal(aiven.verify, aiven.post, f"/project/{PROJECT}/service", body=nested)
    assert status == 400 and "service_integrations.dest_servce" in message
    assert ("a", "b") not in {k[1:] for k in mm2.flows}  # nothing was created


def test_the_document_refuses_wrong_values_and_missing_fields(mm2):
    aiven = client(mm2)
    bad_policy = {"enabled": True, "replication_policy_class": "com.acme.Policy"}
    status, message = refusal(create_flow, aiven, bad_policy)
    assert status == 400 and "replication_policy_class" in message and "com.acme" not in message
    status, message = refusal(create_flow, aiven, {"topics": []})
    assert (status, message) == (400, "Missing required field in body: 'enabled'")


def test_nulls_sent_by_aiven_client_are_dropped_before_validation(aiven_offline):
    aiven = client(aiven_offline)
    service = aiven.create_service(PROJECT, "mm2", "kafka_mirrormaker", "startup-4")  # cloud=None
    assert service["state"] == "REBUILDING" or service["state"] == "RUNNING"
    logged = aiven_offline.requests[-1]
    assert logged.status == 200 and "cloud" not in logged.body


def test_the_token_is_checked_and_never_logged(aiven_offline):
    assert refusal(client(aiven_offline, token=None).get_project, PROJECT) == (401, "Invalid token")
    assert refusal(client(aiven_offline, "nope").get_project, PROJECT) == (401, "Invalid token")
    assert client(aiven_offline).get_project(PROJECT)["project_name"] == PROJECT
    assert [r.status for r in aiven_offline.requests] == [401, 401, 200]
    assert TOKEN not in repr(aiven_offline.requests) + repr(aiven_offline)


def test_secrets_in_bodies_are_redacted_in_the_log_and_answers(aiven_offline):
    config = {"bootstrap_servers": "127.0.0.1:9", "security_protocol": "SASL_PLAINTEXT"}
    config |= {"sasl_mechanism": "PLAIN", "sasl_plain_username": "u"}
    config["sasl_plain_password"] = "hunter2-secret"
    aiven = client(aiven_offline)
    made = aiven.create_service_integration_endpoint(PROJECT, "ext", "external_kafka", config)
    endpoint_id = made["service_integration_endpoint"]["endpoint_id"]
    assert "hunter2" not in repr(made) + repr(aiven_offline.requests)
    assert aiven_offline.requests[-1].body["user_config"]["sasl_plain_password"] == "***"
    found = aiven.get_service_integration_endpoint(
        project=PROJECT, endpoint_id=endpoint_id, include_secrets=True
    )
    assert found["user_config"]["sasl_plain_password"] == "hunter2-secret"


def test_unknown_names_answer_404_naming_them(mm2):
    aiven = client(mm2)
    assert refusal(aiven.get_service, PROJECT, "nope") == (404, "Service 'nope' does not exist")
    assert refusal(aiven.get_project, "other") == (404, "Project 'other' does not exist")
    status, message = refusal(aiven.get_mirrormaker_replication_flow, PROJECT, "mm2", "a", "b")
    assert status == 404 and "a->b" in message and "'mm2'" in message
    status, message = refusal(aiven.get_service_integration, PROJECT, "0-0")
    assert status == 404 and "'0-0'" in message


def test_a_second_create_answers_409(mm2):
    aiven = client(mm2)
    status, message = refusal(aiven.create_service, PROJECT, "mm2", "kafka_mirrormaker", "p")
    assert (status, message) == (409, "Service 'mm2' already exists")
    create_flow(aiven, {"enabled": False})
    assert refusal(create_flow, aiven, {"enabled": False})[0] == 409


def test_mm2_groups_longer_than_128_characters_are_refused(mm2):
    aiven = client(mm2)
    status, message = refusal(
        aiven.update_service,
        PROJECT,
        "mm2",
        user_config={"kafka_mirrormaker": {"groups": "g" * 129}},
    )
    assert status == 400 and "kafka_mirrormaker.groups" in message
    aiven.update_service(PROJECT, "mm2", user_config={"kafka_mirrormaker": {"groups": "g" * 128}})


@pytest.mark.parametrize("status", [401, 403, 404, 409, 500, 502, 503])
def test_injected_errors_reach_aiven_client_and_change_nothing(aiven_offline, status):
    aiven = client(aiven_offline)
    aiven_offline.fail("POST", r"/service$", status)
    assert refusal(aiven.create_service, PROJECT, "mm2", "kafka_mirrormaker", "p")[0] == status
    assert "mm2" not in aiven_offline.services
    aiven.create_service(PROJECT, "mm2", "kafka_mirrormaker", "p")  # once only


def test_a_dropped_connection_is_an_error_and_aiven_client_retries_only_gets(
    aiven_offline,
):
    aiven = client(aiven_offline)
    aiven_offline.fail("*", r"/service", DROP, times=2)
    with pytest.raises(requests.exceptions.ConnectionError):
        aiven.create_service(PROJECT, "mm2", "kafka_mirrormaker", "p")
    assert aiven.get_service(PROJECT, SOURCE)["state"] == "RUNNING"  # retried after one drop
    assert [r.status for r in aiven_offline.requests] == [DROP, DROP, 200]


def test_the_document_as_the_standin_reads_it_is_a_valid_openapi_document():
    # the check openapi-core would make each time the stand-in builds its validator, made once
    validate(aiven_openapi.document())


def test_the_response_validator_refuses_answers_the_document_would_refuse():
    path = FLOWS + "/a/b"
    good = {"replication_flow": {"enabled": True, "source_cluster": "a", "target_cluster": "b"}}
    aiven_openapi.check_response("GET", path, 200, good)
    with pytest.raises(aiven_openapi.ResponseMismatch, match="replication_flow"):
        aiven_openapi.check_response("GET", path, 200, {"replication_flows": []})
    wrong = {"replication_flow": {**good["replication_flow"], "offset_syncs_topic_location": "x"}}
    with pytest.raises(aiven_openapi.ResponseMismatch, match="offset_syncs_topic_location"):
        aiven_openapi.check_response("PUT", path, 200, wrong)


def test_the_allow_list_follows_the_request_schema_recursively():
    schema = {
        "type": "object",
        "properties": {
            "a": {"type": "object", "properties": {"b": {"type": "string"}}},
            "free": {"type": "object"},
            "items": {"type": "array", "items": {"properties": {"c": {"type": "string"}}}},
        },
    }
    body = {"a": {"b": "1", "x": 2}, "free": {"anything": 1}, "items": [{"c": "", "d": 1}], "z": 0}
    assert sorted(aiven_openapi.unknown_fields(body, schema)) == ["a.x", "items.d", "z"]


def test_kafka_services_give_their_bootstrap_servers_and_new_services_rebuild_first(
    aiven_offline,
):
    aiven = client(aiven_offline)
    kafka = aiven.get_service(PROJECT, SOURCE)
    assert (kafka["state"], kafka["service_uri"]) == ("RUNNING", "127.0.0.1:9")
    assert kafka["service_uri_params"] == {"host": "127.0.0.1", "port": "9"}
    assert [(c["component"], c["host"], c["port"]) for c in kafka["components"]] == [
        ("kafka", "127.0.0.1", 9)
    ]
    aiven_offline.running_delay = 0.3
    assert aiven.create_service(PROJECT, "mm2", "kafka_mirrormaker", "p")["state"] == "REBUILDING"
    wait_for(lambda: aiven.get_service(PROJECT, "mm2")["state"] == "RUNNING", 10, "running")
    status, message = refusal(aiven.create_service, PROJECT, "other", "kafka", "p")
    assert status == 400 and "'other'" in message  # no sandbox cluster to host it


def test_endpoints_and_integrations_answer_as_aiven(mm2):
    aiven = client(mm2)
    config = {"bootstrap_servers": "127.0.0.1:9", "security_protocol": "PLAINTEXT"}
    made = aiven.create_service_integration_endpoint(PROJECT, "ext", "external_kafka", config)
    endpoint_id = made["service_integration_endpoint"]["endpoint_id"]
    aiven.update_service_integration_endpoint(PROJECT, endpoint_id, {"security_protocol": "SSL"})
    [listed] = aiven.get_service_integration_endpoints(PROJECT)
    assert listed["user_config"] == {**config, "security_protocol": "SSL"}
    bad = {**config, "security_protocol": "TLS"}
    assert (
        refusal(aiven.create_service_integration_endpoint, PROJECT, "x", "external_kafka", bad)[0]
        == 400
    )

    def integrate(alias: str, **source):
        made = aiven.create_service_integration(
            PROJECT,
            "kafka_mirrormaker",
            dest_service="mm2",
            user_config={"cluster_alias": alias},
            **source,
        )
        return made["service_integration"]["service_integration_id"]

    first = integrate("src", source_endpoint_id=endpoint_id)
    assert refusal(integrate, "bad alias!", source_service=SOURCE)[0] == 400
    assert refusal(integrate, "src", source_service=SOURCE)[0] == 409  # the alias is taken
    second = integrate("dst", source_service=SOURCE)
    assert refusal(integrate, "again", source_service=SOURCE)[0] == 409  # that source is in

    def state(integration_id: str) -> dict:
        found = aiven.get_service_integration(PROJECT, integration_id)
        return found["integration_status"]["state"]

    failed = wait_for(lambda: state(first)["status"] == "failed" and state(first), 10, "failed")
    assert failed["errors"] == ["cannot reach 127.0.0.1:9 (connection refused)"]
    listed = aiven.get_service_integrations(PROJECT, "mm2")
    assert {i["service_integration_id"] for i in listed} == {first, second}
    aiven.delete_service_integration(PROJECT, second)
    assert refusal(aiven.get_service_integration, PROJECT, second)[0] == 404
    assert refusal(aiven.delete_service_integration_endpoint, PROJECT, endpoint_id)[0] == 409


def test_deleting_a_service_deletes_its_integrations_and_flows(mm2):
    aiven = client(mm2)
    made = aiven.create_service_integration(
        PROJECT, "kafka_mirrormaker", SOURCE, "mm2", user_config={"cluster_alias": "src"}
    )
    create_flow(aiven, {"enabled": False})
    aiven.delete_service(PROJECT, "mm2")
    integration_id = made["service_integration"]["service_integration_id"]
    assert refusal(aiven.get_service_integration, PROJECT, integration_id)[0] == 404
    assert refusal(aiven.list_mirrormaker_replication_flows, PROJECT, "mm2")[0] == 404
    assert aiven.get_service(PROJECT, SOURCE)["service_integrations"] == []


def test_a_flow_runs_on_the_worker_of_its_target_one_client_per_worker():
    """A MirrorSourceConnector writes into its worker's own cluster: a flow into the source runs
    on the source's worker; the target's worker, given twice, is one worker (a flow updated on
    it is never removed from it as if it ran elsewhere)."""
    from standins.aiven_api import AivenStandIn

    from bot.replicators.base import FlowSpec

    source, target = "127.0.0.1:1", "127.0.0.1:2"
    standin = AivenStandIn(
        token=TOKEN,
        project=PROJECT,
        kafka_services={},
        connect_url="http://127.0.0.1:9",
        connect_workers={
            target: ("http://127.0.0.1:9", None),
            f" {source} ": ("http://127.0.0.1:8", ("connect-admin", "pw")),
        },
    )

    standin.server.server_close()  # never started: no request is made

    def into(servers: str) -> FlowSpec:
        return FlowSpec("f", {"bootstrap.servers": "x:1"}, {"bootstrap.servers": servers}, [])

    assert standin.worker(into(source)).url == "http://127.0.0.1:8"
    assert standin.worker(into(source)).rest.username == "connect-admin"
    assert standin.worker(into(target)) is standin.connect
    assert standin.worker(into("elsewhere:3")) is standin.connect
    assert len({id(w) for w in standin.every_worker()}) == len(standin.every_worker()) == 2
