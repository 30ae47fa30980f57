"""Finalize and rollback, asked for during the soak, on the engine's memory ports: refused
with the reason where they make no sense (and audited), each a gate approved like the cutover
(never by whoever asked for it, nor by the requester), a declined request back to the soak,
and a rollback that runs the way back's steps to `rolled_back`."""

from __future__ import annotations

import pytest

from bot.migration.approvals import Refused
from bot.migration.context import Result
from bot.migration.notify import NotificationKind
from bot.migration.steps import BACK, Status, Step
from bot.models import EventKind
from tests.support import migration
from tests.unit.test_engine import Rig

SOAKING = [Result.waiting("reverse replication lag 0 records; 59m of the soak left")] * 20


@pytest.fixture
def rig(tmp_path, store):
    rig = Rig(tmp_path, store)
    m = migration(
        "soaky-abc",
        topics=("soaky",),
        requested_by="U0ALICE",
        options={"reverse_via": "mm2", "soak": 3600},
    )
    rig.id = store.create(m, "U0ALICE").id
    rig.scripted.script[Step.SOAK] = list(SOAKING)
    return rig


def test_without_a_reverse_flow_there_is_nothing_to_finalize_or_roll_back(tmp_path, store):
    rig = Rig(tmp_path, store)
    m = rig.to(Step.COMPLETE)
    assert m.status == Status.COMPLETE  # the soak passes at once: no reverse flow
    other = store.create(migration("plain-abc", topics=("plain",), step=Step.SOAK), "U0ALICE")
    with pytest.raises(Refused, match="has no reverse flow .*replicating back to the source"):
        rig.engine.verbs.rollback(other.id, "U0ALICE")
    with pytest.raises(Refused, match="there is no soak to end"):
        rig.engine.verbs.finalize(other.id, "U0ALICE")
    refused = [e.data["verb"] for e in store.events(other.id) if e.kind == EventKind.REFUSED]
    assert refused == ["rollback", "finalize"]


def test_asked_for_only_during_the_soak(rig):
    with pytest.raises(Refused, match="is at preflight: rollback is asked for during the soak"):
        rig.engine.verbs.rollback(rig.id, "U0ALICE")
    assert rig.to(Step.SOAK).step == Step.SOAK
    assert rig.tick().waiting_for.endswith("59m of the soak left")


def test_finalize_is_a_gate_for_two_people_and_a_decline_goes_back_to_the_soak(rig):
    rig.to(Step.SOAK)
    rig.engine.verbs.finalize(rig.id, "U0BOB")  # an approver asks for it
    m = rig.tick()
    assert (m.step, m.status) == (Step.FINALIZE, Status.ACTIVE) and m.state.gate
    with pytest.raises(Refused, match="U0BOB asked for the finalize and cannot approve it"):
        rig.approve("U0BOB")
    with pytest.raises(Refused, match="U0ALICE is not an approver"):
        rig.approve("U0ALICE")
    rig.engine.verbs.decide(
        rig.id, actor="U0ALICE", version=m.version, interface="slack", approve=False
    )
    m = rig.store.get(rig.id)
    assert (m.step, m.status, m.state.gate, m.state.requested) == (
        Step.SOAK,
        Status.ACTIVE,
        None,
        None,
    )
    assert [e.kind for e in rig.store.events(rig.id)][-1] == EventKind.DECLINED
    assert rig.tick().step == Step.SOAK  # soaking again
    rig.engine.verbs.finalize(rig.id, "U0ALICE")  # the requester asks this time
    rig.tick()
    rig.approve("U0BOB")
    m = rig.tick()
    assert m.status == Status.COMPLETE and m.state.requested is None


def test_an_approved_rollback_runs_the_way_back_to_rolled_back(rig):
    rig.to(Step.SOAK)
    rig.engine.verbs.rollback(rig.id, "U0ALICE")
    assert rig.tick().step == Step.ROLLBACK
    rig.approve("U0BOB")
    m = rig.to(Step.ROLLED_BACK)
    m = rig.tick() if m.status == Status.ACTIVE else m
    assert m.status == Status.ROLLED_BACK and m.step == Step.ROLLED_BACK
    done = [r.step for r in rig.store.step_runs(rig.id) if r.state == "done"]
    assert done[-len(BACK) :] == list(BACK)
    assert NotificationKind.COMPLETED in rig.kinds()
    with pytest.raises(Refused, match="is rolled_back: it is rolled back already"):
        rig.engine.verbs.rollback(rig.id, "U0ALICE")


def test_the_reverse_flows_principal_is_let_through_the_fence(tmp_path, store, monkeypatch):
    from bot import config
    from bot.migration import reverse
    from tests.support import CONFIG

    path = tmp_path / "km.toml"
    path.write_text(
        CONFIG.replace(
            "[clusters.dst]\n",
            '[clusters.aivensrc]\nbootstrap_servers = "127.0.0.1:4"\nsecurity_protocol = '
            '"SASL_SSL"\nsasl_mechanism = "PLAIN"\nsasl_username = "mm2user"\n'
            'sasl_password_env = "KM_TEST_SECRET"\n[clusters.dst]\n',
        )
        + '[replicators.back]\nkind = "connect"\nurl = "http://127.0.0.1:5"\n'
        'principal = "User:connect"\n'
        '[replicators.aback]\nkind = "aiven"\nproject = "p"\nservice = "s"\n'
        'token_env = "KM_TEST_SECRET"\n'
    )
    monkeypatch.setenv("KM_TEST_SECRET", "s3cret")
    settings = config.load(path)
    assert reverse.principal(settings, {"reverse_via": "back"}, "src") == "User:connect"
    assert reverse.principal(settings, {"reverse_via": "aback"}, "aivensrc") == "User:mm2user"
    assert reverse.principal(settings, {"reverse_via": "mm2"}, "src") is None  # not configured
    assert reverse.principal(settings, {}, "src") is None
    rig = Rig(tmp_path, store)
    options = rig.engine.verbs._with_reverse(
        {"reverse_via": "back", "fence_allow": ["User:ops"]}, "src"
    )
    assert options["fence_allow"] == ["User:ops"]  # the rig's own config has no such replicator
    rig.engine.verbs.settings = settings
    options = rig.engine.verbs._with_reverse(
        {"reverse_via": "back", "fence_allow": ["User:ops"]}, "src"
    )
    assert options["fence_allow"] == ["User:ops", "User:connect"]
    assert options["reverse_principal"] == "User:connect"
