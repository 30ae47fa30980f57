"""What Slack sends, as typed models checked at the edge (HTTP and Socket Mode alike).

`parse(body)` reads a request body into its model once (bolt's middleware puts it in the
context, bot/app.py), or says what is malformed: listeners only ever see requests of the shape
they expect. Button values are read into `ButtonValue`, and a value that is not one of ours is
a clear UserError, never a traceback.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError

from bot.errors import UserError
from bot.migration.steps import Step

ID = r"^[A-Za-z0-9_.:-]{1,64}$"


class _Loose(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)  # shared with the lazy listeners


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

    @property
    def action(self) -> _Action:
        return self.actions[0]

    @property
    def clicked_on(self) -> tuple[str, str]:
        """(channel id, message ts) of the message the button sits on; "" where absent."""
        return (self.channel.id if self.channel else "", self.message.ts if self.message else "")


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
    model_config = ConfigDict(extra="forbid", frozen=True)
    m: StrictStr = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,39}$")  # a migration id
    v: StrictInt = Field(ge=1)
    s: Step | None = None


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "body"
    return f"{where}: {err['msg'].lower()}"


class Malformed(ValueError):
    """What is wrong with a request body, in a few words."""


def parse(body: dict[str, Any]) -> SlashCommand | BlockActions | ViewSubmission | None:
    """A request body Slack (or someone) sent, as its typed model; None for the events the
    bot acknowledges (event_callback, url_verification, app_rate_limited). Malformed says
    what is wrong with anything else."""
    kind = body.get("type")
    try:
        if "command" in body:
            return SlashCommand.model_validate(body)
        if kind == "block_actions":
            return BlockActions.model_validate(body)
        if kind == "view_submission":
            return ViewSubmission.model_validate(body)
    except ValidationError as exc:
        raise Malformed(_first_error(exc)) from None
    if kind in ("event_callback", "url_verification", "app_rate_limited"):
        return None
    if kind is None:
        raise Malformed("not a Slack request (no command and no type)")
    raise Malformed(f"unsupported request type {str(kind)[:40]!r}")


def read_value(value: str | None) -> ButtonValue:
    """A button's value, as the bot wrote it; UserError when it is not one of ours."""
    try:
        return ButtonValue.model_validate(json.loads(value or ""))
    except (ValueError, TypeError, ValidationError):
        raise UserError("this button's value is not one the bot wrote: nothing was done") from None
