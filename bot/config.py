"""Configuration: one TOML file naming clusters, schema registries, replicators, Slack, timing.

Path from `KAFKA_MIGRATE_CONFIG`, default `./kafka-migrate.toml`. Validated on load; every error
names the file, the key and the problem. Secrets are given as the NAME of an environment
variable (`*_env` keys); the value is read when used and never kept on these objects. An
optional `env_file` (a dotenv file, relative to the config file: KEY=VALUE lines, quotes,
`export`, comments; `${VAR}` is kept literally, not expanded) supplies variables that the
environment does not set, which is how the sandbox's generated config works as is.
"""

from __future__ import annotations

import io
import os
import re
import time
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from dotenv import dotenv_values
from dotenv.parser import parse_stream
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from bot.errors import ConfigError
from bot.secrets import ClientConfig, SecretRef

if TYPE_CHECKING:
    from bot.aiven.api import AivenApi
    from bot.aiven.service import AivenService

AIVEN_CONFIG_TTL = 300.0  # seconds a service's connection settings read from the API are kept

DEFAULT_PATH = "kafka-migrate.toml"
ENV_VAR = "KAFKA_MIGRATE_CONFIG"
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
SLACK_ID_RE = re.compile(r"^[USW][A-Z0-9]{2,}$")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _http_url(value: str) -> str:
    if not re.match(r"^https?://[^/\s]+", value):
        raise ValueError(f"{value!r} is not an http:// or https:// URL")
    return value.rstrip("/")


HttpUrl = Annotated[str, AfterValidator(_http_url)]


def _env_name(value: str) -> str:
    if not ENV_NAME_RE.match(value):
        # never echo the value: people paste the secret itself here by mistake
        raise ValueError(
            "not an environment variable name: give the NAME of the variable that holds "
            "the secret, never the secret itself"
        )
    return value


EnvName = Annotated[str, AfterValidator(_env_name)]


class AivenServiceConfig(_Model):
    """The Aiven for Apache Kafka service a cluster is: its topics, ACLs and MM2 integration
    go through the Aiven API."""

    project: str
    service: str
    api_url: str
    token_env: str

    def __str__(self) -> str:
        return f"{self.project}/{self.service}"


class ClusterConfig(_Model):
    # omitted for an Aiven service: read from the service through the API (with credentials)
    bootstrap_servers: str | None = Field(default=None, min_length=1)
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = None
    sasl_password_env: EnvName | None = None
    ssl_ca_file: str | None = None
    # an Aiven for Apache Kafka service (its topics, ACLs and MM2 integration go through the API)
    aiven_project: str | None = Field(default=None, min_length=1)
    aiven_service: str | None = Field(default=None, min_length=1)
    aiven_token_env: EnvName | None = None
    aiven_api_url: HttpUrl = "https://api.aiven.io"

    @field_validator("bootstrap_servers")
    @classmethod
    def _hosts(cls, value: str | None) -> str | None:
        if value is None:
            return value
        for server in value.split(","):
            host, sep, port = server.strip().rpartition(":")
            if not sep or not host or not port.isdigit():
                raise ValueError(f"{server.strip()!r} is not host:port")
        return value

    @model_validator(mode="after")
    def _sasl_complete(self) -> ClusterConfig:
        aiven = [self.aiven_project, self.aiven_service, self.aiven_token_env]
        if any(aiven) and not all(aiven):
            raise ValueError(
                "an Aiven service needs aiven_project, aiven_service and aiven_token_env"
            )
        if self.bootstrap_servers is None:
            if not self.aiven_service:
                raise ValueError(
                    "bootstrap_servers is required (it may be omitted only for an Aiven "
                    "service: aiven_project, aiven_service, aiven_token_env)"
                )
            return self  # connection and credentials come from the service
        sasl = self.security_protocol.startswith("SASL_")
        if sasl and not (self.sasl_mechanism and self.sasl_username and self.sasl_password_env):
            raise ValueError(
                f"security_protocol {self.security_protocol} needs sasl_mechanism, "
                "sasl_username and sasl_password_env"
            )
        return self

    @property
    def aiven(self) -> AivenServiceConfig | None:
        """The Aiven service this cluster is, or None (any other Kafka)."""
        if not (self.aiven_project and self.aiven_service and self.aiven_token_env):
            return None
        return AivenServiceConfig(
            project=self.aiven_project,
            service=self.aiven_service,
            api_url=self.aiven_api_url,
            token_env=self.aiven_token_env,
        )


