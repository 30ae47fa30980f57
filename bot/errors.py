"""The one exception type whose message is meant for users (Slack, CLI)."""


class UserError(Exception):
    """Bad input or a refused action: the message says what is wrong and how to fix it."""


class ConfigError(UserError):
    """The configuration file is missing, malformed or incomplete."""


def shown(value: object, limit: int = 60) -> str:
    """A user's input quoted in an error message, clipped so the reason and usage stay visible."""
    text = str(value)
    if len(text) <= limit:
        return repr(text)
    return repr(text[:limit]) + f"… ({len(text):,} characters)"
