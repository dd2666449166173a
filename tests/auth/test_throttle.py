"""Brute-force protection: per-account delays and hourly cap, device cookies, per-IP cap."""

import uuid
from collections.abc import Iterator
from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.auth import throttle
from flashfusion.auth.service import LoginResult, LoginStatus
from flashfusion.auth.service import auth as auth_service
from flashfusion.config import get_settings
from flashfusion.db import unit_of_work
from flashfusion.exceptions import TooManyRequests
from flashfusion.kit.crypto import keyed_hash
from flashfusion.kit.request_context import RequestContext, set_request_context
from flashfusion.models import AuditEvent, LoginAttempt, User, utc_now
from tests.fixtures.objects import DEFAULT_PASSWORD, create_user, totp_now

IP = "198.51.100.30"
OTHER_IP = "198.51.100.31"
WRONG = "definitely not it"


@pytest.fixture(autouse=True)
def request_context() -> Iterator[None]:
    use_ip(IP)
    yield
    set_request_context(RequestContext())


def use_ip(ip: str) -> None:
    set_request_context(RequestContext(request_id="req-throttle-01", ip=ip, user_agent="pytest"))


async def login(
    session: AsyncSession,
    user: User,
    password: str = DEFAULT_PASSWORD,
    device_cookie: str | None = None,
) -> LoginResult:
    return await auth_service.login(
        session, email=user.email, password=password, device_cookie=device_cookie
    )


async def add_failures(
    session: AsyncSession,
    *,
    count: int,
    account: str,
    ip: str = OTHER_IP,
    device_nonce: str | None = None,
    ages: list[timedelta] | None = None,
) -> None:
    """Failed attempts written straight into the table, with chosen ages (no sleeping)."""
    now = utc_now()
    for i in range(count):
        age = ages[i] if ages is not None else timedelta(0)
        session.add(
            LoginAttempt(
                account_key=account,
                user_id=None,
                ip=ip,
                device_nonce=device_nonce,
                factor="password",
                success=False,
                created_at=now - age,
            )
        )
    await session.flush()


def spread_over(minutes: int, count: int) -> list[timedelta]:
    """`count` ages, oldest first, starting `minutes` ago, ten seconds apart."""
    return [timedelta(minutes=minutes) - timedelta(seconds=10 * i) for i in range(count)]


def test_account_key_is_a_keyed_hash_of_the_normalized_email() -> None:
    key = throttle.account_key(" Alice@Example.COM ")
    assert key == throttle.account_key("alice@example.com")
    assert key == keyed_hash("alice@example.com", purpose="login-account")
    assert "alice" not in key
    assert key != throttle.account_key("bob@example.com")


# --- delays after the free failures ---------------------------------------------------------


async def test_free_failures_then_a_delay_even_for_the_right_password(
    session: AsyncSession,
) -> None:
    user = await create_user(session)
    assert get_settings().LOGIN_FREE_FAILURES == 5
    for _ in range(5):
        assert (await login(session, user, WRONG)).status == LoginStatus.invalid
    result = await login(session, user)
    assert result.status == LoginStatus.throttled
    assert result.retry_after == 1
    assert result.message == (
        "Several failed attempts on this account: wait 1 seconds before trying again."
    )
    assert result.token is None
    # A throttled attempt checks nothing and is not itself counted.
    attempts = (await session.execute(select(LoginAttempt))).scalars().all()
    assert [(a.success, a.factor) for a in attempts] == [(False, "password")] * 5

    # Once the delay has passed (moved into the past here) the right password works.
    await session.execute(update(LoginAttempt).values(created_at=utc_now() - timedelta(seconds=2)))
    assert (await login(session, user)).status == LoginStatus.ok


@pytest.mark.parametrize(
    ("failures", "delay"),
    [(5, 1), (6, 2), (7, 4), (8, 8), (9, 16), (10, 32), (11, 36), (40, 36)],
)
async def test_delay_doubles_per_failure_up_to_the_cap(
    session: AsyncSession, failures: int, delay: int
) -> None:
    account = throttle.account_key("victim@example.com")
    await add_failures(session, count=failures, account=account)
    decision = await throttle.check(session, account=account, ip=IP, device_nonce=None)
    assert (decision.allowed, decision.retry_after) == (False, delay)
    assert decision.reason == (
        f"Several failed attempts on this account: wait {delay} seconds before trying again."
    )


async def test_no_delay_below_the_free_failures_or_once_the_delay_passed(
    session: AsyncSession,
) -> None:
    account = throttle.account_key("victim@example.com")
    await add_failures(session, count=4, account=account)
    assert (await throttle.check(session, account=account, ip=IP, device_nonce=None)).allowed
    # 7 failures ask for a 4 s wait after the latest; the latest was 5 s ago.
    other = throttle.account_key("other@example.com")
    await add_failures(session, count=7, account=other, ages=[timedelta(seconds=5)] * 7)
    assert (await throttle.check(session, account=other, ip=IP, device_nonce=None)).allowed


