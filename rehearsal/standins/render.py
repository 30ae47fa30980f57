"""Slack mrkdwn and Block Kit as HTML, for the rehearsal page.

Whatever the bot posted may hold text a person typed or a cluster supplied, so nothing in it is
ever HTML: every piece of text is escaped first, then the few things mrkdwn formats (*bold*,
_italic_, ~strike~, `code`, ```blocks```, <url|label>, <@U…>, <#C…>, <!subteam^S…>, newlines)
are turned into tags made here. Links go out only for http(s) and mailto addresses.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping

# Slack's emoji names the bot uses, as symbols any font has (no emoji font needed)
EMOJI = {
    "white_check_mark": "✔",
    "heavy_check_mark": "✔",
    "arrow_forward": "▶",
    "x": "✖",
    "fast_forward": "»",
    "leftwards_arrow_with_hook": "↩",
    "white_circle": "○",
    "grey_question": "?",
    "warning": "⚠",
    "no_entry": "⊘",
    "checkered_flag": "⚑",
    "hourglass_flowing_sand": "⌛",
    "rotating_light": "⚠",
    "tada": "★",
    "bar_chart": "▤",
    "lock": "⚿",
    "pause_button": "‖",
    "octagonal_sign": "■",
    "information_source": "ℹ",
}
_HOLE = "\x00{}\x00"
_HOLES = re.compile(r"\x00(\d+)\x00")
_FENCE = re.compile(r"```(.*?)```", re.S)
_CODE = re.compile(r"`([^`\n]+)`")
_CONTROL = re.compile(r"<([^<>\n]*)>")
_BOLD = re.compile(r"(?<![\w*])\*(?=\S)([^*\n]*?\S)\*(?![\w*])")
_ITALIC = re.compile(r"(?<![\w_])_(?=\S)([^_\n]*?\S)_(?![\w_])")
_STRIKE = re.compile(r"(?<![\w~])~(?=\S)([^~\n]*?\S)~(?![\w~])")
_EMOJI = re.compile(r":([a-z0-9_+-]{1,40}):")
_SAFE_URL = re.compile(r"^(https?://|mailto:)[^\s\"'<>]+$", re.I)


def _text(raw: str) -> str:
    """Slack text outside control sequences: its three entities decoded, then HTML-escaped."""
    decoded = raw.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return html.escape(decoded, quote=True)


def _control(inner: str, users: Mapping[str, str]) -> str:
    """One <...> sequence: a mention, a channel, a group, a special mention or a link."""
    target, _, label = inner.partition("|")
    if target.startswith("@"):
        who = target[1:]
        name = users.get(who, label or who)
        return f'<span class="mention">@{_text(name)}</span>'
    if target.startswith("#"):
        name = users.get(target[1:], label or target[1:])
        return f'<span class="mention">#{_text(name)}</span>'
    if target.startswith("!subteam^"):
        group = target[9:]
        return f'<span class="mention">@{_text(users.get(group, label or group))}</span>'
    if target.startswith("!date^"):
        return f'<span class="date">{_text(label or "a date")}</span>'
    if target.startswith("!"):
        return f'<span class="mention">@{_text(target[1:].split("^")[0])}</span>'
    url = target.replace("&amp;", "&")
    if _SAFE_URL.match(url):
        shown = _text(label) if label else html.escape(url, quote=True)
        return (
            f'<a href="{html.escape(url, quote=True)}" target="_blank" rel="noopener noreferrer">'
            f"{shown}</a>"
        )
    return _text(f"<{inner}>")  # not something Slack formats: shown as typed


def mrkdwn(text: str, users: Mapping[str, str] | None = None) -> str:
    """Slack mrkdwn to safe HTML; `users` names the users (and channels, groups) by id."""
    users = users or {}
    holes: list[str] = []

    def hole(fragment: str) -> str:
        holes.append(fragment)
        return _HOLE.format(len(holes) - 1)

    source = str(text).replace("\x00", "")
    source = _FENCE.sub(lambda m: hole(f"<pre>{_text(m.group(1).strip(chr(10)))}</pre>"), source)
    source = _CODE.sub(lambda m: hole(f"<code>{_text(m.group(1))}</code>"), source)
    source = _CONTROL.sub(lambda m: hole(_control(m.group(1), users)), source)
    out = _text(source)
    out = _BOLD.sub(r"<b>\1</b>", out)
    out = _ITALIC.sub(r"<i>\1</i>", out)
    out = _STRIKE.sub(r"<s>\1</s>", out)
    out = _emoji(out)
    out = out.replace("\n", "<br>")
    while _HOLES.search(out):
        out = _HOLES.sub(lambda m: holes[int(m.group(1))], out)
    return out


def _emoji(escaped: str) -> str:
    def one(match: re.Match) -> str:
        name = match.group(1)
        if name not in EMOJI:
            return match.group(0)
        return f'<span class="emoji e-{name}" title=":{name}:">{EMOJI[name]}</span>'

    return _EMOJI.sub(one, escaped)


def _object(obj: dict | None, users: Mapping[str, str]) -> str:
    """A text object: mrkdwn or plain_text (plain text gets its emoji, nothing else)."""
    if not obj:
        return ""
    if obj.get("type") == "mrkdwn":
        return mrkdwn(obj.get("text", ""), users)
    plain = html.escape(str(obj.get("text", "")), quote=True)
    return _emoji(plain)


def _attr(value: object) -> str:
    return html.escape(str(value), quote=True)


def _confirm(confirm: dict, users: Mapping[str, str]) -> str:
    return (
        '<template class="confirm">'
        f'<div class="dialog-title">{_object(confirm.get("title"), users)}</div>'
        f'<div class="dialog-text">{_object(confirm.get("text"), users)}</div>'
        f'<div class="dialog-buttons"><button class="btn deny">'
        f"{_object(confirm.get('deny') or {'text': 'Cancel'}, users)}</button>"
        f'<button class="btn confirm-go {_attr(confirm.get("style", "primary"))}">'
        f"{_object(confirm.get('confirm') or {'text': 'OK'}, users)}</button></div>"
        "</template>"
    )


def _button(element: dict, block_id: str, users: Mapping[str, str]) -> str:
    style = element.get("style", "")
    confirm = _confirm(element["confirm"], users) if element.get("confirm") else ""
    return (
        f'<span class="action"><button class="btn slack-button {_attr(style)}" '
        f'data-action-id="{_attr(element.get("action_id", ""))}" '
        f'data-block-id="{_attr(block_id)}" '
        f'data-value="{_attr(element.get("value", ""))}">'
        f"{_object(element.get('text'), users)}</button>{confirm}</span>"
    )


def _element(element: dict, block_id: str, users: Mapping[str, str]) -> str:
    kind = element.get("type")
    if kind == "button":
        return _button(element, block_id, users)
    if kind in ("mrkdwn", "plain_text"):
        return f"<span>{_object(element, users)}</span>"
    if kind == "image":
        return (
            f'<img class="context-image" src="{_attr(element.get("image_url", ""))}" '
            f'alt="{_attr(element.get("alt_text", ""))}">'
        )
    return f'<span class="unknown">[{_attr(kind)}]</span>'


def _input(block: dict, users: Mapping[str, str]) -> str:
    element = block.get("element") or {}
    block_id = _attr(block.get("block_id", ""))
    action_id = _attr(element.get("action_id", ""))
    label = _object(block.get("label"), users)
    optional = ' <span class="optional">(optional)</span>' if block.get("optional") else ""
    placeholder = _attr((element.get("placeholder") or {}).get("text", ""))
    if element.get("type") == "static_select":
        initial = (element.get("initial_option") or {}).get("value")
        options = "".join(
            f'<option value="{_attr(o.get("value", ""))}"'
            f"{' selected' if o.get('value') == initial else ''}>"
            f"{_object(o.get('text'), users)}</option>"
            for o in element.get("options", [])
        )
        empty = "" if initial else '<option value="" selected>Select an option</option>'
        field = (
            f'<select data-block-id="{block_id}" data-action-id="{action_id}" '
            f'data-kind="static_select">{empty}{options}</select>'
        )
    else:
        field = (
            f'<input type="text" data-block-id="{block_id}" data-action-id="{action_id}" '
            f'data-kind="plain_text_input" placeholder="{placeholder}" '
            f'value="{_attr(element.get("initial_value", ""))}">'
        )
    return (
        f'<label class="input-block" data-block="{block_id}"><span class="label">{label}'
        f'{optional}</span>{field}<span class="field-error"></span></label>'
    )


def block(item: dict, users: Mapping[str, str]) -> str:
    kind = item.get("type")
    block_id = str(item.get("block_id", ""))
    if kind == "header":
        return f'<div class="b-header">{_object(item.get("text"), users)}</div>'
    if kind == "divider":
        return '<hr class="b-divider">'
    if kind == "section":
        parts = []
        if item.get("text"):
            parts.append(f'<div class="b-text">{_object(item["text"], users)}</div>')
        if item.get("fields"):
            fields = "".join(
                f'<div class="b-field">{_object(f, users)}</div>' for f in item["fields"]
            )
            parts.append(f'<div class="b-fields">{fields}</div>')
        accessory = item.get("accessory")
        if accessory:
            parts.append(f'<div class="b-accessory">{_element(accessory, block_id, users)}</div>')
        return f'<div class="b-section">{"".join(parts)}</div>'
    if kind == "context":
        inner = "".join(_element(e, block_id, users) for e in item.get("elements", []))
        return f'<div class="b-context">{inner}</div>'
    if kind == "actions":
        inner = "".join(_element(e, block_id, users) for e in item.get("elements", []))
        return f'<div class="b-actions">{inner}</div>'
    if kind == "image":
        title = _object(item.get("title"), users)
        return (
            f'<figure class="b-image"><figcaption>{title}</figcaption>'
            f'<img src="{_attr(item.get("image_url", ""))}" '
            f'alt="{_attr(item.get("alt_text", ""))}"></figure>'
        )
    if kind == "input":
        return _input(item, users)
    return f'<div class="b-unknown">[{_attr(kind)} block]</div>'


def blocks(items: list | None, users: Mapping[str, str], fallback: str = "") -> str:
    """A message: its blocks, or its text when it has none."""
    if not items:
        return f'<div class="b-text">{mrkdwn(fallback, users)}</div>'
    return "".join(block(b, users) for b in items if isinstance(b, dict))


def view(item: dict, users: Mapping[str, str]) -> dict:
    """A modal, for the page to show: title, buttons and its blocks as HTML."""
    return {
        "title": _object(item.get("title"), users),
        "submit": _object(item.get("submit") or {"text": "Submit"}, users),
        "close": _object(item.get("close") or {"text": "Cancel"}, users),
        "html": blocks(item.get("blocks"), users),
    }
