"""USPTO TSDR sandbox twin: the case-status endpoint as `safeguard/trademark/tsdr.py` speaks it.

    GET /ts/cd/casestatus/sn{serial}/info    (Accept: application/json)

What is modelled, and from where (see tsdr.py for the sources):

- the `USPTO-API-KEY` header: missing or unknown -> 401;
- 60 requests per key in any 60 seconds, then 429 with `Retry-After` (whole seconds until a
  request ages out of the window). The real limit doubles off-peak; the twin keeps 60;
- an unknown serial number -> 404;
- the JSON answer: {"trademarks": [{"status": {...}, "parties": {"ownerGroups": {...}},
  "gsList": [...]}]} with the fields tsdr.py reads.

Unverified: TSDR's error bodies. The twin answers errors as {"code": status, "message": text}
in its own words; clients must go by the status code and headers, not the body.

Cases are added with `state.add_case(...)` (or `cases=` on `create_app`): they are whatever the
test says, fictional. Faults and counters live on `app.state.sandbox`:

    app.state.sandbox.faults.server_error = 1    # next request: 500
    app.state.sandbox.faults.rate_limit = 1      # next request: 429 (Retry-After: retry_after)
    app.state.sandbox.faults.latency = 0.3       # every request waits 300 ms first
    app.state.sandbox.faults.hang = 1            # next request never answers (client timeout)
    app.state.sandbox.requests["casestatus"]     # requests seen, per operation
    app.state.sandbox.errors["401"]              # errors answered, per status
"""

import asyncio
import math
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

PREFIX = "/ts/cd"
API_KEY_HEADER = "USPTO-API-KEY"
RATE_LIMIT = 60
RATE_WINDOW = 60.0


@dataclass
class TSDRFaults:
    rate_limit: int = 0
    retry_after: int = 30
    server_error: int = 0
    server_error_status: int = 500
    hang: int = 0
    latency: float = 0.0

    def take(self, name: str) -> bool:
        left = getattr(self, name)
        if left > 0:
            setattr(self, name, left - 1)
            return True
        return False


def case_json(
    serial: str,
    mark: str,
    status_code: str,
    *,
    registration_number: str = "",
    filing_date: str = "",
    registration_date: str = "",
    status_date: str = "",
    description: str = "",
    owner: str | None = None,
    classes: tuple[str, ...] = (),
) -> dict[str, Any]:
    """One case in TSDR's JSON shape (the fields tsdr.py reads, and a few around them)."""
    return {
        "trademarks": [
            {
                "status": {
                    "serialNumber": serial,
                    "markElement": mark,
                    "status": int(status_code) if status_code.isdigit() else status_code,
                    "extStatusDesc": description,
                    "statusDate": status_date,
                    "filingDate": filing_date,
                    "usRegistrationNumber": registration_number,
                    "usRegistrationDate": registration_date,
                    "markDrawingCd": "4",
                },
                "parties": {
                    "ownerGroups": {"10": [{"name": owner}]} if owner else {},
                },
                "gsList": [
                    {"internationalClasses": [{"code": code}], "description": ""}
                    for code in classes
                ],
                "prosecutionHistory": [],
            }
        ]
    }


@dataclass
class TSDRSandboxState:
    api_keys: set[str]
    cases: dict[str, dict[str, Any]] = field(default_factory=dict)
    faults: TSDRFaults = field(default_factory=TSDRFaults)
    requests: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    clock: Callable[[], float] = time.monotonic
    _seen: dict[str, deque[float]] = field(default_factory=dict)

    def add_case(self, serial: str, mark: str, status_code: str, **fields: Any) -> None:
        self.cases[serial] = case_json(serial, mark, status_code, **fields)

    def admit(self, key: str) -> int | None:
        """Count a request of `key`; the Retry-After seconds when it is over the limit."""
        now = self.clock()
        seen = self._seen.setdefault(key, deque())
        while seen and now - seen[0] >= RATE_WINDOW:
            seen.popleft()
        if len(seen) >= RATE_LIMIT:
            return max(1, math.ceil(RATE_WINDOW - (now - seen[0])))
        seen.append(now)
        return None


def _error(
    state: TSDRSandboxState, status: int, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    state.errors[str(status)] += 1
    return JSONResponse({"code": status, "message": message}, status_code=status, headers=headers)


def create_app(*, api_keys: set[str], cases: dict[str, dict[str, Any]] | None = None) -> Starlette:
    """The twin as an ASGI app; its state is `app.state.sandbox` (a `TSDRSandboxState`)."""
    state = TSDRSandboxState(api_keys=set(api_keys), cases=dict(cases or {}))

    async def case_status(request: Request) -> Response:
        state.requests["casestatus"] += 1
        if state.faults.take("hang"):
            await asyncio.sleep(3600)
        if state.faults.latency:
            await asyncio.sleep(state.faults.latency)
        key = request.headers.get(API_KEY_HEADER, "").strip()
        if not key or key not in state.api_keys:
            return _error(state, 401, "Unauthorized: a valid USPTO-API-KEY header is required.")
        retry_after = state.admit(key)
        if state.faults.take("rate_limit"):
            retry_after = state.faults.retry_after
        if retry_after is not None:
            return _error(
                state,
                429,
                "Too Many Requests: 60 requests per minute per API key.",
                {"Retry-After": str(retry_after)},
            )
        if state.faults.take("server_error"):
            return _error(state, state.faults.server_error_status, "Internal Server Error")
        serial = request.path_params["serial"]
        case = state.cases.get(serial)
        if case is None:
            return _error(state, 404, f"No case found for serial number {serial}.")
        return JSONResponse(case)

    async def unknown(request: Request) -> Response:
        return _error(state, 404, f"Not found: {request.method} {request.url.path}")

    app = Starlette(
        routes=[
            Route(f"{PREFIX}/casestatus/sn{{serial}}/info", case_status, methods=["GET"]),
            Route("/{path:path}", unknown, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
        ]
    )
    app.state.sandbox = state
    return app
