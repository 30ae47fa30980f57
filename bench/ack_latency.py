"""Benchmark: how fast the bot acknowledges slash commands in HTTP mode.

200 signed `/kafka-migrate list` commands, 50 in flight at a time, against `kafka-migrate serve`
in HTTP mode (bolt behind waitress, its own process), its Web API pointed at the local Slack
stand-in (in this process, with the load generator). Prints p50 / p99 / max ack
latency, errors, and the lazy answers that arrived. Target: p99 < 300 ms (Slack allows 3 s).

    .venv/bin/python -m bench.ack_latency [--requests 200] [--concurrency 50]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlencode

import httpx
from slack_sdk.signature import SignatureVerifier

from bot.slack.standin import SlackStandIn

SECRET = "bench-signing-secret"
CONFIG = """
[clusters.src]
bootstrap_servers = "127.0.0.1:1"
[clusters.dst]
bootstrap_servers = "127.0.0.1:2"
[replicators.mm2]
kind = "connect"
url = "http://127.0.0.1:3"
[slack]
channel = "C0BENCH"
approvers = ["U0BOB"]
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=50)
    args = parser.parse_args()

    standin = SlackStandIn(channels=("C0BENCH",), users={"U0ALICE": "alice"}).start()
    root = Path(tempfile.mkdtemp(prefix="ack-bench-"))
    (root / "km.toml").write_text(CONFIG)
    port = free_port()
    env = {
        **os.environ,
        "SLACK_BOT_TOKEN": standin.token,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": standin.api_url,
        "PORT": str(port),
        "KAFKA_MIGRATE_CONFIG": str(root / "km.toml"),
        "DATABASE_URL": f"sqlite:///{root / 'km.db'}",
    }
    env.pop("SLACK_APP_TOKEN", None)
    # the bot runs as in production: its own process, `kafka-migrate serve` in HTTP mode
    bot = subprocess.Popen(
        [sys.executable, "-m", "bot", "serve"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    http = httpx.Client(timeout=10, limits=httpx.Limits(max_connections=args.concurrency))
    deadline = time.monotonic() + 60
    while True:
        try:
            if http.get(base + "/healthz").status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or bot.poll() is not None:
            raise SystemExit("the bot did not become healthy")
        time.sleep(0.2)
    url = base + "/slack/events"
    signer = SignatureVerifier(SECRET)

    def one(_i: int) -> tuple[float, int]:
        body = urlencode(
            {
                "command": "/kafka-migrate",
                "text": "list",
                "user_id": "U0ALICE",
                "channel_id": "C0BENCH",
                "team_id": "T0",
                "trigger_id": standin.trigger(),
                "response_url": standin.response_url(),
            }
        )
        ts = str(int(time.time()))
        headers = {
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": signer.generate_signature(timestamp=ts, body=body),
            "Content-Type": "application/x-www-form-urlencoded",
        }
        started = time.perf_counter()
        response = http.post(url, content=body, headers=headers)
        return time.perf_counter() - started, response.status_code

    try:
        for i in range(10):  # warm-up: connections, first auth.test, imports
            one(i)
        time.sleep(1)
        before = len(standin.responses)
        started = time.perf_counter()
        with ThreadPoolExecutor(args.concurrency) as pool:
            results = list(pool.map(one, range(args.requests)))
        wall = time.perf_counter() - started
        deadline = time.monotonic() + 30
        while len(standin.responses) - before < args.requests and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        bot.terminate()
        bot.wait(30)
        standin.stop()
    latencies = sorted(r[0] * 1000 for r in results)
    errors = sum(1 for r in results if r[1] != 200)
    codes = sorted({r[1] for r in results})
    p99 = latencies[int(len(latencies) * 0.99) - 1]
    print(
        f"{args.requests} signed slash commands, {args.concurrency} at a time, in {wall:.2f}s "
        "(bot in its own process: kafka-migrate serve, HTTP mode, waitress)"
    )
    print(
        f"ack latency: p50 {statistics.median(latencies):.1f} ms, p99 {p99:.1f} ms, "
        f"max {latencies[-1]:.1f} ms; errors {errors} (statuses {codes})"
    )
    print(f"lazy answers delivered to response_url: {len(standin.responses) - before}")
    print(
        f"target p99 < 300 ms: {'met' if p99 < 300 else 'MISSED'} "
        f"(Slack's limit 3 s is {3000 / p99:.0f}x the p99)"
    )


if __name__ == "__main__":
    main()
