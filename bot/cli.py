"""`kafka-migrate`: the command line (serve, sandbox; the runbook verbs join as they land)."""

from __future__ import annotations

import argparse
import json
import logging
import sys

from bot.errors import UserError


def _sandbox(args: argparse.Namespace) -> int:
    from bot import sandbox
    from bot.sandbox import jars

    if args.action == "fetch":
        jars.fetch()
    elif args.action == "up":
        sandbox.up(args.dir)
    elif args.action == "down":
        sandbox.down(args.dir)
    elif args.action == "status":
        box = sandbox.status(args.dir)
        state = box.status()
        if args.json:
            print(json.dumps(state, indent=2))
        else:
            print(f"sandbox in {state['dir']}")
            for side in ("source", "target"):
                print(
                    f"  {side}: {state[side]['bootstrap_servers']} (SASL_PLAINTEXT, PLAIN, "
                    f"users {', '.join(state[side]['users'])})"
                )
            print(f"  connect: {state['connect']['url']}")
            print(f"  bot config: {state['config']}")
            for name, running in state["running"].items():
                print(f"  {name}: {'running' if running else 'NOT running'}")
        return 0 if all(state["running"].values()) else 1
    return 0


def _serve(args: argparse.Namespace) -> int:
    """Run the bot. Without Slack credentials: a local rehearsal on the sandbox."""
    import os
    import signal
    import threading

    from bot import config, sandbox

    if os.environ.get("SLACK_BOT_TOKEN"):
        settings = config.load(args.config)
        raise UserError(
            f"{settings.path}: loaded, but this version has no Slack interface yet; "
            "unset SLACK_BOT_TOKEN to rehearse locally on the sandbox."
        )
    print("No SLACK_BOT_TOKEN: local rehearsal on a real Kafka + MirrorMaker 2 sandbox.")
    box = sandbox.up(args.dir)
    settings = config.load(box.config_file)
    print(
        f"clusters: {', '.join(settings.config.clusters)}; "
        f"replicators: {', '.join(settings.config.replicators)}"
    )
    print(f"bot config: {box.config_file} (use it with --config or KAFKA_MIGRATE_CONFIG)")
    print("Ctrl-C stops the rehearsal and its sandbox.")
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    sandbox.down(args.dir)
    return 0


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="kafka-migrate", description=__doc__)
    root.add_argument(
        "--config",
        help="configuration file (default: $KAFKA_MIGRATE_CONFIG or ./kafka-migrate.toml)",
    )
    root.add_argument("-v", "--verbose", action="store_true")
    verbs = root.add_subparsers(dest="verb", required=True)

    serve = verbs.add_parser("serve", help="run the bot")
    serve.add_argument("--dir", default=".sandbox", help="rehearsal sandbox directory")
    serve.set_defaults(func=_serve)

    box = verbs.add_parser("sandbox", help="real Kafka + MirrorMaker 2 on this machine")
    box.add_argument("action", choices=["up", "status", "down", "fetch"])
    box.add_argument("--dir", default=".sandbox", help="sandbox directory (default .sandbox)")
    box.add_argument("--json", action="store_true", help="status as JSON, for scripts")
    box.set_defaults(func=_sandbox)
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("httpx").setLevel(logging.DEBUG if args.verbose else logging.WARNING)
    try:
        return args.func(args)
    except UserError as exc:
        print(f"kafka-migrate: {exc}", file=sys.stderr)
        return 2
