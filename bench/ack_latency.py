"""Benchmark: how fast the bot acknowledges slash commands, over HTTP and over Socket Mode.

For each mode, 200 `/kafka-migrate list` commands, 50 in flight at a time, against
`kafka-migrate serve` in its own process, its Web API pointed at the local Slack stand-in (in
this process, with the load generator):
- HTTP: signed form posts to /slack/events (bolt behind waitress); latency = request to response;
- Socket Mode: envelopes over the Socket Mode stand-in's WebSocket; latency = envelope sent to
  its ack received.
Prints p50 / p99 / max ack latency per mode, errors, and the lazy answers that arrived.
Target: p99 < 300 ms (Slack allows 3 s).

    .venv/bin/python -m bench.ack_latency [--requests 200] [--concurrency 50]
        [--mode http|socket|both] [--rounds 3]

Each mode is compared with a bare bolt app under the same load over the same transport
(bench/bare_app.py: the same server and thread counts, bolt configured as the bot's, one slash
command that only acks): `ratio` ours/bare for the p99 (target at most 1.3). The machine is
shared, so a run takes `--rounds` rounds, each measuring the bare app and then the bot one
after the other, and the ratio is the median of the rounds' ratios (each round's figures are
printed): a moment of load from elsewhere falls on one round, not on the whole comparison.
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
from standins.slack_api import SlackStandIn
from standins.socket_mode import SocketModeStandIn

from tests.support import CONFIG  # clusters nobody listens on: `list` needs none

SECRET = "bench-signing-secret"
CHANNEL = "C1"  # CONFIG's


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_bot(mode: str, standin: SlackStandIn, root: Path) -> tuple[subprocess.Popen, str]:
    """`kafka-migrate serve` as in production, in its own process (modes "bare-http" and
    "bare-socket": a bare bolt app, bench/bare_app.py, over that transport); waits for
    /healthz."""
    port = free_port()
    if mode.startswith("bare"):
        link = [standin.socket_mode.app_token] if mode == "bare-socket" else []
        bot = subprocess.Popen(
            [sys.executable, "-m", "bench.bare_app", str(port), SECRET, standin.api_url, *link],
            env={**os.environ, "SLACK_BOT_TOKEN": standin.token},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        return bot, healthy(bot, f"http://127.0.0.1:{port}", mode)
    env = {
        **os.environ,
        "SLACK_BOT_TOKEN": standin.token,
        "SLACK_API_URL": standin.api_url,
        "PORT": str(port),
        "KAFKA_MIGRATE_CONFIG": str(root / "km.toml"),
        "DATABASE_URL": f"sqlite:///{root / f'km-{mode}.db'}",
    }
    env.pop("SLACK_APP_TOKEN", None)
    env.pop("SLACK_SIGNING_SECRET", None)
    if mode == "http":
        env["SLACK_SIGNING_SECRET"] = SECRET
    else:
        env["SLACK_APP_TOKEN"] = standin.socket_mode.app_token
    bot = subprocess.Popen(
        [sys.executable, "-m", "bot", "serve"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return bot, healthy(bot, f"http://127.0.0.1:{port}", mode)


def healthy(bot: subprocess.Popen, base: str, mode: str) -> str:
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(base + "/healthz", timeout=5).status_code == 200:
                return base
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or bot.poll() is not None:
            bot.kill()
            raise SystemExit(f"the bot did not become healthy ({mode})")
        time.sleep(0.2)


def command(standin: SlackStandIn) -> dict:
    return {
        "command": "/kafka-migrate",
        "text": "list",
        "user_id": "U0ALICE",
        "channel_id": CHANNEL,
        "team_id": "T0",
        "trigger_id": standin.trigger(),
        "response_url": standin.response_url(),
    }


def http_sender(standin: SlackStandIn, base: str, concurrency: int):
    http = httpx.Client(timeout=10, limits=httpx.Limits(max_connections=concurrency))
    signer = SignatureVerifier(SECRET)

    def one(_i: int) -> tuple[float, bool]:
        body = urlencode(command(standin))
        ts = str(int(time.time()))
        headers = {
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": signer.generate_signature(timestamp=ts, body=body),
            "Content-Type": "application/x-www-form-urlencoded",
        }
        started = time.perf_counter()
        response = http.post(base + "/slack/events", content=body, headers=headers)
        return time.perf_counter() - started, response.status_code == 200

    return one


def socket_sender(standin: SlackStandIn):
    def one(_i: int) -> tuple[float, bool]:
        envelope = standin.socket_mode.deliver("slash_commands", command(standin))
        if not envelope.acked.wait(10):
            return 10.0, False
        return envelope.ack_delay, True

    return one


def measure(mode: str, standin: SlackStandIn, root: Path, args) -> dict:
    bot, base = start_bot(mode, standin, root)
    over_socket = mode.endswith("socket")
    one = socket_sender(standin) if over_socket else http_sender(standin, base, args.concurrency)
    try:
        answering = not mode.startswith("bare")  # the bare app answers nothing after its ack
        warm = len(standin.responses)
        for i in range(10):  # warm-up: connections, first auth.test, imports
            one(i)
        settle = time.monotonic() + 10
        while answering and len(standin.responses) - warm < 10 and time.monotonic() < settle:
            time.sleep(0.05)
        time.sleep(0.5)
        before = len(standin.responses)
        started = time.perf_counter()
        with ThreadPoolExecutor(args.concurrency) as pool:
            results = list(pool.map(one, range(args.requests)))
        wall = time.perf_counter() - started
        deadline = time.monotonic() + 30
        while (
            answering
            and len(standin.responses) - before < args.requests
            and time.monotonic() < deadline
        ):
            time.sleep(0.05)
        answers = len(standin.responses) - before
    finally:
        bot.terminate()
        bot.wait(30)
    latencies = sorted(r[0] * 1000 for r in results)
    return {
        "mode": mode,
        "wall": wall,
        "p50": statistics.median(latencies),
        "p99": latencies[int(len(latencies) * 0.99) - 1],
        "max": latencies[-1],
        "errors": sum(1 for r in results if not r[1]),
        "answers": answers,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--mode", choices=("http", "socket", "both"), default="both")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    link = SocketModeStandIn().start()
    standin = SlackStandIn(
        channels=(CHANNEL,), users={"U0ALICE": "alice"}, socket_mode=link
    ).start()
    root = Path(tempfile.mkdtemp(prefix="ack-bench-"))
    (root / "km.toml").write_text(CONFIG)
    modes = ("http", "socket") if args.mode == "both" else (args.mode,)
    rounds: list[dict[str, dict]] = []
    try:
        for _ in range(args.rounds):
            rounds.append(
                {
                    m: measure(m, standin, root, args)
                    for mode in modes
                    for m in (f"bare-{mode}", mode)
                }
            )
    finally:
        standin.stop()
        link.stop()
    print(
        f"{args.requests} slash commands per mode and round, {args.concurrency} at a time, "
        f"{args.rounds} round(s); kafka-migrate serve and the bare bolt app each in its own process"
    )
    for mode in modes:
        what = "request to response" if mode == "http" else "envelope sent to ack received"
        print(f"{mode} ({what}):")
        ratios = []
        for number, row in enumerate(rounds, 1):
            bare, ours = row[f"bare-{mode}"], row[mode]
            ratios.append(ours["p99"] / bare["p99"])
            for who, r in (("bare", bare), ("ours", ours)):
                print(
                    f"  round {number} {who}: p50 {r['p50']:.1f} ms, p99 {r['p99']:.1f} ms, max "
                    f"{r['max']:.1f} ms; {r['wall']:.2f}s in all; errors {r['errors']}"
                    + (
                        f"; lazy answers delivered {r['answers']}/{args.requests}"
                        if who == "ours"
                        else ""
                    )
                )
            print(f"  round {number} ratio ours/bare p99: {ratios[-1]:.2f}")
        ours_p99 = statistics.median(row[mode]["p99"] for row in rounds)
        ratio = statistics.median(ratios)
        print(
            f"ratio ours/bare p99 ({mode}): {ratio:.2f}, median of {len(ratios)} round(s) (target "
            f"<= 1.3: {'met' if ratio <= 1.3 else 'MISSED'}); ours p99 {ours_p99:.1f} ms (target "
            f"< 300 ms: {'met' if ours_p99 < 300 else 'MISSED'})"
        )


if __name__ == "__main__":
    main()
