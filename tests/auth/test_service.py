"""Sign-in (password, then second factor), session lifetime, renewal and revocation."""

from collections.abc import Awaitable, Callable, Iterator
from datetime import timedelta

import pyotp
import pytest
from argon2 import PasswordHasher
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.auth import throttle
from flashfusion.auth.service import INVALID_CREDENTIALS, TOUCH_INTERVAL, LoginStatus
from flashfusion.auth.service import auth as auth_service
from flashfusion.config import get_settings
from flashfusion.db import unit_of_work
from flashfusion.exceptions import ResourceNotFound, TooManyRequests
from flashfusion.kit.crypto import sha256_hex
from flashfusion.kit.request_context import RequestContext, set_request_context
from flashfusion.models import (
    AuditEvent,
    LoginAttempt,
    SessionState,
    User,
    UserSession,
    utc_now,
)
from flashfusion.user import mfa
from flashfusion.user.service import WrongPassword
from flashfusion.user.service import user as user_service
from tests.fixtures.objects import DEFAULT_PASSWORD, create_organization, create_user, totp_now

IP = "198.51.100.20"
AGENT = "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0"


@pytest.fixture(autouse=True)
def request_context() -> Iterator[None]:
    set_request_context(RequestContext(request_id="req-test-0001", ip=IP, user_agent=AGENT))
    yield
    set_request_context(RequestContext())


async def login(session: AsyncSession, email: str, password: str = DEFAULT_PASSWORD):  # type: ignore[no-untyped-def]
    return await auth_service.login(session, email=email, password=password, device_cookie=None)


async def events(session: AsyncSession, user: User) -> list[tuple[str, str, dict[str, object]]]:
    result = await session.execute(
        select(AuditEvent)
        .where(AuditEvent.user_id == user.id)
        .order_by(AuditEvent.created_at, AuditEvent.id)
    )
    return [(e.action, str(e.outcome), e.details) for e in result.scalars()]


async def attempts(session: AsyncSession) -> list[tuple[object, str, bool, str]]:
    result = await session.execute(select(LoginAttempt).order_by(LoginAttempt.created_at))
    return [(a.user_id, a.factor, a.success, a.ip) for a in result.scalars()]


async def set_times(session: AsyncSession, user_session: UserSession, **values: object) -> None:
    await session.execute(
        update(UserSession).where(UserSession.id == user_session.id).values(**values)
    )
    await session.refresh(user_session)


async def as_request(user: User, action: Callable[[AsyncSession, User], Awaitable[object]]) -> None:
    """Run `action` in its own unit of work, as a request does: commit, or roll back on error."""
    async with unit_of_work() as uow:
        subject = await uow.get(User, user.id)
        assert subject is not None
        await action(uow, subject)


async def reload(session: AsyncSession, obj: object) -> None:
    await session.flush()
    await session.refresh(obj)


# --- password sign-in -----------------------------------------------------------------------


async def test_login_creates_a_fresh_session_with_a_256_bit_token(session: AsyncSession) -> None:
    user = await create_user(session, email="alice@example.com")
    result = await login(session, "Alice@Example.com ")
    assert result.status == LoginStatus.ok
    assert result.user is not None
    assert result.user.id == user.id
    token = result.token
    assert token is not None
    assert len(token) == 43
    stored = result.user_session
    assert stored is not None
    await session.refresh(stored)
    # Only the SHA-256 of the cookie value is stored.
    assert stored.token_hash == sha256_hex(token)
    assert token not in stored.token_hash
    assert stored.state == SessionState.active
    assert stored.revoked_at is None
    assert (stored.ip, stored.user_agent) == (IP, AGENT)
    # Absolute lifetime: 12 hours from sign-in, from the settings.
    lifetime = stored.expires_at - stored.created_at
    assert abs(lifetime - timedelta(hours=12)) < timedelta(seconds=5)
    assert abs(stored.last_seen_at - stored.created_at) < timedelta(seconds=5)
    assert result.device_cookie is not None
    assert throttle.trusted_device_nonce(result.device_cookie, user.id) is not None
    await reload(session, user)
    assert user.last_login_at is not None
    assert await attempts(session) == [(user.id, "password", True, IP)]
    assert await events(session, user) == [("user.login", "success", {"factor": "password"})]


