"""A middleware function run without bolt's argument injection."""

from __future__ import annotations

from collections.abc import Callable

from slack_bolt import BoltContext, BoltResponse
from slack_bolt.middleware import Middleware


class Plain(Middleware):
    """A middleware function of `(context, next)`, called as it is. bolt calls a function
    middleware with the keyword arguments it names, and builds for that, at each call, every
    argument it knows (the payload's views, say, respond, ...): the largest part of a
    middleware's cost on the path of the ack."""

    def __init__(self, func: Callable[[BoltContext, Callable], BoltResponse | None]):
        self.func = func

    def process(self, *, req, resp, next):  # noqa: A002, ARG002 - bolt's names
        return self.func(req.context, next)

    @property
    def name(self) -> str:
        return f"Plain({self.func.__name__})"
