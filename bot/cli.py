"""`kafka-migrate`: the CLI twin of `/kafka-migrate` (same grammar, same engine), the sandbox,
and `serve`, which runs the bot."""

from __future__ import annotations

import argparse
import json
import sys

from bot.errors import UserError
from bot.identity import cli_actor, cli_origin
from bot.migration.compensation import parse_cleanup

VERBS_HELP = (
    "start, plan, status, list, approve, reject, pause, resume, cancel, retry, skip, report, "
    "finalize, rollback"
)


def _show(view, as_json: bool, text) -> None:
    """Print a read-model view through the CLI presenter: JSON, or `text(view)`."""
    from bot import cli_text

    print(cli_text.as_json(view) if as_json else text(view))


def _runbook(args: argparse.Namespace) -> int:
    from bot import cli_text
    from bot.migration.grammar import parse_start
    from bot.service import cli_engine

    engine = cli_engine(args.config)
    verb = args.verb
    if verb in ("start", "plan"):
        if "--json" in args.args:  # after the arguments too: the flag is not a start argument
            args.args = [a for a in args.args if a != "--json"]
            args.json = True
        request = parse_start(args.args)
        if verb == "plan":
            plan = engine.verbs.plan(request)
            _show(plan, args.json, cli_text.plan)
            return 2 if plan.refused else 0
        m = engine.verbs.start(request, cli_actor(), origin=cli_origin())
        print(
            f"started {m.id}: {len(m.selected_topics)} topic(s); follow it with "
            f"`kafka-migrate status {m.id}` (the bot's `serve` process moves it)"
        )
        return 0
    if verb == "list":
        _show(engine.rows(), args.json, cli_text.listing)
        return 0
    if verb == "status":
        _show(engine.view(args.id), args.json, cli_text.status)
        return 0
    if verb == "report":
        _show(engine.report(args.id), args.json, cli_text.report)
        return 0
    if verb in ("approve", "reject"):
        decision = engine.verbs.decide(
            args.id,
            actor=cli_actor(),
            version=args.version,
            interface="cli",
            origin=cli_origin(),
            approve=verb == "approve",
            step=args.step,
            reason=args.reason,
        )
        print(decision.text)
        return 0
    actions = {
        "pause": engine.verbs.pause,
        "resume": engine.verbs.resume,
        "retry": engine.verbs.retry,
        "finalize": engine.verbs.finalize,
        "rollback": engine.verbs.rollback,
    }
    if verb == "cancel":
        cleanup = parse_cleanup(args.options)
        if not args.yes:
            undo = engine.verbs.undo_plan(args.id, cleanup)
            raise UserError(
                f"cancelling {args.id} will: " + "; ".join(undo) + ". Nothing was done: add --yes"
            )
        engine.check_operator(args.id, cli_actor())
        m = engine.verbs.cancel(args.id, cli_actor(), origin=cli_origin(), cleanup=cleanup)
        print(f"{m.id}: {m.status} at {m.step} (version {m.version})")
        return 0
    if verb in actions:
        engine.check_operator(args.id, cli_actor())
        m = actions[verb](args.id, cli_actor(), origin=cli_origin())
        print(f"{m.id}: {m.status} at {m.step} (version {m.version})")
        return 0
    if verb == "skip":
        engine.check_operator(args.id, cli_actor())
        m = engine.verbs.skip(args.id, cli_actor(), args.reason or "", origin=cli_origin())
        print(f"{m.id}: now at {m.step} (version {m.version})")
        return 0
    raise UserError(f"unknown verb {verb}")


def _sandbox(args: argparse.Namespace) -> int:
    from bot import cli_text, sandbox
    from bot.sandbox import jars

    directory = args.dir or sandbox.default_dir(args.action)
    if args.action == "fetch":
        jars.fetch()
    elif args.action == "up":
        box = sandbox.up(
            directory, connect_workers=args.connect_workers, exactly_once=args.exactly_once
        )
        sandbox.remember(box.dir)
    elif args.action == "down":
        sandbox.down(directory)
        sandbox.forget(directory)
    elif args.action == "status":
        state = sandbox.status(directory).status()
        print(json.dumps(state, indent=2) if args.json else cli_text.sandbox(state))
        return 0 if all(state["running"].values()) else 1
    return 0