async def test_every_login_gets_a_new_session(session: AsyncSession) -> None:
    """Session ids are renewed at sign-in: a token known before sign-in is never reused."""
    user = await create_user(session)
    first = await login(session, user.email)
    second = await login(session, user.email)
    assert first.token != second.token
    assert first.user_session is not None
    assert second.user_session is not None
    assert first.user_session.id != second.user_session.id
    assert first.device_cookie != second.device_cookie
    count = await session.execute(
        select(func.count()).select_from(UserSession).where(UserSession.user_id == user.id)
    )
    assert count.scalar_one() == 2


async def test_wrong_password_and_unknown_account_look_the_same(session: AsyncSession) -> None:
    user = await create_user(session)
    wrong = await login(session, user.email, "not the password")
    unknown = await login(session, "nobody@example.com", "not the password")
    for result in (wrong, unknown):
        assert result.status == LoginStatus.invalid
        assert result.message == INVALID_CREDENTIALS == "Email or password is incorrect."
        assert (result.token, result.user, result.user_session) == (None, None, None)
    assert await attempts(session) == [
        (user.id, "password", False, IP),
        (None, "password", False, IP),
    ]
    assert await events(session, user) == [("user.login", "failure", {"reason": "wrong password"})]
    assert await session.scalar(select(func.count()).select_from(UserSession)) == 0


async def test_unverified_account_must_confirm_its_email(session: AsyncSession) -> None:
    user = await create_user(session, verified=False)
    result = await login(session, user.email)
    assert result.status == LoginStatus.unverified
    assert result.message.startswith("Confirm your email address first")
    assert result.token is None
    # With a wrong password the account's state is not revealed.
    assert (await login(session, user.email, "nope nope nope")).status == LoginStatus.invalid
    assert await session.scalar(select(func.count()).select_from(UserSession)) == 0


async def test_login_upgrades_an_outdated_password_hash(session: AsyncSession) -> None:
    user = await create_user(session)
    user.password_hash = PasswordHasher(time_cost=2, memory_cost=8192, parallelism=1).hash(
        DEFAULT_PASSWORD
    )
    await session.flush()
    assert (await login(session, user.email)).status == LoginStatus.ok
    settings = get_settings()
    assert f"m={settings.PASSWORD_HASH_MEMORY_KIB}," in user.password_hash


# --- second factor ----------------------------------------------------------------------


async def test_2fa_login_needs_the_code_before_a_session_exists(session: AsyncSession) -> None:
    secret = pyotp.random_base32()
    user = await create_user(session, totp_secret=secret)
    first = await login(session, user.email)
    assert first.status == LoginStatus.mfa_required
    assert first.token is not None
    assert first.user_session is not None
    pending = first.user_session
    assert pending.state == SessionState.mfa_pending
    assert abs((pending.expires_at - pending.created_at) - timedelta(minutes=5)) < timedelta(
        seconds=5
    )
    # The pending token grants nothing but the 2FA form.
    assert await auth_service.authenticate(session, first.token) is None
    assert first.device_cookie is None

    wrong = await auth_service.complete_mfa(
        session, pending_token=first.token, code="000000x", device_cookie=None
    )
    assert wrong.status == LoginStatus.invalid
    assert wrong.message.startswith("That code is wrong or was already used.")

    done = await auth_service.complete_mfa(
        session, pending_token=first.token, code=totp_now(secret), device_cookie=None
    )
    assert done.status == LoginStatus.ok
    assert done.token is not None
    assert done.token != first.token
    found = await auth_service.authenticate(session, done.token)
    assert found is not None
    assert found[1].id == user.id
    await session.refresh(pending)
    assert pending.revoked_at is not None
    # The pending token cannot be used a second time.
    again = await auth_service.complete_mfa(
        session, pending_token=first.token, code=totp_now(secret, 1), device_cookie=None
    )
    assert again.status == LoginStatus.invalid
    assert again.message == "Your sign-in expired. Enter your email and password again."
    assert [(f, s) for _, f, s, _ in await attempts(session)] == [
        ("password", True),
        ("totp", False),
        ("totp", True),
    ]
    assert [e for e in await events(session, user) if e[0] != "user.login_2fa"] == [
        ("user.login", "success", {"factor": "totp"})
    ]


