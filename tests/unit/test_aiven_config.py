"""Configuration of the Aiven path: clusters that are Aiven services, the aiven replicator.
Every error names the file, the key and the problem; a pasted token is never echoed."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot import config
from bot.errors import ConfigError
from bot.replicators import from_settings
from bot.replicators.aiven import AivenReplicator

TOKEN = "aivenv1-token-Zq9-do-not-show"

BASE = """
[clusters.onprem]
bootstrap_servers = "kafka-1.corp:9093"

[clusters.target]
aiven_project = "acme"
aiven_service = "kafka-target"
aiven_token_env = "AIVEN_TOKEN"
"""

REPLICATOR = """
[replicators.aiven-mm2]
kind = "aiven"
project = "acme"
service = "mm2"
token_env = "AIVEN_TOKEN"
"""


@pytest.fixture
def token_env(monkeypatch):
    monkeypatch.setenv("AIVEN_TOKEN", TOKEN)


def load(tmp_path: Path, text: str):
    path = tmp_path / "kafka-migrate.toml"
    path.write_text(text)
    return config.load(path)


def error_of(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, text)
    assert TOKEN not in str(caught.value)
    return str(caught.value)


def test_an_aiven_service_needs_no_bootstrap_servers(tmp_path, token_env):
    settings = load(tmp_path, BASE + REPLICATOR)
    target = settings.config.clusters["target"]
    assert target.bootstrap_servers is None and target.aiven_service == "kafka-target"
    assert target.aiven_api_url == "https://api.aiven.io"
    rep = settings.config.replicators["aiven-mm2"]
    assert (rep.create_service, rep.plan, rep.source_alias, rep.target_alias) == (
        False,
        None,
        "source",
        "target",
    )


def test_aiven_keys_come_together(tmp_path, token_env):
    text = '[clusters.half]\nbootstrap_servers = "k:1"\naiven_service = "kafka"\n'
    message = error_of(tmp_path, text)
    assert "clusters.half: an Aiven service needs aiven_project, aiven_service" in message
    assert "kafka-migrate.toml" in message


def test_bootstrap_servers_may_be_omitted_only_for_an_aiven_service(tmp_path):
    message = error_of(tmp_path, '[clusters.x]\nsecurity_protocol = "SSL"\n')
    assert "clusters.x: bootstrap_servers is required" in message


def test_a_pasted_token_is_refused_without_echoing_it(tmp_path):
    text = BASE.replace('"AIVEN_TOKEN"', f'"{TOKEN}"') + REPLICATOR
    message = error_of(tmp_path, text)
    assert "clusters.target.aiven_token_env: not an environment variable name" in message


def test_a_missing_token_variable_is_named_for_cluster_and_replicator(tmp_path, monkeypatch):
    monkeypatch.delenv("AIVEN_TOKEN", raising=False)
    message = error_of(tmp_path, BASE + REPLICATOR)
    assert "clusters.target.aiven_token_env: environment variable 'AIVEN_TOKEN' is not set" in (
        message
    )
    assert "replicators.aiven-mm2.token_env: environment variable 'AIVEN_TOKEN'" in message


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        ("create_service = true", "replicators.aiven-mm2: create_service = true needs plan"),
        ('source_alias = "x"\ntarget_alias = "x"', "source_alias and target_alias must differ"),
        ('source_alias = "on prem"', "replicators.aiven-mm2.source_alias: 'on prem': a cluster"),
        ('api_url = "api.aiven.io"', "replicators.aiven-mm2.api_url: 'api.aiven.io' is not"),
        ("service_wait_seconds = 1", "replicators.aiven-mm2.service_wait_seconds:"),
        ('clouds = "aws"', "replicators.aiven-mm2.clouds: unknown key"),
    ],
)
def test_replicator_errors_name_the_key(tmp_path, token_env, extra, problem):
    assert problem in error_of(tmp_path, BASE + REPLICATOR + extra + "\n")


def test_create_service_with_plan_and_cloud(tmp_path, token_env):
    text = (
        BASE + REPLICATOR + 'create_service = true\nplan = "startup-4"\ncloud = "aws-eu-west-1"\n'
    )
    rep = load(tmp_path, text).config.replicators["aiven-mm2"]
    assert (rep.plan, rep.cloud) == ("startup-4", "aws-eu-west-1")


def test_from_settings_builds_the_aiven_replicator_and_knows_aiven_clusters(tmp_path, token_env):
    text = BASE.replace(
        'aiven_token_env = "AIVEN_TOKEN"',
        'aiven_token_env = "AIVEN_TOKEN"\nbootstrap_servers = "kafka-target.aiven:12345"',
    )
    settings = load(tmp_path, text + REPLICATOR)
    replicator = from_settings(settings, "aiven-mm2")
    assert isinstance(replicator, AivenReplicator)
    assert (replicator.project, replicator.service) == ("acme", "mm2")
    assert TOKEN not in repr(replicator) and "AIVEN_TOKEN" in repr(replicator.api)
    target = settings.aiven_service("target")
    assert target is not None and str(target) == "acme/kafka-target"
    assert settings.aiven_service("onprem") is None
