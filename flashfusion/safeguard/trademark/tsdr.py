"""USPTO TSDR (Trademark Status & Document Retrieval) case-status client: one mark by serial
number, as a `MarkRecord`. Optional: screening works from the marks database without it.

API facts and their sources:

- Base URL https://tsdrapi.uspto.gov/ts/cd, case status at /casestatus/sn{serial}/info, which
  answers JSON when asked with `Accept: application/json` (USPTO TSDR API Key Manager user guide,
  developer.uspto.gov/files/tsdr-api-key-manager-user-guide, "Sample URL search queries"; JSON
  answer verified live in a third-party fix note, "Verified API Response Structure").
- The key goes in the `USPTO-API-KEY` request header (same user guide, "Using curl"); without
  one TSDR answers 401 (codingatty/Plumage-dotnet release V1.4.0 notes).
- 60 requests per API key per minute (120 off-peak, 10 PM-5 AM EST); over it, HTTP 429
  (user guide, "Rate limit rules"; Plumage-dotnet V1.4.0: "more than 60 calls per minute
  results in an error"). The client spaces its calls to stay under 60 a minute.
- JSON fields read: trademarks[0].status.{serialNumber, markElement, status (the status code),
  statusDate, filingDate, usRegistrationNumber, usRegistrationDate, extStatusDesc},
  trademarks[0].parties.ownerGroups{code: [{name}]}, trademarks[0].gsList[].
  internationalClasses[].code (field names as read by several open-source TSDR clients and the
  live-response note above). Unverified: the meaning of the ownerGroups keys (party type codes);
  the owner is taken from group "10" when present, else the lowest key.

Errors are classified for callers: `TSDRAuthError` (401/403: fix the key), `TSDRRateLimited`
(429, with `retry_after` seconds from the Retry-After header when sent), `TSDRNotFound` (404 or
no case), `TSDRServerError` (5xx, network, timeout: retry later), `TSDRBadResponse` (a 200 that
is not the documented JSON).
"""

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from flashfusion.safeguard.trademark.importers import nice_classes
from flashfusion.safeguard.trademark.importers.uspto import TSDR_URL
from flashfusion.safeguard.trademark.importers.uspto_status import map_status
from flashfusion.safeguard.trademark.types import MarkRecord, Office

DEFAULT_BASE_URL = "https://tsdrapi.uspto.gov/ts/cd"
API_KEY_HEADER = "USPTO-API-KEY"
# USPTO's limit per key and minute (peak hours; see the module docstring).
CALLS_PER_MINUTE = 60
# FlashFusion's default per-request timeout.
TIMEOUT_SECONDS = 10.0


class TSDRError(Exception):
    """A TSDR call failed; `retryable` says whether trying again later may help."""

    retryable = False

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class TSDRAuthError(TSDRError):
    pass


class TSDRNotFound(TSDRError):
    pass


class TSDRRateLimited(TSDRError):
    retryable = True

    def __init__(self, message: str, *, retry_after: float | None) -> None:
        super().__init__(message, status=429)
        self.retry_after = retry_after


class TSDRServerError(TSDRError):
    retryable = True


class TSDRBadResponse(TSDRError):
    pass


class RateLimiter:
    """At most `calls` calls in any `period` seconds: a caller waits for the oldest to age out."""

    def __init__(
        self,
        calls: int = CALLS_PER_MINUTE,
        period: float = 60.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.calls = calls
        self.period = period
        self.clock = clock
        self.sleep = sleep
        self._sent: deque[float] = deque()
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        async with self._lock:
            now = self.clock()
            while self._sent and now - self._sent[0] >= self.period:
                self._sent.popleft()
            if len(self._sent) >= self.calls:
                await self.sleep(self.period - (now - self._sent[0]))
                self._sent.popleft()
                now = self.clock()
            self._sent.append(now)


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date, RFC 9110 10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(when.tzinfo)).total_seconds())


def _date(value: Any) -> date | None:
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = " ".join(str(value).split())
    return text or None