async def test_enforce_raises_429_with_retry_after(session: AsyncSession) -> None:
    account = throttle.account_key("victim@example.com")
    await add_failures(session, count=7, account=account)
    with pytest.raises(TooManyRequests) as error:
        await throttle.enforce(session, account=account, ip=IP)
    assert error.value.status_code == 429
    assert error.value.headers == {"Retry-After": "4"}


async def test_throttled_login_is_audited_as_denied(session: AsyncSession) -> None:
    user = await create_user(session)
    await add_failures(session, count=5, account=throttle.account_key(user.email))
    async with unit_of_work() as uow:
        result = await auth_service.login(
            uow, email=user.email.upper(), password=DEFAULT_PASSWORD, device_cookie=None
        )
    assert result.status == LoginStatus.throttled
    event = (
        await session.execute(select(AuditEvent).where(AuditEvent.action == "user.login"))
    ).scalar_one()
    assert (event.outcome, event.user_id, event.actor_label, event.details) == (
        "denied",
        user.id,
        user.email,
        {"reason": "throttled"},
    )


# --- hourly cap -------------------------------------------------------------------------


async def test_at_most_100_failures_per_hour_per_account(session: AsyncSession) -> None:
    user = await create_user(session)
    account = throttle.account_key(user.email)
    assert get_settings().LOGIN_MAX_FAILURES_PER_HOUR == 100
    # 99 failures over the last 50 minutes: the delay after the latest has long passed.
    await add_failures(session, count=99, account=account, ages=spread_over(50, 99))
    assert (await throttle.check(session, account=account, ip=IP, device_nonce=None)).allowed
    assert (await login(session, user, WRONG)).status == LoginStatus.invalid  # the 100th
    # (Moved back so that only the hourly cap, not the per-failure delay, is in play below.)
    await session.execute(
        update(LoginAttempt)
        .where(LoginAttempt.created_at > utc_now() - timedelta(seconds=30))
        .values(created_at=utc_now() - timedelta(minutes=30))
    )

    result = await login(session, user)
    assert result.status == LoginStatus.throttled
    # Allowed again when the oldest failure (50 minutes ago) leaves the one-hour window.
    assert 600 <= result.retry_after <= 602
    assert result.message == (
        f"Too many failed attempts on this account. Try again in {result.retry_after} seconds "
        "from a browser you have signed in with before, or reset your password."
    )

    # An hour after the oldest failure, one slot frees up.
    oldest = (
        await session.execute(select(LoginAttempt).order_by(LoginAttempt.created_at).limit(1))
    ).scalar_one()
    oldest.created_at = utc_now() - timedelta(minutes=61)
    await session.flush()
    assert (await login(session, user)).status == LoginStatus.ok


async def test_hourly_cap_comes_from_the_settings(
    session: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings(), "LOGIN_MAX_FAILURES_PER_HOUR", 10)
    account = throttle.account_key("victim@example.com")
    await add_failures(session, count=9, account=account, ages=spread_over(20, 9))
    assert (await throttle.check(session, account=account, ip=IP, device_nonce=None)).allowed
    await add_failures(session, count=1, account=account, ages=[timedelta(minutes=10)])
    decision = await throttle.check(session, account=account, ip=IP, device_nonce=None)
    assert not decision.allowed
    assert 40 * 60 <= decision.retry_after <= 40 * 60 + 2


# --- device cookies ---------------------------------------------------------------------


async def test_device_cookie_is_signed_and_bound_to_its_account(session: AsyncSession) -> None:
    alice = await create_user(session)
    bob = await create_user(session)
    cookie = throttle.issue_device_cookie(alice.id)
    user_id, nonce, signature = cookie.split(".")
    assert user_id == str(alice.id)
    assert len(nonce) == 22
    assert signature == keyed_hash(f"{user_id}.{nonce}", purpose="device-cookie")
    assert throttle.trusted_device_nonce(cookie, alice.id) == nonce
    assert throttle.trusted_device_nonce(cookie, bob.id) is None
    assert throttle.trusted_device_nonce(cookie, None) is None
    forged = f"{bob.id}.{nonce}.{signature}"
    assert throttle.trusted_device_nonce(forged, bob.id) is None
    assert throttle.trusted_device_nonce(f"{user_id}.{nonce}.{'0' * 64}", alice.id) is None
    assert throttle.trusted_device_nonce(f"{user_id}.{nonce}", alice.id) is None
    assert throttle.trusted_device_nonce("", alice.id) is None


async def test_attacker_failures_do_not_lock_out_a_trusted_browser(session: AsyncSession) -> None:
    user = await create_user(session)
    account = throttle.account_key(user.email)
    # Someone without a device cookie has used up the account's hourly budget...
    await add_failures(session, count=100, account=account, ages=spread_over(30, 100))
    assert (await login(session, user)).status == LoginStatus.throttled
    # ...but the owner's browser, which signed in before, still gets in.
    cookie = throttle.issue_device_cookie(user.id)
    result = await login(session, user, device_cookie=cookie)
    assert result.status == LoginStatus.ok
    # Its own mistypes are not delayed by the attacker's failures either.
    assert (await login(session, user, WRONG, device_cookie=cookie)).status == LoginStatus.invalid
    assert (await login(session, user, device_cookie=cookie)).status == LoginStatus.ok


