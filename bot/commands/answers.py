"""The one error path of the Slack listeners: a UserError becomes the refusal, for the person
who asked and only for them; anything else is logged with its context and, after the ack,
answered "failed: <short reason>".

Every listener acks first (an ack function: `ack_at_once`, or one that answers in the ack)
and does its work after the ack, lazily. Errors before the ack (bolt's middleware, ack
functions) reach `on_error`, bolt's error handler. Errors after it reach `after_ack`, which
hands them to the same `answer`: bolt only logs what a lazy listener raises, and when a
listener acks and then raises in the same function, bolt's error path can take back the ack
before it is sent.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable

from slack_bolt import Ack, BoltContext, BoltResponse

from bot.errors import UserError
from bot.reasons import reason
from bot.slack import blocks
from bot.slack.ids import START_FIELDS
from bot.slack.payloads import BlockActions, SlashCommand, ViewSubmission

log = logging.getLogger(__name__)
TYPED = ":warning:"  # what was typed (a command, the form) is refused with this mark


def answer(exc: UserError, context: BoltContext, *, acked: bool) -> BoltResponse | None:
    """Refuse the request in `context` with `exc`: in the ack while it is not sent (the answer
    to return), else with a message only the user sees."""
    payload = context.get("payload")
    if not acked and isinstance(payload, SlashCommand):
        return BoltResponse(status=200, body={"text": blocks.refusal(exc, mark=TYPED)})
    if not acked and isinstance(payload, ViewSubmission):  # shown at the field it is about
        field = getattr(exc, "field", None)
        block = field if field in START_FIELDS else START_FIELDS[0]
        text = blocks.clip(blocks.escape(getattr(exc, "message", str(exc))), 150)
        return BoltResponse(status=200, body={"response_action": "errors", "errors": {block: text}})
    if isinstance(payload, SlashCommand):
        tell(context, blocks.refusal(exc, payload.user_id, mark=TYPED))
    elif isinstance(payload, ViewSubmission):
        tell(context, blocks.refusal(exc, payload.user.id, mark=TYPED))
    elif isinstance(payload, BlockActions):
        tell(context, blocks.refusal(exc, payload.user.id))
    return None if acked else BoltResponse(status=200, body="")


def tell(context: BoltContext, text: str) -> None:
    """A message for the person who asked, and for them only."""
    payload = context.get("payload")
    if isinstance(payload, ViewSubmission):  # a form has no response_url
        context.client.chat_postEphemeral(
            channel=payload.view.private_metadata or context["services"].notifier.channel,
            user=payload.user.id,
            text=text,
        )
    elif isinstance(payload, BlockActions):
        if context.respond is not None:
            context.respond(text=text, response_type="ephemeral", replace_original=False)
    else:
        context.respond(text=text)


def ack_at_once(ack: Ack) -> None:
    """The ack of a listener whose work runs after it."""
    ack()


def on_error(error: Exception, context: BoltContext, response: BoltResponse | None):
    """bolt's error handler, for middleware and listeners; `response` is None once acked."""
    if isinstance(error, UserError):
        return answer(error, context, acked=response is None)
    log.error("Slack listener failed: %s", reason(error), exc_info=error)
    return None


def after_ack(asked: Callable[[BoltContext], str]):
    """A lazy listener, answered by the one error path: a UserError is the refusal; anything
    else is logged and answered ":x: <what was asked> failed: <short reason>"."""

    def wrap(listener):
        @functools.wraps(listener)
        def lazy(**kwargs) -> None:
            context: BoltContext = kwargs["context"]
            try:
                listener(**kwargs)
            except UserError as exc:
                answer(exc, context, acked=True)
            except Exception as exc:  # noqa: BLE001 - logged with context, answered briefly
                what = asked(context)
                log.exception("%s failed", what)
                tell(context, blocks.clip(f":x: {what} failed: {blocks.escape(reason(exc))}"))

        return lazy

    return wrap
