"""Fixtures of the Slack tests: the stand-ins, and the real bot in process (most tests), over
signed HTTP or over Socket Mode (the transport's own tests). Helpers: tests/slack/support.py."""

from __future__ import annotations

import pytest
from standins.slack_api import SlackStandIn
from standins.socket_mode import SocketModeStandIn

from tests.slack.support import CHANNEL, USERS, bot_in


@pytest.fixture
def standin():
    socket_mode = SocketModeStandIn().start()
    stand = SlackStandIn(
        channels=(CHANNEL,),
        users=USERS,
        usergroups={"S0SRE": ["U0DAN"]},
        socket_mode=socket_mode,
    )
    stand.start()
    yield stand
    stand.stop()
    socket_mode.stop()


@pytest.fixture
def slackbot(standin, tmp_path):
    """The bot, its requests dispatched in process to the real bolt App."""
    with bot_in("in-process", standin, tmp_path) as driver:
        yield driver


@pytest.fixture(params=("http", "socket"))
def mode(request) -> str:
    """Each transport Slack uses: signed HTTP to waitress, and Socket Mode."""
    return request.param


@pytest.fixture
def wired_bot(mode, standin, tmp_path):
    """The bot over each transport."""
    with bot_in(mode, standin, tmp_path) as driver:
        yield driver


@pytest.fixture
def http_bot(standin, tmp_path):
    """For what only HTTP has: request signatures, methods, sizes, content types."""
    with bot_in("http", standin, tmp_path) as driver:
        yield driver


@pytest.fixture
def socket_bot(standin, tmp_path):
    """For what only Socket Mode has: the link, its acks, reconnects."""
    with bot_in("socket", standin, tmp_path) as driver:
        yield driver
