"""The property files of the sandbox's JVMs: two KRaft brokers and Kafka Connect workers."""

from __future__ import annotations

from pathlib import Path

PLAIN_LOGIN = "org.apache.kafka.common.security.plain.PlainLoginModule"
AUTHORIZER = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
BYTES = "org.apache.kafka.connect.converters.ByteArrayConverter"
BASIC_AUTH_EXTENSION = "org.apache.kafka.connect.rest.basic.auth.extension"
# the JAAS section Connect's BasicAuthSecurityRestExtension logs REST callers in with
REST_LOGIN_SECTION = "KafkaConnect"


def _lines(props: dict[str, object]) -> str:
    return "".join(f"{key}={value}\n" for key, value in props.items())


def _jaas(username: str, password: str) -> str:
    return f'{PLAIN_LOGIN} required username="{username}" password="{password}";'


def broker(*, port: int, controller_port: int, data_dir: Path, users: dict[str, str]) -> str:
    """A single-node KRaft cluster: SASL/PLAIN clients, StandardAuthorizer, tiny footprint.

    `users` maps user name to password; `admin` is the super user. The broker reaches its own
    controller over the PLAINTEXT CONTROLLER listener as ANONYMOUS, hence that super user too.
    """
    user_entries = " ".join(f'user_{name}="{pw}"' for name, pw in users.items())
    jaas = f'{PLAIN_LOGIN} required username="admin" password="{users["admin"]}" {user_entries};'
    return _lines(
        {
            "process.roles": "broker,controller",
            "node.id": 1,
            "controller.quorum.bootstrap.servers": f"127.0.0.1:{controller_port}",
            "controller.listener.names": "CONTROLLER",
            "listeners": f"SASL_PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
            "advertised.listeners": f"SASL_PLAINTEXT://127.0.0.1:{port}",
            "listener.security.protocol.map": "SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT",
            "inter.broker.listener.name": "SASL_PLAINTEXT",
            "sasl.enabled.mechanisms": "PLAIN",
            "sasl.mechanism.inter.broker.protocol": "PLAIN",
            "listener.name.sasl_plaintext.plain.sasl.jaas.config": jaas,
            "authorizer.class.name": AUTHORIZER,
            "allow.everyone.if.no.acl.found": "false",
            "super.users": "User:admin;User:ANONYMOUS",
            "log.dirs": data_dir,
            "auto.create.topics.enable": "false",
            "num.partitions": 1,
            "default.replication.factor": 1,
            "offsets.topic.replication.factor": 1,
            "offsets.topic.num.partitions": 5,
            "transaction.state.log.replication.factor": 1,
            "transaction.state.log.min.isr": 1,
            "transaction.state.log.num.partitions": 5,
            "share.coordinator.state.topic.replication.factor": 1,
            "share.coordinator.state.topic.min.isr": 1,
            "group.initial.rebalance.delay.ms": 0,
            "log.cleaner.dedupe.buffer.size": 2097152,
            "log.cleaner.backoff.ms": 1000,
            "num.network.threads": 2,
            "num.io.threads": 2,
            "background.threads": 2,
            "num.recovery.threads.per.data.dir": 1,
            "log.index.size.max.bytes": 1048576,
        }
    )


def connect_worker(
    *,
    name: str,
    bootstrap: str,
    rest_port: int,
    admin_password: str,
    plugin_path: Path | None,
    basic_auth: bool = False,
    joins: str | None = None,
    exactly_once: bool = False,
) -> str:
    """A Kafka Connect distributed worker on one sandbox cluster, of its own group (`name`), or
    with `joins` a worker of that one's Connect cluster (its group.id and internal topics).

    Worker security settings are not inherited by task clients, so they are repeated under
    producer., consumer. and admin. Converters pass bytes through untouched (MM2 needs that;
    a connector that wants others sets them in its own config). Plugins come from the
    classpath (MirrorMaker 2, found by their ServiceLoader manifests, without the slow
    reflective scan) and, with `plugin_path`, from its plugin directories. With `basic_auth`,
    the REST API asks every caller for HTTP basic auth (Kafka's BasicAuthSecurityRestExtension,
    the users in the JAAS file `rest_jaas` names, given to the JVM); the internal requests
    between workers are signed with the session key instead, and let through. With
    `exactly_once`, source tasks write in transactions with their offsets (KIP-618): a worker
    killed mid-copy leaves an aborted transaction, not records copied twice (every worker of a
    cluster must say so; a new cluster may start `enabled` at once).
    """
    cluster = joins or name
    configs, offsets, status = worker_topics(cluster)
    security = {
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanism": "PLAIN",
        "sasl.jaas.config": _jaas("admin", admin_password),
    }
    props: dict[str, object] = {"bootstrap.servers": bootstrap, **security}
    for prefix in ("producer.", "consumer.", "admin."):
        props.update({prefix + key: value for key, value in security.items()})
    props.update(
        {
            "group.id": worker_group(cluster),
            "config.storage.topic": configs,
            "offset.storage.topic": offsets,
            "status.storage.topic": status,
            "config.storage.replication.factor": 1,
            "offset.storage.replication.factor": 1,
            "status.storage.replication.factor": 1,
            "offset.storage.partitions": 5,
            "status.storage.partitions": 1,
            "key.converter": BYTES,
            "value.converter": BYTES,
            "header.converter": BYTES,
            "offset.flush.interval.ms": 1000,
            "listeners": f"http://127.0.0.1:{rest_port}",
            "rest.advertised.host.name": "127.0.0.1",
            "rest.advertised.port": rest_port,
            "scheduled.rebalance.max.delay.ms": 0,
            "plugin.discovery": "service_load",
        }
    )
    if plugin_path is not None:
        props["plugin.path"] = plugin_path
    if exactly_once:
        props["exactly.once.source.support"] = "enabled"
    if basic_auth:
        props["rest.extension.classes"] = f"{BASIC_AUTH_EXTENSION}.BasicAuthSecurityRestExtension"
    return _lines(props)


def rest_jaas(users_file: Path) -> str:
    """The JAAS file of a worker asking for basic auth: its users are those of `users_file`."""
    module = f"{BASIC_AUTH_EXTENSION}.PropertyFileLoginModule"
    return f'{REST_LOGIN_SECTION} {{\n  {module} required\n  file="{users_file}";\n}};\n'


def rest_users(users: dict[str, str]) -> str:
    """The users file PropertyFileLoginModule reads: one `user=password` line each."""
    return _lines(users)


def worker_group(name: str) -> str:
    """The group.id of the worker `name`: its Connect cluster."""
    return "kafka-migrate-sandbox-" + name.replace("_", "-")


def worker_topics(name: str) -> tuple[str, str, str]:
    """The internal topics (configs, offsets, status) the worker `name` keeps on its cluster."""
    slug = name.replace("_", "-")
    return (f"{slug}-configs", f"{slug}-offsets", f"{slug}-status")


def log4j2(log_file: Path) -> str:
    """Logs to one file; Kafka's config dumps (org.apache.kafka.common.config) kept at WARN."""
    return _lines(
        {
            "status": "warn",
            "appender.file.type": "File",
            "appender.file.name": "FILE",
            "appender.file.fileName": log_file,
            "appender.file.layout.type": "PatternLayout",
            "appender.file.layout.pattern": "[%d] %p %m (%c)%n",
            "rootLogger.level": "INFO",
            "rootLogger.appenderRef.file.ref": "FILE",
            "logger.config.name": "org.apache.kafka.common.config",
            "logger.config.level": "WARN",
        }
    )
