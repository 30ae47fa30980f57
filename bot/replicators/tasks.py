"""How many tasks a flow's MirrorSourceConnector runs: its `tasks.max`.

MM2 gives each task a share of the source partitions (never more tasks than partitions), and
Kafka Connect spreads the tasks over the workers of its group. So the figure follows both:

    tasks.max = max(1, min(partitions, workers * tasks_per_worker))

`tasks_per_worker` is 4 by default: on one worker that is the 4 this bot always set, so a
one-worker Connect cluster runs as before; a task is one consumer and one producer, and more
of them per worker JVM mostly add threads and connections. A replicator's `tasks_max` in the
configuration overrides the rule.

The figure is decided once, when the replication starts, and kept in the migration's state:
`ensure` compares configs, and a figure that followed the live worker count would rewrite the
connector (restarting every task) each time a worker dies or joins — during a failover, the
moment it must not.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

TASKS_PER_WORKER = 4
LEGACY_TASKS_MAX = 4  # a flow started before the figure was recorded keeps it (no restart)


@dataclass(frozen=True)
class TaskSizing:
    """The chosen tasks.max and what it was chosen from. `workers` None: not asked (the
    configuration set tasks.max); `workers_seen`: counted from what the Connect cluster runs
    (a lower bound: no worker count was configured)."""

    tasks_max: int
    partitions: int
    workers: int | None = None
    tasks_per_worker: int = TASKS_PER_WORKER
    configured: bool = False
    workers_seen: bool = False

    def __str__(self) -> str:
        parts = _count(self.partitions, "partition")
        if self.configured:
            return f"tasks.max {self.tasks_max}: set by the replicator's tasks_max ({parts})"
        text = f"tasks.max {self.tasks_max}: {parts}, {_count(self.workers or 0, 'worker')}"
        if self.workers and self.tasks_max == self.workers * self.tasks_per_worker:
            text += f" × {self.tasks_per_worker} tasks each"
        if self.workers_seen:
            text += " (as many as run tasks now: set the replicator's workers to be sure)"
        return text

    def dump(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def load(cls, raw: dict[str, Any]) -> TaskSizing:
        return cls(**{k: raw[k] for k in cls.__dataclass_fields__ if k in raw})


def size_tasks(
    partitions: int,
    workers: int | None,
    *,
    tasks_per_worker: int = TASKS_PER_WORKER,
    tasks_max: int | None = None,
    workers_seen: bool = False,
) -> TaskSizing:
    """The rule above; `tasks_max` (the replicator's configured figure) wins over it."""
    if tasks_max is not None:
        return TaskSizing(tasks_max, partitions, None, tasks_per_worker, configured=True)
    count = max(1, workers or 1)
    chosen = max(1, min(partitions, count * tasks_per_worker))
    return TaskSizing(chosen, partitions, count, tasks_per_worker, workers_seen=workers_seen)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")
