"""The engine's ports: what it asks of Kafka, of the replicator and of people's channel.

- Kafka: `Runbook` below, the steps' work on the clusters (actions, the conditions an open gate
  keeps checking, the repoint preview, and the undo of what a cancel takes back). The real one
  is `bot.migration.actions.KAFKA_RUNBOOK`; a fast test gives the engine its own.
- Replicator: `bot.replicators.base.Replicator` (MirrorMaker 2 on Kafka Connect).
- Notifier: `bot.migration.notify.Notifier` (Slack, or the log).

The engine gets each as a factory or an object, so it runs (and is tested) without brokers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from bot.migration.context import Context, Result
from bot.migration.steps import Step

Action = Callable[[Context], Result]
Condition = Callable[[Context], "Result | None"]


@dataclass(frozen=True)
class Runbook:
    actions: Mapping[Step, Action]  # one per non-gate step
    conditions: Mapping[Step, Condition]  # per gate: what must still hold while it is open
    preview: Callable[[Context], dict[str, Any]]  # the repoint gate's per-group handover
    # compensations, each on the cluster named: (cluster, what was recorded) -> None
    unfence: Callable[[Any, list[list[str]]], None]  # source: delete the DENY WRITE bindings
    drop_topics: Callable[[Any, list[str]], None]  # target: delete the topics it created
    drop_acls: Callable[[Any, list[list[str]]], None]  # target: delete the bindings it created
