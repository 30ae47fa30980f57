"""One read model, two presenters: the same frozen view rendered as CLI text/JSON and as Block
Kit; neither computes a figure of its own, and user-typed text never becomes markup."""

from __future__ import annotations

import dataclasses
import json

import pytest
from standins.blockkit import check_blocks

from bot import cli_text
from bot.migration.steps import INFO
from bot.migration.view import (
    ApprovalLine,
    EventLine,
    Gate,
    MigrationView,
    Plan,
    Report,
    Row,
    StepLine,
    TopicLine,
)
from bot.slack import blocks

HOSTILE = "<!channel> *bold* <https://evil.example|click> & `x`"


def a_view(**changes) -> MigrationView:
    steps = tuple(
        StepLine(
            step=str(i.step),
            kind=str(i.kind),
            title=i.title,
            state="done" if n < 6 else ("running" if n == 6 else "pending"),
            actor="U0BOB" if str(i.step) == "stop_producers" else "bot",
            seconds=12.0 if n < 6 else None,
            reason=None,
        )
        for n, i in enumerate(INFO.values())
    )
    view = MigrationView(
        id="orders-x1y",
        name="orders",
        status="active",
        step="stop_producers",
        version=7,
        waiting_for=HOSTILE,
        reason=None,
        source="onprem",
        target="aiven",
        replicator="mm2",
        replication_policy="identity",
        topics=("orders.eu", "orders.us"),
        groups=("billing",),
        requested_by="U0ALICE",
        steps=steps,
        replication_lag=1234,
        consumer_lag=56,
        eta_seconds=90.0,
        gate=Gate(
            step="stop_producers",
            version=7,
            opened_at=1_700_000_000.0,
            decided={"replication_lag": 12, "at": 1_700_000_000.0},
        ),
        rollback="nothing has moved yet",
        undo=("delete the connectors km-orders-x1y",),
    )
    return dataclasses.replace(view, **changes)


def test_the_view_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        a_view().step = "drain"  # type: ignore[misc]


def test_status_in_text_json_and_block_kit_show_the_same_figures():
    view = a_view()
    text = cli_text.status(view)
    assert "orders-x1y (active, version 7): onprem -> aiven via mm2, 2 topic(s)" in text
    assert "replication lag: 1,234 records, ETA 90s" in text
    assert "at decision: 12 records" in text
    assert "kafka-migrate approve|reject orders-x1y --version 7" in text
    assert "[x] preflight 12s" in text and "[>] " in text
    data = json.loads(cli_text.as_json(view))
    assert data["replication_lag"] == 1234 and data["gate"]["version"] == 7
    assert data["steps"][0]["step"] == "preflight" and data["undo"] == list(view.undo)

    card = blocks.as_dicts(blocks.card(view))
    assert check_blocks(card) == []
    rendered = json.dumps(card)
    assert "1,234 records" in rendered and "at decision: 12" in rendered
    assert "*Version*\\n7" in rendered and "<@U0ALICE>" in rendered
    # the note a person could have influenced is escaped, never markup
    assert "<!channel>" not in rendered and "&lt;!channel&gt;" in rendered


def test_no_gate_no_decision_line_and_no_approve_hint():
    view = a_view(gate=None, status="paused", reason="paused by U0ALICE", waiting_for=None)
    text = cli_text.status(view)
    assert "at decision" not in text and "approve|reject" not in text
    assert "reason: paused by U0ALICE" in text
    card = blocks.as_dicts(blocks.card(view))
    assert check_blocks(card) == []
    labels = [e["text"]["text"] for b in card if b["type"] == "actions" for e in b["elements"]]
    assert labels == ["Resume", "Cancel"]


def test_gate_request_renders_the_decided_figure_and_the_preview():
    view = a_view(
        gate=Gate(
            step="stop_producers",
            version=7,
            opened_at=1.0,
            decided={"replication_lag": 0, "at": 1.0},
            preview={"billing": {"kinds": {"exact": 3}, "duplicates": 0}},
        )
    )
    request = blocks.as_dicts(blocks.gate_request(view, "Stop producers", ["U0BOB"], HOSTILE))
    assert check_blocks(request) == []
    rendered = json.dumps(request)
    assert "replication lag 0 records" in rendered and "3 exact" in rendered
    assert "<!channel>" not in rendered


