"""Block Kit limits, checked the way Slack checks them (used by the stand-in, and so the tests).

Returns Slack's own error shape: messages like "must be less than 3001 characters
[json-pointer:/blocks/0/text/text]".
"""

from __future__ import annotations

import json
from typing import Any

KNOWN = {"section", "header", "divider", "actions", "context", "input", "image", "rich_text"}


def _text_len(obj: Any) -> int:
    return len(obj.get("text", "")) if isinstance(obj, dict) else 0


def _max(errors: list[str], value: Any, limit: int, pointer: str) -> None:
    if value is not None and len(value) > limit:
        errors.append(f"must be less than {limit + 1} characters [json-pointer:{pointer}]")


def _confirm(errors: list[str], confirm: dict, pointer: str) -> None:
    _max(errors, (confirm.get("title") or {}).get("text"), 100, f"{pointer}/title/text")
    _max(errors, (confirm.get("text") or {}).get("text"), 300, f"{pointer}/text/text")
    for key in ("confirm", "deny"):
        _max(errors, (confirm.get(key) or {}).get("text"), 30, f"{pointer}/{key}/text")


def _element(errors: list[str], el: dict, pointer: str, action_ids: set[str]) -> None:
    action_id = el.get("action_id")
    if action_id is not None:
        _max(errors, action_id, 255, f"{pointer}/action_id")
        if action_id in action_ids:
            errors.append(
                f"action_id {action_id!r} is not unique [json-pointer:{pointer}/action_id]"
            )
        action_ids.add(action_id)
    if el.get("type") == "button":
        text = el.get("text") or {}
        if text.get("type") != "plain_text":
            errors.append(f"must be plain_text [json-pointer:{pointer}/text/type]")
        _max(errors, text.get("text"), 75, f"{pointer}/text/text")
        _max(errors, el.get("value"), 2000, f"{pointer}/value")
        _max(errors, el.get("url"), 3000, f"{pointer}/url")
        if el.get("style") not in (None, "primary", "danger"):
            errors.append(f"invalid style [json-pointer:{pointer}/style]")
    if isinstance(el.get("confirm"), dict):
        _confirm(errors, el["confirm"], f"{pointer}/confirm")


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
    for i, block in enumerate(blocks):
        p = f"/blocks/{i}"
        action_ids: set[str] = set()  # unique within the containing block
        if not isinstance(block, dict) or block.get("type") not in KNOWN:
            errors.append(f"unsupported type [json-pointer:{p}/type]")
            continue
        if "block_id" in block:
            _max(errors, block["block_id"], 255, f"{p}/block_id")
            if block["block_id"] in block_ids:
                errors.append(f"block_id is not unique [json-pointer:{p}/block_id]")
            block_ids.add(block["block_id"])
        kind = block["type"]
        if kind == "section":
            if "text" not in block and "fields" not in block:
                errors.append(f"must provide text or fields [json-pointer:{p}]")
            _max(errors, (block.get("text") or {}).get("text"), 3000, f"{p}/text/text")
            fields = block.get("fields") or []
            if len(fields) > 10:
                errors.append(f"must be no more than 10 items [json-pointer:{p}/fields]")
            for j, f in enumerate(fields):
                _max(errors, f.get("text"), 2000, f"{p}/fields/{j}/text")
            if isinstance(block.get("accessory"), dict):
                _element(errors, block["accessory"], f"{p}/accessory", action_ids)
        elif kind == "header":
            text = block.get("text") or {}
            if text.get("type") != "plain_text":
                errors.append(f"must be plain_text [json-pointer:{p}/text/type]")
            _max(errors, text.get("text"), 150, f"{p}/text/text")
        elif kind == "actions":
            elements = block.get("elements") or []
            if not elements or len(elements) > 25:
                errors.append(f"must have 1 to 25 items [json-pointer:{p}/elements]")
            for j, el in enumerate(elements):
                _element(errors, el, f"{p}/elements/{j}", action_ids)
        elif kind == "context":
            elements = block.get("elements") or []
            if not elements or len(elements) > 10:
                errors.append(f"must have 1 to 10 items [json-pointer:{p}/elements]")
            for j, el in enumerate(elements):
                _max(errors, el.get("text"), 3000, f"{p}/elements/{j}/text")
        elif kind == "input":
            _max(errors, (block.get("label") or {}).get("text"), 2000, f"{p}/label/text")
            if isinstance(block.get("element"), dict):
                _element(errors, block["element"], f"{p}/element", action_ids)
    return errors


def too_long(blocks: Any) -> bool:
    """Slack's undocumented `msg_blocks_too_long`: about 13k characters of text in all."""
    if isinstance(blocks, str):
        blocks = json.loads(blocks)
    total = 0
    for block in blocks or []:
        total += _text_len(block.get("text"))
        total += sum(_text_len(f) for f in block.get("fields") or [])
        total += sum(_text_len(e) for e in block.get("elements") or [])
    return total > 13_000


def check_view(view: Any) -> list[str]:
    if isinstance(view, str):
        view = json.loads(view)
    errors = []
    for key, limit in (("title", 24), ("submit", 24), ("close", 24)):
        _max(errors, (view.get(key) or {}).get("text"), limit, f"/view/{key}/text")
    _max(errors, view.get("private_metadata"), 3000, "/view/private_metadata")
    _max(errors, view.get("callback_id"), 255, "/view/callback_id")
    errors += [
        e.replace("json-pointer:/blocks", "json-pointer:/view/blocks")
        for e in check_blocks(view.get("blocks", []), surface="modal")
    ]
    return errors
