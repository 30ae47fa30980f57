"""The old Connect cluster asks for HTTP basic auth (the sandbox's connect_source, with Kafka's
BasicAuthSecurityRestExtension): with a wrong password in its variable, `plan` and `start` are
refused by name (the Connect cluster and the user, never the password) and nothing is started;
with the right one, the same plan reads that cluster's connectors."""

from __future__ import annotations

import logging
import secrets

import pytest

from bot.sandbox.state import write_private
from tests.connect_helpers import delete_all, file_source, wait_state, worker
from tests.kafka_helpers import create_topic
from tests.slack.support import live_config, running_bot
from tests.slack.test_connectors_migration import answer

pytestmark = pytest.mark.sandbox
VARIABLE = "SANDBOX_CONNECT_SOURCE_PASSWORD"


def with_password(path, password: str) -> None:
    """The config's sandbox.env (beside it) with another password for the old Connect."""
    env = path.with_name("sandbox.env")
    lines = env.read_text().splitlines()
    assert any(line.startswith(f"{VARIABLE}=") for line in lines)
    kept = [line for line in lines if not line.startswith(f"{VARIABLE}=")]
    write_private(env, "".join(f"{line}\n" for line in [*kept, f"{VARIABLE}={password}"]))


def test_a_wrong_connect_password_is_refused_by_name_and_never_shown(
    sandbox, standin, tmp_path, unique, caplog, monkeypatch
):
    monkeypatch.delenv(VARIABLE, raising=False)  # the env_file's value is the one read
    caplog.set_level(logging.DEBUG)
    old = worker(sandbox, "connect_source")
    topic = f"auth-{unique}"
    create_topic(sandbox.source.client_config(), topic, 1)
    (tmp_path / "in.txt").write_text("a\n")
    source = f"file-auth-{unique}"
    wrong = "wrong-" + secrets.token_urlsafe(12)
    path = live_config(sandbox, tmp_path)
    with_password(path, wrong)
    args = (
        f"auth source=sandbox-source target=sandbox-target topics={topic} via=sandbox-mm2 "
        "connect_from=sandbox-connect-source connect_to=sandbox-connect-target"
    )
    try:
        file_source(old, source, tmp_path / "in.txt", topic)
        wait_state(old, source, "RUNNING")
        with running_bot(
            path, standin, tmp_path, paused=False, card_interval=0.5, mode="in-process"
        ) as driver:
            for verb in ("plan", "start"):
                driver.command(f"{verb} {args}", user="U0BOB")
                refusal = answer(driver, "refused user")
                assert (
                    "connect_from=sandbox-connect-source: Kafka Connect sandbox-connect-source "
                    f"({sandbox.connect_source_url}) refused user 'connect-admin' with HTTP 401"
                ) in refusal, refusal
                assert "connect_clusters.sandbox-connect-source.username and password_env" in (
                    refusal
                )
                standin.responses.clear()
            driver.settle()
            assert driver.bot.store.list() == []  # nothing started
            assert not driver.standin.channel_messages("C0MIGRATE")
            said = str(standin.calls) + str(standin.responses) + str(standin.messages)
            real = sandbox.connect_auth("connect_source")[1]
            for password in (wrong, real):
                assert password not in said
                assert password not in caplog.text
        wait_state(old, source, "RUNNING")  # nothing was stopped

        # the right password (the sandbox's): the same plan reads the old cluster's connectors
        with_password(path, sandbox.connect_auth("connect_source")[1])
        with running_bot(
            path, standin, tmp_path, paused=False, card_interval=0.5, mode="in-process"
        ) as driver:
            driver.command(f"plan {args}", user="U0BOB")
            plan = answer(driver, "*Plan*")
            assert "*Connectors*: 1 move" in plan and source in plan, plan
    finally:
        delete_all(old, "file-auth-")