async def test_2fa_login_with_a_recovery_code(session: AsyncSession) -> None:
    user = await create_user(session, totp_secret=pyotp.random_base32())
    codes = await mfa.generate_recovery_codes(session, user)
    first = await login(session, user.email)
    assert first.token is not None
    done = await auth_service.complete_mfa(
        session, pending_token=first.token, code=codes[0], device_cookie=None
    )
    assert done.status == LoginStatus.ok
    assert await events(session, user) == [
        ("user.recovery_code_used", "success", {}),
        ("user.login", "success", {"factor": "recovery_code"}),
    ]
    # The same recovery code does not work twice.
    second = await login(session, user.email)
    assert second.token is not None
    replay = await auth_service.complete_mfa(
        session, pending_token=second.token, code=codes[0], device_cookie=None
    )
    assert replay.status == LoginStatus.invalid


async def test_2fa_challenge_expires_after_five_minutes(session: AsyncSession) -> None:
    secret = pyotp.random_base32()
    user = await create_user(session, totp_secret=secret)
    first = await login(session, user.email)
    assert first.user_session is not None
    assert first.token is not None
    await set_times(session, first.user_session, expires_at=utc_now() - timedelta(seconds=1))
    late = await auth_service.complete_mfa(
        session, pending_token=first.token, code=totp_now(secret), device_cookie=None
    )
    assert late.status == LoginStatus.invalid
    assert late.message == "Your sign-in expired. Enter your email and password again."


async def test_an_active_session_token_is_not_a_2fa_challenge(session: AsyncSession) -> None:
    secret = pyotp.random_base32()
    user = await create_user(session, totp_secret=secret)
    _, token = await auth_service.create_session(session, user, SessionState.active)
    result = await auth_service.complete_mfa(
        session, pending_token=token, code=totp_now(secret), device_cookie=None
    )
    assert result.status == LoginStatus.invalid


# --- session lifetime -------------------------------------------------------------------


async def test_idle_timeout_is_30_minutes(session: AsyncSession) -> None:
    user = await create_user(session)
    user_session, token = await auth_service.create_session(session, user, SessionState.active)
    await set_times(session, user_session, last_seen_at=utc_now() - timedelta(minutes=29))
    assert await auth_service.authenticate(session, token) is not None
    await set_times(
        session, user_session, last_seen_at=utc_now() - timedelta(minutes=30, seconds=1)
    )
    assert await auth_service.authenticate(session, token) is None
    assert await auth_service.list_sessions(session, user) == []


async def test_idle_timeout_comes_from_the_settings(
    session: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings(), "SESSION_IDLE_TIMEOUT_SECONDS", 120)
    user = await create_user(session)
    user_session, token = await auth_service.create_session(session, user, SessionState.active)
    await set_times(session, user_session, last_seen_at=utc_now() - timedelta(seconds=110))
    assert await auth_service.authenticate(session, token) is not None
    await set_times(session, user_session, last_seen_at=utc_now() - timedelta(seconds=130))
    assert await auth_service.authenticate(session, token) is None


async def test_activity_keeps_a_session_alive_but_not_past_12_hours(
    session: AsyncSession,
) -> None:
    user = await create_user(session)
    user_session, token = await auth_service.create_session(session, user, SessionState.active)
    expires_at = user_session.expires_at
    # Active all along (seen a minute ago) but signed in 12 hours ago: over.
    await set_times(
        session,
        user_session,
        created_at=utc_now() - timedelta(hours=12),
        expires_at=utc_now() - timedelta(seconds=1),
        last_seen_at=utc_now() - timedelta(minutes=1),
    )
    assert await auth_service.authenticate(session, token) is None
    # Touching never moves the absolute expiry.
    fresh, fresh_token = await auth_service.create_session(session, user, SessionState.active)
    expires_at = fresh.expires_at
    await set_times(session, fresh, last_seen_at=utc_now() - timedelta(minutes=10))
    assert await auth_service.authenticate(session, fresh_token) is not None
    await session.refresh(fresh)
    assert fresh.expires_at == expires_at


async def test_settings_drive_the_absolute_lifetime(
    session: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings(), "SESSION_ABSOLUTE_TIMEOUT_SECONDS", 3600)
    user = await create_user(session)
    user_session, _ = await auth_service.create_session(session, user, SessionState.active)
    lifetime = user_session.expires_at - user_session.created_at
    assert abs(lifetime - timedelta(hours=1)) < timedelta(seconds=5)