async def test_device_cookie_of_another_account_is_not_trusted(session: AsyncSession) -> None:
    victim = await create_user(session)
    attacker = await create_user(session)
    await add_failures(
        session, count=100, account=throttle.account_key(victim.email), ages=spread_over(30, 100)
    )
    attacker_cookie = throttle.issue_device_cookie(attacker.id)
    result = await login(session, victim, device_cookie=attacker_cookie)
    assert result.status == LoginStatus.throttled
    # A tampered cookie is no better.
    user_id, nonce, signature = throttle.issue_device_cookie(victim.id).split(".")
    tampered = f"{user_id}.{nonce}x.{signature}"
    assert (await login(session, victim, device_cookie=tampered)).status == LoginStatus.throttled


async def test_device_cookie_stops_being_trusted_after_10_failures_per_hour(
    session: AsyncSession,
) -> None:
    user = await create_user(session)
    cookie = throttle.issue_device_cookie(user.id)
    nonce = throttle.trusted_device_nonce(cookie, user.id)
    assert throttle.DEVICE_MAX_FAILURES_PER_HOUR == 10
    await add_failures(
        session, count=9, account=throttle.account_key(user.email), device_nonce=nonce
    )
    decision = await throttle.check(
        session, account=throttle.account_key(user.email), ip=IP, device_nonce=nonce
    )
    assert decision.allowed
    assert (await login(session, user, WRONG, device_cookie=cookie)).status == LoginStatus.invalid
    # Ten failures on this cookie within the hour: from now on it is an unknown client, and
    # its further failures count against the account like anyone else's.
    for _ in range(5):
        result = await login(session, user, WRONG, device_cookie=cookie)
        assert result.status == LoginStatus.invalid
    result = await login(session, user, device_cookie=cookie)
    assert result.status == LoginStatus.throttled
    assert result.retry_after == 1


# --- per-IP cap -------------------------------------------------------------------------


async def test_per_ip_cap_across_accounts(session: AsyncSession) -> None:
    user = await create_user(session)
    assert get_settings().LOGIN_IP_MAX_FAILURES_PER_15_MINUTES == 50
    # Password spraying: one failure each on 49 accounts from one address.
    for i in range(49):
        await add_failures(
            session, count=1, account=f"sprayed-{i}", ip=IP, ages=[timedelta(minutes=10)]
        )
    assert (await login(session, user, WRONG)).status == LoginStatus.invalid  # the 50th
    result = await login(session, user)
    assert result.status == LoginStatus.throttled
    assert result.retry_after == 60
    assert result.message == (
        "Too many failed sign-in attempts from your network. Wait a minute and try again, or "
        "reset your password."
    )
    # Another address is not affected.
    use_ip(OTHER_IP)
    assert (await login(session, user)).status == LoginStatus.ok
    # Failures older than 15 minutes no longer count.
    use_ip(IP)
    await session.execute(
        update(LoginAttempt)
        .where(LoginAttempt.ip == IP)
        .values(created_at=utc_now() - timedelta(minutes=16))
    )
    assert (await login(session, user)).status == LoginStatus.ok


async def test_unknown_accounts_are_throttled_too(session: AsyncSession) -> None:
    """No difference between existing and unknown accounts, so throttling reveals nothing."""
    ghost = User(id=uuid.uuid4(), email="ghost@example.com", password_hash="x")
    for _ in range(5):
        result = await login(session, ghost, WRONG)
        assert result.status == LoginStatus.invalid
    result = await login(session, ghost, WRONG)
    assert (result.status, result.retry_after) == (LoginStatus.throttled, 1)


# --- second-factor failures -------------------------------------------------------------


async def test_wrong_2fa_codes_count_like_wrong_passwords(session: AsyncSession) -> None:
    secret = pyotp.random_base32()
    user = await create_user(session, totp_secret=secret)
    first = await login(session, user)
    assert first.status == LoginStatus.mfa_required
    assert first.token is not None
    for _ in range(5):
        result = await auth_service.complete_mfa(
            session, pending_token=first.token, code="12345x", device_cookie=None
        )
        assert result.status == LoginStatus.invalid
    blocked = await auth_service.complete_mfa(
        session, pending_token=first.token, code=totp_now(secret), device_cookie=None
    )
    assert (blocked.status, blocked.retry_after) == (LoginStatus.throttled, 1)
    # The same account budget: the password step is delayed as well.
    assert (await login(session, user)).status == LoginStatus.throttled
    attempts = (
        await session.execute(select(LoginAttempt).order_by(LoginAttempt.created_at))
    ).scalars()
    assert [(a.factor, a.success) for a in attempts] == [("password", True)] + [("totp", False)] * 5
