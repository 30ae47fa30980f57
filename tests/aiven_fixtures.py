"""The Aiven API stand-in for tests: on the sandbox (`aiven`), or without Kafka (`aiven_offline`,
for what never reaches a cluster). Import the fixture you use into the test module by its
function's name (`from tests.aiven_fixtures import aiven_fixture`); tests ask for `aiven`."""

from __future__ import annotations

import pytest
from aiven.client.client import AivenClient
from standins.aiven_api import SOURCE, TARGET, AivenStandIn
from standins.aiven_kafka import external_kafka_user_config

TOKEN = "aivenv1-test-token-7f3a9c"
PROJECT = "migrations"


def client(standin: AivenStandIn, token: str | None = TOKEN) -> AivenClient:
    """aiven-client as the bot uses it."""
    aiven = AivenClient(base_url=standin.url)
    if token is not None:
        aiven.set_auth_token(token)
    return aiven


def external_kafka(endpoint, user: str = "admin") -> dict[str, str]:
    """An `external_kafka` endpoint's user_config for a sandbox cluster (bot.sandbox.Endpoint)."""
    return external_kafka_user_config(endpoint.client_config(user))


def _serve(standin: AivenStandIn):
    standin.start()
    try:
        yield standin
    finally:
        standin.stop()
    assert not standin.problems, standin.problems  # answers the OpenAPI document refuses


@pytest.fixture(name="aiven")
def aiven_fixture(sandbox):
    """Project PROJECT with Kafka services SOURCE and TARGET (the sandbox's clusters, as
    admin); MM2 flows run on the sandbox's Connect worker."""
    standin = AivenStandIn.on_sandbox(sandbox, token=TOKEN, project=PROJECT, running_delay=0.2)
    yield from _serve(standin)


@pytest.fixture(name="aiven_offline")
def aiven_offline_fixture():
    """The same project with Kafka services that point nowhere (port 9) and no Connect worker:
    for requests the stand-in refuses or answers without a cluster."""
    nowhere = {"bootstrap.servers": "127.0.0.1:9", "security.protocol": "PLAINTEXT"}
    standin = AivenStandIn(
        token=TOKEN,
        project=PROJECT,
        kafka_services={SOURCE: nowhere, TARGET: nowhere},
        connect_url="http://127.0.0.1:9",
        running_delay=0.0,
    )
    yield from _serve(standin)
