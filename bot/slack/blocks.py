"""Block Kit rendering, in one place, with slack_sdk.models (which checks the limits too)."""

from __future__ import annotations

from datetime import UTC, datetime

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
from bot.migration.view import MigrationView, Plan, Report, Row
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
    "• during the soak (with `reverse_via`): `rollback ID` or `finalize ID` (each is approved)\n"
    "Approvals come as buttons in the channel: stop producers, then repoint clients."
)


def summarize(names: list[str], shown: int = 5) -> str:
    if len(names) <= shown:
        return ", ".join(code(n) for n in names)
    return ", ".join(code(n) for n in names[:shown]) + f" and {len(names) - shown} more"


SHOWN = 5  # of a long list, the entries a message names (the worst first); the rest counted
RANK = ("unknown", "translated", "exact")  # a group's handover is as good as its worst offset


def fitted(lines: list[str], budget: int, rest: str = "") -> str:
    """As many of `lines` as fit in `budget` characters, one a line, and the others counted
    ("• and 12 more" and where they are): a long list is cut between entries, never
    inside one."""
    out: list[str] = []
    used = 0
    for i, line in enumerate(lines):
        left = len(lines) - i - 1
        more = f"\n• and {left:,} more{rest}" if left else ""
        if used + len(line) + 1 + len(more) > budget and out:
            return "\n".join(out) + f"\n• and {len(lines) - i:,} more{rest}"
        out.append(clip(line, budget))
        used += len(line) + 1
    return "\n".join(out)


def status_json(view_id: str) -> str:
    return f": `kafka-migrate status {escape(view_id)} --json` lists them all"


def worst_kind(kinds: dict[str, int]) -> str:
    return next((k for k in RANK if kinds.get(k)), next(iter(sorted(kinds)), "none"))


def handed(
    groups: dict[str, dict[str, int]], twice: dict[str, int] | None = None
) -> tuple[str, list[str]]:
    """Groups' offsets by kind, as handed over (or back): the totals ("1,000 group(s): 500
    exact, 250 translated, 250 unknown", a group counted by its worst offset; the records read
    twice) and a line for each group at stake, the worst first (offsets not located, then the
    most records read twice)."""
    twice = twice or {}
    counts: dict[str, int] = {}
    for kinds in groups.values():
        kind = worst_kind(kinds)
        counts[kind] = counts.get(kind, 0) + 1
    order = [k for k in reversed(RANK) if k in counts] + sorted(set(counts) - set(RANK))
    total = f"{len(groups):,} group(s): " + ", ".join(f"{counts[k]:,} {k}" for k in order)
    if sum(twice.values()):
        total += f"; about {sum(twice.values()):,} records read twice"
    ranked = sorted(groups, key=lambda g: (-groups[g].get("unknown", 0), -twice.get(g, 0), g))
    lines = [
        f"• {code(g)}: "
        + ", ".join(f"{n} {k}" for k, n in sorted(groups[g].items()))
        + (f" — about {twice[g]:,} records read twice" if twice.get(g) else "")
        for g in ranked
        if worst_kind(groups[g]) != "exact" or twice.get(g)
    ]
    return total, lines


def duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 90:
        return f" {seconds:.0f}s"
    if seconds < 5400:
        return f" {seconds / 60:.0f}m"
    return f" {seconds / 3600:.1f}h"


def _checklist(view: MigrationView) -> str:
    lines = []
    for step in view.steps:
        mark = MARKS.get(step.state, ":grey_question:")
        name = f"*{step.step}*" if step.step == view.step else step.step
        who = (
            f" by {', '.join(mention(a.strip()) for a in step.actor.split(','))}"
            if step.actor and step.actor != "bot"
            else ""
        )
        lines.append(f"{mark} {name}{duration(step.seconds)}{who}")
    return "\n".join(lines)


