"""Brute-force protection for password and second-factor checks.

- Per account, for clients without a device cookie: the first few failures are free, then each
  attempt must wait an exponentially growing delay (capped), and never more than
  LOGIN_MAX_FAILURES_PER_HOUR failures count per hour (ASVS 2.2.1).
- A browser that logged in to the account before holds a signed device cookie (OWASP
  "Slow Down Online Guessing Attacks with Device Cookies"); it is throttled on its own counter,
  so an attacker hammering the account from elsewhere cannot lock the real user out.
- Per IP: a ceiling on failures across all accounts, against password spraying.
"""

import hmac
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.auth.repository import LoginAttemptRepository
from flashfusion.config import get_settings
from flashfusion.db import persist_always
from flashfusion.exceptions import TooManyRequests
from flashfusion.kit.crypto import keyed_hash, random_token
from flashfusion.models import LoginAttempt, utc_now

DEVICE_COOKIE = "ff_device"
DEVICE_COOKIE_MAX_AGE = 365 * 24 * 3600
# Failures tolerated on one device cookie before it stops counting as trusted.
DEVICE_MAX_FAILURES_PER_HOUR = 10
IP_WINDOW = timedelta(minutes=15)
ACCOUNT_WINDOW = timedelta(hours=1)


@dataclass(frozen=True)
class ThrottleDecision:
    allowed: bool
    retry_after: int = 0
    reason: str = ""
    # The attempt comes from a trusted device cookie: record it under the cookie's nonce.
    # Otherwise it counts against the account like any unknown client's attempt.
    trusted_device: bool = False


def account_key(email: str) -> str:
    return keyed_hash(email.strip().lower(), purpose="login-account")


def issue_device_cookie(user_id: uuid.UUID) -> str:
    nonce = random_token(16)
    payload = f"{user_id}.{nonce}"
    return f"{payload}.{keyed_hash(payload, purpose='device-cookie')}"


def trusted_device_nonce(cookie: str | None, user_id: uuid.UUID | None) -> str | None:
    """The nonce of a valid device cookie issued to `user_id`, else None."""
    if not cookie or user_id is None:
        return None
    parts = cookie.split(".")
    if len(parts) != 3:
        return None
    payload = f"{parts[0]}.{parts[1]}"
    if not hmac.compare_digest(parts[2], keyed_hash(payload, purpose="device-cookie")):
        return None
    if parts[0] != str(user_id):
        return None
    return parts[1]


async def _nth_failure_time(
    session: AsyncSession, account: str, since: datetime, offset: int
) -> datetime | None:
    statement = (
        select(LoginAttempt.created_at)
        .where(
            LoginAttempt.account_key == account,
            LoginAttempt.success.is_(False),
            LoginAttempt.device_nonce.is_(None),
            LoginAttempt.created_at >= since,
        )
        .order_by(LoginAttempt.created_at)
        .offset(offset)
        .limit(1)
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def check(
    session: AsyncSession, *, account: str, ip: str, device_nonce: str | None
) -> ThrottleDecision:
    settings = get_settings()
    repository = LoginAttemptRepository.from_session(session)
    now = utc_now()

    if device_nonce is not None:
        failures, _ = await repository.count_failures(
            since=now - ACCOUNT_WINDOW, device_nonce=device_nonce
        )
        if failures < DEVICE_MAX_FAILURES_PER_HOUR:
            return ThrottleDecision(True, trusted_device=True)
        # Too many failures on this cookie: it is treated like any unknown client.

    ip_failures, _ = await repository.count_failures(since=now - IP_WINDOW, ip=ip)
    if ip_failures >= settings.LOGIN_IP_MAX_FAILURES_PER_15_MINUTES:
        return ThrottleDecision(
            False,
            retry_after=60,
            reason="Too many failed sign-in attempts from your network. Wait a minute and try "
            "again, or reset your password.",
        )

    failures, latest = await repository.count_failures(
        since=now - ACCOUNT_WINDOW, account_key=account, untrusted_only=True
    )
    if failures >= settings.LOGIN_MAX_FAILURES_PER_HOUR:
        oldest = await _nth_failure_time(
            session,
            account,
            now - ACCOUNT_WINDOW,
            failures - settings.LOGIN_MAX_FAILURES_PER_HOUR,
        )
        wait = int(((oldest or now) + ACCOUNT_WINDOW - now).total_seconds()) + 1
        return ThrottleDecision(
            False,
            retry_after=max(1, wait),
            reason=f"Too many failed attempts on this account. Try again in {max(1, wait)} "
            "seconds from a browser you have signed in with before, or reset your password.",
        )
    if failures >= settings.LOGIN_FREE_FAILURES and latest is not None:
        delay = min(
            2 ** (failures - settings.LOGIN_FREE_FAILURES), settings.LOGIN_MAX_DELAY_SECONDS
        )
        ready_at = latest + timedelta(seconds=delay)
        if now < ready_at:
            wait = int((ready_at - now).total_seconds()) + 1
            return ThrottleDecision(
                False,
                retry_after=wait,
                reason=f"Several failed attempts on this account: wait {wait} seconds before "
                "trying again.",
            )
    return ThrottleDecision(True)


async def record(
    session: AsyncSession,
    *,
    account: str,
    user_id: uuid.UUID | None,
    ip: str,
    device_nonce: str | None,
    factor: str,
    success: bool,
) -> None:
    session.add(
        LoginAttempt(
            account_key=account,
            user_id=user_id,
            ip=ip,
            device_nonce=device_nonce,
            factor=factor,
            success=success,
        )
    )
    await session.flush()


def record_failure_durably(
    session: AsyncSession, *, account: str, user_id: uuid.UUID | None, ip: str, factor: str
) -> None:
    """Count a failed check even though the request that made it fails and rolls back."""
    attempt = LoginAttempt(
        account_key=account, user_id=user_id, ip=ip, device_nonce=None, factor=factor, success=False
    )

    async def _persist(persist_session: AsyncSession) -> None:
        persist_session.add(attempt)

    persist_always(session, _persist)


async def enforce(session: AsyncSession, *, account: str, ip: str) -> None:
    """Raise TooManyRequests when the account or address is throttled."""
    decision = await check(session, account=account, ip=ip, device_nonce=None)
    if not decision.allowed:
        raise TooManyRequests(decision.reason, retry_after=decision.retry_after)
