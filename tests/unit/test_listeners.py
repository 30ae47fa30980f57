"""Slack listeners called directly, as bolt calls them: its keyword arguments (a Mock(Ack), a
Mock(Respond)) and the context its middleware fills (the services, the typed payload, the
button's value), on the real engine and store; what the person is answered is the outcome."""

from __future__ import annotations

from unittest.mock import Mock

import pytest
from slack_bolt import Ack, BoltContext, Respond

from bot import config
from bot.commands import Services, answers, card, gates, modal, slash
from bot.errors import UserError
from bot.migration.engine import Engine
from bot.migration.notify import LogNotifier
from bot.migration.steps import Step
from bot.models import GateMessage
from bot.slack import blocks
from bot.slack.directory import Directory
from bot.slack.notifier import SlackNotifier
from bot.slack.payloads import BlockActions, ButtonValue, SlashCommand, ViewSubmission
from tests.support import CONFIG, migration

GATE_TS = "1700000000.000100"


def services_on(store, tmp_path, config_text: str = CONFIG) -> Services:
    path = tmp_path / "km.toml"
    path.write_text(config_text)
    engine = Engine(config.load(path), store, LogNotifier())
    notifier = Mock(SlackNotifier, channel="C1")
    directory = Mock(Directory, **{"groups_of.return_value": frozenset()})
    return Services(engine, notifier, directory, engine.settings)


def click(
    services: Services, action_id: str, user: str, value: ButtonValue, ts: str = GATE_TS
) -> tuple[BoltContext, Mock]:
    """The context bolt's middleware makes for a click, and its respond (bolt's `respond`
    argument is the context's)."""
    payload = BlockActions.model_validate(
        {
            "type": "block_actions",
            "user": {"id": user},
            "channel": {"id": "C1"},
            "message": {"ts": ts},
            "actions": [{"action_id": action_id, "value": "set by the context"}],
            "response_url": "https://hooks.example/r1",
        }
    )
    respond = Mock(Respond)
    context = {"services": services, "payload": payload, "button": value, "respond": respond}
    return BoltContext(context), respond


def gate_request(store, services: Services) -> ButtonValue:
    """A migration requested by U0BOB, its stop_producers gate open at version 5, and the gate
    request posted (C1, GATE_TS)."""
    m = store.create(migration(requested_by="U0BOB"), "U0BOB")
    m.step, m.state = (
        Step.STOP_PRODUCERS,
        {"gate": {"step": Step.STOP_PRODUCERS, "opened_at": 0, "version": 5}},
    )
    for version in range(1, 5):
        store.save(m, version, actor="bot", kind="step", message="moved")
    m = store.get(m.id)
    store.add_gate_message(
        GateMessage(
            channel="C1", ts=GATE_TS, migration_id=m.id, step=m.step, version=5, text="approve?"
        )
    )
    return ButtonValue(m=m.id, v=5, s=m.step)


def said(respond: Mock) -> str:
    return " ".join(call.kwargs.get("text", "") for call in respond.call_args_list)


def test_an_approval_is_recorded_and_counted_from_the_decision(store, tmp_path):
    two = CONFIG.replace('approvers = ["U0BOB", "S0SRE"]', 'approvers = ["U0BOB", "U0DAN"]\n')
    two = two.replace("[cli]", "required_approvals = 2\n[cli]")
    services = services_on(store, tmp_path, two)
    value = gate_request(store, services)
    context, respond = click(services, "gate_approve", "U0DAN", value)
    gates.approve(respond=respond, context=context)
    assert said(respond) == "Approval recorded (1 of 2)."
    assert respond.call_args.kwargs["response_type"] == "ephemeral"
    assert [(a.actor, a.decision) for a in store.all_approvals(value.m)] == [("U0DAN", "approved")]
    services.notifier.gate_decided.assert_not_called()  # the request stays open for the second


def test_a_refusal_is_answered_to_the_clicker_only_and_changes_nothing(store, tmp_path):
    services = services_on(store, tmp_path)
    value = gate_request(store, services)
    context, respond = click(services, "gate_approve", "U0BOB", value)  # the requester
    gates.approve(respond=respond, context=context)
    assert "<@U0BOB>" in said(respond) and "cannot approve it (two-person rule)" in said(respond)
    assert respond.call_args.kwargs == {
        "text": respond.call_args.kwargs["text"],
        "response_type": "ephemeral",
        "replace_original": False,
    }
    assert store.all_approvals(value.m) == []


def test_a_card_button_of_another_message_does_nothing(store, tmp_path):
    services = services_on(store, tmp_path)
    value = gate_request(store, services)
    context, respond = click(services, "migration_pause", "U0BOB", ButtonValue(m=value.m, v=5))
    card.operate(respond=respond, context=context)
    assert "does not belong to the message it was clicked on" in said(respond)
    assert store.get(value.m).status == "active"


def test_a_command_line_is_read_once_and_answered_in_the_ack():
    ack = Mock(Ack)
    slash.ack_command(ack=ack, context=BoltContext({"line": slash.parse("help")}))
    assert ack.call_count == 1 and ack.call_args.kwargs == {"text": blocks.HELP}
    with pytest.raises(UserError) as caught:
        slash.parse("start orders source=src target=dst topics=t via=mm2 colour=blue")
    payload = SlashCommand.model_validate(
        {"command": "/kafka-migrate", "text": "x", "user_id": "U0ALICE", "channel_id": "C1"}
    )
    refused = answers.on_error(caught.value, BoltContext({"payload": payload}), Mock())
    text = refused.body
    assert refused.status == 200 and "unknown argument 'colour'" in text and "Usage:" in text


def test_a_form_error_goes_back_to_the_field_it_names():
    payload = ViewSubmission.model_validate(
        {
            "type": "view_submission",
            "user": {"id": "U0ALICE"},
            "view": {
                "type": "modal",
                "callback_id": "start_migration",
                "state": {
                    "values": {
                        key: {"value": {"value": value}}
                        for key, value in (
                            ("name", "orders"),
                            ("source", "src"),
                            ("target", "dst"),
                            ("topics", "t"),
                            ("groups_exclude", "old-.*"),
                            ("via", "mm2"),
                        )
                    }
                },
            },
        }
    )
    context = BoltContext({"payload": payload})
    with pytest.raises(UserError) as caught:
        modal.read_form(context=context, next=Mock())
    refused = answers.on_error(caught.value, context, Mock())
    assert refused.body == (
        '{"response_action": "errors", "errors": {"groups_exclude": "start: groups_exclude '
        "needs groups_exclude_reason='why' (it goes into the audit)\"}}"
    )