def card(view: MigrationView) -> list:
    """The one message per migration, kept current."""
    lag, consumer, eta = view.replication_lag, view.consumer_lag, view.eta_seconds
    fields = [
        MarkdownTextObject(text=f"*Status*\n{view.status} at {code(view.step)}"),
        MarkdownTextObject(text=f"*Version*\n{view.version}"),
        MarkdownTextObject(
            text=f"*Replication lag*\n{'—' if lag is None else f'{lag:,} records'}" + _decided(view)
        ),
        MarkdownTextObject(text=f"*Consumer lag*\n{'—' if consumer is None else f'{consumer:,}'}"),
        MarkdownTextObject(text=f"*ETA*\n{'—' if not eta else duration(eta).strip()}"),
        MarkdownTextObject(text=f"*Requested by*\n{mention(view.requested_by)}"),
    ]
    blocks: list = [
        HeaderBlock(text=PlainTextObject(text=clip(f"Kafka migration {view.id}", 150))),
        SectionBlock(
            text=MarkdownTextObject(
                text=clip(
                    f"*{escape(view.source)} → {escape(view.target)}* via "
                    f"{escape(view.replicator)}, "
                    f"policy {escape(view.replication_policy)}\n"
                    f"{len(view.topics):,} topic(s): "
                    f"{summarize(list(view.topics))}"
                )
            )
        ),
        SectionBlock(fields=fields),
        SectionBlock(text=MarkdownTextObject(text=clip(_checklist(view)))),
    ]
    if view.connectors:
        blocks.append(_connectors(view))
    # why it stopped comes first: a failed card says why
    now = (
        (view.waiting_for or view.reason)
        if view.status == "active"
        else (view.reason or view.waiting_for)
    )
    context = [MarkdownTextObject(text=clip(escape(view.rollback), 2000))]
    if now:
        label = "Now" if view.status == "active" else view.status.capitalize()
        context.insert(0, MarkdownTextObject(text=clip(f"*{label}:* {escape(now)}", 2000)))
    blocks.append(ContextBlock(elements=context))
    buttons = _card_buttons(view)
    if buttons:
        blocks.append(ActionsBlock(block_id="card_actions", elements=buttons))
    return blocks


def _decided(view: MigrationView) -> str:
    """The figure an open gate was opened on, with its time, beside the live one."""
    gate = view.gate
    if gate is None or gate.decided_lag is None:
        return ""
    return f"\n_at decision: {gate.decided_lag:,} ({_when(gate.decided_at)})_"


def _when(ts: float) -> str:
    at = datetime.fromtimestamp(ts, UTC)
    return f"<!date^{int(ts)}^{{time_secs}}|{at.strftime('%H:%M:%S UTC')}>"


def _card_buttons(view: MigrationView) -> list[ButtonElement]:
    value = button_value(view.id, view.version)
    cancel = ButtonElement(
        text="Cancel",
        action_id=Action.CANCEL,
        value=value,
        style="danger",
        confirm=ConfirmObject(
            title="Cancel this migration?",
            text=_undo(view),
            confirm="Cancel it",
            deny="Keep going",
        ),
    )
    soak = []
    if view.status == "active" and view.step == "soak" and view.reverse:
        soak = [
            ButtonElement(
                text="Roll back",
                action_id=Action.ROLLBACK,
                value=value,
                style="danger",
                confirm=ConfirmObject(
                    title="Ask to roll back?",
                    text=clip(
                        f'This opens the gate "roll back to the source" for {view.id}: once '
                        "approved, producers and consumers move back to the source with exact "
                        "offsets.",
                        300,
                    ),
                    confirm="Ask",
                    deny="Not now",
                ),
            ),
            ButtonElement(
                text="Finalize",
                action_id=Action.FINALIZE,
                value=value,
                confirm=ConfirmObject(
                    title="Ask to finalize?",
                    text=clip(
                        f'This opens the gate "finalize" for {view.id}: once approved, the '
                        "reverse flow is deleted and there is no way back.",
                        300,
                    ),
                    confirm="Ask",
                    deny="Not now",
                ),
            ),
        ]
    by_status = {
        "active": [
            *soak,
            ButtonElement(text="Pause", action_id=Action.PAUSE, value=value),
            cancel,
        ],
        "paused": [
            ButtonElement(text="Resume", action_id=Action.RESUME, value=value, style="primary"),
            cancel,
        ],
        "failed": [
            ButtonElement(text="Retry", action_id=Action.RETRY, value=value, style="primary"),
            cancel,
        ],
    }
    return by_status.get(view.status, [])


def _undo(view: MigrationView) -> str:
    """What a cancel takes back, within a confirm dialog's 300 characters: whole items, the
    others counted (`cancel ID` without yes lists them all)."""
    shown: list[str] = []
    for i, item in enumerate(view.undo):
        text = "It will " + "; ".join([*shown, item]) + "."
        more = len(view.undo) - i - 1
        if len(text) + (40 if more else 0) > 300 and shown:
            return clip(f"It will {'; '.join(shown)}; and {len(view.undo) - i} more.", 300)
        shown.append(item)
    return clip("It will " + "; ".join(shown) + ".", 300)


def _connectors(view: MigrationView) -> SectionBlock:
    lines = [f"• {escape(c.text())}" for c in view.connectors]
    head = f"*Connectors* ({len(lines):,} connector(s))\n"
    return SectionBlock(
        text=MarkdownTextObject(
            text=head + fitted(lines, MAX_TEXT - len(head) - 80, status_json(view.id))
        )
    )


