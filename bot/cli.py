"""`kafka-migrate`: the CLI twin of `/kafka-migrate` (same grammar, same engine), the sandbox,
and `serve`, which runs the bot."""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import UTC, datetime

from bot.errors import UserError
from bot.identity import cli_actor, cli_origin
from bot.migration.compensation import parse_cleanup

VERBS_HELP = (
    "start, plan, status, list, approve, reject, pause, resume, cancel, retry, skip, report"
)


def build_engine(config_path: str | None, *, notifier=None):
    from bot import config
    from bot.db import database_url, init_db, make_engine
    from bot.migration.engine import Engine
    from bot.migration.notify import LogNotifier
    from bot.migration.store import Store

    settings = config.load(config_path)
    db = make_engine()
    init_db(db)
    return Engine(settings, Store(db), notifier or LogNotifier()), database_url()


def _print(data, as_json: bool, text: str) -> None:
    print(json.dumps(data, indent=2, default=str) if as_json else text)


def _status_text(s: dict) -> str:
    marks = {
        "done": "[x]",
        "running": "[>]",
        "failed": "[!]",
        "skipped": "[-]",
        "regressed": "[<]",
        "pending": "[ ]",
    }
    lines = [
        f"{s['id']} ({s['status']}, version {s['version']}): {s['source']} -> {s['target']} "
        f"via {s['replicator']}, {len(s['topics'])} topic(s), requested by "
        f"{s['requested_by']}"
    ]
    for step in s["steps"]:
        extra = f" {step['seconds']:.0f}s" if step["seconds"] is not None else ""
        actor_ = f" by {step['actor']}" if step["actor"] and step["actor"] != "bot" else ""
        lines.append(f"  {marks.get(step['state'], '[?]')} {step['step']}{extra}{actor_}")
    if s["note"]:
        lines.append(f"now: {s['step']}: {s['note']}")
    if s["reason"]:
        lines.append(f"reason: {s['reason']}")
    if s["replication_lag"] is not None:
        eta = f", ETA {s['eta_seconds']:.0f}s" if s["eta_seconds"] else ""
        lines.append(f"replication lag: {s['replication_lag']:,} records{eta}")
    decided = (s["gate"] or {}).get("decided") or {}
    if decided.get("replication_lag") is not None:
        at = datetime.fromtimestamp(decided["at"], UTC).strftime("%H:%M:%S UTC")
        lines.append(f"  at decision: {decided['replication_lag']:,} records ({at})")
    if s["gate"] and s["gate"].get("step") == s["step"]:
        lines.append(
            f"approvers decide with: kafka-migrate approve|reject {s['id']} "
            f"--version {s['version']} (whoever requested it may reject, not approve)"
        )
    lines.append(s["rollback"])
    return "\n".join(lines)


def _schema_lines(schemas: dict | None) -> list[str]:
    if not schemas:
        return []
    counts = schemas["summary"]
    return [
        f"schemas: {counts['subjects']} subject(s), {counts['versions']} version(s): "
        f"{counts['create']} to create, {counts['present']} there, {counts['conflict']} conflict(s)"
    ] + [f"  {line}" for line in schemas["lines"]]