def a_report() -> Report:
    return Report(
        migration=a_view(status="complete", step="complete", gate=None),
        approvals=(
            ApprovalLine("stop_producers", "approved", "U0BOB", "slack", 7, "2026-11-27T08:00"),
        ),
        timeline=(
            EventLine("2026-11-27T08:00", "cli:jdoe", "paused", None, "paused", "lunch", "ops-1"),
        ),
        handover={"billing": {"exact": 5}, "analytics": {"exact": 4, "translated": 2}},
        verify={"partitions": 4, "differences": []},
        schemas={"subjects": ["orders-value"], "imported": True, "parity": [], "skipped": []},
        lag_samples=(("2026-11-27T08:00", 10),),
    )


def test_report_in_text_json_and_slack():
    report = a_report()
    text = cli_text.report(report)
    assert "stop_producers approved by U0BOB from slack (version 7)" in text
    assert "cli:jdoe (on ops-1): paused [lunch]" in text
    assert "schemas (ids preserved): orders-value" in text
    assert "handover: analytics: 4 exact, 2 translated; billing: 5 exact" in text
    data = json.loads(cli_text.as_json(report))
    assert data["verify"]["partitions"] == 4 and data["approvals"][0]["actor"] == "U0BOB"
    assert data["id"] == "orders-x1y" and data["lag_samples"] == [["2026-11-27T08:00", 10]]
    slack = blocks.report_text(report)
    assert "<@U0BOB>" in slack and "4 partition(s), differences: 0" in slack
    assert "*Handover*: analytics: 4 exact, 2 translated; billing: 5 exact" in slack
    assert "*Schemas* (ids preserved): `orders-value`" in slack


def test_no_approvals_says_none():
    report = dataclasses.replace(a_report(), approvals=())
    assert "approvals:\n  none" in cli_text.report(report)
    assert "• none" in blocks.report_text(report)


def test_list_in_text_json_and_slack():
    rows = [Row("orders-x1y", "active", "catch_up", 3, 2, "U0ALICE")]
    assert "orders-x1y  active    catch_up             v3  2 topic(s)  by U0ALICE" in (
        cli_text.listing(rows)
    )
    assert json.loads(cli_text.as_json(rows))[0]["step"] == "catch_up"
    assert blocks.list_text(rows) == "• `orders-x1y` active at `catch_up` (v3)"
    assert cli_text.listing([]) == "no migrations"
    assert blocks.list_text([]) == "No migrations yet."


def test_plan_shows_configs_in_text_as_in_json_and_escapes_in_slack():
    plan = Plan(
        topics=("orders.eu",),
        excluded=("orders.test",),
        internal=(),
        topic_lines=(
            TopicLine(
                source="orders.eu",
                target="orders.eu",
                partitions=6,
                actions=("create",),
                configs={"cleanup.policy": "compact", "retention.ms": "-1"},
                problems=(HOSTILE,),
                warnings=(),
            ),
        ),
        summary={"topics": 1, "problems": 1},
        schema_summary={"subjects": 1, "versions": 2, "create": 2, "present": 0, "conflict": 0},
        schema_lines=("orders.eu-value: 2 version(s) to create",),
    )
    assert plan.refused
    text = cli_text.plan(plan)
    assert "cleanup.policy = compact" in text and "retention.ms = -1" in text
    assert "excluded: orders.test" in text and "2 to create" in text
    data = json.loads(cli_text.as_json(plan))
    assert data["topic_plan"][0]["configs"] == {"cleanup.policy": "compact", "retention.ms": "-1"}
    slack = blocks.plan_text(plan)
    assert "`orders.eu` → `orders.eu`: 6 partition(s), create" in slack
    assert "<!channel>" not in slack and "*Schemas*: 2 to create" in slack
