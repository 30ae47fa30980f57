"""Log lines: readable text, or one JSON object per line with LOG_FORMAT=json.

Both name the migration and the step a line is about when known: `runner.tick` opens a
`context` around each tick (and the engine moves its step on), and a logging Filter copies it
onto every record as `migration_id` and `step`.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import IO

_current: ContextVar[dict[str, str] | None] = ContextVar("kafka_migrate_log_context", default=None)
TEXT = "%(asctime)s %(levelname)s %(name)s%(where)s: %(message)s"
NOISY = ("httpx", "apscheduler")


@contextmanager
def context(migration_id: str, step: str | None = None) -> Iterator[None]:
    """Lines logged inside are about this migration (and step); cleared on the way out."""
    token = _current.set({"migration_id": migration_id, **({"step": step} if step else {})})
    try:
        yield
    finally:
        _current.reset(token)


def set_step(step: str) -> None:
    """The migration of the current context moved on to `step` (no-op outside a context)."""
    known = _current.get()
    if known is not None:
        _current.set({**known, "step": str(step)})


def current() -> dict[str, str]:
    return dict(_current.get() or {})


class ContextFilter(logging.Filter):
    """Puts `migration_id` and `step` of the current context on each record (unless the
    record already names them); None when not known."""

    def filter(self, record: logging.LogRecord) -> bool:
        known = _current.get() or {}
        for key in ("migration_id", "step"):
            if getattr(record, key, None) is None:
                setattr(record, key, known.get(key))
        return True


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__(TEXT)

    def format(self, record: logging.LogRecord) -> str:
        named = [
            str(v)
            for v in (getattr(record, "migration_id", None), getattr(record, "step", None))
            if v
        ]
        record.where = f" [{' '.join(named)}]" if named else ""
        return super().format(record)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in ("migration_id", "step"):
            value = getattr(record, key, None)
            if value is not None:
                line[key] = str(value)
        if record.exc_info:
            line["exc_info"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exc_info"] = record.exc_text
        if record.stack_info:
            line["stack_info"] = self.formatStack(record.stack_info)
        return json.dumps(line, default=str)


def handler(fmt: str | None, stream: IO[str] | None = None) -> logging.Handler:
    """A stream handler (stderr by default) writing `fmt` ("json", else text), with the
    context filter."""
    out = logging.StreamHandler(stream)
    out.setFormatter(JsonFormatter() if (fmt or "").lower() == "json" else TextFormatter())
    out.addFilter(ContextFilter())
    return out


def setup(verbose: bool = False, fmt: str | None = None) -> None:
    """The process's logging: LOG_FORMAT (json or text) unless `fmt` is given. As
    logging.basicConfig, it leaves a root logger that already has handlers alone."""
    fmt = fmt if fmt is not None else os.environ.get("LOG_FORMAT")
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, handlers=[handler(fmt)])
    for noisy in NOISY:
        logging.getLogger(noisy).setLevel(logging.DEBUG if verbose else logging.WARNING)
