"""Topic plan and apply: same partitions and configs on the target, shown first, then converged.

The plan reads both clusters and lets the target validate everything (CreateTopics and
IncrementalAlterConfigs with validate_only) before anything changes; `apply` refuses a plan
with problems, makes only the listed changes, and reads the target back to report what the
target forced. Applying a converged plan changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from confluent_kafka import TopicPartition
from confluent_kafka.admin import (
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    ConfigSource,
    NewPartitions,
    NewTopic,
    OffsetSpec,
    ResourceType,
)

from bot.errors import UserError
from bot.kafka.cluster import (
    TIMEOUT,
    Cluster,
    KafkaOpError,
    NotYet,
    error_text,
    eventually,
    gather,
    settle,
)
from bot.kafka.naming import IDENTITY_NAMING, TopicNaming

# replica-assignment-specific: meaningless on another cluster's broker ids
SKIPPED_CONFIGS = {
    "leader.replication.throttled.replicas": "names source broker ids",
    "follower.replication.throttled.replicas": "names source broker ids",
}
LIST_CONFIGS = {"cleanup.policy"}


@dataclass
class TopicItem:
    source: str
    target: str
    partitions: int
    configs: dict[str, str]  # the source's explicit (topic-level) configs, to copy
    target_partitions: int | None = None  # None: missing on the target
    config_changes: dict[str, tuple[str | None, str]] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    refused: dict[str, str] = field(default_factory=dict)
    forced: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def actions(self) -> list[str]:
        if self.target_partitions is None:
            return ["create"]
        acts = []
        if self.target_partitions < self.partitions:
            acts.append("add_partitions")
        if self.config_changes:
            acts.append("alter_configs")
        return acts


@dataclass
class TopicPlan:
    items: list[TopicItem]
    replication_factor: int

    @property
    def problems(self) -> list[str]:
        return [f"{i.source}: {p}" for i in self.items for p in i.problems]

    def summary(self) -> dict[str, int]:
        return {
            "topics": len(self.items),
            "create": sum("create" in i.actions for i in self.items),
            "add_partitions": sum("add_partitions" in i.actions for i in self.items),
            "alter_configs": sum("alter_configs" in i.actions for i in self.items),
            "problems": len(self.problems),
        }


def _same(key: str, a: str | None, b: str | None) -> bool:
    if key in LIST_CONFIGS and a is not None and b is not None:
        return sorted(a.split(",")) == sorted(b.split(","))
    return a == b


def describe_topic_configs(
    cluster: Cluster, topics: list[str]
) -> dict[str, dict[str, ConfigEntry]]:
    if not topics:
        return {}
    resources = [ConfigResource(ResourceType.TOPIC, t) for t in topics]
    found = gather(
        cluster.admin.describe_configs(resources, request_timeout=TIMEOUT),
        f"describe configs on {cluster.name}",
    )
    return {res.name: entries for res, entries in found.items()}


def _replication_factor(target: Cluster) -> tuple[int, int]:
    """(default.replication.factor of the target, number of its brokers)."""
    meta = target.admin.list_topics(timeout=TIMEOUT)
    broker = ConfigResource(ResourceType.BROKER, str(min(meta.brokers)))
    entries = gather(
        target.admin.describe_configs([broker], request_timeout=TIMEOUT),
        f"describe broker config on {target.name}",
    )[broker]
    default = entries.get("default.replication.factor")
    return int(default.value) if default and default.value else 1, len(meta.brokers)


def plan_topics(
    source: Cluster,
    target: Cluster,
    topics: list[str],
    *,
    naming: TopicNaming = IDENTITY_NAMING,
    allow_config_changes: bool = False,
) -> TopicPlan:
    src_meta = source.admin.list_topics(timeout=TIMEOUT)
    unknown = sorted(t for t in topics if t not in src_meta.topics)
    if unknown:
        raise UserError(f"unknown topic(s) on {source.name}: {', '.join(unknown)}")
    src_configs = describe_topic_configs(source, topics)
    tgt_meta = target.admin.list_topics(timeout=TIMEOUT)
    names = {t: naming.target_name(t) for t in topics}
    existing = [names[t] for t in topics if names[t] in tgt_meta.topics]
    tgt_configs = describe_topic_configs(target, existing)
    rf, brokers = _replication_factor(target)
    items = []
    for topic in topics:
        explicit, skipped = {}, {}
        for key, entry in src_configs[topic].items():
            if entry.source != ConfigSource.DYNAMIC_TOPIC_CONFIG.value or entry.value is None:
                continue
            if key in SKIPPED_CONFIGS:
                skipped[key] = SKIPPED_CONFIGS[key]
            else:
                explicit[key] = entry.value
        item = TopicItem(
            topic, names[topic], len(src_meta.topics[topic].partitions), explicit, skipped=skipped
        )
        if names[topic] in tgt_meta.topics:
            item.target_partitions = len(tgt_meta.topics[names[topic]].partitions)
            current = tgt_configs[names[topic]]
            for key, value in explicit.items():
                now = current[key].value if key in current else None
                if not _same(key, now, value):
                    item.config_changes[key] = (now, value)
            if item.target_partitions > item.partitions:
                item.problems.append(
                    f"target {item.target} has {item.target_partitions} partitions, the source "
                    f"{item.partitions}: Kafka cannot shrink a topic; delete the target topic "
                    "or exclude this one"
                )
            if item.config_changes and not allow_config_changes:
                diff = ", ".join(
                    f"{k}: {old!r} -> {new!r}"
                    for k, (old, new) in sorted(item.config_changes.items())
                )
                item.problems.append(
                    f"target {item.target} exists with other configs ({diff}); "
                    "allow config changes to overwrite them"
                )
        min_isr = explicit.get("min.insync.replicas")
        if min_isr and int(min_isr) > min(rf, brokers):
            item.warnings.append(
                f"min.insync.replicas={min_isr} exceeds the target's replication factor "
                f"{min(rf, brokers)}: producers with acks=all would fail"
            )
        items.append(item)
    plan = TopicPlan(items, rf)
    if rf > brokers:
        for item in items:
            if "create" in item.actions:
                item.problems.append(
                    f"the target's default.replication.factor {rf} exceeds its {brokers} broker(s)"
                )
    validate_plan(target, plan)
    return plan


def _new_topic(item: TopicItem, configs: dict[str, str] | None = None) -> NewTopic:
    return NewTopic(
        item.target,
        item.partitions,
        replication_factor=-1,
        config=item.configs if configs is None else configs,
    )


def validate_plan(target: Cluster, plan: TopicPlan) -> None:
    """Let the target check every create and config change without applying it."""
    creates = [i for i in plan.items if "create" in i.actions and not i.problems]
    if creates:
        results = settle(
            target.admin.create_topics(
                [_new_topic(i) for i in creates], validate_only=True, request_timeout=TIMEOUT
            )
        )
        for item in creates:
            if isinstance(results[item.target], Exception):
                _find_refused(target, item, results[item.target])
    alters = [i for i in plan.items if "alter_configs" in i.actions and not i.problems]
    if alters:
        resources = {_alter_resource(i): i for i in alters}
        results = settle(
            target.admin.incremental_alter_configs(
                list(resources), validate_only=True, request_timeout=TIMEOUT
            )
        )
        for resource, item in resources.items():
            if isinstance(results[resource], Exception):
                _find_refused(target, item, results[resource])


def _find_refused(target: Cluster, item: TopicItem, error: Exception) -> None:
    """Validate each config alone to name exactly the ones the target refuses."""
    keys = list(item.configs if item.target_partitions is None else item.config_changes)
    if item.target_partitions is None:
        futures = {
            key: target.admin.create_topics(
                [_new_topic(item, {key: item.configs[key]})],
                validate_only=True,
                request_timeout=TIMEOUT,
            )[item.target]
            for key in keys
        }
    else:
        futures = {
            key: target.admin.incremental_alter_configs(
                [_alter_resource(item, only=key)], validate_only=True, request_timeout=TIMEOUT
            ).popitem()[1]
            for key in keys
        }
    for key, result in settle(futures).items():
        if isinstance(result, Exception):
            item.refused[key] = error_text(result)
    if item.refused:
        listed = "; ".join(f"{k}={item.configs[k]!r}: {why}" for k, why in item.refused.items())
        item.problems.append(f"the target refuses {listed}")
    else:
        item.problems.append(f"the target refuses the topic: {error_text(error)}")


def _alter_resource(item: TopicItem, only: str | None = None) -> ConfigResource:
    entries = [
        ConfigEntry(key, new, incremental_operation=AlterConfigOpType.SET)
        for key, (_old, new) in sorted(item.config_changes.items())
        if only is None or key == only
    ]
    return ConfigResource(ResourceType.TOPIC, item.target, incremental_configs=entries)


def apply_topics(target: Cluster, plan: TopicPlan) -> TopicPlan:
    """Make the listed changes (nothing when the plan has problems) and read the target back."""
    if plan.problems:
        raise UserError(
            "topic plan has problems, nothing was applied:\n" + "\n".join(plan.problems)
        )
    creates = [i for i in plan.items if "create" in i.actions]
    grows = [i for i in plan.items if "add_partitions" in i.actions]
    alters = [i for i in plan.items if "alter_configs" in i.actions]
    if creates:
        results = settle(
            target.admin.create_topics([_new_topic(i) for i in creates], request_timeout=TIMEOUT)
        )
        if failed := _failures(results, "TOPIC_ALREADY_EXISTS"):
            raise UserError(f"creating topics failed: {failed}")
    if grows:
        gather(
            target.admin.create_partitions(
                [NewPartitions(i.target, i.partitions) for i in grows], request_timeout=TIMEOUT
            ),
            "adding partitions",
        )
    if alters:
        gather(
            target.admin.incremental_alter_configs(
                [_alter_resource(i) for i in alters], request_timeout=TIMEOUT
            ),
            "altering configs",
        )
    _read_back(target, plan)
    return plan


def unready(cluster: Cluster, plan: TopicPlan) -> tuple[int, str]:
    """(partitions of the plan's topics that do not answer ListOffsets yet, the first error):
    a broker creates the logs of new partitions one by one, about 20 a second on a busy 2-core
    machine, and serves a partition (offsets, fetches) only once its log is there. Its metadata
    names the leader before that: only asking tells."""
    request = {
        TopicPartition(i.target, p): OffsetSpec.latest()
        for i in plan.items
        for p in range(i.partitions)
    }
    if not request:
        return 0, ""
    failed = [
        r
        for r in settle(cluster.admin.list_offsets(request, request_timeout=TIMEOUT)).values()
        if isinstance(r, Exception)
    ]
    return len(failed), error_text(failed[0]) if failed else ""


def delete_topics(target: Cluster, names: list[str]) -> list[str]:
    """Delete these topics (a cleanup); those already gone are fine. Returns the deleted ones."""
    if not names:
        return []
    results = settle(
        target.admin.delete_topics(names, operation_timeout=30, request_timeout=TIMEOUT)
    )
    if failed := _failures(results, "UNKNOWN_TOPIC_OR_PART"):
        raise KafkaOpError(f"deleting topics failed: {failed}")
    return [k for k, v in results.items() if not isinstance(v, Exception)]


def _failures(results: dict, fine: str) -> str:
    """The per-topic errors of a settled call, but the `fine` one (e.g. already exists)."""
    return "; ".join(
        f"{k}: {error_text(v)}"
        for k, v in results.items()
        if isinstance(v, Exception) and fine not in error_text(v)
    )


# thousands of new topics take a while to reach every broker's metadata on a busy cluster: the
# read back waits that long before it calls a difference real
VISIBLE_SECONDS = 60.0


def _read_back(target: Cluster, plan: TopicPlan) -> None:
    """Record, per topic, the planned configs that the target holds with another value. New
    topics, partitions and configs take a moment to reach every broker: read until they are
    visible (bounded); a config that still differs after that is one the target forced."""
    names = [i.target for i in plan.items]

    def visible():
        meta = target.admin.list_topics(timeout=TIMEOUT)
        absent = [i.target for i in plan.items if i.target not in meta.topics]
        short = [
            i.target
            for i in plan.items
            if i.target in meta.topics and len(meta.topics[i.target].partitions) < i.partitions
        ]
        if absent or short:
            raise NotYet(f"topics not visible on {target.name} yet: {', '.join(absent + short)}")
        return meta

    def settled():
        configs = describe_topic_configs(target, names)
        for item in plan.items:
            current = configs[item.target]
            for key, value in item.configs.items():
                if not _same(key, current[key].value if key in current else None, value):
                    raise NotYet(f"{item.target}: {key} not {value} yet")
        return configs

    meta = eventually(visible, timeout=VISIBLE_SECONDS)
    try:
        configs = eventually(settled, timeout=5.0)
    except KafkaOpError:  # what still differs is what the target forced
        configs = describe_topic_configs(target, names)
    for item in plan.items:
        current = configs[item.target]
        item.forced = {
            key: (value, current[key].value if key in current else None)
            for key, value in item.configs.items()
            if not _same(key, current[key].value if key in current else None, value)
        }
        item.target_partitions = len(meta.topics[item.target].partitions)
        item.config_changes = {k: (actual, planned) for k, (planned, actual) in item.forced.items()}