async def test_last_seen_is_written_at_most_once_a_minute(session: AsyncSession) -> None:
    assert timedelta(seconds=60) == TOUCH_INTERVAL
    user = await create_user(session)
    user_session, token = await auth_service.create_session(session, user, SessionState.active)
    recent = utc_now() - timedelta(seconds=30)
    await set_times(session, user_session, last_seen_at=recent)
    # As a GET request does: a read-only unit of work; the touch is written after it.
    async with unit_of_work(read_only=True) as uow:
        assert await auth_service.authenticate(uow, token) is not None
    await session.refresh(user_session)
    assert user_session.last_seen_at == recent
    stale = utc_now() - timedelta(minutes=5)
    await set_times(session, user_session, last_seen_at=stale)
    before = utc_now()
    async with unit_of_work(read_only=True) as uow:
        assert await auth_service.authenticate(uow, token) is not None
    await session.refresh(user_session)
    assert user_session.last_seen_at >= before


async def test_unknown_oversized_and_revoked_tokens_do_not_authenticate(
    session: AsyncSession,
) -> None:
    user = await create_user(session)
    user_session, token = await auth_service.create_session(session, user, SessionState.active)
    assert await auth_service.authenticate(session, "") is None
    assert await auth_service.authenticate(session, token + "x") is None
    assert await auth_service.authenticate(session, token * 4) is None
    # The stored hash itself is not a credential.
    assert await auth_service.authenticate(session, user_session.token_hash) is None
    await auth_service.logout(session, user_session, user)
    assert await auth_service.authenticate(session, token) is None
    assert ("user.logout", "success", {}) in await events(session, user)


# --- listing and revoking ----------------------------------------------------------------


async def test_list_sessions_shows_only_live_active_sessions_of_the_user(
    session: AsyncSession,
) -> None:
    user = await create_user(session)
    other = await create_user(session, totp_secret=pyotp.random_base32())
    live, _ = await auth_service.create_session(session, user, SessionState.active)
    revoked, _ = await auth_service.create_session(session, user, SessionState.active)
    revoked.revoked_at = utc_now()
    expired, _ = await auth_service.create_session(session, user, SessionState.active)
    idle, _ = await auth_service.create_session(session, user, SessionState.active)
    await auth_service.create_session(session, user, SessionState.mfa_pending)
    await auth_service.create_session(session, other, SessionState.active)
    await session.flush()
    await set_times(session, expired, expires_at=utc_now() - timedelta(seconds=1))
    await set_times(session, idle, last_seen_at=utc_now() - timedelta(hours=1))
    assert [s.id for s in await auth_service.list_sessions(session, user)] == [live.id]


async def test_revoking_a_session_requires_the_password(session: AsyncSession) -> None:
    user = await create_user(session)
    current, _ = await auth_service.create_session(session, user, SessionState.active)
    target, target_token = await auth_service.create_session(session, user, SessionState.active)

    with pytest.raises(WrongPassword, match="Your password is wrong."):
        await as_request(
            user,
            lambda uow, subject: auth_service.revoke_session(
                uow, subject, session_id=target.id, password="not my password"
            ),
        )
    await session.refresh(target)
    assert target.revoked_at is None
    assert await auth_service.authenticate(session, target_token) is not None
    # A wrong re-entered password counts like a failed sign-in (it survives the rollback).
    assert await attempts(session) == [(user.id, "password", False, IP)]

    await auth_service.revoke_session(
        session, user, session_id=target.id, password=DEFAULT_PASSWORD
    )
    await reload(session, target)
    assert target.revoked_at is not None
    assert await auth_service.authenticate(session, target_token) is None
    await session.refresh(current)
    assert current.revoked_at is None
    event = (
        await session.execute(
            select(AuditEvent).where(
                AuditEvent.action == "session.revoked", AuditEvent.outcome == "success"
            )
        )
    ).scalar_one()
    assert (event.target_type, event.target_id) == ("session", str(target.id))


