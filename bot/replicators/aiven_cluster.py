"""Clusters that are Aiven for Apache Kafka services: which ones, and how the bot connects.

`register` is called by the configuration for every cluster naming an Aiven service, keyed by
its bootstrap servers; the replicator and the ACL step ask `service_of(client settings)` whether
a side of a migration is such a service (its integration then names the service, its ACLs go
through Aiven's Kafka-native ACL API). `service_client_config` reads a service's connection
and credentials through the API when the configuration gives no bootstrap servers.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.replicators.aiven_api import AivenApi
from bot.replicators.base import ReplicatorError
from bot.secrets import ClientConfig


@dataclass(frozen=True)
class AivenService:
    api: AivenApi
    project: str
    service: str

    def __str__(self) -> str:
        return f"{self.project}/{self.service}"


_known: dict[str, AivenService] = {}
_guard = threading.Lock()


def _key(bootstrap: str) -> str:
    return ",".join(sorted(s.strip().lower() for s in bootstrap.split(",") if s.strip()))


def register(bootstrap: str, service: AivenService) -> None:
    with _guard:
        _known[_key(bootstrap)] = service


def forget(bootstrap: str) -> None:
    with _guard:
        _known.pop(_key(bootstrap), None)


def service_of(conf: Mapping[str, Any]) -> AivenService | None:
    """The Aiven service these client settings connect to, if the configuration says so."""
    with _guard:
        return _known.get(_key(str(conf.get("bootstrap.servers", ""))))


def service_client_config(
    api: AivenApi,
    project: str,
    service: str,
    *,
    username: str | None = None,
    password: str | None = None,
) -> ClientConfig:
    """librdkafka settings for the service: SASL (SCRAM-SHA-256) when it listens for SASL,
    else its client certificate; the project CA as PEM text. Secrets are masked when printed."""
    where = f"{project}/{service}"
    svc = api.call(f"read Kafka service {where}", "get_service", project, service)
    if svc.get("service_type") not in (None, "kafka"):
        raise ReplicatorError(f"Aiven service {where} is {svc.get('service_type')}, not kafka")
    kafka = [c for c in svc.get("components") or [] if c.get("component") == "kafka"]
    sasl = [c for c in kafka if c.get("kafka_authentication_method") == "sasl"]
    certs = [c for c in kafka if c.get("kafka_authentication_method") in (None, "certificate")]
    chosen = (sasl or certs or [None])[0]
    if chosen is None:
        params = svc.get("service_uri_params") or {}
        host, port = params.get("host"), params.get("port")
    else:
        host, port = chosen.get("host"), chosen.get("port")
    if not host or not port:
        raise ReplicatorError(f"Aiven service {where} shows no Kafka address yet (is it RUNNING?)")
    user_name = username or "avnadmin"
    users = {u.get("username"): u for u in svc.get("users") or []}
    user = users.get(user_name) or {}
    ca = api.call(f"read the CA of project {project}", "get_project_ca", project)
    conf = ClientConfig({"bootstrap.servers": f"{host}:{port}"})
    if ca.get("certificate"):
        conf["ssl.ca.pem"] = ca["certificate"]
    if sasl:
        secret = password or user.get("password")
        if not secret:
            raise ReplicatorError(
                f"Aiven service {where} has no password for user {user_name!r} in the API: "
                "give sasl_password_env for the cluster"
            )
        conf.update(
            {
                "security.protocol": "SASL_SSL",
                "sasl.mechanism": "SCRAM-SHA-256",
                "sasl.username": user_name,
                "sasl.password": secret,
            }
        )
    else:
        if not (user.get("access_cert") and user.get("access_key")):
            raise ReplicatorError(
                f"Aiven service {where}: no client certificate for user {user_name!r} in the "
                "API, and SASL is not enabled on the service"
            )
        conf.update(
            {
                "security.protocol": "SSL",
                "ssl.certificate.pem": user["access_cert"],
                "ssl.key.pem": user["access_key"],
            }
        )
    return conf
