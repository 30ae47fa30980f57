"""What the bot asks of Aiven for one FlowSpec: the replication flow's body, the MM2 service's
user_config (consumer groups and checkpoints are per service, not per flow) and the
`external_kafka` endpoint of a cluster that is not an Aiven service. Pure functions.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bot.errors import UserError
from bot.replicators.base import FlowSpec

POLICIES = {
    "identity": "org.apache.kafka.connect.mirror.IdentityReplicationPolicy",
    "default": "org.apache.kafka.connect.mirror.DefaultReplicationPolicy",
}
GROUPS_LIMIT = 128  # characters, Aiven's limit for kafka_mirrormaker.groups
TOPICS_LIMIT = 8192  # items in a flow's topics array
NO_GROUP = "(?!)"  # a Java regex that matches no group: MM2 with no groups to checkpoint
ENDPOINT_NAME_LIMIT = 40


def flow_body(flow: FlowSpec, *, enabled: bool = True) -> dict[str, Any]:
    """The replication flow's fields (without the two aliases, which are its key). Never sends
    `config_properties_exclude` (an empty one wipes Aiven's default exclusions) nor an empty
    `topics_exclude` (Aiven's default excludes internal topics)."""
    if not flow.topics:
        raise UserError("no topics selected: a replication flow needs at least one")
    if len(flow.topics) > TOPICS_LIMIT:
        raise UserError(
            f"{len(flow.topics)} topics selected: an Aiven replication flow takes at most "
            f"{TOPICS_LIMIT}; select fewer, or by pattern"
        )
    body: dict[str, Any] = {
        "enabled": enabled,
        "topics": list(flow.topics),
        "replication_policy_class": POLICIES[flow.replication_policy],
        "sync_group_offsets_enabled": flow.sync_group_offsets,
        "sync_group_offsets_interval_seconds": flow.sync_group_offsets_interval_s,
        "offset_syncs_topic_location": flow.offset_syncs_location,
        "offset_lag_max": flow.offset_lag_max,
        "emit_heartbeats_enabled": flow.emit_heartbeats,
        "emit_backward_heartbeats_enabled": False,
    }
    if flow.topics_exclude:
        body["topics_exclude"] = list(flow.topics_exclude)
    if flow.replication_factor >= 1:  # -1: the target's default (Aiven's minimum is 1)
        body["replication_factor"] = flow.replication_factor
    return body


def flow_differences(wanted: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    """The fields of `wanted` that `current` (a flow read back) holds otherwise, as
    'field: current -> wanted' (no secrets live in a flow)."""
    return [
        f"{key}: {current.get(key)!r} -> {value!r}"
        for key, value in wanted.items()
        if current.get(key) != value
    ]


def mm2_user_config(flow: FlowSpec) -> dict[str, Any]:
    """The MM2 service's `kafka_mirrormaker` settings this flow needs (an empty groups_exclude
    is not sent: Aiven's default exclusions stay)."""
    settings: dict[str, Any] = {
        "groups": groups_expression(flow.groups),
        "emit_checkpoints_enabled": True,
        "emit_checkpoints_interval_seconds": flow.emit_checkpoints_interval_s,
        "refresh_groups_enabled": True,
        "refresh_groups_interval_seconds": 30,
        "refresh_topics_enabled": True,
        "refresh_topics_interval_seconds": 30,
        "sync_topic_configs_enabled": False,  # the bot creates the topics with their configs
    }
    exclude = list(getattr(flow, "groups_exclude", []) or [])
    if exclude:
        settings["groups_exclude"] = groups_expression(exclude, key="groups_exclude")
    return settings


_ESCAPED = re.compile(r"\\(.)", re.S)


def _literal(pattern: str) -> str | None:
    """The group name a pattern matches when it is an escaped literal (re.escape), else None."""
    name = _ESCAPED.sub(r"\1", pattern)
    return name if re.escape(name) == pattern else None


def _java_escape(char: str) -> str:
    if char == ",":  # the groups setting is a comma-separated list
        return r"\x2C"
    return re.escape(char)  # a backslash before a non-letter is a literal in Java too


def _char_class(chars: list[str]) -> str:
    """One character, or a [...] class with runs of consecutive characters as ranges."""
    if len(chars) == 1:
        return _java_escape(chars[0])
    codes = sorted(ord(c) for c in chars)
    runs: list[list[int]] = []
    for code in codes:
        if runs and code == runs[-1][1] + 1:
            runs[-1][1] = code
        else:
            runs.append([code, code])

    def one(code: int) -> str:
        char = chr(code)
        if char == ",":
            return r"\x2C"
        return "\\" + char if char in "\\]^-[" else char

    body = "".join(
        one(a) if a == b else one(a) + ("" if b == a + 1 else "-") + one(b) for a, b in runs
    )
    return f"[{body}]"


def _trie_regex(names: list[str]) -> str:
    r"""One regex matching exactly `names`: a trie, with characters that lead to the same rest
    merged into classes (c-0 .. c-199: `c\-(?:0|1(?:[0-9][0-9]?)?|[2-9][0-9]?)`)."""
    trie: dict = {}
    for name in names:
        node = trie
        for char in name:
            node = node.setdefault(char, {})
        node[""] = {}

    def render(node: dict) -> str:
        by_rest: dict[str, list[str]] = {}
        for char, child in node.items():
            if char:
                by_rest.setdefault(render(child), []).append(char)
        branches = sorted(_char_class(chars) + rest for rest, chars in by_rest.items())
        if not branches:
            return ""
        optional = "" in node
        if len(branches) == 1 and not optional:
            return branches[0]
        if len(branches) == 1 and re.fullmatch(r"\\?.|\[[^\]]*\]|\\x2C", branches[0]):
            return branches[0] + "?"
        return "(?:" + "|".join(branches) + ")" + ("?" if optional else "")

    return render(trie)


def groups_expression(groups: list[str], key: str = "groups") -> str:
    """The `groups` value for the selected groups (regexes), within Aiven's 128 characters:
    the comma-separated list when it fits, else one regex sharing the names' common prefixes;
    refused (UserError) when neither fits rather than widened to groups nobody selected."""
    if not groups:
        return NO_GROUP
    literals = [_literal(g) for g in groups]
    plain = ",".join(groups)
    if "," not in "".join(groups) and len(plain) <= GROUPS_LIMIT:
        return plain
    if all(name is not None for name in literals):
        packed = _trie_regex(sorted(set(literals)))  # type: ignore[arg-type]
        if len(packed) <= GROUPS_LIMIT:
            return packed
        size = len(packed)
    else:
        if "," in "".join(groups):
            raise UserError(
                f"a consumer group pattern contains ',': Aiven's {key} setting is a "
                "comma-separated list; select the groups by name"
            )
        size = len(plain)
    raise UserError(
        f"the {len(groups)} consumer group(s) selected need a `{key}` expression of {size} "
        f"characters; Aiven allows {GROUPS_LIMIT} per MirrorMaker 2 service: select fewer "
        "groups, or groups that share a prefix"
    )


def _pem(conf: Mapping[str, Any], pem_key: str, file_key: str, what: str) -> str | None:
    if conf.get(pem_key):
        return str(conf[pem_key])
    if not conf.get(file_key):
        return None
    try:
        return Path(conf[file_key]).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(
            f"cannot read the {what} file {conf[file_key]} for Aiven's external_kafka endpoint: "
            f"{getattr(exc, 'strerror', None) or exc.__class__.__name__}"
        ) from None


def endpoint_config(conf: Mapping[str, Any]) -> dict[str, Any]:
    """The `external_kafka` endpoint's user_config for a cluster's librdkafka settings: every
    connection field, the CA (and client certificate) as PEM text. Holds secrets: never log it."""
    protocol = str(conf.get("security.protocol", "PLAINTEXT")).upper()
    out: dict[str, Any] = {
        "bootstrap_servers": conf["bootstrap.servers"],
        "security_protocol": protocol,
    }
    if protocol.startswith("SASL_"):
        mechanism = conf.get("sasl.mechanism")
        if mechanism not in ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"):
            raise UserError(
                f"SASL mechanism {mechanism!r}: Aiven's external_kafka endpoint takes PLAIN, "
                "SCRAM-SHA-256 or SCRAM-SHA-512"
            )
        out["sasl_mechanism"] = mechanism
        out["sasl_plain_username"] = conf["sasl.username"]
        out["sasl_plain_password"] = conf["sasl.password"]
    if protocol.endswith("SSL"):
        ca = _pem(conf, "ssl.ca.pem", "ssl.ca.location", "CA")
        cert = _pem(conf, "ssl.certificate.pem", "ssl.certificate.location", "client certificate")
        key = _pem(conf, "ssl.key.pem", "ssl.key.location", "client key")
        if ca:
            out["ssl_ca_cert"] = ca
        if cert and key:
            out["ssl_client_cert"] = cert
            out["ssl_client_key"] = key
        identify = str(conf.get("ssl.endpoint.identification.algorithm", "https")).lower()
        out["ssl_endpoint_identification_algorithm"] = "https" if identify == "https" else ""
    return out


def endpoint_name(alias: str) -> str:
    """The endpoint's name for a cluster alias (Aiven: 1-40 characters)."""
    return f"kafka-migrate-{alias}"[:ENDPOINT_NAME_LIMIT]
