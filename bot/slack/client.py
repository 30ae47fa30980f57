"""The Slack Web API client: retries on rate limits (Retry-After), server and connection errors.

These retries are short; what still fails on a transient error is kept and sent again later by
the notifier's retry queue (bot/slack/retrying.py).
"""

from __future__ import annotations

import os

from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)


def web_client(token: str, base_url: str | None = None) -> WebClient:
    """`base_url` (or SLACK_API_URL) points the client at a stand-in for tests and rehearsals."""
    base_url = base_url or os.environ.get("SLACK_API_URL") or WebClient.BASE_URL
    client = WebClient(token=token, base_url=base_url, timeout=15)
    client.retry_handlers.extend(
        [
            RateLimitErrorRetryHandler(max_retry_count=3),
            ServerErrorRetryHandler(max_retry_count=2),
        ]
    )
    if not any(isinstance(h, ConnectionErrorRetryHandler) for h in client.retry_handlers):
        client.retry_handlers.append(ConnectionErrorRetryHandler(max_retry_count=2))
    return client
