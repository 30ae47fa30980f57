"""Configuration: every error names the file, the key and the problem; secrets never show."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bot import config
from bot.errors import ConfigError

PASSWORD = "s3cr3t-Pa55word-do-not-show"

VALID = """
[clusters.onprem]
bootstrap_servers = "kafka-1.corp:9093,kafka-2.corp:9093"
security_protocol = "SASL_SSL"
sasl_mechanism = "SCRAM-SHA-512"
sasl_username = "migrator"
sasl_password_env = "ONPREM_PASSWORD"
ssl_ca_file = "/etc/ssl/corp-ca.pem"

[clusters.aiven]
bootstrap_servers = "kafka-x.aivencloud.com:12345"
security_protocol = "SASL_SSL"
sasl_mechanism = "SCRAM-SHA-256"
sasl_username = "avnadmin"
sasl_password_env = "AIVEN_KAFKA_PASSWORD"

[schema_registries.onprem]
url = "https://registry.corp:8081"

[replicators.connect-mm2]
kind = "connect"
url = "http://connect.corp:8083"

[replicators.aiven-mm2]
kind = "aiven"
project = "acme"
service = "mm2"
token_env = "AIVEN_TOKEN"

[slack]
channel = "C0123456"
approvers = ["U0ALICE", "S0PLATFORM"]
two_person_rule = true

