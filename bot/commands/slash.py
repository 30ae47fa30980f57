"""`/kafka-migrate <sub> ...`: acknowledged at once; the work runs after the ack (lazy)."""

from __future__ import annotations

import logging

from slack_bolt import App

from bot.commands.auth import check_operator
from bot.commands.starting import start_in_slack
from bot.errors import UserError, shown
from bot.migration.compensation import parse_cleanup
from bot.migration.grammar import START_USAGE, parse_start, tokens
from bot.reasons import reason
from bot.slack import blocks
from bot.slack.ids import COMMAND

log = logging.getLogger(__name__)
ID_VERBS = ("status", "pause", "resume", "cancel", "retry", "report")
VERBS = ("start", "plan", "list", "help", *ID_VERBS)


def usage(verb: str | None = None) -> str:
    if verb in ("start", "plan"):
        return f"`{COMMAND} {verb} {START_USAGE.removeprefix('start ')}`"
    if verb == "cancel":
        return f"`{COMMAND} cancel ID [cleanup=target] [yes]`"
    if verb in ID_VERBS:
        return f"`{COMMAND} {verb} ID`"
    return f"`{COMMAND} {' | '.join(VERBS)}` (`{COMMAND} help` explains)"


def parse(text: str) -> tuple[str, list[str]]:
    """Check the command's shape without touching any cluster; UserError says what is wrong."""
    words = tokens(text or "")
    if not words:
        return "help", []
    verb, args = words[0].lower(), words[1:]
    if verb not in VERBS:
        raise UserError(f"unknown subcommand {shown(verb)}. Usage: {usage()}")
    if verb == "cancel" and len(args) > 1:
        options = args[1:-1] if args[-1].lower() == "yes" else args[1:]
        try:
            if len(options) > 1:
                raise UserError("cancel takes an id, then cleanup=target, then yes")
            parse_cleanup(options)
        except UserError as exc:
            raise UserError(f"{exc}. Usage: {usage(verb)}") from None
        return verb, args
    if verb in ID_VERBS and len(args) != 1:
        raise UserError(f"{verb} takes one migration id. Usage: {usage(verb)}")
    if verb in ("list", "help") and args:
        raise UserError(f"{verb} takes no arguments. Usage: {usage(verb)}")
    if verb == "plan" and not args:
        raise UserError(f"plan needs the same arguments as start. Usage: {usage('plan')}")
    if verb in ("start", "plan") and args:
        try:
            parse_start(args)
        except UserError as exc:
            raise UserError(str(exc).split("\nusage:")[0] + f". Usage: {usage(verb)}") from None
    return verb, args


def register(app: App, services) -> None:
    engine = services.engine

    def ack_command(ack, command):
        try:
            verb, _args = parse(command.get("text", ""))
        except UserError as exc:
            ack(text=blocks.refusal(exc, mark=":warning:"))
            return
        if verb == "help":
            ack(text=blocks.HELP)
        else:
            ack()

    def run_command(command, respond, client):
        try:
            verb, args = parse(command.get("text", ""))
        except UserError:
            return  # already answered in the ack
        user, channel = command["user_id"], command["channel_id"]
        try:
            if verb == "help":
                return
            if verb == "start" and not args:
                settings = services.settings.config
                client.views_open(
                    trigger_id=command["trigger_id"],
                    view=blocks.start_modal(
                        sorted(settings.clusters),
                        sorted(settings.replicators),
                        channel,
                        sorted(settings.schema_registries),
                    ),
                )
                return
            if verb == "start":
                respond(text=start_in_slack(services, parse_start(args), user, channel))
            elif verb == "plan":
                respond(text=blocks.plan_text(engine.verbs.plan(parse_start(args))))
            elif verb == "list":
                respond(text=blocks.list_text(engine.rows()))
            elif verb == "status":
                view = engine.view(args[0])
                respond(
                    text=f"Kafka migration {view.id}", blocks=blocks.as_dicts(blocks.card(view))
                )
            elif verb == "report":
                engine.view(args[0])  # exists?
                services.notifier.post_report(args[0])
                respond(text=f"Report of {blocks.code(args[0])} posted in its thread.")
            elif verb == "cancel":
                check_operator(services, args[0], user)
                confirmed = args[-1].lower() == "yes"
                cleanup = parse_cleanup([w for w in args[1:] if w.lower() != "yes"])
                if confirmed:
                    m = engine.verbs.cancel(args[0], user, cleanup=cleanup)
                    respond(text=f"{blocks.code(m.id)}: {m.status} at {blocks.code(m.step)}")
                    return
                undo = "; ".join(engine.verbs.undo_plan(args[0], cleanup))
                again = " ".join([COMMAND, "cancel", *args, "yes"])
                respond(
                    text=f"Cancelling {blocks.code(args[0])} will: {blocks.escape(undo)}. "
                    f"Nothing was done yet: {blocks.code(again)} to go ahead "
                    "(or Cancel on its card)."
                )
            else:
                check_operator(services, args[0], user)
                m = getattr(engine.verbs, verb)(args[0], user)
                respond(text=f"{blocks.code(m.id)}: {m.status} at {blocks.code(m.step)}")
        except UserError as exc:
            respond(text=blocks.refusal(exc, user, mark=":warning:"))
        except Exception as exc:  # noqa: BLE001 - logged with context, answered briefly
            log.exception("%s %s failed", COMMAND, verb)
            respond(text=blocks.clip(f":x: {verb} failed: {blocks.escape(reason(exc))}"))

    app.command(COMMAND)(ack=ack_command, lazy=[run_command])