async def test_revoking_someone_elses_or_a_revoked_session_is_not_found(
    session: AsyncSession,
) -> None:
    user = await create_user(session)
    other = await create_user(session)
    foreign, foreign_token = await auth_service.create_session(session, other, SessionState.active)
    with pytest.raises(ResourceNotFound, match="Session not found."):
        await auth_service.revoke_session(
            session, user, session_id=foreign.id, password=DEFAULT_PASSWORD
        )
    assert await auth_service.authenticate(session, foreign_token) is not None
    own, _ = await auth_service.create_session(session, user, SessionState.active)
    await auth_service.revoke_session(session, user, session_id=own.id, password=DEFAULT_PASSWORD)
    with pytest.raises(ResourceNotFound):
        await auth_service.revoke_session(
            session, user, session_id=own.id, password=DEFAULT_PASSWORD
        )


async def test_revoke_other_sessions_keeps_the_current_one(session: AsyncSession) -> None:
    user = await create_user(session)
    current, current_token = await auth_service.create_session(session, user, SessionState.active)
    others = [
        (await auth_service.create_session(session, user, SessionState.active))[1] for _ in range(3)
    ]
    with pytest.raises(WrongPassword):
        await auth_service.revoke_other_sessions(session, user, current, password="wrong one")
    assert all([await auth_service.authenticate(session, t) for t in others])
    count = await auth_service.revoke_other_sessions(
        session, user, current, password=DEFAULT_PASSWORD
    )
    assert count == 3
    assert [await auth_service.authenticate(session, t) for t in others] == [None] * 3
    assert await auth_service.authenticate(session, current_token) is not None


async def test_password_re_entry_is_throttled(session: AsyncSession) -> None:
    """Guessing the password through the session page is limited like sign-in."""
    user = await create_user(session)
    current, _ = await auth_service.create_session(session, user, SessionState.active)
    for _ in range(get_settings().LOGIN_FREE_FAILURES):
        with pytest.raises(WrongPassword):
            await as_request(
                user,
                lambda uow, subject: auth_service.revoke_other_sessions(
                    uow, subject, current, password="guess"
                ),
            )
    with pytest.raises(TooManyRequests) as error:
        await auth_service.revoke_other_sessions(session, user, current, password=DEFAULT_PASSWORD)
    assert error.value.headers == {"Retry-After": "1"}


# --- every session ends when the credentials change -----------------------------------------


async def live_count(session: AsyncSession, user: User) -> int:
    result = await session.execute(
        select(func.count())
        .select_from(UserSession)
        .where(UserSession.user_id == user.id, UserSession.revoked_at.is_(None))
    )
    return int(result.scalar_one())


async def test_password_change_ends_every_session(session: AsyncSession) -> None:
    user = await create_user(session)
    tokens = [(await login(session, user.email)).token for _ in range(2)]
    await user_service.change_password(
        session, user, current_password=DEFAULT_PASSWORD, new_password="brand new passphrase"
    )
    assert [await auth_service.authenticate(session, t or "") for t in tokens] == [None, None]
    assert await live_count(session, user) == 0
    # renew() then gives the browser that made the change a fresh session.
    renewed, token = await auth_service.renew(session, user, None)
    assert renewed.state == SessionState.active
    assert await auth_service.authenticate(session, token) is not None


async def test_turning_2fa_on_and_off_ends_every_session(session: AsyncSession) -> None:
    user = await create_user(session)
    token = (await login(session, user.email)).token
    secret = await user_service.start_totp_enrolment(session, user)
    await user_service.confirm_totp_enrolment(session, user, totp_now(secret))
    assert await auth_service.authenticate(session, token or "") is None
    assert await live_count(session, user) == 0

    renewed, renewed_token = await auth_service.renew(session, user, None)
    await user_service.disable_totp(
        session, user, password=DEFAULT_PASSWORD, code=totp_now(secret, 1)
    )
    assert await auth_service.authenticate(session, renewed_token) is None
    assert await live_count(session, user) == 0


async def test_renew_keeps_the_current_workspace(session: AsyncSession) -> None:
    user = await create_user(session)
    organization = await create_organization(session, owner=user)
    current, _ = await auth_service.create_session(session, user, SessionState.active)
    current.current_organization_id = organization.id
    renewed, token = await auth_service.renew(session, user, current)
    assert renewed.id != current.id
    assert renewed.current_organization_id == organization.id
    assert token
