"""The one exception type whose message is meant for users (Slack, CLI)."""


class UserError(Exception):
    """Bad input or a refused action: the message says what is wrong and how to fix it.

    `field` names the input it is about (a start argument: `source`, `topics`, ...), so a form
    can show it at that field; `usage` is the grammar's usage line, shown after the message
    (`str`) where the surface has no usage of its own (the CLI)."""

    def __init__(self, message: str, *, field: str | None = None, usage: str | None = None):
        super().__init__(message)
        self.message, self.field, self.usage = message, field, usage

    def __str__(self) -> str:
        return self.message + (f"\nusage: {self.usage}" if self.usage else "")


class ConfigError(UserError):
    """The configuration file is missing, malformed or incomplete."""


def shown(value: object, limit: int = 60) -> str:
    """A user's input quoted in an error message, clipped so the reason and usage stay visible."""
    text = str(value)
    if len(text) <= limit:
        return repr(text)
    return repr(text[:limit]) + f"… ({len(text):,} characters)"
