"""An Aiven for Apache Kafka service as a cluster of a migration: which one, and how the bot
connects to it.

A configured cluster names its service (bot.config: `ClusterConfig.aiven`); `Settings`
builds the `AivenService` (the API client, project, service) for it, and the cluster's client
(bot.kafka.cluster.Cluster.aiven) and the replication flow (FlowSpec.source_aiven /
target_aiven) carry it: its MM2 integration names the service, its ACLs go through Aiven's
Kafka-native ACL API (bot.aiven.acls). `service_client_config` reads a service's connection
and credentials through the API when the configuration gives no bootstrap servers.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.aiven.api import AivenApi
from bot.errors import ReplicatorError
from bot.secrets import ClientConfig


@dataclass(frozen=True)
class AivenService:
    api: AivenApi
    project: str
    service: str

    def __str__(self) -> str:
        return f"{self.project}/{self.service}"


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