class SchemaRegistry(_Model):
    url: HttpUrl
    username: str | None = None
    password_env: EnvName | None = None
    ssl_ca_file: str | None = None
    # how subjects are named: "topic" (<topic>-key, <topic>-value) or "topic_record"
    # (<topic>-<record name>); `subjects` are migrated too (e.g. RecordNameStrategy ones)
    subject_strategy: Literal["topic", "topic_record"] = "topic"
    subjects: list[str] = Field(default_factory=list)


class ConnectReplicatorConfig(_Model):
    kind: Literal["connect"]
    url: HttpUrl
    username: str | None = None
    password_env: EnvName | None = None
    source_alias: str = "source"
    target_alias: str = "target"
    # the principal its workers write as (a reverse flow's: let through the fence, checked)
    principal: str | None = None
    # the MirrorSourceConnector's tasks.max: min(partitions, workers * tasks_per_worker), or
    # tasks_max as given; without workers, as many as the cluster shows running tasks
    workers: int | None = Field(default=None, ge=1)
    tasks_per_worker: int = Field(default=4, ge=1)
    tasks_max: int | None = Field(default=None, ge=1)


def _alias(value: str) -> str:
    if not re.match(r"^[a-zA-Z0-9_.-]{1,128}$", value):
        raise ValueError(f"{value!r}: a cluster alias is 1-128 letters, digits, '_', '.', '-'")
    return value


Alias = Annotated[str, AfterValidator(_alias)]


class AivenReplicatorConfig(_Model):
    kind: Literal["aiven"]
    project: str = Field(min_length=1)
    service: str = Field(min_length=1)
    token_env: EnvName
    api_url: HttpUrl = "https://api.aiven.io"
    source_alias: Alias = "source"
    target_alias: Alias = "target"
    # the bot may create the MM2 service when it does not exist (with this plan, in this cloud)
    create_service: bool = False
    plan: str | None = Field(default=None, min_length=1)
    cloud: str | None = Field(default=None, min_length=1)
    service_wait_seconds: int = Field(default=1200, ge=10)  # creating: until RUNNING

    @model_validator(mode="after")
    def _creatable(self) -> AivenReplicatorConfig:
        if self.create_service and not self.plan:
            raise ValueError('create_service = true needs plan (e.g. "startup-4")')
        if self.source_alias == self.target_alias:
            raise ValueError("source_alias and target_alias must differ")
        return self


class ConnectClusterConfig(_Model):
    """A Kafka Connect cluster whose connectors (not MM2's own) move with a migration: the one
    attached to the source (`connect_from`) and the one attached to the target (`connect_to`)."""

    url: HttpUrl
    username: str | None = None
    password_env: EnvName | None = None
    ssl_ca_file: str | None = (
        None  # CA bundle (PEM) the REST endpoint's certificate is checked with
    )
    ssl_cert_file: str | None = None  # TLS client certificate (PEM), when the REST API asks for one
    ssl_key_file: str | None = None

    @model_validator(mode="after")
    def _complete(self) -> ConnectClusterConfig:
        if bool(self.username) != bool(self.password_env):
            raise ValueError("basic auth needs both username and password_env")
        if self.ssl_key_file and not self.ssl_cert_file:
            raise ValueError("ssl_key_file needs ssl_cert_file")
        return self


