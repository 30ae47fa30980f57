"""Wiring in one place: the headless bot (no Slack) is built by bot.service like the Slack one,
notifies through the log, and serves /healthz and /metrics but no /slack/events."""

from __future__ import annotations

import contextlib
import threading

import httpx
import pytest

from bot import config
from bot.errors import ConfigError
from bot.migration.notify import LogNotifier
from bot.service import Bot, cli_engine
from tests.support import CONFIG


@pytest.fixture
def headless(tmp_path):
    (tmp_path / "km.toml").write_text(CONFIG)
    bot = Bot(config.load(tmp_path / "km.toml"), db_url=f"sqlite:///{tmp_path / 'km.db'}")
    yield bot
    bot.stop()


def test_headless_bot_notifies_through_the_log_and_serves_health_and_metrics(headless):
    assert isinstance(headless.notifier, LogNotifier) and headless.app is None
    headless.start_scheduler(paused=True)
    server = headless.http_server(host="127.0.0.1", port=0)

    def run() -> None:
        with contextlib.suppress(OSError):
            server.run()

    threading.Thread(target=run, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.effective_port}"
        health = httpx.get(f"{url}/healthz", timeout=5)
        assert health.status_code == 200 and "database" in health.text
        assert "kafka_migrate_tick_seconds" in httpx.get(f"{url}/metrics", timeout=5).text
        # headless: no Slack endpoint to reach
        assert httpx.post(f"{url}/slack/events", content=b"{}", timeout=5).status_code == 404
    finally:
        server.close()


def test_a_slack_bot_needs_the_slack_section(tmp_path):
    (tmp_path / "km.toml").write_text(CONFIG.split("[slack]")[0])
    with pytest.raises(ConfigError, match=r"\[slack\] is needed"):
        Bot(config.load(tmp_path / "km.toml"), token="xoxb-1", db_url="sqlite://")


def test_the_cli_engine_reads_the_config_and_the_database(tmp_path, monkeypatch):
    (tmp_path / "km.toml").write_text(CONFIG)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'km.db'}")
    engine = cli_engine(str(tmp_path / "km.toml"))
    assert engine.rows() == [] and isinstance(engine.notifier, LogNotifier)
