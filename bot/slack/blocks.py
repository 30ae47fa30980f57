"""Block Kit rendering, in one place, with slack_sdk.models (which checks the limits too)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    HeaderBlock,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    PlainTextObject,
    SectionBlock,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from bot.errors import ConfigError
from bot.migration.grammar import START_USAGE
from bot.slack.ids import START_VIEW, Action, button_value
from bot.slack.mrkdwn import (  # noqa: F401 - re-exported: handlers render through blocks
    MAX_TEXT,
    channel_link,
    clip,
    code,
    escape,
    mention,
)

MARKS = {
    "done": ":white_check_mark:",
    "running": ":arrow_forward:",
    "failed": ":x:",
    "skipped": ":fast_forward:",
    "regressed": ":leftwards_arrow_with_hook:",
    "pending": ":white_circle:",
}
HELP = (
    "*/kafka-migrate* runs a Kafka migration with MirrorMaker 2, step by verified step.\n"
    f"• `start` (a form) or `{START_USAGE}`\n"
    "• `plan <same arguments as start>`: what start would do, changing nothing\n"
    "• `status ID`, `list`, `report ID`\n"
    "• `pause ID`, `resume ID`, `cancel ID`, `retry ID`\n"
    "Approvals come as buttons in the channel: stop producers, then repoint clients."
)


def summarize(names: list[str], shown: int = 5) -> str:
    if len(names) <= shown:
        return ", ".join(code(n) for n in names)
    return ", ".join(code(n) for n in names[:shown]) + f" and {len(names) - shown} more"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 90:
        return f" {seconds:.0f}s"
    if seconds < 5400:
        return f" {seconds / 60:.0f}m"
    return f" {seconds / 3600:.1f}h"


def _checklist(status: dict[str, Any]) -> str:
    lines = []
    for step in status["steps"]:
        mark = MARKS.get(step["state"], ":grey_question:")
        name = f"*{step['step']}*" if step["step"] == status["step"] else step["step"]
        who = (
            f" by {', '.join(mention(a.strip()) for a in step['actor'].split(','))}"
            if step["actor"] and step["actor"] != "bot"
            else ""
        )
        lines.append(f"{mark} {name}{duration(step['seconds'])}{who}")
    return "\n".join(lines)


def card(status: dict[str, Any]) -> list:
    """The one message per migration, kept current."""
    lag = status.get("replication_lag")
    consumer = status.get("consumer_lag")
    eta = status.get("eta_seconds")
    fields = [
        MarkdownTextObject(text=f"*Status*\n{status['status']} at {code(status['step'])}"),
        MarkdownTextObject(text=f"*Version*\n{status['version']}"),
        MarkdownTextObject(
            text=f"*Replication lag*\n{'—' if lag is None else f'{lag:,} records'}"
            + _decided(status)
        ),
        MarkdownTextObject(text=f"*Consumer lag*\n{'—' if consumer is None else f'{consumer:,}'}"),
        MarkdownTextObject(text=f"*ETA*\n{'—' if not eta else duration(eta).strip()}"),
        MarkdownTextObject(text=f"*Requested by*\n{mention(status['requested_by'])}"),
    ]
    blocks: list = [
        HeaderBlock(text=PlainTextObject(text=clip(f"Kafka migration {status['id']}", 150))),
        SectionBlock(
            text=MarkdownTextObject(
                text=clip(
                    f"*{escape(status['source'])} → {escape(status['target'])}* via "
                    f"{escape(status['replicator'])}, "
                    f"policy {escape(status['replication_policy'])}\n"
                    f"{len(status['topics'])} topic(s): "
                    f"{summarize(status['topics'])}"
                )
            )
        ),
        SectionBlock(fields=fields),
        SectionBlock(text=MarkdownTextObject(text=clip(_checklist(status)))),
    ]
    if status["status"] == "active":
        now = status.get("note") or status.get("reason")
    else:  # why it stopped comes first: a failed card says why
        now = status.get("reason") or status.get("note")
    context = [MarkdownTextObject(text=clip(escape(status["rollback"]), 2000))]
    if now:
        label = "Now" if status["status"] == "active" else status["status"].capitalize()
        context.insert(0, MarkdownTextObject(text=clip(f"*{label}:* {escape(now)}", 2000)))
    blocks.append(ContextBlock(elements=context))
    buttons = _card_buttons(status)
    if buttons:
        blocks.append(ActionsBlock(block_id="card_actions", elements=buttons))
    return blocks


def _decided(status: dict[str, Any]) -> str:
    """The figure an open gate was opened on, with its time, beside the live one."""
    decided = (status.get("gate") or {}).get("decided") or {}
    if decided.get("replication_lag") is None:
        return ""
    return f"\n_at decision: {decided['replication_lag']:,} ({_when(decided['at'])})_"


def _when(ts: float) -> str:
    at = datetime.fromtimestamp(ts, UTC)
    return f"<!date^{int(ts)}^{{time_secs}}|{at.strftime('%H:%M:%S UTC')}>"


def _card_buttons(status: dict[str, Any]) -> list[ButtonElement]:
    value = button_value(status["id"], status["version"])
    cancel = ButtonElement(
        text="Cancel",
        action_id=Action.CANCEL,
        value=value,
        style="danger",
        confirm=ConfirmObject(
            title="Cancel this migration?",
            text=clip("It will " + "; ".join(status.get("undo", [])) + ".", 300),
            confirm="Cancel it",
            deny="Keep going",
        ),
    )
    by_status = {
        "active": [ButtonElement(text="Pause", action_id=Action.PAUSE, value=value), cancel],
        "paused": [
            ButtonElement(text="Resume", action_id=Action.RESUME, value=value, style="primary"),
            cancel,
        ],
        "failed": [
            ButtonElement(text="Retry", action_id=Action.RETRY, value=value, style="primary"),
            cancel,
        ],
    }
    return by_status.get(status["status"], [])


def gate_request(status: dict[str, Any], title: str, approvers: list[str], text: str) -> list:
    step, version = status["step"], status["version"]
    value = button_value(status["id"], version, step)
    who = " ".join(mention(a) for a in approvers if not a.startswith("cli:"))
    blocks: list = [
        SectionBlock(
            text=MarkdownTextObject(
                text=clip(
                    f"{who} *{title}* for {code(status['id'])} (version {version})\n{escape(text)}"
                )
            )
        ),
    ]
    decided = (status.get("gate") or {}).get("decided") or {}
    if decided.get("replication_lag") is not None:
        blocks.append(
            ContextBlock(
                elements=[
                    MarkdownTextObject(
                        text=f"Decided on: replication lag {decided['replication_lag']:,} "
                        f"records at {_when(decided['at'])}"
                    )
                ]
            )
        )
    preview = (status.get("gate") or {}).get("preview")
    if preview:
        lines = [
            f"• {code(g)}: "
            + ", ".join(f"{n} {k}" for k, n in sorted(p["kinds"].items()))
            + (f" — about {p['duplicates']:,} records read twice" if p["duplicates"] else "")
            for g, p in sorted(preview.items())
        ]
        blocks.append(
            SectionBlock(
                text=MarkdownTextObject(text=clip("*Offsets at cutover*\n" + "\n".join(lines)))
            )
        )
    blocks.append(
        ActionsBlock(
            block_id=f"gate_{step}",
            elements=[
                ButtonElement(
                    text="Approve",
                    action_id=Action.APPROVE,
                    value=value,
                    style="primary",
                    confirm=ConfirmObject(
                        title=clip(title, 100),
                        text=clip(f"Approve {step} for {status['id']} at version {version}?", 300),
                        confirm="Approve",
                        deny="Not yet",
                    ),
                ),
                ButtonElement(
                    text="Reject",
                    action_id=Action.REJECT,
                    value=value,
                    style="danger",
                    confirm=ConfirmObject(
                        title="Reject and pause?",
                        text=clip(f"Rejecting pauses {status['id']}.", 300),
                        confirm="Reject",
                        deny="Back",
                    ),
                ),
            ],
        )
    )
    return blocks


def decided(original_text: str, decision: str, actor: str, at: datetime | None = None) -> list:
    """The gate message after a decision: no buttons, who and when."""
    at = at or datetime.now(UTC)
    stamp = f"<!date^{int(at.timestamp())}^{{date_short_pretty}} {{time}}|{at.isoformat()}>"
    mark = ":white_check_mark:" if decision == "approved" else ":no_entry:"
    return [
        SectionBlock(text=MarkdownTextObject(text=clip(original_text))),
        ContextBlock(
            elements=[
                MarkdownTextObject(
                    text=f"{mark} {decision.capitalize()} by {mention(actor)} at {stamp}"
                )
            ]
        ),
    ]


def refusal(exc: Exception, user: str | None = None, mark: str = ":no_entry:") -> str:
    """A refusal or error for the person who asked: escaped, their own id as a mention, and
    without the server's file paths (a configuration error names the key, not the file)."""
    text = str(exc)
    if isinstance(exc, ConfigError):
        head, sep, rest = text.partition(": ")
        if sep and (head.endswith(".toml") or "/" in head):
            text = f"the bot's configuration: {rest}"
    text = escape(text)
    if user:
        text = text.replace(escape(user), mention(user))
    return clip(f"{mark} {text}")


