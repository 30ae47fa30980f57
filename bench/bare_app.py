"""A bare bolt app behind the bot's own HTTP server: one slash command that only acks. The
reference that bench.ack_latency compares the bot with (same server, same load, same run).

    python -m bench.bare_app PORT SIGNING_SECRET SLACK_API_URL
"""

from __future__ import annotations

import os
import sys

from slack_bolt import App
from slack_sdk import WebClient

from bot.web import make_http_server


def main() -> None:
    port, secret, api_url = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    client = WebClient(token=os.environ["SLACK_BOT_TOKEN"], base_url=api_url)  # as the bot's
    # as the bot's: the server checks the signature, once, before bolt parses anything
    app = App(client=client, request_verification_enabled=False)

    @app.command("/kafka-migrate")
    def only_ack(ack) -> None:
        ack()

    make_http_server(
        app, lambda: (True, {}), signing_secret=secret, host="127.0.0.1", port=port
    ).run()


if __name__ == "__main__":
    main()
