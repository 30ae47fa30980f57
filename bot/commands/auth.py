"""Who may operate a migration (pause, resume, retry, cancel): the domain's rule
(approvals.check_operator: its requester or an approver), with the Slack user's groups."""

from __future__ import annotations


def check_operator(services, migration_id: str, user: str) -> None:
    services.engine.check_operator(migration_id, user, services.directory.groups_of(user))
