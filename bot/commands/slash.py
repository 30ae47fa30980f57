"""`/kafka-migrate <sub> ...`: read once (before the ack: a bad line is answered in the ack),
acknowledged at once; the work runs after the ack (lazy)."""

from __future__ import annotations

from dataclasses import dataclass

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

from bot.commands.answers import after_ack
from bot.commands.auth import check_operator
from bot.commands.plain import Plain
from bot.commands.starting import start_in_slack
from bot.errors import UserError, shown
from bot.migration.compensation import parse_cleanup
from bot.migration.grammar import START_USAGE, StartRequest, parse_start, tokens
from bot.slack import blocks
from bot.slack.ids import COMMAND

ID_VERBS = ("status", "pause", "resume", "cancel", "retry", "report", "finalize", "rollback")
VERBS = ("start", "plan", "list", "help", *ID_VERBS)


@dataclass(frozen=True)
class Line:
    """A command line as read: its verb, its arguments and, for start and plan with
    arguments, the start request they make."""

    verb: str
    args: tuple[str, ...] = ()
    start: StartRequest | None = None


def usage(verb: str | None = None) -> str:
    if verb in ("start", "plan"):
        return f"`{COMMAND} {verb} {START_USAGE.removeprefix('start ')}`"
    if verb == "cancel":
        return f"`{COMMAND} cancel ID [cleanup=target] [yes]`"
    if verb in ID_VERBS:
        return f"`{COMMAND} {verb} ID`"
    return f"`{COMMAND} {' | '.join(VERBS)}` (`{COMMAND} help` explains)"


def parse(text: str) -> Line:
    """Check the command's shape without touching any cluster; UserError says what is wrong."""
    words = tokens(text or "")
    if not words:
        return Line("help")
    verb, args = words[0].lower(), tuple(words[1:])
    if verb not in VERBS:
        raise UserError(f"unknown subcommand {shown(verb)}. Usage: {usage()}")
    if verb == "cancel" and len(args) > 1:
        options = list(args[1:-1] if args[-1].lower() == "yes" else args[1:])
        try:
            if len(options) > 1:
                raise UserError("cancel takes an id, then cleanup=target, then yes")
            parse_cleanup(options)
        except UserError as exc:
            raise UserError(f"{exc}. Usage: {usage(verb)}") from None
        return Line(verb, args)
    if verb in ID_VERBS and len(args) != 1:
        raise UserError(f"{verb} takes one migration id. Usage: {usage(verb)}")
    if verb in ("list", "help") and args:
        raise UserError(f"{verb} takes no arguments. Usage: {usage(verb)}")
    if verb == "plan" and not args:
        raise UserError(f"plan needs the same arguments as start. Usage: {usage('plan')}")
    if verb in ("start", "plan") and args:
        try:
            return Line(verb, args, parse_start(list(args)))
        except UserError as exc:  # the grammar's message, then this command's usage
            raise UserError(f"{exc.message}. Usage: {usage(verb)}", field=exc.field) from None
    return Line(verb, args)


def read_line(context: BoltContext, next):  # noqa: A002 - bolt injects `next` by name
    """The command line read once, into `context["line"]`, before the ack: a bad one is
    refused in the ack (UserError, answered by the one error path) and runs nothing."""
    context["line"] = parse(context["payload"].text)
    return next()


def ack_command(ack: Ack, context: BoltContext) -> None:
    if context["line"].verb == "help":
        ack(text=blocks.HELP)
    else:
        ack()


@after_ack(lambda context: context["line"].verb)
def run_command(respond: Respond, client: WebClient, context: BoltContext) -> None:
    services, line, slash = context["services"], context["line"], context["payload"]
    engine, verb, args = services.engine, line.verb, line.args
    user, channel = slash.user_id, slash.channel_id
    if verb == "help":
        return
    if verb == "start" and line.start is None:
        settings = services.settings.config
        client.views_open(
            trigger_id=slash.trigger_id,
            view=blocks.start_modal(
                sorted(settings.clusters),
                sorted(settings.replicators),
                channel,
                sorted(settings.schema_registries),
                sorted(settings.connect_clusters),
            ),
        )
    elif verb == "start":
        respond(text=start_in_slack(services, line.start, user, channel))
    elif verb == "plan":
        respond(text=blocks.plan_text(engine.verbs.plan(line.start)))
    elif verb == "list":
        respond(text=blocks.list_text(engine.rows()))
    elif verb == "status":
        view = engine.view(args[0])
        respond(text=f"Kafka migration {view.id}", blocks=blocks.as_dicts(blocks.card(view)))
    elif verb == "report":
        engine.view(args[0])  # exists?
        services.notifier.post_report(args[0])
        respond(text=f"Report of {blocks.code(args[0])} posted in its thread.")
    elif verb == "cancel":
        cancel(respond, services, args, user)
    else:
        check_operator(services, args[0], user)
        m = getattr(engine.verbs, verb)(args[0], user)
        respond(text=f"{blocks.code(m.id)}: {m.status} at {blocks.code(m.step)}")


def cancel(respond: Respond, services, args: tuple[str, ...], user: str) -> None:
    """`cancel ID [cleanup=target]` says what it will undo; with `yes` it does it."""
    check_operator(services, args[0], user)
    confirmed = args[-1].lower() == "yes"
    cleanup = parse_cleanup([w for w in args[1:] if w.lower() != "yes"])
    if confirmed:
        m = services.engine.verbs.cancel(args[0], user, cleanup=cleanup)
        respond(text=f"{blocks.code(m.id)}: {m.status} at {blocks.code(m.step)}")
        return
    undo = "; ".join(services.engine.verbs.undo_plan(args[0], cleanup))
    again = " ".join([COMMAND, "cancel", *args, "yes"])
    respond(
        text=f"Cancelling {blocks.code(args[0])} will: {blocks.escape(undo)}. "
        f"Nothing was done yet: {blocks.code(again)} to go ahead (or Cancel on its card)."
    )


def register(app: App, _services) -> None:
    app.command(COMMAND, middleware=[Plain(read_line)])(ack=ack_command, lazy=[run_command])