ReplicatorConfig = Annotated[
    ConnectReplicatorConfig | AivenReplicatorConfig, Field(discriminator="kind")
]


class Slack(_Model):
    channel: str = Field(min_length=1)
    approvers: list[str] = Field(min_length=1)
    two_person_rule: bool = True
    required_approvals: int = Field(default=1, ge=1, le=5)

    @field_validator("approvers")
    @classmethod
    def _ids(cls, values: list[str]) -> list[str]:
        for value in values:
            if not SLACK_ID_RE.match(value):
                raise ValueError(f"{value!r} is not a Slack user (U…/W…) or user-group (S…) id")
        return values


class Timing(_Model):
    """How often the bot looks, and how long it waits before it decides."""

    poll_interval_seconds: int = Field(default=30, ge=1, le=3600)
    # during the cutover (producers stopped .. clients on the target, and the way back's twins)
    cutover_poll_seconds: int = Field(default=1, ge=1, le=60)
    # without a fence: no write for this long proves producers stopped (the safety margin)
    quiet_window_seconds: int = Field(default=120, ge=1)
    # with fence=yes, once its DENY bindings are visible: this many looks without a write
    fenced_quiet_looks: int = Field(default=3, ge=2, le=100)
    # both lags held at 0 this long before the drain ends (0: at the first look they are)
    drain_window_seconds: int = Field(default=0, ge=0)
    gate_expiry_seconds: int = Field(default=3600, ge=1)
    stall_polls: int = Field(default=10, ge=2)
    ready_lag_records: int = Field(default=1000, ge=0)  # catch_up is done at or below this
    # a cluster or Connect unreachable this long fails the step; until then it holds "degraded"
    fault_patience_seconds: int = Field(default=600, ge=1)


class Cli(_Model):
    # OS accounts allowed to approve from the CLI (bot.identity: the effective uid's account)
    approvers: list[str] = Field(default_factory=list)


class Config(_Model):
    env_file: str | None = None
    clusters: dict[str, ClusterConfig] = Field(default_factory=dict)
    schema_registries: dict[str, SchemaRegistry] = Field(default_factory=dict)
    replicators: dict[str, ReplicatorConfig] = Field(default_factory=dict)
    connect_clusters: dict[str, ConnectClusterConfig] = Field(default_factory=dict)
    slack: Slack | None = None
    timing: Timing = Timing()
    cli: Cli = Cli()

    @model_validator(mode="before")
    @classmethod
    def _renamed(cls, data: Any) -> Any:
        if isinstance(data, dict) and "policy" in data:
            raise ValueError(
                "[policy] was renamed: its timing keys go in [timing], "
                "cli_approvers becomes approvers in [cli]"
            )
        return data

    @field_validator("clusters", "schema_registries", "replicators", "connect_clusters")
    @classmethod
    def _names(cls, value: dict[str, Any]) -> dict[str, Any]:
        for name in value:
            if not NAME_RE.match(name):
                raise ValueError(f"name {name!r} must be letters, digits, '.', '_' or '-'")
        return value