def closed(original_text: str, reason: str, follows: bool = True) -> list:
    return [
        SectionBlock(text=MarkdownTextObject(text=clip(original_text))),
        ContextBlock(
            elements=[
                MarkdownTextObject(
                    text=clip(
                        f":leftwards_arrow_with_hook: Closed: {escape(reason)}."
                        + (
                            " A new request follows when the condition holds again."
                            if follows
                            else ""
                        ),
                        2000,
                    )
                )
            ]
        ),
    ]


def start_modal(
    clusters: list[str], replicators: list[str], channel: str, registries: list[str] = ()
) -> View:
    def select(action: str, names: list[str]) -> StaticSelectElement:
        return StaticSelectElement(
            action_id=action, options=[Option(text=n[:75], value=n) for n in names[:100]]
        )

    def text_input(action: str, hint: str, optional: bool = False) -> PlainTextInputElement:
        return PlainTextInputElement(action_id=action, placeholder=hint)

    def optional_input(block_id: str, label: str, hint: str) -> InputBlock:
        return InputBlock(
            block_id=block_id, label=label, optional=True, element=text_input("value", hint)
        )

    return View(
        type="modal",
        callback_id=START_VIEW,
        private_metadata=channel,
        title="Start a migration",
        submit="Start",
        close="Cancel",
        blocks=[
            InputBlock(block_id="name", label="Name", element=text_input("value", "orders")),
            InputBlock(
                block_id="source", label="Source cluster", element=select("value", clusters)
            ),
            InputBlock(
                block_id="target", label="Target cluster", element=select("value", clusters)
            ),
            InputBlock(
                block_id="topics",
                label="Topics (Java regexes, comma-separated)",
                element=text_input("value", "orders\\..*"),
            ),
            optional_input("exclude", "Exclude (optional)", ".*\\.test"),
            InputBlock(block_id="via", label="Replicator", element=select("value", replicators)),
            InputBlock(
                block_id="replication_policy",
                label="Replication policy",
                element=StaticSelectElement(
                    action_id="value",
                    options=[
                        Option(text="identity (same names)", value="identity"),
                        Option(text="default (source.topic)", value="default"),
                    ],
                    initial_option=Option(text="identity (same names)", value="identity"),
                ),
            ),
            optional_input(
                "groups_exclude",
                "Leave these consumer groups out (optional)",
                "analytics-old,retired-.*",
            ),
            optional_input(
                "groups_exclude_reason",
                "Why they are left out (for the audit)",
                "retired last quarter",
            ),
            *[
                InputBlock(
                    block_id=f"{side}_registry",
                    label=f"{side.title()} schema registry (optional: migrate schemas)",
                    optional=True,
                    element=select("value", list(registries)),
                )
                for side in ("source", "target")
                if registries
            ],
        ],
    )


def as_dicts(blocks: list) -> list[dict]:
    return [b.to_dict() for b in blocks]
