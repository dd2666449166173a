"""Who/where of the current request, readable anywhere (audit rows, log lines)."""

from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True)
class RequestContext:
    request_id: str | None = None
    ip: str | None = None
    user_agent: str | None = None
    # "GET /api/v1/me": method and path, never the query string (it may carry tokens).
    route: str | None = None


_current: ContextVar[RequestContext] = ContextVar(
    "request_context",
    default=RequestContext(),  # noqa: B039 - frozen dataclass, never mutated
)


def get_request_context() -> RequestContext:
    return _current.get()


def set_request_context(context: RequestContext) -> None:
    _current.set(context)
