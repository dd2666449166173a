"""Structured logs (structlog): JSON in production, readable in development; every line of a
request carries its request id; secrets are redacted before anything is written. A DEBUG level
applies to FlashFusion's own loggers only: libraries stay at INFO, and those that log headers,
URLs or SQL parameters at WARNING."""

import logging
import re
import sys
from typing import Any

import structlog
from structlog.types import EventDict, WrappedLogger

from flashfusion.config import Settings

_SECRET_KEYS = re.compile(
    r"pass(word)?|secret|token|authorization|cookie|api[_-]?key|otp|code|csrf|^(oauth_)?state$",
    re.I,
)
_BEARER = re.compile(r"(ffk_)[A-Za-z0-9]{8,}")
# OAuth and API-key query parameters inside a logged URL (a redirect, a callback).
_SECRET_QUERY = re.compile(
    r"([?&](?:code|state|code_verifier|access_token|refresh_token|id_token|client_secret"
    r"|token|key|api_key|password)=)[^&#\s'\"]+",
    re.I,
)
# Never redacted by name: they are what makes a line useful, and never secret.
_PLAIN_KEYS = frozenset({"event", "status_code", "error_code", "request_id"})

# Third-party loggers that write headers, bodies, URLs with their query string or SQL parameters,
# capped at WARNING whatever FLASHFUSION_LOG_LEVEL says (each read in the installed source):
_QUIET_LOGGERS = (
    # INFO "HTTP Request: GET <url> ...": the whole URL, query string included (_client.py).
    "httpx",
    "httpx2",
    # DEBUG trace "receive_response_headers.complete return_value=(..., [(b'Location', ...)])":
    # every response header: the OAuth code in Location, Set-Cookie (_trace.py, _async/http11.py).
    "httpcore",
    "httpcore2",
    # DEBUG "executing functools.partial(<execute>, sql, params)": SQL with its parameters
    # (core.py).
    "aiosqlite",
    # INFO (echo) every statement with its parameters.
    "sqlalchemy.engine",
    # psycopg.pq's debug wrapper: INFO every libpq call with its arguments (pq/_debug.py).
    "psycopg",
    # DEBUG every request line, URL included (connectionpool.py).
    "urllib3",
    # DEBUG request options and 'HTTP Response: <method> <url> ... <headers>' (_base_client.py).
    "anthropic",
    # The same SDK generator: its DEBUG lines name only method, status and request id today
    # (_base_client.py); capped with anthropic's so that a version logging more stays quiet.
    "openai",
    # DEBUG request headers and body, response headers and body (_gaos/basesdk.py).
    "google.genai",
    "google_genai",
    # DEBUG the handshake's request and response headers (client.py).
    "websockets",
    # TRACE every ASGI message, headers and bodies (middleware/message_logger.py).
    "uvicorn.asgi",
    # DEBUG notification payloads (_sys_db.py "Signaled event for ...").
    "dbos",
    "alembic",
)


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return _SECRET_QUERY.sub(r"\1[redacted]", _BEARER.sub(r"\1[redacted]", value))
    if isinstance(value, dict):
        return {
            k: "[redacted]" if isinstance(k, str) and _SECRET_KEYS.search(k) else _redact_value(v)
            for k, v in value.items()
        }
    # Exactly these types: a named tuple's constructor does not take an iterable.
    if type(value) in (list, tuple):
        return type(value)(_redact_value(v) for v in value)
    return value


def _redact(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    for key in list(event_dict):
        if key not in _PLAIN_KEYS and _SECRET_KEYS.search(key):
            event_dict[key] = "[redacted]"
        else:
            event_dict[key] = _redact_value(event_dict[key])
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
    # DEBUG is for FlashFusion's own lines: no one has read every library's DEBUG output for
    # headers, payloads and SQL, so everything else stays at INFO or above.
    root.setLevel(max(level, logging.INFO))
    logging.getLogger("flashfusion").setLevel(level)
    # Our access log line replaces uvicorn's (it has the request id and no query string).
    logging.getLogger("uvicorn.access").disabled = True
    for name in _QUIET_LOGGERS:
        logging.getLogger(name).setLevel(max(level, logging.WARNING))
