"""What Slack sends, as typed models checked at the edge (HTTP and Socket Mode alike).

`problem(body)` says what is malformed in a request body, or None: listeners only ever see
bodies of the shape they expect. Button values are read into `ButtonValue`, and a value that is
not one of ours is a clear UserError, never a traceback.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError

from bot.errors import UserError
from bot.migration.steps import Step

ID = r"^[A-Za-z0-9_.:-]{1,64}$"


class _Loose(BaseModel):
    model_config = ConfigDict(extra="allow")


class SlashCommand(_Loose):
    command: StrictStr
    text: StrictStr = ""
    user_id: StrictStr = Field(pattern=ID)
    channel_id: StrictStr = Field(pattern=ID)
    trigger_id: StrictStr = ""
    response_url: StrictStr = ""


class _User(_Loose):
    id: StrictStr = Field(pattern=ID)


class _Channel(_Loose):
    id: StrictStr = Field(pattern=ID)


class _Message(_Loose):
    ts: StrictStr = Field(pattern=r"^\d+\.\d+$")


class _Action(_Loose):
    action_id: StrictStr
    value: StrictStr | None = None


class BlockActions(_Loose):
    type: StrictStr
    user: _User
    channel: _Channel | None = None
    message: _Message | None = None
    actions: list[_Action] = Field(min_length=1, max_length=1)
    response_url: StrictStr | None = None


class _Element(_Loose):
    value: StrictStr | None = None
    selected_option: dict[str, Any] | None = None


class _State(_Loose):
    values: dict[StrictStr, dict[StrictStr, _Element]]


class _View(_Loose):
    type: StrictStr  # bolt reads it before any listener runs
    callback_id: StrictStr
    state: _State
    private_metadata: StrictStr = ""


class ViewSubmission(_Loose):
    type: StrictStr
    user: _User
    view: _View


class ButtonValue(BaseModel):
    model_config = ConfigDict(extra="forbid")
    m: StrictStr = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,39}$")  # a migration id
    v: StrictInt = Field(ge=1)
    s: Step | None = None


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "body"
    return f"{where}: {err['msg'].lower()}"


def problem(body: dict[str, Any]) -> str | None:
    """What is wrong with a request body Slack (or someone) sent, or None."""
    kind = body.get("type")
    try:
        if "command" in body:
            SlashCommand.model_validate(body)
        elif kind == "block_actions":
            BlockActions.model_validate(body)
        elif kind == "view_submission":
            ViewSubmission.model_validate(body)
        elif kind in ("event_callback", "url_verification", "app_rate_limited"):
            return None
        elif kind is None:
            return "not a Slack request (no command and no type)"
        else:
            return f"unsupported request type {str(kind)[:40]!r}"
    except ValidationError as exc:
        return _first_error(exc)
    return None


def read_value(value: str | None) -> ButtonValue:
    """A button's value, as the bot wrote it; UserError when it is not one of ours."""
    try:
        return ButtonValue.model_validate(json.loads(value or ""))
    except (ValueError, TypeError, ValidationError):
        raise UserError("this button's value is not one the bot wrote: nothing was done") from None
