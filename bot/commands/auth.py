"""Who may operate a migration (pause, resume, retry, cancel): its requester or an approver."""

from __future__ import annotations

from bot.errors import UserError


def check_operator(services, migration_id: str, user: str) -> None:
    m = services.engine.store.get(migration_id)
    rule = services.engine.approval_rule()
    if user == m.requested_by or rule.is_approver(user, services.directory.groups_of(user)):
        return
    raise UserError(
        f"{user} may not operate {migration_id}: only its requester and the approvers may"
    )
