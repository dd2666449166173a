"""Structured logs (structlog): JSON in production, readable in development; every line of a
request carries its request id; secrets are redacted before anything is written."""

import logging
import re
import sys
from typing import Any

import structlog
from structlog.types import EventDict, WrappedLogger

from flashfusion.config import Settings

_SECRET_KEYS = re.compile(
    r"(pass(word)?|secret|token|authorization|cookie|api[_-]?key|otp|code|csrf)", re.I
)
_BEARER = re.compile(r"(ffk_)[A-Za-z0-9]{8,}")


def _redact(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    for key in list(event_dict):
        if key not in ("event", "status_code", "request_id") and _SECRET_KEYS.search(key):
            event_dict[key] = "[redacted]"
        elif isinstance(event_dict[key], str):
            event_dict[key] = _BEARER.sub(r"\1[redacted]", event_dict[key])
    return event_dict


class _StderrHandler(logging.StreamHandler[Any]):
    """Writes to whatever sys.stderr is at emit time (it may be swapped after start-up)."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def configure(settings: Settings) -> None:
    level = getattr(logging, settings.LOG_LEVEL.upper(), logging.INFO)
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _redact,
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if settings.log_json
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        # Drop lines below the level before any processor runs (an access line at INFO costs
        # nothing when the level is WARNING).
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        # Not cached: loggers created at import time must follow a later configure().
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            renderer,
        ],
    )
    handler = _StderrHandler()
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Our access log line replaces uvicorn's (it has the request id and no query string).
    logging.getLogger("uvicorn.access").disabled = True
    for name in ("dbos", "sqlalchemy.engine", "httpx", "alembic"):
        logging.getLogger(name).setLevel(max(level, logging.WARNING))
