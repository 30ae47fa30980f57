"""Which connectors move, and the config each is created with on the target's Connect.

A source connector is a producer of the topics it writes (its active topics, KIP-558, and its
`topic` key), a sink connector a consumer of those it reads (`topics` or `topics.regex`) in the
group `connect-<name>` (or `consumer.override.group.id`). By default every connector on the old
Connect that touches a selected topic moves; `connectors=`/`connectors_exclude=` choose by name.

On the target the config is the same except what names the old cluster: the
`producer.|consumer.|admin.override.` bootstrap and security keys are dropped (the new worker's
own cluster, the target, is used), a converter's schema registry URL becomes the migration's
target registry, and with replication_policy=default a sink's `topics` are the renamed topics.
`${provider:...}` references are copied as written (the new worker must provide them). Values
of secret keys are shown, logged and stored masked, as the worker masks them.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from bot.connect.rest import ConnectRest, version_tuple
from bot.kafka.javaregex import compile_java
from bot.kafka.naming import TopicNaming
from bot.kafka.select import split_list

MASK = "[hidden]"
NEEDS_OLD = (3, 5)  # PUT .../stop and GET .../offsets
NEEDS_NEW = (3, 7)  # POST with initial_state STOPPED (KIP-980); PATCH .../offsets is 3.6
OLD_CLUSTER_KEY = re.compile(
    r"^(producer|consumer|admin)\.override\."
    r"(bootstrap\.servers|security\.protocol|sasl\..+|ssl\..+)$"
)
REGISTRY_URL_KEY = re.compile(r"^(key|value|header)\.converter\.schema\.registry\.url$")
SECRET_KEY = re.compile(
    r"(password|secret|jaas\.config|user\.info|token|credentials|api\.key|private\.key)",
    re.IGNORECASE,
)
PROVIDER = re.compile(r"\$\{[A-Za-z0-9_.-]+:[^}]*\}")


def is_secret(key: str, value: str) -> bool:
    return bool(SECRET_KEY.search(key)) and not PROVIDER.fullmatch(str(value).strip())


def mask(config: dict[str, str]) -> dict[str, str]:
    """The config with every secret value replaced (provider references are not secrets)."""
    return {k: (MASK if is_secret(k, v) else v) for k, v in config.items()}


@dataclass
class Move:
    """One connector that moves, as planned (every value here is safe to show and store)."""

    name: str
    cls: str
    kind: str  # source | sink
    tasks_max: str
    state: str  # on the old Connect
    target_state: str  # on the new Connect (MISSING before the bot creates the copy)
    topics: list[str]  # selected topics it writes (source) or reads (sink)
    group: str | None  # a sink's consumer group
    version: str  # the plugin's version on the old Connect
    target_version: str | None  # on the new Connect; None: the plugin is missing there
    dropped: list[str] = field(default_factory=list)  # keys that named the old cluster
    mapped: list[str] = field(default_factory=list)  # keys given other values on the target
    providers: list[str] = field(default_factory=list)  # keys holding ${provider:...}
    config: dict[str, str] = field(default_factory=dict)  # the target config, masked

    def as_state(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ConnectorPlan:
    moves: list[Move]
    problems: list[str]
    warnings: list[str]
    versions: dict[str, str]  # connect_from / connect_to -> the workers' Kafka Connect version

    @property
    def sinks(self) -> list[Move]:
        return [m for m in self.moves if m.kind == "sink"]

    def lines(self) -> list[str]:
        out = []
        for m in self.moves:
            where = ", ".join(m.topics) or "no selected topic"
            plugin = (
                f"plugin {m.target_version} on the target"
                if m.target_version
                else "plugin MISSING on the target"
            )
            line = (
                f"{m.name} ({m.kind}, {m.cls.rsplit('.', 1)[-1]}, tasks.max {m.tasks_max}): "
                f"{'writes' if m.kind == 'source' else 'reads'} {where}; {m.state} on the old "
                f"Connect, {m.target_state} on the new; {plugin}"
            )
            if m.group:
                line += f"; group {m.group} handed over exactly"
            if m.dropped:
                line += "; dropped (named the source cluster): " + ", ".join(m.dropped)
            if m.mapped:
                line += "; changed: " + ", ".join(m.mapped)
            if m.providers:
                line += "; the target worker must provide the config providers of: " + ", ".join(
                    m.providers
                )
            out.append(line)
        return out


def target_config(
    config: dict[str, str],
    naming: TopicNaming,
    registry: tuple[str, str] | None = None,
) -> tuple[dict[str, str], list[str], list[str], list[str]]:
    """(the config for the target's Connect, keys dropped, keys changed, provider keys).
    `registry`: (source registry URL, target registry URL) of the migration, if it names them."""
    out, dropped, mapped = {}, [], []
    for key, value in config.items():
        if key == "name":
            continue
        if OLD_CLUSTER_KEY.match(key):
            dropped.append(key)
            continue
        if REGISTRY_URL_KEY.match(key) and registry and value.rstrip("/") != registry[1]:
            out[key] = registry[1]
            mapped.append(f"{key} → the target registry")
            continue
        if key == "topics" and naming.replication_policy == "default":
            renamed = ",".join(naming.target_name(t) for t in split_list(value, "topics"))
            if renamed != value:
                out[key] = renamed
                mapped.append(f"topics → {renamed}")
                continue
        out[key] = value
    providers = sorted(k for k, v in config.items() if PROVIDER.search(str(v)))
    return out, dropped, mapped, providers


def group_of(name: str, config: dict[str, str]) -> str:
    return config.get("consumer.override.group.id") or f"connect-{name}"


def _touched(
    old: ConnectRest, name: str, kind: str, config: dict[str, str], source_topics: list[str]
) -> list[str]:
    if kind == "sink":
        if config.get("topics.regex"):
            rx = compile_java(config["topics.regex"])
            return sorted(t for t in source_topics if rx.fullmatch(t))
        return split_list(config.get("topics", ""), "topics")
    written = set(old.active_topics(name))
    if config.get("topic"):
        written.add(config["topic"])
    return sorted(written)


def plan_connectors(  # noqa: C901, PLR0912 - one finding per case, in the order people read them
    old: ConnectRest,
    new: ConnectRest,
    topics: list[str],
    source_topics: list[str],
    *,
    naming: TopicNaming,
    include: str = "",
    exclude: str = "",
    registry: tuple[str, str] | None = None,
    cluster_ids: tuple[str | None, str | None] = (None, None),
) -> ConnectorPlan:
    """What moves from `old` to `new` for a migration of `topics` (`source_topics`: every topic
    on the source, to resolve a sink's topics.regex). Reads only."""
    problems, warnings = [], []
    infos = {"connect_from": old.info(), "connect_to": new.info()}
    versions = {k: str(v.get("version", "?")) for k, v in infos.items()}
    for (role, rest, side), cluster_id in zip(
        (("connect_from", old, "source"), ("connect_to", new, "target")), cluster_ids, strict=True
    ):
        works_on = infos[role].get("kafka_cluster_id")
        if cluster_id and works_on and works_on != cluster_id:
            problems.append(
                f"{role}={rest.name} works on Kafka cluster {works_on}, not on the {side} "
                f"({cluster_id}): name the Connect cluster attached to the {side}"
            )
    rx_in = [compile_java(p) for p in split_list(include, "connectors")]
    rx_out = [compile_java(p) for p in split_list(exclude, "connectors_exclude")]
    plugins, existing = new.plugins(), new.connectors()
    old_plugins = old.plugins()
    selected = set(topics)
    moves = []
    for name, entry in sorted(old.connectors().items()):
        cls = entry["config"].get("connector.class", "?")
        if cls.startswith("org.apache.kafka.connect.mirror."):
            continue  # MirrorMaker 2's own connectors are a replicator, not a client
        kind = entry["type"] or getattr(old_plugins.get(cls), "type", "") or "?"
        touched = _touched(old, name, kind, entry["config"], source_topics)
        if rx_in and not any(rx.fullmatch(name) for rx in rx_in):
            continue
        if not rx_in and not selected & set(touched):
            continue
        if any(rx.fullmatch(name) for rx in rx_out):
            continue
        outside = [t for t in touched if t not in selected]
        if outside:
            problems.append(
                f"connector {name} ({cls}) also {'writes' if kind == 'source' else 'reads'} "
                f"topics outside the selection: {', '.join(outside[:5])}: select them too or "
                "leave it out with connectors_exclude="
            )
        if naming.replication_policy == "default" and (
            kind == "source" or entry["config"].get("topics.regex")
        ):
            problems.append(
                f"connector {name}: replication_policy=default renames its topics on the "
                "target, which its config cannot follow: migrate with replication_policy=identity"
            )
        config, dropped, mapped, providers = target_config(entry["config"], naming, registry)
        if any(REGISTRY_URL_KEY.match(k) for k in entry["config"]) and registry is None:
            warnings.append(
                f"connector {name} uses a schema registry: name source_registry= and "
                "target_registry= to point it at the target's, or it keeps using the old one"
            )
        plugin = plugins.get(cls)
        if plugin is None:
            problems.append(
                f"connector {name}: its plugin {cls} is not installed on connect_to={new.name}: "
                "install it on every worker there (same version) and run preflight again"
            )
        elif old_plugins.get(cls) and plugin.version != old_plugins[cls].version:
            warnings.append(
                f"connector {name}: {cls} is version {old_plugins[cls].version} on the old "
                f"Connect and {plugin.version} on the new one"
            )
        state = entry["state"].state
        if state != "RUNNING":
            warnings.append(
                f"connector {name} is {state} on connect_from={old.name}: the bot stops it "
                "with the producers, copies it with the offsets it last committed"
                + (" (its group is handed over where it stands)" if kind == "sink" else "")
                + " and starts it on the target like the others"
                + (" (fix its cause first, " if state == "FAILED" else " (")
                + "or leave it out with connectors_exclude=)"
            )
        target_state = existing[name]["state"].state if name in existing else "MISSING"
        if name in existing:
            problems.append(
                f"connector {name} already exists on connect_to={new.name} "
                f"({target_state}): delete it there or leave it out with connectors_exclude="
            )
        moves.append(
            Move(
                name=name,
                cls=cls,
                kind=kind,
                tasks_max=str(entry["config"].get("tasks.max", "1")),
                state=state,
                target_state=target_state,
                topics=[t for t in touched if t in selected],
                group=group_of(name, entry["config"]) if kind == "sink" else None,
                version=getattr(old_plugins.get(cls), "version", "?"),
                target_version=plugin.version if plugin else None,
                dropped=dropped,
                mapped=mapped,
                providers=providers,
                config=mask(config),
            )
        )
    if moves:
        if version_tuple(versions["connect_from"]) < NEEDS_OLD:
            problems.append(
                f"connect_from={old.name} runs Kafka Connect {versions['connect_from']}: stopping "
                "a connector with its offsets kept needs 3.5 or later: upgrade it first"
            )
        if version_tuple(versions["connect_to"]) < NEEDS_NEW:
            problems.append(
                f"connect_to={new.name} runs Kafka Connect {versions['connect_to']}: creating a "
                "connector STOPPED and writing its offsets needs 3.7 or later: upgrade it first"
            )
    elif rx_in:
        problems.append(f"connectors={include!r} matches no connector on {old.name}")
    return ConnectorPlan(moves, problems, warnings, versions)