def _serve(args: argparse.Namespace) -> int:
    from bot.serve import serve

    return serve(args.config, args.dir)


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="kafka-migrate", description=__doc__)
    root.add_argument(
        "--config",
        help="configuration file (default: $KAFKA_MIGRATE_CONFIG or ./kafka-migrate.toml)",
    )
    root.add_argument("-v", "--verbose", action="store_true")
    root.add_argument("--json", action="store_true", help="JSON output, for scripts")
    verbs = root.add_subparsers(
        dest="verb", required=True, metavar="VERB", help=f"{VERBS_HELP}, serve, sandbox"
    )

    for verb, helptext in (
        ("start", "start a migration: start NAME source=.. target=.. ..."),
        ("plan", "what start would do, changing nothing"),
    ):
        sub = verbs.add_parser(verb, help=helptext)
        sub.add_argument("args", nargs=argparse.REMAINDER)
        sub.add_argument("--json", action="store_true", default=argparse.SUPPRESS)
        sub.set_defaults(func=_runbook)
    sub = verbs.add_parser("list", help="migrations")
    sub.add_argument("--json", action="store_true", default=argparse.SUPPRESS)
    sub.set_defaults(func=_runbook)
    for verb in (
        "status",
        "report",
        "pause",
        "resume",
        "cancel",
        "retry",
        "skip",
        "approve",
        "reject",
        "finalize",
        "rollback",
    ):
        sub = verbs.add_parser(verb, help=f"{verb} a migration")
        sub.add_argument("id")
        sub.add_argument("--json", action="store_true", default=argparse.SUPPRESS)
        if verb in ("approve", "reject"):
            sub.add_argument(
                "--version",
                type=int,
                required=True,
                help="the version you were shown (status prints it)",
            )
            sub.add_argument("--step", help="the gate (default: the current step)")
        if verb in ("approve", "reject", "skip"):
            sub.add_argument("--reason", default=None)
        if verb == "cancel":
            sub.add_argument(
                "options", nargs="*", help="cleanup=target: also delete what it created there"
            )
            sub.add_argument(
                "--yes", action="store_true", help="do it (without: say what it would undo)"
            )
        sub.set_defaults(func=_runbook)

    serve = verbs.add_parser("serve", help="run the bot")
    serve.add_argument("--dir", default=".sandbox", help="rehearsal sandbox directory")
    serve.set_defaults(func=_serve)

    box = verbs.add_parser("sandbox", help="real Kafka + MirrorMaker 2 on this machine")
    box.add_argument("action", choices=["up", "status", "down", "fetch"])
    box.add_argument(
        "--dir",
        default=None,
        help="sandbox directory (default: $KAFKA_MIGRATE_SANDBOX_DIR, else for status/down the "
        "last sandbox `up` started, else .sandbox)",
    )
    box.add_argument(
        "--json", action="store_true", default=argparse.SUPPRESS, help="JSON, for scripts"
    )
    box.add_argument(
        "--connect-workers",
        type=int,
        default=1,
        metavar="N",
        help="up: the workers of the Connect cluster on the target that runs MirrorMaker 2 "
        "(one group, a REST port each; default 1)",
    )
    box.add_argument(
        "--exactly-once",
        action="store_true",
        help="up: exactly-once source support on that Connect cluster (MM2 copies in "
        "transactions: a crashed worker copies nothing twice)",
    )
    box.set_defaults(func=_sandbox)
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    from bot import logs

    logs.setup(args.verbose)  # LOG_FORMAT=json: one JSON object per line
    try:
        return args.func(args)
    except UserError as exc:
        print(f"kafka-migrate: {exc}", file=sys.stderr)
        return 2
