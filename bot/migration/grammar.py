"""The argument grammar shared by `/kafka-migrate` and the `kafka-migrate` CLI.

    start NAME source=CLUSTER target=CLUSTER topics=REGEX[,REGEX...] [exclude=REGEX,...]
          via=REPLICATOR [replication_policy=identity|default] [fence=yes|no]
          [fence_allow=User:a,...]
          [principals=User:from=User:to,...] [source_registry=NAME] [target_registry=NAME]
          [allow_config_changes=yes|no] [groups_exclude=REGEX,... groups_exclude_reason=TEXT]
          [connect_from=CONNECT connect_to=CONNECT [connectors=REGEX,...]
           [connectors_exclude=REGEX,...]] [reverse_via=REPLICATOR [soak=DURATION]]

Values may be quoted with '...' or "..."; backslashes are kept as typed (they are regexes).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field

from bot.errors import UserError, shown
from bot.kafka.javaregex import compile_java
from bot.kafka.select import split_list

START_USAGE = (
    "start NAME source=CLUSTER target=CLUSTER topics=REGEX[,REGEX] [exclude=REGEX,...] "
    "via=REPLICATOR [replication_policy=identity|default] [fence=yes|no] [fence_allow=User:a,...] "
    "[principals=User:from=User:to,...] [source_registry=NAME] [target_registry=NAME] "
    "[allow_config_changes=yes|no] [groups_exclude=REGEX,... groups_exclude_reason=TEXT] "
    "[connect_from=CONNECT connect_to=CONNECT [connectors=REGEX,...] "
    "[connectors_exclude=REGEX,...]] [reverse_via=REPLICATOR [soak=DURATION]]"
)
REQUIRED = ("source", "target", "topics", "via")
OPTIONAL = (
    "exclude",
    "replication_policy",
    "fence",
    "fence_allow",
    "principals",
    "source_registry",
    "target_registry",
    "allow_config_changes",
    "groups_exclude",
    "groups_exclude_reason",
    "connect_from",
    "connect_to",
    "connectors",
    "connectors_exclude",
    "reverse_via",
    "soak",
)
DEFAULT_SOAK = 24 * 3600  # seconds the reverse flow runs after verify, when reverse_via is given
SOAK_LIMIT = 90 * 24 * 3600
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
DURATION_RE = re.compile(r"^(\d{1,7})([smhd]?)$")
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,29}$")
_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'})


@dataclass(frozen=True)
class StartRequest:
    name: str
    source: str
    target: str
    topics: str
    via: str
    exclude: str = ""
    replication_policy: str = "identity"
    options: dict = field(default_factory=dict)


def tokens(text: str) -> list[str]:
    """Split like a shell, but keep backslashes (regexes) and accept Slack's curly quotes."""
    lexer = shlex.shlex(text.translate(_QUOTES), posix=True)
    lexer.whitespace_split = True
    lexer.escape = ""
    lexer.commenters = ""
    try:
        return list(lexer)
    except ValueError as exc:
        raise UserError(f"cannot read the arguments: {exc} (check the quotes)") from None


def _yes(key: str, value: str) -> bool:
    if value.lower() in ("yes", "true", "on", "1"):
        return True
    if value.lower() in ("no", "false", "off", "0"):
        return False
    raise UserError(f"{key}={shown(value)}: say yes or no", field=key)


def _refused(message: str, field: str | None = None, usage: bool = True) -> UserError:
    """A start request refused: about `field` (the argument at fault), with the usage."""
    return UserError(message, field=field, usage=START_USAGE if usage else None)


def _check_connect(values: dict[str, str]) -> None:
    """connect_from and connect_to together, two different names; connectors= regexes valid."""
    given = [k for k in ("connect_from", "connect_to") if values.get(k)]
    if len(given) == 1:
        other = "connect_to" if given[0] == "connect_from" else "connect_from"
        raise _refused(
            f"start: {given[0]} needs {other}= too (the Connect cluster on the other side)", other
        )
    if given and values["connect_from"] == values["connect_to"]:
        raise _refused(
            "start: connect_from and connect_to are the same Connect cluster", "connect_to"
        )
    for key in ("connectors", "connectors_exclude"):
        if values.get(key) and not given:
            raise _refused(f"start: {key}= needs connect_from= and connect_to=", key)
        try:
            for item in split_list(values.get(key, ""), key):
                compile_java(item)
        except UserError as exc:
            raise _refused(f"start: {key}: {exc.message}", key, usage=False) from None


