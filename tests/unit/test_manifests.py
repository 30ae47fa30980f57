"""The two Slack app manifests describe the app the code registers: HTTP (manifest.yml) and
Socket Mode (manifest.socket.yml) differ only in how Slack reaches the bot."""

from __future__ import annotations

from pathlib import Path

import yaml

from bot.commands import mention
from bot.slack.ids import COMMAND

ROOT = Path(__file__).resolve().parents[2]


def load(name: str) -> dict:
    return yaml.safe_load((ROOT / name).read_text())


def urls(node) -> list[str]:
    if isinstance(node, dict):
        return [v for k, v in node.items() if k in ("url", "request_url")] + [
            u for v in node.values() for u in urls(v)
        ]
    if isinstance(node, list):
        return [u for v in node for u in urls(v)]
    return []


def test_socket_manifest_is_the_http_one_without_urls():
    http, socket = load("manifest.yml"), load("manifest.socket.yml")
    assert http["settings"]["socket_mode_enabled"] is False
    assert socket["settings"]["socket_mode_enabled"] is True
    assert urls(socket) == []
    assert len(urls(http)) == 3 and all(u.endswith("/slack/events") for u in urls(http))
    for manifest in (http, socket):
        for command in manifest["features"]["slash_commands"]:
            command.pop("url", None)
        manifest["settings"]["event_subscriptions"].pop("request_url", None)
        manifest["settings"]["interactivity"].pop("request_url", None)
        manifest["settings"].pop("socket_mode_enabled")
    assert http == socket


def test_the_manifest_subscribes_to_the_events_the_bot_answers():
    manifest = load("manifest.yml")
    assert [c["command"] for c in manifest["features"]["slash_commands"]] == [COMMAND]
    assert manifest["settings"]["event_subscriptions"]["bot_events"] == list(mention.EVENTS)
    assert "app_mentions:read" in manifest["oauth_config"]["scopes"]["bot"]