def _runbook(args: argparse.Namespace) -> int:
    from bot.migration.grammar import parse_start

    engine, _url = build_engine(args.config)
    verb = args.verb
    if verb in ("start", "plan"):
        if "--json" in args.args:  # after the arguments too: the flag is not a start argument
            args.args = [a for a in args.args if a != "--json"]
            args.json = True
        request = parse_start(args.args)
        if verb == "plan":
            plan = engine.plan(request)
            text = "\n".join(
                [f"topics: {', '.join(plan['topics'])}"]
                + [
                    f"  {i['source']} -> {i['target']}: {i['partitions']} partition(s), "
                    f"{', '.join(i['actions']) or 'in place'}"
                    + (f"; problems: {'; '.join(i['problems'])}" if i["problems"] else "")
                    + "".join(f"\n      {k} = {v}" for k, v in sorted(i["configs"].items()))
                    for i in plan["topic_plan"]
                ]
                + ([f"excluded: {', '.join(plan['excluded'])}"] if plan["excluded"] else [])
                + _schema_lines(plan["schema_plan"])
            )
            _print(plan, args.json, text)
            return 0 if not plan["summary"]["problems"] else 2
        m = engine.start(request, cli_actor(), origin=cli_origin())
        print(
            f"started {m.id}: {len(m.selected_topics)} topic(s); follow it with "
            f"`kafka-migrate status {m.id}` (the bot's `serve` process moves it)"
        )
        return 0
    if verb == "list":
        rows = engine.list()
        _print(
            rows,
            args.json,
            "\n".join(
                f"{r['id']}  {r['status']:<9} {r['step']:<20} v{r['version']}  {r['topics']} "
                f"topic(s)  by {r['requested_by']}"
                for r in rows
            )
            or "no migrations",
        )
        return 0
    if verb in ("status", "report"):
        data = engine.report(args.id) if verb == "report" else engine.status(args.id)
        text = _status_text(data)
        if verb == "report":
            text += (
                "\napprovals:\n"
                + "\n".join(
                    f"  {a['at']} {a['step']} {a['decision']} by {a['actor']} via {a['via']} "
                    f"(version {a['version']})"
                    for a in data["approvals"]
                )
                or "  none"
            )
            if schemas := data.get("schemas"):
                text += (
                    f"\nschemas ({'ids preserved' if schemas['imported'] else 'no IMPORT mode'}): "
                    + ", ".join(schemas["subjects"])
                    + (
                        f"\n  ids differ: {'; '.join(schemas['parity'])}"
                        if schemas["parity"]
                        else ""
                    )
                    + (
                        f"\n  skipped (soft-deleted): {'; '.join(schemas['skipped'])}"
                        if schemas["skipped"]
                        else ""
                    )
                )
            text += "\ntimeline:\n" + "\n".join(
                f"  {e['at']} {e['actor']}"
                + (f" (on {e['host']})" if e.get("host") else "")
                + f": {e['message']}"
                + (f" [{e['reason']}]" if e["reason"] and e["reason"] not in e["message"] else "")
                for e in data["timeline"]
            )
        _print(data, args.json, text)
        return 0
    if verb in ("approve", "reject"):
        print(
            engine.decide(
                args.id,
                actor=cli_actor(),
                version=args.version,
                via="cli",
                origin=cli_origin(),
                approve=verb == "approve",
                step=args.step,
                reason=args.reason,
            )
        )
        return 0
    actions = {
        "pause": engine.pause,
        "resume": engine.resume,
        "retry": engine.retry,
    }
    if verb == "cancel":
        cleanup = parse_cleanup(args.options)
        if not args.yes:
            undo = engine.undo_plan(args.id, cleanup)
            raise UserError(
                f"cancelling {args.id} will: " + "; ".join(undo) + ". Nothing was done: add --yes"
            )
        m = engine.cancel(args.id, cli_actor(), origin=cli_origin(), cleanup=cleanup)
        print(f"{m.id}: {m.status} at {m.step} (version {m.version})")
        return 0
    if verb in actions:
        m = actions[verb](args.id, cli_actor(), origin=cli_origin())
        print(f"{m.id}: {m.status} at {m.step} (version {m.version})")
        return 0
    if verb == "skip":
        m = engine.skip(args.id, cli_actor(), args.reason or "", origin=cli_origin())
        print(f"{m.id}: now at {m.step} (version {m.version})")
        return 0
    raise UserError(f"unknown verb {verb}")


def _sandbox(args: argparse.Namespace) -> int:
    from bot import sandbox
    from bot.sandbox import jars

    directory = args.dir or sandbox.default_dir(args.action)
    if args.action == "fetch":
        jars.fetch()
    elif args.action == "up":
        box = sandbox.up(directory)
        sandbox.remember(box.dir)
    elif args.action == "down":
        sandbox.down(directory)
        sandbox.forget(directory)
    elif args.action == "status":
        state = sandbox.status(directory).status()
        lines = [f"sandbox in {state['dir']}"]
        for side in ("source", "target"):
            lines.append(
                f"  {side}: {state[side]['bootstrap_servers']} (SASL_PLAINTEXT, PLAIN, "
                f"users {', '.join(state[side]['users'])})"
            )
        lines.append(f"  connect: {state['connect']['url']}")
        lines.append(f"  bot config: {state['config']}")
        lines += [
            f"  {n}: {'running' if up else 'NOT running'}" for n, up in state["running"].items()
        ]
        _print(state, args.json, "\n".join(lines))
        return 0 if all(state["running"].values()) else 1
    return 0


