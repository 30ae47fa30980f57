"""Block Kit, checked the way Slack checks it, for the Slack stand-in (and so the tests).

Built on slack_sdk.models' own validation: each block (and each object inside it) is parsed
with `Block.parse` / `View(**...)` and validated with `validate_json()`, which knows Slack's
length and count limits. On top, the rules slack_sdk does not check: fields slack_sdk does not
know, how many blocks a surface holds, unique block_ids and action_ids, plain_text where Slack
requires it, a text object's length wherever it is (1 to 3000, as a context element's), a
section field's 2000 characters, and the undocumented total size (`msg_blocks_too_long`).
Errors take Slack's shape: "<problem> [json-pointer:/blocks/0/text/text]".
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.basic_objects import JsonObject
from slack_sdk.models.blocks import Block, TextObject
from slack_sdk.models.views import View

ATTRIBUTE = re.compile(r"^(\w+) ")  # slack_sdk names the attribute first
PLAIN_ONLY = {("header", "text"), ("button", "text"), ("input", "label")}
MAX_TOTAL_TEXT = 13_000  # about where Slack answers msg_blocks_too_long
MAX_TEXT_OBJECT = 3000  # a text object's text, wherever it is (Slack: 1 to 3000 characters)
MAX_FIELD = 2000  # a section field's text


def _parse(kind: type, data: dict) -> JsonObject | None:
    # slack_sdk warns (and drops) the fields it does not know: they are reported below instead
    quiet = logging.getLogger("slack_sdk.models")
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        return Block.parse(data) if kind is Block else View(**data)
    except (TypeError, ValueError, KeyError, AttributeError, SlackObjectFormationError):
        return None
    finally:
        quiet.setLevel(level)


def _pointer_of(message: str, obj: JsonObject, pointer: str) -> str:
    """The pointer of the attribute slack_sdk names, down to the text of a text object."""
    match = ATTRIBUTE.match(message)
    if not match:
        return pointer
    name = match.group(1)
    if name not in obj.attributes:
        return pointer
    value = getattr(obj, name, None)
    return f"{pointer}/{name}" + ("/text" if isinstance(value, TextObject) else "")


def _known(obj: JsonObject) -> set[str]:
    """The JSON keys slack_sdk keeps for this object: a key its round trip drops is one it
    does not know (Slack answers invalid_blocks for those)."""
    try:
        rendered = obj.to_dict()
    except SlackObjectFormationError:
        rendered = {}
    return set(rendered) | set(obj.attributes) | {"type"}


def _walk(obj: JsonObject, data: Any, pointer: str, errors: list[str]) -> None:
    try:
        obj.validate_json()
    except SlackObjectFormationError as exc:
        errors.append(f"{exc} [json-pointer:{_pointer_of(str(exc), obj, pointer)}]")
    if isinstance(data, dict):
        for key in sorted(set(data) - _known(obj)):
            errors.append(f"unknown field {key!r} [json-pointer:{pointer}/{key}]")
        kind = data.get("type")
        if kind in ("mrkdwn", "plain_text") and isinstance(data.get("text"), str):
            size = len(data["text"])
            if not 1 <= size <= MAX_TEXT_OBJECT:
                errors.append(
                    f"text must be 1 to {MAX_TEXT_OBJECT} characters [json-pointer:{pointer}/text]"
                )
        for j, field in enumerate(data.get("fields") or [] if kind == "section" else []):
            if isinstance(field, dict) and len(str(field.get("text", ""))) > MAX_FIELD:
                errors.append(
                    f"field text cannot exceed {MAX_FIELD} characters "
                    f"[json-pointer:{pointer}/fields/{j}/text]"
                )
        for key in ("text", "label"):
            text = data.get(key)
            plain = not isinstance(text, dict) or text.get("type") == "plain_text"
            if (kind, key) in PLAIN_ONLY and not plain:
                errors.append(f"must be plain_text [json-pointer:{pointer}/{key}/type]")
    for name in sorted(obj.attributes):
        value = getattr(obj, name, None)
        raw = data.get(name) if isinstance(data, dict) else None
        if isinstance(value, JsonObject):
            _walk(value, raw, f"{pointer}/{name}", errors)
        elif isinstance(value, list | tuple):
            for j, item in enumerate(value):
                if isinstance(item, JsonObject):
                    part = raw[j] if isinstance(raw, list) and j < len(raw) else None
                    _walk(item, part, f"{pointer}/{name}/{j}", errors)


def _action_ids(data: Any) -> list[str]:
    """Every action_id inside a block (elements, accessory, input element)."""
    found = []
    if isinstance(data, dict):
        if isinstance(data.get("action_id"), str):
            found.append(data["action_id"])
        for key in ("elements", "accessory", "element"):
            value = data.get(key)
            for item in value if isinstance(value, list) else [value]:
                found += _action_ids(item)
    return found


def check_blocks(blocks: Any, *, surface: str = "message") -> list[str]:
    if isinstance(blocks, str):
        try:
            blocks = json.loads(blocks)
        except ValueError:
            return ["invalid JSON [json-pointer:/blocks]"]
    if not isinstance(blocks, list):
        return ["must be an array [json-pointer:/blocks]"]
    errors: list[str] = []
    limit = 100 if surface == "modal" else 50
    if len(blocks) > limit:
        errors.append(f"must be no more than {limit} items [json-pointer:/blocks]")
    block_ids: set[str] = set()
    for i, data in enumerate(blocks):
        pointer = f"/blocks/{i}"
        parsed = _parse(Block, data) if isinstance(data, dict) else None
        if parsed is None or type(parsed) is Block:  # slack_sdk knows no such block
            errors.append(f"unsupported type [json-pointer:{pointer}/type]")
            continue
        _walk(parsed, data, pointer, errors)
        block_id = data.get("block_id")
        if block_id is not None:
            if block_id in block_ids:
                errors.append(f"block_id is not unique [json-pointer:{pointer}/block_id]")
            block_ids.add(block_id)
        ids = _action_ids(data)
        for repeated in sorted({a for a in ids if ids.count(a) > 1}):
            errors.append(f"action_id {repeated!r} is not unique [json-pointer:{pointer}]")
    return errors


def _text_len(obj: Any) -> int:
    return len(obj.get("text", "")) if isinstance(obj, dict) else 0


def too_long(blocks: Any) -> bool:
    """Slack's undocumented `msg_blocks_too_long`: about 13k characters of text in all."""
    if isinstance(blocks, str):
        blocks = json.loads(blocks)
    total = 0
    for block in blocks or []:
        total += _text_len(block.get("text"))
        total += sum(_text_len(f) for f in block.get("fields") or [])
        total += sum(_text_len(e) for e in block.get("elements") or [])
    return total > MAX_TOTAL_TEXT


def check_view(view: Any) -> list[str]:
    if isinstance(view, str):
        try:
            view = json.loads(view)
        except ValueError:
            return ["invalid JSON [json-pointer:/view]"]
    if not isinstance(view, dict):
        return ["must be an object [json-pointer:/view]"]
    blocks = view.get("blocks", [])
    errors = [
        e.replace("json-pointer:/blocks", "json-pointer:/view/blocks")
        for e in check_blocks(blocks, surface="modal")
    ]
    # the blocks were checked above, with their own pointers: the view is checked around one
    shell = {**view, "blocks": [{"type": "divider"}]}
    parsed = _parse(View, shell)
    if parsed is None:
        return [*errors, "invalid view [json-pointer:/view]"]
    try:
        parsed.validate_json()
    except SlackObjectFormationError as exc:
        errors.append(f"{exc} [json-pointer:{_pointer_of(str(exc), parsed, '/view')}]")
    for key in sorted(set(shell) - _known(parsed)):
        errors.append(f"unknown field {key!r} [json-pointer:/view/{key}]")
    return errors
