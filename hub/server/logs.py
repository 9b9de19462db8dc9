"""Structured JSON logs with a request id, and a guard that keeps personal data out of them.

Every HTTP request gets an id (the client's ``X-Request-ID`` if it is a sane token, else a
new one), returned as a response header and attached to every log line written while the
request runs. Log lines are JSON objects so that operators can ship and query them.

Nothing in the hub logs argument values or record contents; as a second line of defence,
:class:`PersonalDataFilter` drops the ``args`` of log records from third-party loggers known
to print values (strawberry's execution logger prints whole exceptions).
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID: ContextVar[str | None] = ContextVar("tppo_request_id", default=None)
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class JSONFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = REQUEST_ID.get()
        if request_id:
            entry["requestId"] = request_id
        if record.exc_info and record.exc_info[0] is not None:
            entry["exception"] = record.exc_info[0].__name__  # the type only: messages may hold data
        return json.dumps(entry, ensure_ascii=False)


class PersonalDataFilter(logging.Filter):
    """Reduce records of value-printing third-party loggers to their exception type."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith("strawberry"):
            kind = record.exc_info[0].__name__ if record.exc_info and record.exc_info[0] else "error"
            record.msg, record.args, record.exc_info, record.exc_text = f"GraphQL {kind}", (), None, None
        return True


def configure_logging(level: str = "info", json_lines: bool = True) -> None:
    """Install the JSON formatter and the personal-data filter on the root handler."""
    handler = logging.StreamHandler()
    handler.setFormatter(
        JSONFormatter() if json_lines else logging.Formatter("%(levelname)s %(name)s: %(message)s")
    )
    handler.addFilter(PersonalDataFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


class RequestIdMiddleware:
    """Give every HTTP request an id, in the logs and in the ``X-Request-ID`` response header."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        supplied = dict(scope.get("headers", [])).get(b"x-request-id", b"").decode("latin-1")
        request_id = supplied if _SAFE_ID.match(supplied) else uuid.uuid4().hex
        token = REQUEST_ID.set(request_id)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode("latin-1")))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            REQUEST_ID.reset(token)