[timing]
poll_interval_seconds = 15
"""


@pytest.fixture
def secrets_env(monkeypatch):
    monkeypatch.setenv("ONPREM_PASSWORD", PASSWORD)
    monkeypatch.setenv("AIVEN_KAFKA_PASSWORD", "another-" + PASSWORD)
    monkeypatch.setenv("AIVEN_TOKEN", "token-" + PASSWORD)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "kafka-migrate.toml"
    path.write_text(text)
    return path


def error_of(path) -> str:
    with pytest.raises(ConfigError) as caught:
        config.load(path)
    return str(caught.value)


def test_valid_file_loads_with_defaults(tmp_path, secrets_env):
    settings = config.load(write(tmp_path, VALID))
    assert set(settings.config.clusters) == {"onprem", "aiven"}
    assert settings.config.replicators["aiven-mm2"].kind == "aiven"
    assert settings.config.timing.poll_interval_seconds == 15
    assert settings.config.timing.quiet_window_seconds == 120
    conf = settings.kafka_client_config("onprem")
    assert conf["sasl.password"] == PASSWORD
    assert conf["ssl.ca.location"] == "/etc/ssl/corp-ca.pem"


def test_path_comes_from_the_environment(tmp_path, secrets_env, monkeypatch):
    path = write(tmp_path, VALID)
    monkeypatch.setenv("KAFKA_MIGRATE_CONFIG", str(path))
    assert config.load().path == path


def test_missing_file(tmp_path):
    missing = tmp_path / "nope.toml"
    message = error_of(missing)
    assert str(missing) in message and "file not found" in message


def test_invalid_toml_names_file_and_line(tmp_path):
    path = write(tmp_path, "[clusters.onprem]\nbootstrap_servers = kafka:9092\n")
    message = error_of(path)
    assert str(path) in message and "invalid TOML" in message and "line 2" in message


def test_unknown_key(tmp_path, secrets_env):
    path = write(
        tmp_path,
        VALID.replace(
            'sasl_username = "migrator"', 'sasl_username = "migrator"\nsasl_pasword = "x"'
        ),
    )
    assert error_of(path) == f"{path}: clusters.onprem.sasl_pasword: unknown key"


def test_unknown_top_level_section(tmp_path, secrets_env):
    path = write(tmp_path, VALID + "\n[approvals]\nx = 1\n")
    assert error_of(path) == f"{path}: approvals: unknown key"


def test_old_policy_section_says_where_its_keys_went(tmp_path, secrets_env):
    old = write(tmp_path, VALID.replace("[timing]", "[policy]"))
    message = error_of(old)
    assert "[policy] was renamed" in message and "[timing]" in message and "[cli]" in message


def test_missing_secret_variable(tmp_path, secrets_env, monkeypatch):
    monkeypatch.delenv("AIVEN_TOKEN")
    path = write(tmp_path, VALID)
    assert error_of(path) == (
        f"{path}: replicators.aiven-mm2.token_env: environment variable 'AIVEN_TOKEN' is not set"
    )


def test_bad_values_each_named(tmp_path, secrets_env):
    path = write(
        tmp_path,
        VALID.replace(
            'security_protocol = "SASL_SSL"\nsasl_mechanism = "SCRAM-SHA-256"',
            'security_protocol = "SASL_SSL"\nsasl_mechanism = "GSSAPI"',
        )
        .replace('"U0ALICE"', '"alice"')
        .replace('url = "http://connect.corp:8083"', 'url = "connect.corp:8083"'),
    )
    lines = error_of(path).splitlines()
    assert lines[0].startswith(f"{path}: clusters.aiven.sasl_mechanism: Input should be")
    assert f"{path}: replicators.connect-mm2.url: 'connect.corp:8083' is not an http" in lines[1]
    assert lines[2].startswith(f"{path}: slack.approvers: 'alice' is not a Slack user")


def test_sasl_without_credentials(tmp_path):
    path = write(
        tmp_path, '[clusters.x]\nbootstrap_servers = "h:1"\nsecurity_protocol = "SASL_SSL"\n'
    )
    assert error_of(path) == (
        f"{path}: clusters.x: security_protocol SASL_SSL needs sasl_mechanism, sasl_username "
        "and sasl_password_env"
    )


def test_env_file_supplies_unset_variables(tmp_path, monkeypatch):
    monkeypatch.delenv("SANDBOX_PW", raising=False)
    (tmp_path / "sandbox.env").write_text(f"# generated\nSANDBOX_PW={PASSWORD}\n")
    path = write(
        tmp_path,
        'env_file = "sandbox.env"\n[clusters.s]\nbootstrap_servers = "h:1"\n'
        'security_protocol = "SASL_PLAINTEXT"\nsasl_mechanism = "PLAIN"\n'
        'sasl_username = "admin"\nsasl_password_env = "SANDBOX_PW"\n',
    )
    settings = config.load(path)
    assert settings.kafka_client_config("s")["sasl.password"] == PASSWORD
    assert PASSWORD not in repr(settings)


def test_password_never_in_repr_logs_or_errors(tmp_path, secrets_env, caplog):
    caplog.set_level(logging.DEBUG)
    settings = config.load(write(tmp_path, VALID))
    conf = settings.kafka_client_config("onprem")
    logging.getLogger("kafka_migrate.test").info("client config %s / %r", conf, conf)
    shown = [
        repr(settings),
        str(settings.config),
        repr(settings.config.clusters["onprem"]),
        repr(conf),
        str(conf),
        f"{conf}",
        caplog.text,
    ]
    for text in shown:
        assert PASSWORD not in text
    assert "***" in repr(conf)
    # errors in a file whose secrets are set do not leak them either
    broken = write(tmp_path, VALID.replace("[timing]", "[timing]\nunknown = 1"))
    assert PASSWORD not in error_of(broken)
    # a secret pasted where the variable's NAME belongs is not echoed back
    pasted = write(tmp_path, VALID.replace('"ONPREM_PASSWORD"', f'"{PASSWORD}!"'))
    message = error_of(pasted)
    assert "clusters.onprem.sasl_password_env: not an environment variable name" in message
    assert PASSWORD not in message


def test_unknown_cluster_lists_known_ones(tmp_path, secrets_env):
    settings = config.load(write(tmp_path, VALID))
    with pytest.raises(ConfigError, match=r"no cluster named 'prod' \(known: aiven, onprem\)"):
        settings.kafka_client_config("prod")


def _env_file_values(tmp_path, text: str) -> dict[str, str]:
    (tmp_path / "app.env").write_text(text)
    path = write(tmp_path, 'env_file = "app.env"\n')
    return config.load(path)._env_file


def test_env_file_is_parsed_like_dotenv(tmp_path):
    values = _env_file_values(
        tmp_path,
        "# a comment line\n"
        "\n"
        'DOUBLE="quoted value"\n'
        "SINGLE='single quoted'\n"
        "export EXPORTED=plain\n"
        "TRAILING=bare   # a trailing comment\n"
        'TRICKY="pa=ss#word"\n'
        "UNQUOTED_EQ=a=b\n"
        "  SPACED = around  \n",
    )
    assert values == {
        "DOUBLE": "quoted value",
        "SINGLE": "single quoted",
        "EXPORTED": "plain",
        "TRAILING": "bare",
        "TRICKY": "pa=ss#word",
        "UNQUOTED_EQ": "a=b",
        "SPACED": "around",
    }


def test_env_file_does_not_expand_variables(tmp_path, monkeypatch):
    """Passwords may contain `$`: `${VAR}` is kept as written, never expanded."""
    monkeypatch.setenv("HOME_ISH", "expanded")
    values = _env_file_values(tmp_path, 'A="x${HOME_ISH}y"\nB=$HOME_ISH\nC=p$ss\n')
    assert values == {"A": "x${HOME_ISH}y", "B": "$HOME_ISH", "C": "p$ss"}


def test_env_file_quoted_value_reaches_the_client_without_quotes(tmp_path, monkeypatch):
    monkeypatch.delenv("SANDBOX_PW", raising=False)
    (tmp_path / "sandbox.env").write_text(f'export SANDBOX_PW="{PASSWORD}"\n')
    path = write(
        tmp_path,
        'env_file = "sandbox.env"\n[clusters.s]\nbootstrap_servers = "h:1"\n'
        'security_protocol = "SASL_PLAINTEXT"\nsasl_mechanism = "PLAIN"\n'
        'sasl_username = "admin"\nsasl_password_env = "SANDBOX_PW"\n',
    )
    assert config.load(path).kafka_client_config("s")["sasl.password"] == PASSWORD


def test_env_file_missing_unreadable_or_malformed(tmp_path):
    path = write(tmp_path, 'env_file = "nope.env"\n')
    assert error_of(path) == f"{path}: env_file: {tmp_path / 'nope.env'} not found"
    (tmp_path / "dir.env").mkdir()
    path = write(tmp_path, 'env_file = "dir.env"\n')
    assert error_of(path) == f"{path}: env_file: {tmp_path / 'dir.env'} cannot read: " + (
        "IsADirectoryError"
    )
    (tmp_path / "bad.env").write_text("GOOD=1\nNOT A SETTING\n")
    path = write(tmp_path, 'env_file = "bad.env"\n')
    assert error_of(path) == f"{path}: env_file: {tmp_path / 'bad.env'} line 2: not KEY=VALUE"
    (tmp_path / "bad.env").write_text("GOOD=1\nbad-name=2\n")
    assert error_of(path) == f"{path}: env_file: {tmp_path / 'bad.env'} line 2: not KEY=VALUE"