def parse_case(body: Any, serial: str) -> MarkRecord:
    """A TSDR case-status JSON answer as a MarkRecord; TSDRBadResponse if it is not one."""
    if not isinstance(body, dict) or not isinstance(body.get("trademarks"), list):
        raise TSDRBadResponse(f"TSDR answered sn{serial} without a 'trademarks' list.")
    if not body["trademarks"]:
        raise TSDRNotFound(f"TSDR has no case for serial number {serial}.", status=200)
    case = body["trademarks"][0]
    status = case.get("status") if isinstance(case, dict) else None
    if not isinstance(status, dict):
        raise TSDRBadResponse(f"TSDR answered sn{serial} without trademarks[0].status.")
    mark_text = _text(status.get("markElement"))
    if mark_text is None:
        raise TSDRBadResponse(f"TSDR case sn{serial} has no word mark (status.markElement).")
    code = _text(status.get("status"))
    classes = [
        str(item.get("code"))
        for goods in case.get("gsList") or []
        if isinstance(goods, dict)
        for item in goods.get("internationalClasses") or []
        if isinstance(item, dict) and item.get("code") is not None
    ]
    owner = None
    groups = (case.get("parties") or {}).get("ownerGroups") or {}
    if isinstance(groups, dict) and groups:
        key = "10" if "10" in groups else min(groups, key=lambda k: (len(str(k)), str(k)))
        people = groups[key] if isinstance(groups[key], list) else []
        owner = next((_text(p.get("name")) for p in people if isinstance(p, dict)), None)
    number = _text(status.get("serialNumber")) or serial
    return MarkRecord(
        office=Office.uspto,
        mark_text=mark_text,
        status=map_status(code).status,
        nice_classes=frozenset(nice_classes(classes)),
        serial_number=number,
        registration_number=_text(status.get("usRegistrationNumber")),
        status_code=code,
        owner=owner,
        filing_date=_date(status.get("filingDate")),
        registration_date=_date(status.get("usRegistrationDate")),
        source=TSDR_URL.format(serial=number),
    )


class TSDRClient:
    """Case status by serial number. The `httpx.AsyncClient` is the caller's (tests pass one
    bound to the sandbox twin); every request carries its own timeout."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        api_key: str,
        base_url: str = "",
        timeout: float = TIMEOUT_SECONDS,
        limiter: RateLimiter | None = None,
    ) -> None:
        if not api_key:
            raise ValueError("a USPTO TSDR API key is required (FLASHFUSION_USPTO_TSDR_API_KEY)")
        self.http = http
        self.api_key = api_key
        self.base_url = (base_url or DEFAULT_BASE_URL).rstrip("/")
        self.timeout = httpx.Timeout(timeout)
        self.limiter = limiter if limiter is not None else RateLimiter()

    async def case_status(self, serial_number: str) -> MarkRecord:
        """The mark with this serial number (8 digits), as TSDR states it now."""
        serial = serial_number.strip()
        if not (serial.isdigit() and len(serial) == 8):
            raise ValueError(f"serial number {serial_number!r}: give the 8 digits, e.g. 78787878.")
        await self.limiter.wait()
        url = f"{self.base_url}/casestatus/sn{serial}/info"
        try:
            response = await self.http.get(
                url,
                headers={API_KEY_HEADER: self.api_key, "Accept": "application/json"},
                timeout=self.timeout,
            )
        except httpx.TimeoutException as e:
            raise TSDRServerError(
                f"TSDR did not answer sn{serial} in time; try again later."
            ) from e
        except httpx.TransportError as e:
            raise TSDRServerError(
                f"TSDR could not be reached ({type(e).__name__}); try again later."
            ) from e
        code = response.status_code
        if code in (401, 403):
            raise TSDRAuthError(
                f"TSDR refused the API key (HTTP {code}); check FLASHFUSION_USPTO_TSDR_API_KEY "
                "(keys come from https://account.uspto.gov/api-manager/).",
                status=code,
            )
        if code == 404:
            raise TSDRNotFound(f"TSDR has no case for serial number {serial}.", status=404)
        if code == 429:
            wait = _retry_after(response.headers.get("retry-after"))
            after = f"in {wait:g} s" if wait is not None else "in a minute"
            raise TSDRRateLimited(
                f"TSDR rate limit reached (60 calls a minute per key); try again {after}.",
                retry_after=wait,
            )
        if code >= 500:
            raise TSDRServerError(f"TSDR failed (HTTP {code}); try again later.", status=code)
        if code != 200:
            raise TSDRError(f"TSDR answered HTTP {code} for sn{serial}.", status=code)
        try:
            body = response.json()
        except ValueError as e:
            raise TSDRBadResponse(
                f"TSDR answered sn{serial} with something that is not JSON."
            ) from e
        return parse_case(body, serial)
