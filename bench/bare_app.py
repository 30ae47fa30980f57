"""A bare bolt app behind the bot's own web side: one slash command that only acks. The
reference that bench.ack_latency compares the bot with (same server and thread counts, bolt
configured as the bot's, same load, same run): what the bot costs beyond it is its middleware,
its listeners and the work after its acks.

    python -m bench.bare_app PORT SIGNING_SECRET SLACK_API_URL [APP_TOKEN]

With APP_TOKEN it takes its requests over Socket Mode (the bot's link, bot.web.SocketMode), and
the server on PORT answers /healthz only.
"""

from __future__ import annotations

import os
import sys
from concurrent.futures import ThreadPoolExecutor

from slack_sdk import WebClient

from bot.acks import Acks
from bot.app import LAZY_WORKERS, bolt_app
from bot.serve import settle
from bot.web import SocketMode, make_http_server


def main() -> None:
    port, secret, api_url = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    app_token = sys.argv[4] if len(sys.argv) > 4 else None
    client = WebClient(token=os.environ["SLACK_BOT_TOKEN"], base_url=api_url)  # as the bot's
    acks = Acks()
    app = bolt_app(client, ThreadPoolExecutor(max_workers=LAZY_WORKERS), acks)

    @app.command("/kafka-migrate")
    def only_ack(ack) -> None:
        ack()

    if app_token is None:  # the server checks the signature, as the bot's, before bolt reads
        server = make_http_server(
            app, lambda: (True, {}), signing_secret=secret, host="127.0.0.1", port=port, acks=acks
        )
    else:
        link = SocketMode(app, app_token, acks).connect()
        server = make_http_server(None, lambda: (link.connected(), {}), host="127.0.0.1", port=port)
    settle()  # as serve does: what was built stays out of the collector's full passes
    server.run()  # until SIGTERM ends the process


if __name__ == "__main__":
    main()
