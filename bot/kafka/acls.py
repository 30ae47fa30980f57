"""ACL migration: export what touches the selection, map principals, diff, apply, report MM2.

Relevant on the source: TOPIC bindings (LITERAL names of selected topics, PREFIXED ones that
cover a selected topic, and `*`), and, for every principal those bindings name, its GROUP,
TRANSACTIONAL_ID and CLUSTER bindings, plus the GROUP bindings of the groups that read the
selection. MM2's own ACL sync is reported beside each: it copies only LITERAL topic ACLs,
drops ALLOW WRITE and turns ALLOW ALL into READ.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from confluent_kafka.admin import (
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    ResourcePatternType,
    ResourceType,
)

from bot.errors import UserError
from bot.kafka.cluster import TIMEOUT, Cluster, KafkaOpError, NotYet, eventually, gather
from bot.kafka.naming import IDENTITY_NAMING, TopicNaming


# Kafka calls resource type 4 CLUSTER; confluent-kafka names it BROKER
def _restype(name: str) -> ResourceType:
    return ResourceType.BROKER if name == "CLUSTER" else ResourceType[name]


def _resname(restype: ResourceType) -> str:
    return "CLUSTER" if restype.name == "BROKER" else restype.name


ANY_ACL = AclBindingFilter(
    ResourceType.ANY,
    None,
    ResourcePatternType.ANY,
    None,
    None,
    AclOperation.ANY,
    AclPermissionType.ANY,
)


@dataclass(frozen=True, order=True)
class Acl:
    resource: str  # TOPIC, GROUP, TRANSACTIONAL_ID, CLUSTER
    name: str
    pattern: str  # LITERAL, PREFIXED
    principal: str
    host: str
    operation: str
    permission: str  # ALLOW, DENY

    @classmethod
    def of(cls, b: AclBinding) -> Acl:
        return cls(
            _resname(b.restype),
            b.name,
            b.resource_pattern_type.name,
            b.principal,
            b.host,
            b.operation.name,
            b.permission_type.name,
        )

    def _args(self) -> tuple:
        return (
            _restype(self.resource),
            self.name,
            ResourcePatternType[self.pattern],
            self.principal,
            self.host,
            AclOperation[self.operation],
            AclPermissionType[self.permission],
        )

    def binding(self) -> AclBinding:
        return AclBinding(*self._args())

    def filter(self) -> AclBindingFilter:
        """A filter matching exactly this binding (to delete it and nothing else)."""
        return AclBindingFilter(*self._args())

    def __str__(self) -> str:
        return (
            f"{self.permission} {self.principal} {self.operation} on {self.resource} "
            f"{self.pattern} {self.name!r} from {self.host}"
        )


@dataclass
class AclPlan:
    exported: list[Acl]  # relevant bindings on the source
    planned: dict[Acl, Acl]  # source binding -> the binding wanted on the target
    missing: list[Acl] = field(default_factory=list)  # wanted, not on the target yet
    present: list[Acl] = field(default_factory=list)
    mm2: dict[Acl, str] = field(default_factory=dict)  # what MM2's sync would do with each

    @property
    def mm2_lost(self) -> dict[Acl, str]:
        return {a: why for a, why in self.mm2.items() if not why.startswith("copied")}


def binding_report(plan: AclPlan, created: list[Acl]) -> list[str]:
    """One line per binding of the selection: created, already there, or changed on the way
    (principal mapping, Default-policy rename); wildcard and cluster-wide ones called out."""
    made = set(created)
    lines = []
    for source, target in sorted(plan.planned.items()):
        what = "created" if target in made else "already there"
        changed = f" (from {source})" if target != source else ""
        notes = []
        if source.name == "*" or source.principal.endswith(":*"):
            notes.append("WILDCARD: it reaches beyond the selection")
        if source.resource == "CLUSTER":
            notes.append("CLUSTER-WIDE")
        extra = f" [{'; '.join(notes)}]" if notes else ""
        lines.append(f"{what}: {target}{changed}{extra}")
    return lines


def delete_acls(cluster: Cluster, acls: list[Acl], what: str = "delete ACLs") -> None:
    """Delete exactly these bindings (each filter matches its binding and nothing else)."""
    if acls:
        gather(cluster.admin.delete_acls([a.filter() for a in acls], request_timeout=TIMEOUT), what)


def describe_all(cluster: Cluster) -> list[Acl]:
    found = cluster.admin.describe_acls(ANY_ACL, request_timeout=TIMEOUT).result(timeout=TIMEOUT)
    return sorted(Acl.of(b) for b in found)


def covers(acl: Acl, names: set[str]) -> bool:
    if acl.name == "*":
        return True
    if acl.pattern == "LITERAL":
        return acl.name in names
    return any(n.startswith(acl.name) for n in names)  # PREFIXED


def relevant(acls: list[Acl], topics: set[str], groups: set[str]) -> list[Acl]:
    topic_acls = [a for a in acls if a.resource == "TOPIC" and covers(a, topics)]
    principals = {a.principal for a in topic_acls}
    others = [
        a
        for a in acls
        if (a.resource in ("GROUP", "TRANSACTIONAL_ID", "CLUSTER") and a.principal in principals)
        or (a.resource == "GROUP" and covers(a, groups))
    ]
    return sorted(set(topic_acls + others))


def mm2_outcome(acl: Acl) -> str:
    if acl.resource != "TOPIC":
        return f"dropped: MM2 syncs topic ACLs only, not {acl.resource}"
    if acl.pattern != "LITERAL":
        return f"dropped: MM2 syncs LITERAL topic ACLs only, not {acl.pattern}"
    if acl.permission == "ALLOW" and acl.operation == "WRITE":
        return "dropped: MM2 never syncs ALLOW WRITE"
    if acl.permission == "ALLOW" and acl.operation == "ALL":
        return "downgraded: MM2 turns ALLOW ALL into ALLOW READ"
    return "copied"


def target_acl(acl: Acl, principal_map: dict[str, str], naming: TopicNaming) -> Acl:
    name = acl.name
    if acl.resource == "TOPIC" and name != "*":
        name = naming.target_name(name)
    return replace(acl, name=name, principal=principal_map.get(acl.principal, acl.principal))


def parse_principal_map(text: str) -> dict[str, str]:
    """`User:svc-a=User:a, User:svc-b=User:b` -> mapping; each side must be Type:name."""
    mapping = {}
    for item in filter(None, (p.strip() for p in text.split(","))):
        left, sep, right = (s.strip() for s in item.partition("="))
        for side in (left, right):
            if not sep or ":" not in side or side.startswith(":") or side.endswith(":"):
                raise UserError(f"principal map: {item!r} is not 'User:from=User:to'")
        mapping[left] = right
    return mapping


def plan_acls(
    source: Cluster,
    target: Cluster,
    topics: list[str],
    groups: list[str],
    *,
    principal_map: dict[str, str] | None = None,
    naming: TopicNaming = IDENTITY_NAMING,
) -> AclPlan:
    exported = relevant(describe_all(source), set(topics), set(groups))
    planned = {a: target_acl(a, principal_map or {}, naming) for a in exported}
    on_target = set(describe_all(target))
    wanted = sorted(set(planned.values()))
    return AclPlan(
        exported=exported,
        planned=planned,
        missing=[a for a in wanted if a not in on_target],
        present=[a for a in wanted if a in on_target],
        mm2={a: mm2_outcome(a) for a in exported},
    )


# A broker applies new bindings from the metadata log after the topics before them: right after
# create_topics made thousands of partitions, it is still creating their logs, and the bindings
# show up there only once it is done (12 s for 1,000 partitions on a busy 2-core machine).
VISIBLE_SECONDS = 120.0


def apply_acls(target: Cluster, plan: AclPlan) -> list[Acl]:
    """Create the missing bindings, then read the target back: the diff must be empty."""
    if plan.missing:
        gather(
            target.admin.create_acls([a.binding() for a in plan.missing], request_timeout=TIMEOUT),
            "create ACLs",
        )

    def read() -> None:  # new bindings take a moment to be visible on every broker
        on_target = set(describe_all(target))
        still = [a for a in set(plan.planned.values()) if a not in on_target]
        if still:
            raise NotYet("ACLs missing on the target after apply: " + "; ".join(map(str, still)))

    try:
        eventually(read, timeout=VISIBLE_SECONDS)
    except KafkaOpError as exc:
        raise UserError(str(exc)) from None
    created, plan.present, plan.missing = plan.missing, sorted(set(plan.planned.values())), []
    return created