def gate_request(view: MigrationView, title: str, approvers: list[str], text: str) -> list:
    step, version = view.step, view.version
    value = button_value(view.id, version, step)
    who = " ".join(mention(a) for a in approvers if not a.startswith("cli:"))
    blocks: list = [
        SectionBlock(
            text=MarkdownTextObject(
                text=clip(
                    f"{who} *{title}* for {code(view.id)} (version {version})\n{escape(text)}"
                )
            )
        ),
    ]
    gate = view.gate
    if gate is not None and gate.decided_lag is not None:
        blocks.append(
            ContextBlock(
                elements=[
                    MarkdownTextObject(
                        text=f"Decided on: replication lag {gate.decided_lag:,} "
                        f"records at {_when(gate.decided_at)}"
                    )
                ]
            )
        )
    foreign = (gate.decided.get("foreign_writes") if gate is not None else None) or []
    if foreign:
        blocks.append(_foreign(view, foreign))
    preview = gate.preview if gate is not None else None
    if preview:
        blocks.append(_preview(view, preview))
    if view.connectors and step == "repoint_clients":
        blocks.append(_connectors(view))
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
                        text=clip(f"Approve {step} for {view.id} at version {version}?", 300),
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
                        text=clip(f"Rejecting pauses {view.id}.", 300),
                        confirm="Reject",
                        deny="Back",
                    ),
                ),
            ],
        )
    )
    return blocks


def _foreign(view: MigrationView, foreign: list) -> SectionBlock:
    """The partitions written on the source during the soak: the total, the most written."""
    worst = sorted(foreign, key=lambda f: (-f[2], f[0], f[1]))
    lines = [f"• {code(f'{t}[{p}]')}: {n:,} record(s)" for t, p, n in worst[: SHOWN * 2]]
    if len(worst) > len(lines):
        lines.append(f"• and {len(worst) - len(lines):,} more{status_json(view.id)}")
    return SectionBlock(
        text=MarkdownTextObject(
            text=clip(
                "*Written on the source during the soak, not by the reverse flow*: "
                f"{sum(n for _t, _p, n in foreign):,} record(s) on {len(foreign):,} "
                "partition(s)\n"
                + "\n".join(lines)
                + "\nThere offsets go back by record matching, not arithmetic: a group "
                "whose unread records are mixed with these writes is not located "
                "(handed back as unknown), and these records stay on the source."
            )
        )
    )


def _preview(view: MigrationView, preview: dict) -> SectionBlock:
    """The repoint's offsets per group: each group when they are few; else the totals, the
    groups most at stake, and where the others are."""
    title = "*Offsets handed back*" if view.step == "repoint_to_source" else "*Offsets at cutover*"
    groups = {g: p["kinds"] for g, p in preview.items()}
    twice = {g: p.get("duplicates") or 0 for g, p in preview.items()}
    if len(groups) <= SHOWN * 2:
        lines = [
            f"• {code(g)}: "
            + ", ".join(f"{n} {k}" for k, n in sorted(groups[g].items()))
            + (f" — about {twice[g]:,} records read twice" if twice[g] else "")
            for g in sorted(groups)
        ]
        return SectionBlock(text=MarkdownTextObject(text=clip(f"{title}\n" + "\n".join(lines))))
    total, at_stake = handed(groups, twice)
    text = f"{title}: {total}\n" + ("\n".join(at_stake[:SHOWN]) or "• every group exactly")
    if len(at_stake) > SHOWN:
        text += f"\n• and {len(at_stake) - SHOWN:,} more at stake{status_json(view.id)}"
    return SectionBlock(text=MarkdownTextObject(text=clip(text)))


def plan_text(plan: Plan) -> str:
    """`/kafka-migrate plan`: each topic and what the bot would do to it, schemas, nothing
    changed."""
    lines = [
        f"• {code(t.source)} → {code(t.target)}: {t.partitions} partition(s), "
        f"{escape(', '.join(t.actions) or 'in place')}"
        + (f" — *{escape('; '.join(t.problems))}*" if t.problems else "")
        for t in plan.topic_lines
    ]
    if plan.replication_lines:
        lines.append("*Replication*")
        lines += [f"• {escape(line)}" for line in plan.replication_lines]
    if plan.schema_summary is not None:
        counts = plan.schema_summary
        lines.append(
            f"*Schemas*: {counts['create']} to create, {counts['present']} there, "
            f"{counts['conflict']} conflict(s)"
        )
        lines += [f"• {escape(line)}" for line in plan.schema_lines[:30]]
    if plan.connector_lines or plan.connector_problems:
        lines.append(f"*Connectors*: {len(plan.connector_lines)} move")
        lines += [f"• {escape(line)}" for line in plan.connector_lines[:20]]
        lines += [f"• *problem:* {escape(line)}" for line in plan.connector_problems[:10]]
        lines += [f"• warning: {escape(line)}" for line in plan.connector_warnings[:10]]
    if plan.reverse_lines or plan.reverse_problems:
        lines.append("*Way back* (reverse_via)")
        lines += [f"• *problem:* {escape(line)}" for line in plan.reverse_problems[:10]]
        lines += [f"• {escape(line)}" for line in plan.reverse_lines[:10]]
    topics = plan.summary["topics"]
    return clip(f"*Plan* ({topics} topic(s), nothing changed):\n" + "\n".join(lines))


