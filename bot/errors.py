"""The one exception type whose message is meant for users (Slack, CLI)."""


class UserError(Exception):
    """Bad input or a refused action: the message says what is wrong and how to fix it."""


class ConfigError(UserError):
    """The configuration file is missing, malformed or incomplete."""
