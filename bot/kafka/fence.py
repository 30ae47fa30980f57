"""Are producers really stopped? A quiet window on end offsets, and an optional write fence.

Quiet: the source end offsets of the selected partitions have not moved for the window (a
transaction marker is a write too). Fence: DENY WRITE ACLs on each selected topic for every
principal that may write to it, except the listed ones; removed on rollback. Super users
bypass ACLs and cannot be fenced, and brokers hide who they are: the fence says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.errors import UserError
from bot.kafka.acls import Acl, covers, delete_acls, describe_all
from bot.kafka.cluster import TIMEOUT, TP, Cluster, gather


@dataclass(frozen=True)
class QuietState:
    quiet: bool
    quiet_for_s: float
    moved: list[TP]  # partitions written since the previous observation
    looks: int = 1  # looks in a row without a move


class ProducerWatch:
    """Feed it end-offset snapshots; it says when none moved for `window_s` seconds or, with
    `looks` (a write fence whose DENY bindings the brokers show: writes are refused now, only
    those already accepted can still land), over that many looks in a row.

    It starts un-quiet: after a restart quiet must be observed again, never assumed.
    """

    def __init__(self, window_s: float, looks: int | None = None):
        self.window_s = window_s
        self.looks = looks
        self._last: dict[TP, int] | None = None
        self._since: float | None = None
        self._same = 0  # looks in a row without a move, the first one included

    def observe(self, offsets: dict[TP, int], now: float) -> QuietState:
        moved = sorted(
            tp
            for tp, off in offsets.items()
            if self._last is not None and self._last.get(tp) != off
        )
        if self._last is None or moved or set(offsets) != set(self._last):
            self._since, self._same = now, 0
        self._same += 1
        self._last = dict(offsets)
        quiet_for = now - self._since
        by_looks = self.looks is not None and self._same >= self.looks
        return QuietState(quiet_for >= self.window_s or by_looks, quiet_for, moved, self._same)


@dataclass
class Fence:
    bindings: list[Acl]  # DENY WRITE bindings to create (and later remove)
    fenced: list[str]  # principals fenced
    warnings: list[str] = field(default_factory=list)


def plan_fence(cluster: Cluster, topics: list[str], allow: list[str]) -> Fence:
    """DENY WRITE for each principal allowed to write a selected topic, except `allow`."""
    writers: dict[str, set[str]] = {}
    acls = describe_all(cluster)
    for topic in topics:
        for acl in acls:
            if (
                acl.resource == "TOPIC"
                and acl.permission == "ALLOW"
                and acl.operation in ("WRITE", "ALL")
                and covers(acl, {topic})
            ):
                writers.setdefault(acl.principal, set()).add(topic)
    wildcard = [p for p in writers if p.endswith(":*")]
    if wildcard and allow:
        raise UserError(
            f"{', '.join(wildcard)} may write to the selection: a DENY for everyone would also "
            f"fence {', '.join(allow)}; remove the wildcard grant or fence without exceptions"
        )
    bindings = sorted(
        Acl("TOPIC", topic, "LITERAL", principal, "*", "WRITE", "DENY")
        for principal, granted in writers.items()
        if principal not in allow
        for topic in granted
    )
    warnings = [
        "super users (the brokers' super.users) bypass ACLs and are not fenced; the brokers "
        "hide that list, so check it by hand"
    ]
    if not bindings:
        warnings.append("no principal other than the listed ones has a WRITE grant here")
    return Fence(bindings, sorted({b.principal for b in bindings}), warnings)


def apply_fence(cluster: Cluster, fence: Fence) -> None:
    if fence.bindings:
        gather(
            cluster.admin.create_acls(
                [b.binding() for b in fence.bindings], request_timeout=TIMEOUT
            ),
            "create fence ACLs",
        )


def fence_visible(cluster: Cluster, bindings: list[Acl]) -> bool:
    """The brokers describe every binding of the fence (the controller accepts them a moment
    before a broker's metadata shows them, and only then does that broker refuse writes)."""
    return set(bindings) <= set(describe_all(cluster))


def remove_fence(cluster: Cluster, fence: Fence) -> None:
    """Delete exactly the fence's bindings (nothing else matches their full filters)."""
    delete_acls(cluster, fence.bindings, "delete fence ACLs")