class Settings:
    """A loaded configuration plus how to reach its secrets; what the rest of the bot uses."""

    def __init__(self, config: Config, path: Path, env_file: Mapping[str, str]):
        self.config = config
        self.path = path
        self._env_file = dict(env_file)
        self._aiven_cache: dict[str, tuple[float, ClientConfig]] = {}

    def __repr__(self) -> str:
        return f"Settings(path={str(self.path)!r}, config={self.config!r})"

    def secret(self, env: str) -> SecretRef:
        return SecretRef(env, self._env_file)

    def cluster(self, name: str) -> ClusterConfig:
        try:
            return self.config.clusters[name]
        except KeyError:
            known = ", ".join(sorted(self.config.clusters)) or "none"
            raise ConfigError(f"{self.path}: no cluster named {name!r} (known: {known})") from None

    def schema_registry(self, name: str) -> SchemaRegistry:
        try:
            return self.config.schema_registries[name]
        except KeyError:
            known = ", ".join(sorted(self.config.schema_registries)) or "none"
            raise ConfigError(
                f"{self.path}: no schema registry named {name!r} (known: {known})"
            ) from None

    def connect_cluster(self, name: str) -> ConnectClusterConfig:
        try:
            return self.config.connect_clusters[name]
        except KeyError:
            known = ", ".join(sorted(self.config.connect_clusters)) or "none"
            raise ConfigError(
                f"{self.path}: no Kafka Connect cluster named {name!r} (known: {known})"
            ) from None

    def password(self, env: str | None, key: str) -> str | None:
        """The secret in `env` (named by config key `key`), or None when no variable is named."""
        return self._reveal(env, key) if env else None

    def kafka_client_config(self, name: str) -> ClientConfig:
        """The librdkafka settings for a named cluster, secrets resolved now, masked in repr.
        An Aiven service without bootstrap_servers: its connection and credentials read from
        the API (kept AIVEN_CONFIG_TTL seconds)."""
        cluster = self.cluster(name)
        if cluster.bootstrap_servers is None and cluster.aiven:
            return self._aiven_client_config(name, cluster)
        return self._plain_client_config(name, cluster)

    def aiven_service(self, name: str) -> AivenService | None:
        """The Aiven service the named cluster is (its API client, project, service), or None."""
        conf = self.cluster(name).aiven
        if conf is None:
            return None
        from bot.aiven.service import AivenService

        api = self.aiven_api(conf.api_url, conf.token_env)
        return AivenService(api, conf.project, conf.service)

    def _plain_client_config(self, name: str, cluster: ClusterConfig) -> ClientConfig:
        conf = ClientConfig(
            {
                "bootstrap.servers": cluster.bootstrap_servers,
                "security.protocol": cluster.security_protocol,
            }
        )
        if cluster.sasl_mechanism:
            conf["sasl.mechanism"] = cluster.sasl_mechanism
            conf["sasl.username"] = cluster.sasl_username
            conf["sasl.password"] = self._reveal(
                cluster.sasl_password_env, f"clusters.{name}.sasl_password_env"
            )
        if cluster.ssl_ca_file:
            conf["ssl.ca.location"] = cluster.ssl_ca_file
        return conf

    def _aiven_client_config(self, name: str, cluster: ClusterConfig) -> ClientConfig:
        from bot.aiven.service import service_client_config

        cached = self._aiven_cache.get(name)
        if cached and time.monotonic() - cached[0] < AIVEN_CONFIG_TTL:
            return ClientConfig(cached[1])
        password = (
            self._reveal(cluster.sasl_password_env, f"clusters.{name}.sasl_password_env")
            if cluster.sasl_password_env
            else None
        )
        svc = self.aiven_service(name)
        conf = service_client_config(
            svc.api, svc.project, svc.service, username=cluster.sasl_username, password=password
        )
        self._aiven_cache[name] = (time.monotonic(), conf)
        return ClientConfig(conf)

    def aiven_api(self, url: str, token_env: str) -> AivenApi:
        """An Aiven API client authenticated with the token in `token_env`."""
        from bot.aiven.api import aiven_api

        return aiven_api(url, token_env, lambda: self.secret(token_env).reveal())

    def _reveal(self, env: str | None, key: str) -> str:
        try:
            return self.secret(env or "").reveal()
        except KeyError:
            raise ConfigError(
                f"{self.path}: {key}: environment variable {env!r} is not set"
            ) from None

    def missing_secrets(self) -> list[str]:
        """'key: problem' for every referenced secret variable that is not set."""
        missing = []
        for key, env in _secret_refs(self.config):
            if not self.secret(env).is_set():
                missing.append(f"{key}: environment variable {env!r} is not set")
        return missing


