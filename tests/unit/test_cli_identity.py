"""The CLI acts as the operating-system account it runs as: USER and LOGNAME change nothing."""

from __future__ import annotations

import os
import pwd
import socket

import pytest

from bot.db import open_database
from bot.migration.steps import Step
from bot.migration.store import Store
from tests.accounts import kafka_migrate_as, os_account, remove, shared_database, shared_dir
from tests.support import CONFIG, migration

APPROVER = "km-test-bob"


@pytest.fixture
def gate_open():
    """A migration waiting at the stop_producers gate, version 2, in a database every test
    account can write; `cli.approvers` names the OS account km-test-bob."""
    root = shared_dir("km-identity-")
    (root / "km.toml").write_text(
        CONFIG.replace('approvers = ["carol"]', f'approvers = ["{APPROVER}", "carol"]')
    )
    url = shared_database(root / "km.db")
    store = Store(open_database(url))
    m = store.create(migration(requested_by="U0ALICE"), "U0ALICE")
    m.step = Step.STOP_PRODUCERS
    m.state = {"gate": {"step": "stop_producers", "opened_at": 0, "version": 2}}
    store.save(m, 1, actor="bot", kind="gate_opened", message="stop_producers open")
    env = {
        **os.environ,
        "KAFKA_MIGRATE_CONFIG": str(root / "km.toml"),
        "DATABASE_URL": url,
        "HOME": str(root),
    }
    yield store, m.id, env
    store.db.dispose()
    remove(root)


def approve(name: str, mid: str, env: dict, *, claims: str):
    """`kafka-migrate approve` run as OS account `name`, claiming to be `claims` in USER."""
    return kafka_migrate_as(
        name, ["approve", mid, "--version", "2"], env={**env, "USER": claims, "LOGNAME": claims}
    )


def test_an_approval_is_recorded_under_the_real_account_whatever_USER_says(gate_open):
    store, mid, env = gate_open
    bob = os_account(APPROVER)
    result = approve(APPROVER, mid, env, claims="root")
    assert result.returncode == 0, result.stderr
    assert f"approved by cli:{APPROVER}" in result.stdout
    [approval] = store.all_approvals(mid)
    assert (approval.actor, approval.interface, approval.decision) == (
        f"cli:{APPROVER}",
        "cli",
        "approved",
    )
    [event] = [e for e in store.events(mid) if e.kind == "approved"]
    assert event.actor == f"cli:{APPROVER}"
    assert event.data == {
        "version": 2,
        "interface": "cli",
        "account": APPROVER,
        "uid": bob.pw_uid,
        "host": socket.gethostname(),
    }


def test_claiming_an_approvers_name_in_USER_is_refused_and_audited(gate_open):
    store, mid, env = gate_open
    me = pwd.getpwuid(os.geteuid()).pw_name
    assert me != "carol"
    result = approve(me, mid, env, claims="carol")
    assert result.returncode == 2
    assert f"cli:{me} is not an approver" in result.stderr
    assert store.all_approvals(mid) == []
    [refused] = [e for e in store.events(mid) if e.kind == "refused"]
    assert refused.actor == f"cli:{me}" and "is not an approver" in refused.reason
    assert refused.data["account"] == me and refused.data["host"] == socket.gethostname()
    assert store.get(mid).step == Step.STOP_PRODUCERS and store.get(mid).version == 2