def _serve(args: argparse.Namespace) -> int:
    """Run the bot: the engine and its scheduler. Without Slack credentials it runs headless,
    and without a config file it rehearses on a local sandbox."""
    import signal
    import threading

    from bot import config, sandbox
    from bot.jobs import runner

    if os.environ.get("SLACK_BOT_TOKEN"):
        return _serve_slack(args)
    if os.environ.get("SLACK_APP_TOKEN"):
        raise UserError(
            "SLACK_APP_TOKEN is set but SLACK_BOT_TOKEN is not: Socket Mode needs both "
            "(the bot token xoxb-... posts messages, the app token xapp-... opens the socket)"
        )
    box = None
    path = config.config_path(args.config)
    if not path.exists():  # a rehearsal in the browser: the bot, the Slack stand-in, the sandbox
        from bot.rehearsal.run import rehearse

        return rehearse(args.dir)
    engine, url = build_engine(str(path))
    from sqlalchemy.engine import make_url

    shown = make_url(url).render_as_string(hide_password=True)  # never print a DB password
    print(
        f"engine running on {path} ({', '.join(engine.settings.config.clusters)}); drive it "
        f"with: KAFKA_MIGRATE_CONFIG={path} DATABASE_URL={shown} kafka-migrate start ..."
    )
    lead = runner.Lead(engine).begin()
    server = None
    try:
        _one_per_sqlite(lead, url)
        if os.environ.get("PORT"):  # headless too: /healthz and /metrics for the operators
            server = _health_server(engine, lead)
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        stop.wait()
    finally:
        if server is not None:
            server.close()
        lead.end()
    if box is not None:
        sandbox.down(args.dir)
    return 0


def _health_server(engine, lead):
    """/healthz and /metrics on $PORT, served from a thread, for `serve` without Slack."""
    import threading

    from bot import metrics
    from bot.server import health, make_http_server

    server = make_http_server(
        None,
        lambda: health(engine.store.engine, lead),
        metrics=lambda: metrics.render(engine.store),
    )
    print(f"/healthz and /metrics on port {server.effective_port}")
    threading.Thread(target=server.run, name="healthz", daemon=True).start()
    return server


def _serve_slack(args: argparse.Namespace) -> int:
    """Slack mode: Socket Mode with SLACK_APP_TOKEN, else HTTP on $PORT (signing secret needed).
    Both serve /healthz on $PORT; HTTP mode also /slack/events."""
    import signal
    import threading

    from bot import config
    from bot.slackbot import SlackBot

    app_token = os.environ.get("SLACK_APP_TOKEN")
    secret = os.environ.get("SLACK_SIGNING_SECRET")
    if not app_token and not secret:
        raise UserError(
            "HTTP mode needs SLACK_SIGNING_SECRET (or set SLACK_APP_TOKEN for Socket Mode)"
        )
    if app_token and not app_token.startswith("xapp-"):
        raise UserError("SLACK_APP_TOKEN must be an app-level token (xapp-...) for Socket Mode")
    bot = SlackBot(
        config.load(args.config), token=os.environ["SLACK_BOT_TOKEN"], signing_secret=secret
    )
    lead = bot.start_scheduler()
    server = None
    try:
        _one_per_sqlite(lead, bot.db_url)
        if app_token:
            from slack_sdk.errors import SlackApiError

            try:
                bot.connect_socket_mode(app_token)
            except SlackApiError as exc:
                raise UserError(
                    f"Slack refused SLACK_APP_TOKEN for Socket Mode: {exc.response.get('error')}"
                ) from None
            server = bot.http_server()
            print(f"Slack bot running in Socket Mode; /healthz on port {server.effective_port}")
            threading.Thread(target=server.run, name="healthz", daemon=True).start()
            stop = threading.Event()
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, lambda *_: stop.set())
            stop.wait()
        else:
            server = bot.http_server()
            print(f"Slack bot listening on port {server.effective_port}: /slack/events, /healthz")
            server.run()
    finally:
        if server is not None:
            server.close()
        bot.stop()
    return 0


def _one_per_sqlite(lead, url: str) -> None:
    """On SQLite a second `serve` has nothing to stand by for: say so and stop."""
    if not lead.leading and url.startswith("sqlite"):
        raise UserError(
            f"another kafka-migrate serve ({lead.leader}) moves migrations with this database: "
            "run one per SQLite database (PostgreSQL allows standby processes)"
        )


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
