"""Action ids and callback ids: one constant each, used by rendering and handlers alike."""

from __future__ import annotations

import json
from enum import StrEnum


class Action(StrEnum):
    APPROVE = "gate_approve"
    REJECT = "gate_reject"
    PAUSE = "migration_pause"
    RESUME = "migration_resume"
    CANCEL = "migration_cancel"
    RETRY = "migration_retry"
    ROLLBACK = "migration_rollback"
    FINALIZE = "migration_finalize"


START_VIEW = "start_migration"
# the start form's block ids: one per start argument it asks for, named as in the grammar
START_FIELDS = (
    "name",
    "source",
    "target",
    "topics",
    "exclude",
    "via",
    "replication_policy",
    "groups_exclude",
    "groups_exclude_reason",
    "source_registry",
    "target_registry",
    "connect_from",
    "connect_to",
    "connectors",
    "connectors_exclude",
    "reverse_via",
    "soak",
)
COMMAND = "/kafka-migrate"


def button_value(migration_id: str, version: int, step: str | None = None) -> str:
    return json.dumps({"m": migration_id, "v": version, "s": step}, separators=(",", ":"))
