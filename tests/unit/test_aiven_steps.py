"""The runbook's Aiven parts (bot/migration/aiven_steps.py) and the refusal of a second open
migration on one Aiven flow (Verbs._request), without Kafka or the API."""

from __future__ import annotations

import pytest

from bot import config
from bot.errors import UserError
from bot.migration import aiven_steps
from bot.migration.context import Context, Observations, Outcome
from bot.migration.engine import Engine
from bot.migration.grammar import parse_start, tokens
from bot.migration.notify import LogNotifier
from bot.migration.steps import Status
from bot.replicators.aiven_preflight import Finding
from bot.replicators.base import FlowSpec
from tests.support import CONFIG, migration
from tests.unit.ports import MemoryReplicator


class AivenLike(MemoryReplicator):
    where = "MM2 service acme/mm2"

    def __init__(self, findings=(), states=("RUNNING",)):
        super().__init__()
        self.findings, self.states = list(findings), list(states)
        self.asked: list[tuple] = []

    def preflight_findings(self, flow, *, schemas=False):
        self.asked.append(("preflight", schemas))
        return self.findings

    def prepare(self, progress=None, *, wait=True):
        self.asked.append(("prepare", wait))
        return {"state": self.states.pop(0) if len(self.states) > 1 else self.states[0]}


def context(replicator) -> Context:
    flow = FlowSpec("km-x", {}, {}, ["orders"])
    return Context(migration(), None, None, replicator, flow, None, Observations(), 0.0)


def test_a_finding_that_is_not_ok_fails_preflight_with_what_to_fix_and_keeps_every_line():
    rep = AivenLike(
        [
            Finding(True, "token in AIVEN_TOKEN accepted; project acme found"),
            Finding(True, "topic auto-creation on acme/kafka is on", warning=True),
            Finding(False, "MM2 service acme/mm2 is POWEROFF: power it on"),
        ]
    )
    found = aiven_steps.preflight(context(rep))
    assert rep.asked == [("preflight", False)]  # no registries named: schemas not checked
    assert found.warnings == ["topic auto-creation on acme/kafka is on"]
    assert found.lines[0] == "ok: token in AIVEN_TOKEN accepted; project acme found"
    assert found.lines[1].startswith("warning: ") and found.lines[2].startswith("problem: ")
    assert found.report().splitlines()[1:] == [f"• Aiven: {line}" for line in found.lines]
    assert found.problem.outcome == Outcome.FAILED
    assert found.problem.message == (
        "1 problem(s) on Aiven; fix them, then retry: MM2 service acme/mm2 is POWEROFF: power it on"
    )


def test_without_problems_preflight_goes_on_and_other_replicators_are_not_asked():
    assert aiven_steps.preflight(context(AivenLike([Finding(True, "fine")]))).problem is None
    plain = aiven_steps.preflight(context(MemoryReplicator()))
    assert (plain.lines, plain.warnings, plain.problem, plain.report()) == ([], [], None, "")
    assert aiven_steps.prepare(context(MemoryReplicator())) is None


def test_prepare_waits_without_blocking_until_the_mm2_service_runs():
    rep = AivenLike(states=["REBUILDING", "RUNNING"])
    ctx = context(rep)
    waiting = aiven_steps.prepare(ctx)
    assert waiting.outcome == Outcome.WAITING
    assert waiting.message.startswith("MM2 service acme/mm2 is REBUILDING; waiting until")
    assert aiven_steps.prepare(ctx) is None
    assert rep.asked == [("prepare", False), ("prepare", False)]


AIVEN = """
[replicators.av]
kind = "aiven"
project = "acme"
service = "mm2"
token_env = "AIVEN_TOKEN"
[replicators.av-same]
kind = "aiven"
project = "acme"
service = "mm2"
token_env = "AIVEN_TOKEN"
[replicators.av-aliases]
kind = "aiven"
project = "acme"
service = "mm2"
token_env = "AIVEN_TOKEN"
source_alias = "src2"
target_alias = "dst2"
"""


@pytest.fixture
def aiven_engine(tmp_path, store, monkeypatch):
    monkeypatch.setenv("AIVEN_TOKEN", "unused")
    path = tmp_path / "km.toml"
    path.write_text(CONFIG + AIVEN)
    return Engine(
        config.load(path), store, LogNotifier(), replicators=lambda *_: MemoryReplicator()
    )


def request(via: str, topics: str = "payments"):
    return parse_start(tokens(f"other source=src target=dst topics={topics} via={via}"))


@pytest.mark.parametrize("status", [Status.ACTIVE, Status.PAUSED, Status.FAILED])
def test_a_second_open_migration_on_the_same_aiven_flow_is_refused_naming_the_first(
    aiven_engine, store, status
):
    first = store.create(migration(replicator="av", status=status), "U0ALICE")
    for via in ("av", "av-same"):  # another name for the same service and aliases
        with pytest.raises(UserError) as refused:
            aiven_engine.verbs.start(request(via), "U0BOB")
        assert str(refused.value).startswith(
            f"{first.id} ({status}) holds the flow source->target on MM2 service acme/mm2"
        )
        assert "Aiven runs one flow per alias pair per service" in str(refused.value)


def test_other_aliases_a_closed_migration_or_connect_are_not_refused_for_the_flow(
    aiven_engine, store
):
    store.create(migration(replicator="av"), "U0ALICE")
    done = migration("done-1", topics=("audit",), replicator="av-aliases", status="complete")
    store.create(done, "U0ALICE")
    for via in ("av-aliases", "mm2"):
        with pytest.raises(UserError) as later:  # refused further on: the cluster is away
            aiven_engine.verbs.start(request(via), "U0BOB")
        assert "holds the flow" not in str(later.value)
        assert "the source cluster src" in str(later.value)