def list_text(rows: list[Row]) -> str:
    return clip(
        "\n".join(f"• {code(r.id)} {r.status} at {code(r.step)} (v{r.version})" for r in rows)
        or "No migrations yet."
    )


def report_text(r: Report) -> str:
    """The final report, posted in the migration's thread (the chart follows it): each part
    within a share of the message, a long list summarized (totals, the worst first) and the
    whole report one command away."""
    v = r.migration
    approvals = [
        f"• {a.step} {a.decision} by {mention(a.actor)} from {a.interface} (version {a.version})"
        for a in r.approvals
    ]
    verify = r.verify or {}
    parts = [
        f"*Report for {code(v.id)}*: {v.status} at {code(v.step)}"
        + (f" ({clip(escape(v.reason), 300)})" if v.reason else ""),
        "*Approvals*\n" + (fitted(approvals, 700) if approvals else "• none"),
        f"*Handover*: {_handed_text(r.handover)}",
    ]
    if r.handback:
        parts.append(f"*Handback*: {_handed_text(r.handback)}")
    partitions = verify.get("partitions", "—")
    parts.append(
        f"*Verify*: {f'{partitions:,}' if isinstance(partitions, int) else partitions} "
        f"partition(s), differences: {len(verify.get('differences', [])) if verify else '—'}"
    )
    if schemas := r.schemas:
        subjects = schemas["subjects"]
        names = ", ".join(code(x) for x in subjects[: SHOWN * 6])
        if len(subjects) > SHOWN * 6:
            names = (
                f"{len(subjects):,} subject(s): "
                + ", ".join(code(x) for x in subjects[:SHOWN])
                + f" and {len(subjects) - SHOWN:,} more"
            )
        parity = schemas["parity"]
        parts.append(
            clip(
                f"*Schemas* ({'ids preserved' if schemas['imported'] else 'no IMPORT mode'}): "
                + names
                + (
                    f"; ids differ: {escape('; '.join(parity[:3]))}"
                    + (f" and {len(parity) - 3:,} more" if len(parity) > 3 else "")
                    if parity
                    else ""
                ),
                800,
            )
        )
    if v.connectors:
        lines = [f"• {escape(c.text())}" for c in v.connectors]
        parts.append(f"*Connectors* ({len(lines):,})\n" + fitted(lines, 500))
    parts.append(f"All of it: `kafka-migrate report {escape(v.id)} --json`")
    return clip("\n".join(parts))


def _handed_text(groups: dict | None) -> str:
    """Each group's offsets when they are few ("billing: 5 exact; analytics: ..."); else the
    totals and the groups most at stake."""
    if not groups:
        return "—"
    if len(groups) <= SHOWN * 2:
        return escape(
            "; ".join(
                f"{g}: " + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
                for g, kinds in sorted(groups.items())
            )
        )
    total, at_stake = handed(groups)
    if not at_stake:
        return total
    listed = "\n".join(at_stake[:SHOWN])
    more = f"\n• and {len(at_stake) - SHOWN:,} more" if len(at_stake) > SHOWN else ""
    return clip(f"{total}\n{listed}{more}", 700)


def decided(original_text: str, decision: str, actor: str, at: datetime | None = None) -> list:
    """The gate message after a decision: no buttons, who and when."""
    at = at or datetime.now(UTC)
    shown = at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")  # where Slack cannot localise
    stamp = f"<!date^{int(at.timestamp())}^{{date_short_pretty}} {{time}}|{shown}>"
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
    clusters: list[str],
    replicators: list[str],
    channel: str,
    registries: list[str] = (),
    connects: list[str] = (),
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
            *[
                InputBlock(
                    block_id=f"connect_{side}",
                    label=f"Kafka Connect {label} (optional: move its connectors)",
                    optional=True,
                    element=select("value", list(connects)),
                )
                for side, label in (("from", "of the source"), ("to", "of the target"))
                if connects
            ],
            *(
                [
                    optional_input(
                        "connectors",
                        "Connectors that move (optional; default: those on the topics)",
                        "orders-.*",
                    ),
                    optional_input(
                        "connectors_exclude", "Connectors left out (optional)", "legacy-.*"
                    ),
                ]
                if connects
                else []
            ),
            InputBlock(
                block_id="reverse_via",
                label="Reverse flow after the cutover (optional: a replicator on the source)",
                optional=True,
                element=select("value", replicators),
            ),
            optional_input("soak", "Soak: how long the way back stays open (default 24h)", "24h"),
        ],
    )


def as_dicts(blocks: list) -> list[dict]:
    return [b.to_dict() for b in blocks]
