"""Starting a migration from Slack (the command and the form): it runs only once its card is
in a channel people see; otherwise it stays paused and the user is told what to do."""

from __future__ import annotations

from slack_sdk.errors import SlackApiError

from bot.migration.grammar import StartRequest
from bot.slack import blocks
from bot.slack.ids import COMMAND

CARD_PENDING = "waiting until its card is posted in Slack"


def start_in_slack(services, request: StartRequest, user: str, channel: str | None) -> str:
    """Start it, post its card, let it run; the answer for the user (mrkdwn, escaped)."""
    engine = services.engine
    m = engine.verbs.start(request, user, channel=channel, hold=CARD_PENDING)
    try:
        where = services.notifier.post_card(m.id)
    except SlackApiError as exc:
        tried = ", ".join(
            blocks.channel_link(c)
            for c in dict.fromkeys(filter(None, (channel, services.notifier.channel)))
        )
        return (
            f":warning: {blocks.code(m.id)} is created but stays paused: its card cannot be "
            f"posted in {tried} ({blocks.escape(exc.response.get('error'))}). Invite the bot "
            f"there (`/invite @kafka-migrate`), then `{COMMAND} resume {m.id}`."
        )
    engine.verbs.resume(m.id, "bot")
    return (
        f"Started {blocks.code(m.id)} ({len(m.selected_topics)} topic(s)); its card is in "
        f"{blocks.channel_link(where)}."
    )