def parse_duration(key: str, value: str) -> int:
    """'90s', '30m', '24h', '2d' or plain seconds -> seconds (1 s to 90 days)."""
    found = DURATION_RE.match(value.strip().lower())
    seconds = int(found.group(1)) * UNITS[found.group(2) or "s"] if found else 0
    if not 1 <= seconds <= SOAK_LIMIT:
        raise _refused(
            f"start: {key}={shown(value)} must be a duration such as 30m, 24h or 2d "
            "(1 second to 90 days)",
            key,
            usage=False,
        )
    return seconds


def _check_reverse(values: dict[str, str], replication_policy: str) -> int | None:
    """reverse_via: another replicator than via, identity names; soak= only with it."""
    via = values.get("reverse_via")
    if values.get("soak") and not via:
        raise _refused("start: soak= needs reverse_via= (the reverse flow it keeps)", "soak")
    if not via:
        return None
    if via == values["via"]:
        raise _refused(
            "start: reverse_via names the forward replicator; the reverse flow writes to the "
            "source: name a replicator attached to the source (or an MM2 service's aliases "
            "the other way)",
            "reverse_via",
        )
    if replication_policy != "identity":
        raise _refused(
            "start: reverse_via needs replication_policy=identity (the reverse flow writes "
            "the source's own topic names back)",
            "reverse_via",
        )
    if values.get("connect_from"):
        raise _refused(
            "start: reverse_via with connect_from/connect_to is not supported: moved "
            "connectors have no way back yet",
            "reverse_via",
            usage=False,
        )
    return parse_duration("soak", values["soak"]) if values.get("soak") else DEFAULT_SOAK


def parse_start(args: list[str]) -> StartRequest:
    if not args or "=" in args[0]:
        raise _refused("start: give the migration a NAME first (e.g. start orders ...)", "name")
    name, rest = args[0], args[1:]
    if not NAME_RE.match(name):
        raise _refused(
            f"start: name {shown(name)} must be lowercase letters, digits and '-', "
            "at most 30 characters",
            "name",
        )
    values: dict[str, str] = {}
    for arg in rest:
        key, sep, value = arg.partition("=")
        if not sep:
            raise _refused(f"start: {shown(arg)} is not key=value")
        if key not in REQUIRED + OPTIONAL:
            raise _refused(f"start: unknown argument {shown(key)}")
        if key in values:
            raise _refused(f"start: {key} is given twice", key)
        values[key] = value
    missing = [k for k in REQUIRED if not values.get(k)]
    if missing:
        raise _refused(f"start: missing {', '.join(k + '=' for k in missing)}", missing[0])
    if values["source"] == values["target"]:
        raise _refused("start: source and target are the same cluster", "source", usage=False)
    replication_policy = values.get("replication_policy", "identity")
    if replication_policy not in ("identity", "default"):
        raise _refused(
            f"start: replication_policy={shown(replication_policy)} must be identity or default",
            "replication_policy",
        )
    if values.get("groups_exclude") and not values.get("groups_exclude_reason", "").strip():
        raise _refused(
            "start: groups_exclude needs groups_exclude_reason='why' (it goes into the audit)",
            "groups_exclude",
        )
    _check_connect(values)
    soak = _check_reverse(values, replication_policy)
    options = {
        "reverse_via": values.get("reverse_via"),
        "soak": soak,
        "connect_from": values.get("connect_from"),
        "connect_to": values.get("connect_to"),
        "connectors": values.get("connectors", ""),
        "connectors_exclude": values.get("connectors_exclude", ""),
        "fence": _yes("fence", values["fence"]) if "fence" in values else False,
        "fence_allow": [p.strip() for p in values.get("fence_allow", "").split(",") if p.strip()],
        "principals": values.get("principals", ""),
        "groups_exclude": values.get("groups_exclude", ""),
        "groups_exclude_reason": values.get("groups_exclude_reason", "").strip()[:500],
        "source_registry": values.get("source_registry"),
        "target_registry": values.get("target_registry"),
        "allow_config_changes": _yes("allow_config_changes", values["allow_config_changes"])
        if "allow_config_changes" in values
        else False,
    }
    return StartRequest(
        name,
        values["source"],
        values["target"],
        values["topics"],
        values["via"],
        values.get("exclude", ""),
        replication_policy,
        options,
    )
