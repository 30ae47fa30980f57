"""The work after the acks waits for the acks owed (bot/acks.py), and the copy of a request a
lazy listener gets shares what was read (bot/web.py's SlackRequest)."""

from __future__ import annotations

import copy
import threading
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode

import pytest
from slack_sdk import WebClient
from standins.slack_api import SlackStandIn

from bot.acks import Acks
from bot.app import bolt_app
from bot.web import SlackRequest, parse
from tests.waits import wait_for

FORM = "application/x-www-form-urlencoded"


def slash(text: str = "list") -> SlackRequest:
    body = urlencode(
        {"command": "/kafka-migrate", "text": text, "user_id": "U1", "channel_id": "C1"}
    )
    return SlackRequest(body=parse(body, FORM), raw_body=body, headers={"content-type": FORM})


@pytest.fixture
def pool():
    executor = ThreadPoolExecutor(max_workers=2)
    yield executor
    executor.shutdown(wait=False, cancel_futures=True)


@pytest.fixture
def standin():
    stand = SlackStandIn(channels=("C1",), users={"U1": "alice"}).start()
    yield stand
    stand.stop()


def lazy_app(standin, acks: Acks, pool, ran: list[str]):
    """A bolt app as the bot's, with one command acked at once and answered lazily."""
    app = bolt_app(WebClient(token=standin.token, base_url=standin.api_url), pool, acks)

    def ack(ack) -> None:
        ack()

    def later(command) -> None:
        ran.append(command["text"])

    app.command("/kafka-migrate")(ack=ack, lazy=[later])
    return app


def test_lazy_work_starts_only_once_no_ack_is_owed():
    acks, ran = Acks(quiet=0.0, patience=600), []
    waiting = threading.Event()

    def job() -> None:
        waiting.set()
        acks.wait_quiet()
        ran.append("job")

    with acks.owed():
        worker = threading.Thread(target=job)
        worker.start()
        assert waiting.wait(30)
        worker.join(0.3)  # still owed: the job waits however long this takes
        assert ran == []
    worker.join(60)
    assert ran == ["job"]


def test_a_stream_of_acks_holds_lazy_work_back_for_patience_at_most():
    acks = Acks(quiet=600, patience=0.2)
    with acks.owed():
        pass
    assert acks.wait_quiet() is False  # the quiet never came: patience ran out


def test_the_app_answers_in_the_ack_and_runs_the_lazy_listener_after_the_acks(standin, pool):
    acks, ran = Acks(quiet=0.0, patience=600), []
    app = lazy_app(standin, acks, pool, ran)
    with acks.owed():  # another request's ack is owed
        response = app.dispatch(slash("status x"))
        assert response.status == 200  # acked in the request's own thread
        pool.submit(lambda: None).result(30)  # the pool is free: the lazy job waits
        assert ran == []
    wait_for(lambda: ran == ["status x"], 30, "the lazy listener")


def test_the_copy_for_a_lazy_listener_shares_what_was_read_in_a_context_of_its_own():
    request = slash()
    request.context["payload"] = payload = object()
    request.context["listener_runner"] = "per thread"
    lazy = copy.deepcopy(request.to_copyable())  # as bolt makes it
    assert lazy is not request and lazy.context is not request.context
    assert lazy.body is request.body and lazy.raw_body == request.raw_body
    assert lazy.context["payload"] is payload
    assert "listener_runner" not in lazy.context
    lazy.context["line"] = "the copy's"
    assert "line" not in request.context
