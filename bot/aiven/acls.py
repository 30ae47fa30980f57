"""ACLs on an Aiven target: Kafka-native ACLs through Aiven's API (`/service/{s}/kafka/acl`).

Aiven takes `User:` principals only, LITERAL or PREFIXED patterns, and the resource types and
operations of its enums; a binding outside them cannot be copied: `uncopyable` lists why, and
`apply` refuses the whole plan then (a client losing access on the target is found before the
cutover, not after). `acl_applier` picks this or Kafka admin for the step.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from bot.aiven.api import Conflict
from bot.aiven.service import AivenService
from bot.errors import UserError
from bot.kafka.acls import Acl, AclPlan

RESOURCES = {
    "TOPIC": "Topic",
    "GROUP": "Group",
    "CLUSTER": "Cluster",
    "TRANSACTIONAL_ID": "TransactionalId",
    "DELEGATION_TOKEN": "DelegationToken",
    "USER": "User",
}
OPERATIONS = {
    "ALL": "All",
    "ALTER": "Alter",
    "ALTER_CONFIGS": "AlterConfigs",
    "CLUSTER_ACTION": "ClusterAction",
    "CREATE": "Create",
    "CREATE_TOKENS": "CreateTokens",
    "DELETE": "Delete",
    "DESCRIBE": "Describe",
    "DESCRIBE_CONFIGS": "DescribeConfigs",
    "DESCRIBE_TOKENS": "DescribeTokens",
    "IDEMPOTENT_WRITE": "IdempotentWrite",
    "READ": "Read",
    "WRITE": "Write",
}
PATTERNS = ("LITERAL", "PREFIXED")


def why_not(acl: Acl) -> str | None:
    """Why Aiven's native ACL API cannot hold this binding, or None when it can."""
    if not acl.principal.startswith("User:"):
        return f"principal {acl.principal}: Aiven takes User: principals only"
    if acl.resource not in RESOURCES:
        return f"resource type {acl.resource} is not accepted by Aiven"
    if acl.operation not in OPERATIONS:
        return f"operation {acl.operation} is not accepted by Aiven"
    if acl.pattern not in PATTERNS:
        return f"pattern type {acl.pattern} is not accepted by Aiven"
    if acl.permission not in ("ALLOW", "DENY"):
        return f"permission {acl.permission} is not accepted by Aiven"
    return None


def uncopyable(plan: AclPlan) -> list[str]:
    """One line per target binding that cannot be created on Aiven, saying why."""
    return [f"{acl}: {why}" for acl in sorted(set(plan.planned.values())) if (why := why_not(acl))]


def body(acl: Acl) -> dict[str, str]:
    return {
        "principal": acl.principal,
        "host": acl.host,
        "resource_name": acl.name,
        "resource_type": RESOURCES[acl.resource],
        "resource_pattern_type": acl.pattern,
        "operation": OPERATIONS[acl.operation],
        "permission_type": acl.permission,
    }


def _key(entry: dict[str, Any]) -> tuple:
    return (
        entry.get("principal"),
        entry.get("host"),
        entry.get("resource_name"),
        entry.get("resource_type"),
        entry.get("pattern_type", entry.get("resource_pattern_type")),
        entry.get("operation"),
        entry.get("permission_type"),
    )


def listed(svc: AivenService) -> dict[tuple, str]:
    """The service's Kafka-native ACLs: key -> id."""
    answer = svc.api.call(
        f"list the Kafka-native ACLs of {svc}",
        "service_kafka_native_acl_list",
        svc.project,
        svc.service,
    )
    return {_key(e): e.get("id", "") for e in answer.get("kafka_acl") or []}


def apply(svc: AivenService, plan: AclPlan) -> list[Acl]:
    """Create the plan's target bindings that the service lacks; return those created (read
    back in the service's list)."""
    problems = uncopyable(plan)
    if problems:
        raise UserError(
            f"{len(problems)} ACL binding(s) cannot be created on Aiven service {svc}: "
            + "; ".join(problems[:5])
            + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
            + " (map principals with the migration's principals option)"
        )
    existing = listed(svc)
    created = []
    for acl in sorted(set(plan.planned.values())):
        wanted = body(acl)
        if _key(wanted) in existing:
            continue
        try:
            svc.api.call(
                f"add a Kafka-native ACL on {svc}",
                "service_kafka_native_acl_add",
                svc.project,
                svc.service,
                **wanted,
            )
        except Conflict:  # added meanwhile: present, not ours
            continue
        created.append(acl)
    after = listed(svc)
    missing = [str(a) for a in created if _key(body(a)) not in after]
    if missing:
        raise UserError(f"Aiven service {svc} does not list ACLs just added: {'; '.join(missing)}")
    return created


def delete(svc: AivenService, acls: Iterable[Acl]) -> int:
    """Delete these bindings from the service (what a cancel with cleanup=target undoes)."""
    existing = listed(svc)
    count = 0
    for acl in acls:
        acl_id = existing.get(_key(body(acl))) if why_not(acl) is None else None
        if acl_id:
            svc.api.call(
                f"delete a Kafka-native ACL on {svc}",
                "service_kafka_native_acl_delete",
                svc.project,
                svc.service,
                acl_id,
            )
            count += 1
    return count


def acl_applier(target) -> Callable[[Any, AclPlan], list[Acl]]:
    """What creates the plan's ACLs on `target` (a bot.kafka Cluster): Aiven's API when it is an
    Aiven service, else Kafka admin."""
    from bot.kafka.acls import apply_acls

    svc = target.aiven
    if svc is None:
        return apply_acls
    return lambda _cluster, plan: apply(svc, plan)


def acl_dropper(target) -> Callable[[Any, list[Acl], str], Any]:
    """What deletes bindings from `target` (a cancel with cleanup=target): Aiven's API when it
    is an Aiven service, else Kafka admin. Same signature as bot.kafka.acls.delete_acls."""
    from bot.kafka.acls import delete_acls

    svc = target.aiven
    if svc is None:
        return delete_acls
    return lambda _cluster, acls, _what="": delete(svc, acls)