def _secret_refs(config: Config) -> list[tuple[str, str]]:
    refs: list[tuple[str, str]] = []
    for name, cluster in config.clusters.items():
        if cluster.sasl_password_env:
            refs.append((f"clusters.{name}.sasl_password_env", cluster.sasl_password_env))
        if cluster.aiven_token_env:
            refs.append((f"clusters.{name}.aiven_token_env", cluster.aiven_token_env))
    for name, registry in config.schema_registries.items():
        if registry.password_env:
            refs.append((f"schema_registries.{name}.password_env", registry.password_env))
    for name, connect in config.connect_clusters.items():
        if connect.password_env:
            refs.append((f"connect_clusters.{name}.password_env", connect.password_env))
    for name, replicator in config.replicators.items():
        env = getattr(replicator, "password_env", None) or getattr(replicator, "token_env", None)
        if env:
            field = "token_env" if replicator.kind == "aiven" else "password_env"
            refs.append((f"replicators.{name}.{field}", env))
    return refs


def config_path(path: str | os.PathLike[str] | None = None) -> Path:
    return Path(path or os.environ.get(ENV_VAR) or DEFAULT_PATH)


def load(path: str | os.PathLike[str] | None = None, *, check_secrets: bool = True) -> Settings:
    """Read, parse and validate the configuration; raise ConfigError naming file, key, problem."""
    file = config_path(path)
    try:
        raw = tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"{file}: file not found (set {ENV_VAR} or create it from kafka-migrate.example.toml)"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file}: invalid TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{file}: cannot read: {exc.__class__.__name__}") from None
    try:
        config = Config.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_describe(file, exc)) from None
    env_file = _read_env_file(file, config.env_file) if config.env_file else {}
    settings = Settings(config, file, env_file)
    if check_secrets:
        missing = settings.missing_secrets()
        if missing:
            raise ConfigError("\n".join(f"{file}: {line}" for line in missing))
    return settings


def _describe(file: Path, exc: ValidationError) -> str:
    lines = []
    for error in exc.errors(include_url=False, include_input=False):
        loc = [str(part) for part in error["loc"] if not str(part).startswith("function-")]
        # drop pydantic's union tags ("connect"/"aiven") that follow a replicator name
        if len(loc) > 2 and loc[0] == "replicators" and loc[2] in ("connect", "aiven"):
            del loc[2]
        key = ".".join(loc) or "(top level)"
        if error["type"] == "extra_forbidden":
            problem = "unknown key"
        elif error["type"] == "missing":
            problem = "required key is missing"
        else:
            problem = error["msg"].removeprefix("Value error, ")
        lines.append(f"{file}: {key}: {problem}")
    return "\n".join(lines)


def _read_env_file(config_file: Path, name: str) -> dict[str, str]:
    """The env_file's variables, parsed by python-dotenv: quotes, `export KEY=...` and comments
    as a shell would read them. `${VAR}` is NOT expanded (interpolate=False): a password may
    contain `$`, and the file's values are taken exactly as written."""
    env_path = (config_file.parent / name).resolve()
    try:
        text = env_path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{config_file}: env_file: {env_path} not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"{config_file}: env_file: {env_path} cannot read: {exc.__class__.__name__}"
        ) from None
    # dotenv_values skips a malformed line with a warning: refuse the file instead, naming the
    # line (never its content, which may be a secret)
    for binding in parse_stream(io.StringIO(text)):
        if (
            binding.error
            or (binding.key is not None and binding.value is None)
            or binding.key is not None
            and not ENV_NAME_RE.match(binding.key)
        ):
            bad = binding.original.line
        else:
            continue
        raise ConfigError(f"{config_file}: env_file: {env_path} line {bad}: not KEY=VALUE")
    values = dotenv_values(stream=io.StringIO(text), interpolate=False)
    return {key: value for key, value in values.items() if value is not None}
