"""Factories and values shared by the tests (one place: test modules never import each other).

- `CONFIG`: a configuration whose clusters and replicator nobody listens on (the fast tests).
- `migration(...)`: a Migration row as the engine writes it; keyword arguments override fields.
"""

from __future__ import annotations

from bot.migration.steps import Status, Step
from bot.models import Migration

CONFIG = """
[clusters.src]
bootstrap_servers = "127.0.0.1:1"
[clusters.dst]
bootstrap_servers = "127.0.0.1:2"
[replicators.mm2]
kind = "connect"
url = "http://127.0.0.1:3"
[slack]
channel = "C1"
approvers = ["U0BOB", "S0SRE"]
[cli]
approvers = ["carol"]
"""


def migration(mid: str = "orders-abc", topics=("orders", "payments"), **extra) -> Migration:
    fields = dict(
        id=mid,
        name="orders",
        source="src",
        target="dst",
        replicator="mm2",
        topics="orders,payments",
        step=Step.PREFLIGHT,
        status=Status.ACTIVE,
        requested_by="U0ALICE",
        selected_topics=list(topics),
    )
    fields.update(extra)
    return Migration(**fields)
