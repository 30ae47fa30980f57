"""FlowSpec -> what the bot sends to Aiven: the flow body, the MM2 service's groups (within 128
characters), the external_kafka endpoint. Hostile inputs first."""

from __future__ import annotations

import re

import pytest
from standins.aiven_openapi import check_request

from bot.errors import UserError
from bot.replicators.aiven_flow import (
    GROUPS_LIMIT,
    NO_GROUP,
    endpoint_config,
    endpoint_name,
    flow_body,
    flow_differences,
    groups_expression,
    mm2_user_config,
)
from bot.replicators.base import FlowSpec

PASSWORD = "pa55-Word-never-shown"
FLOWS = "/v1/project/p/service/mm2/mirrormaker/replication-flows"


def spec(**kw) -> FlowSpec:
    base = {
        "name": "km-1",
        "source": {"bootstrap.servers": "s:9092"},
        "target": {"bootstrap.servers": "t:9092"},
        "topics": [re.escape("orders.v1"), re.escape("payments")],
    }
    return FlowSpec(**{**base, **kw})


def java_groups_match(expression: str, name: str) -> bool:
    """How MM2 reads the groups setting: comma-separated regexes, one must match the whole id
    (the expressions used here mean the same in Java and Python)."""
    return any(re.fullmatch(p.replace(r"\x2C", ","), name) for p in expression.split(","))


@pytest.mark.parametrize("count", [30, 200, 1000])
def test_many_groups_with_a_shared_prefix_fit_in_one_exact_regex(count):
    names = [f"payments-consumer-{i}" for i in range(count)] if count < 1000 else []
    if not names:  # 1000 names that cannot be packed into 128 characters
        with pytest.raises(UserError, match=r"1000 consumer group\(s\).*128"):
            groups_expression([re.escape(f"team-{i:04d}-x{i * 7919 % 997}") for i in range(1000)])
        return
    expression = groups_expression([re.escape(n) for n in names])
    assert len(expression) <= GROUPS_LIMIT
    assert all(java_groups_match(expression, n) for n in names)
    for other in ("payments-consumer-", "payments-consumer-1x", "x-payments-consumer-1", "pay"):
        assert not java_groups_match(expression, other)


def test_groups_that_fit_are_sent_as_the_plain_list():
    assert groups_expression([re.escape("a.b"), "c"]) == r"a\.b,c"
    assert groups_expression([".*"]) == ".*"


def test_no_groups_match_nothing_and_commas_in_names_never_split_the_list():
    assert groups_expression([]) == NO_GROUP
    expression = groups_expression([re.escape("we,ird"), re.escape("plain")])
    assert java_groups_match(expression, "we,ird") and java_groups_match(expression, "plain")
    assert not java_groups_match(expression, "we")
    with pytest.raises(UserError, match="contains ','"):
        groups_expression(["a,b.*"])


def test_long_regex_selections_are_refused_not_widened():
    patterns = [f"team{i}-.*" for i in range(40)]
    with pytest.raises(UserError, match="select fewer groups"):
        groups_expression(patterns)


def test_the_body_never_wipes_aivens_default_exclusions_and_omits_defaults():
    body = flow_body(spec())
    assert "config_properties_exclude" not in body
    assert "topics_exclude" not in body and "topics.exclude" not in body
    assert "replication_factor" not in body  # -1: the target's default
    assert body["topics"] == [r"orders\.v1", "payments"]
    assert body["replication_policy_class"].endswith("IdentityReplicationPolicy")
    assert body["offset_syncs_topic_location"] == "target"
    assert body["emit_backward_heartbeats_enabled"] is False
    full = flow_body(
        spec(
            topics_exclude=["x.*"],
            replication_factor=3,
            replication_policy="default",
            sync_group_offsets=True,
        )
    )
    assert full["topics_exclude"] == ["x.*"] and full["replication_factor"] == 3
    assert full["replication_policy_class"].endswith("DefaultReplicationPolicy")
    assert full["sync_group_offsets_enabled"] is True


def test_the_body_is_what_aivens_openapi_document_accepts():
    for body in (flow_body(spec()), flow_body(spec(topics_exclude=["a"], replication_factor=2))):
        check_request(
            "POST", FLOWS, {}, {**body, "source_cluster": "source", "target_cluster": "target"}
        )
        check_request("PUT", FLOWS + "/source/target", {}, body)


def test_empty_and_oversized_topic_selections_are_refused():
    with pytest.raises(UserError, match="no topics"):
        flow_body(spec(topics=[]))
    with pytest.raises(UserError, match="at most 8192"):
        flow_body(spec(topics=[f"t{i}" for i in range(8193)]))


def test_differences_name_fields_only():
    wanted = flow_body(spec())
    current = {**wanted, "topics": ["payments"], "replication_progress": 0.5}
    assert flow_differences(wanted, current) == [
        "topics: ['payments'] -> ['orders\\\\.v1', 'payments']"
    ]
    assert flow_differences(wanted, {**wanted, "extra": 1}) == []


def test_service_settings_carry_groups_exclusions_and_checkpoints():
    settings = mm2_user_config(spec(groups=["g1"], emit_checkpoints_interval_s=7))
    assert settings["groups"] == "g1" and "groups_exclude" not in settings
    assert settings["emit_checkpoints_interval_seconds"] == 7
    assert settings["sync_topic_configs_enabled"] is False
    assert mm2_user_config(spec(groups_exclude=["tmp-.*"]))["groups_exclude"] == "tmp-.*"


def test_endpoint_has_every_connection_field_and_the_ca_as_pem(tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    conf = {
        "bootstrap.servers": "k1:9093,k2:9093",
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "migrator",
        "sasl.password": PASSWORD,
        "ssl.ca.location": str(ca),
    }
    assert endpoint_config(conf) == {
        "bootstrap_servers": "k1:9093,k2:9093",
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "migrator",
        "sasl_plain_password": PASSWORD,
        "ssl_ca_cert": ca.read_text(),
        "ssl_endpoint_identification_algorithm": "https",
    }
    plain = endpoint_config({"bootstrap.servers": "k:9092"})
    assert plain == {"bootstrap_servers": "k:9092", "security_protocol": "PLAINTEXT"}
    off = endpoint_config(
        {**conf, "security.protocol": "SSL", "ssl.endpoint.identification.algorithm": "none"}
    )
    assert off["ssl_endpoint_identification_algorithm"] == "" and "sasl_mechanism" not in off


def test_endpoint_problems_are_named_without_the_password(tmp_path):
    conf = {
        "bootstrap.servers": "k:9093",
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "OAUTHBEARER",
        "sasl.username": "u",
        "sasl.password": PASSWORD,
    }
    with pytest.raises(UserError, match="OAUTHBEARER") as caught:
        endpoint_config(conf)
    assert PASSWORD not in str(caught.value)
    missing = {**conf, "sasl.mechanism": "PLAIN", "ssl.ca.location": str(tmp_path / "nope.pem")}
    with pytest.raises(UserError, match="cannot read the CA file") as caught:
        endpoint_config(missing)
    assert PASSWORD not in str(caught.value)


def test_endpoint_names_fit_aivens_40_characters():
    assert endpoint_name("source") == "kafka-migrate-source"
    assert len(endpoint_name("a" * 128)) == 40
