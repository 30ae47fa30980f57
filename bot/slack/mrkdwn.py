"""Text that reaches Slack, made safe in one place.

Everything a user typed or a cluster supplied (names, patterns, reasons, notes) goes through
`escape` (Slack's three control characters) or `code` (names and patterns, in a code span, so
`*`, `_`, `~` do not format): a pasted `<!channel>`, `<@U…>` or `<https://x|click>` shows as
text and notifies nobody. Mentions come only from `mention`, for ids the bot resolved.
"""

from __future__ import annotations

import re

MAX_TEXT = 3000
_USER = re.compile(r"^[UW][A-Z0-9]{2,20}$")
_GROUP = re.compile(r"^S[A-Z0-9]{2,20}$")
_CHANNEL = re.compile(r"^[CGD][A-Z0-9]{2,20}$")


def escape(text: object) -> str:
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def code(text: object) -> str:
    """A name or pattern, shown literally (backticks inside become quotes)."""
    return "`" + escape(str(text).replace("`", "'")) + "`"


def mention(who: str) -> str:
    """A user (U…/W…) or user group (S…) id as a mention; anything else as plain text."""
    if _USER.match(who):
        return f"<@{who}>"
    if _GROUP.match(who):
        return f"<!subteam^{who}>"
    return escape(who)  # cli:<account>, bot


def channel_link(channel: str) -> str:
    return f"<#{channel}>" if _CHANNEL.match(channel) else code(channel)


def clip(text: str, limit: int = MAX_TEXT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
