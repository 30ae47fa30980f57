"""The exception types more than one layer knows: `UserError`, the one whose message is meant
for users (Slack, CLI), and `ReplicatorError`, a replicator or the Aiven API refusing or
failing (bot.replicators and bot.aiven raise it, the engine tells passing faults by it)."""


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


class ReplicatorError(RuntimeError):
    """The replicator refused or failed; the message names the call and its answer.
    `retriable`: it may pass (the worker unreachable, restarting, rebalancing, a 5xx)."""

    def __init__(self, message: str, retriable: bool = False):
        super().__init__(message)
        self.retriable = retriable


def shown(value: object, limit: int = 60) -> str:
    """A user's input quoted in an error message, clipped so the reason and usage stay visible."""
    text = str(value)
    if len(text) <= limit:
        return repr(text)
    return repr(text[:limit]) + f"… ({len(text):,} characters)"
