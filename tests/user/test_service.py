"""Accounts: sign-up, email verification, password change and reset, 2FA enrolment."""

from collections.abc import Awaitable, Callable
from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.auth.service import auth as auth_service
from flashfusion.db import unit_of_work
from flashfusion.exceptions import Conflict
from flashfusion.kit import encryption
from flashfusion.kit.password import verify_password
from flashfusion.models import (
    AuditEvent,
    Job,
    LoginAttempt,
    SessionState,
    User,
    UserSession,
    UserToken,
    UserTokenPurpose,
    utc_now,
)
from flashfusion.user import mfa
from flashfusion.user.service import (
    InvalidSecondFactor,
    InvalidToken,
    PasswordRejected,
    WrongPassword,
)
from flashfusion.user.service import user as user_service
from tests.conftest import count_rows
from tests.fixtures.objects import DEFAULT_PASSWORD, create_user, totp_now

NEW_PASSWORD = "violet tractor umbrella 42"


async def tokens_of(
    session: AsyncSession, user: User, purpose: UserTokenPurpose
) -> list[UserToken]:
    result = await session.execute(
        select(UserToken)
        .where(UserToken.user_id == user.id, UserToken.purpose == purpose)
        .order_by(UserToken.created_at)
        .execution_options(populate_existing=True)
    )
    return list(result.scalars())


def secret_of(token: UserToken) -> str:
    """The link secret, read back the way the email job reads it."""
    assert token.token_encrypted is not None
    return encryption.decrypt(
        token.token_encrypted,
        aad=encryption.bound_to("user_tokens", "token_encrypted", token.id),
    )


async def jobs_of(session: AsyncSession, kind: str) -> list[Job]:
    result = await session.execute(select(Job).where(Job.kind == kind).order_by(Job.created_at))
    return list(result.scalars())


async def live_sessions(session: AsyncSession, user: User) -> int:
    result = await session.execute(
        select(func.count())
        .select_from(UserSession)
        .where(UserSession.user_id == user.id, UserSession.revoked_at.is_(None))
    )
    return int(result.scalar_one())


async def as_request(action: Callable[[AsyncSession], Awaitable[object]]) -> None:
    """Run `action` in its own unit of work, as a request does: commit, or roll back on error."""
    async with unit_of_work() as uow:
        await action(uow)


async def reload(session: AsyncSession, user: User) -> User:
    """Write what the service changed (as the request's commit would), then read it back."""
    await session.flush()
    await session.refresh(user)
    return user


async def actions(session: AsyncSession, user: User) -> list[tuple[str, str]]:
    result = await session.execute(
        select(AuditEvent.action, AuditEvent.outcome)
        .where(AuditEvent.user_id == user.id)
        .order_by(AuditEvent.created_at, AuditEvent.id)
    )
    return [(a, str(o)) for a, o in result.all()]


# --- sign-up and verification ------------------------------------------------------------


async def test_signup_creates_an_unverified_account_and_mails_a_link(session: AsyncSession) -> None:
    result = await user_service.signup(
        session, email="  New.Person@Example.COM ", password=DEFAULT_PASSWORD
    )
    assert result.existed is False
    user = result.user
    assert user is not None
    assert user.email == "new.person@example.com"
    assert user.email_verified_at is None
    assert user.password_hash.startswith("$argon2id$")
    assert verify_password(user.password_hash, DEFAULT_PASSWORD)
    [token] = await tokens_of(session, user, UserTokenPurpose.verify_email)
    # Stored as a hash plus an encrypted copy for the email job; never in plaintext.
    secret = secret_of(token)
    assert len(secret) == 43
    assert token.token_hash != secret
    assert token.used_at is None
    lifetime = token.expires_at - token.created_at
    assert abs(lifetime - timedelta(hours=24)) < timedelta(seconds=5)
    [job] = await jobs_of(session, "email.user_token")
    assert job.arguments == [str(token.id)]
    assert secret not in str(job.arguments)
    assert await actions(session, user) == [("user.signup", "success")]


async def test_signup_with_an_existing_address_creates_nothing_and_warns_the_owner(
    session: AsyncSession,
) -> None:
    existing = await create_user(session, email="taken@example.com")
    users_before = await count_rows(session, "users")
    async with unit_of_work() as uow:
        result = await user_service.signup(
            uow, email="TAKEN@example.com", password="another good passphrase"
        )
    assert (result.user, result.existed) == (None, True)
    assert await count_rows(session, "users") == users_before
    assert await tokens_of(session, existing, UserTokenPurpose.verify_email) == []
    [job] = await jobs_of(session, "email.account_exists")
    assert job.arguments == [str(existing.id)]
    assert await jobs_of(session, "email.user_token") == []
    # The owner's password is untouched.
    await reload(session, existing)
    assert verify_password(existing.password_hash, DEFAULT_PASSWORD)
    event = (
        await session.execute(select(AuditEvent).where(AuditEvent.action == "user.signup"))
    ).scalar_one()
    assert (event.outcome, event.user_id, event.actor_label) == (
        "failure",
        existing.id,
        "taken@example.com",
    )
    assert event.details == {"reason": "email already registered"}


async def test_signup_policy_applies_before_the_address_is_looked_up(
    session: AsyncSession,
) -> None:
    """A weak password gets the same answer whether or not the address has an account."""
    await create_user(session, email="taken@example.com")
    messages = []
    for email in ("taken@example.com", "free@example.com"):
        with pytest.raises(PasswordRejected) as error:
            await user_service.signup(session, email=email, password="password1")
        messages.append(error.value.detail)
    assert messages[0] == messages[1]
    assert await jobs_of(session, "email.account_exists") == []
    assert await user_service.get_by_email(session, "free@example.com") is None


async def test_create_refuses_a_taken_address(session: AsyncSession) -> None:
    await create_user(session, email="taken@example.com")
    with pytest.raises(Conflict, match="An account with this email already exists."):
        await user_service.create(session, email="Taken@Example.com", password=NEW_PASSWORD)


async def test_verify_email_uses_the_link_once(session: AsyncSession) -> None:
    result = await user_service.signup(session, email="v@example.com", password=DEFAULT_PASSWORD)
    assert result.user is not None
    [token] = await tokens_of(session, result.user, UserTokenPurpose.verify_email)
    secret = secret_of(token)
    user = await user_service.verify_email(session, secret)
    assert user.id == result.user.id
    assert user.email_verified_at is not None
    [token] = await tokens_of(session, user, UserTokenPurpose.verify_email)
    assert token.used_at is not None
    assert token.token_encrypted is None  # wiped once used
    with pytest.raises(InvalidToken):
        await user_service.verify_email(session, secret)
    assert await actions(session, user) == [
        ("user.signup", "success"),
        ("user.email_verified", "success"),
    ]


async def test_expired_or_unknown_or_wrong_purpose_links_are_refused(
    session: AsyncSession,
) -> None:
    user = await create_user(session, verified=False)
    await user_service.resend_verification(session, user.email)
    [token] = await tokens_of(session, user, UserTokenPurpose.verify_email)
    secret = secret_of(token)
    await session.execute(
        update(UserToken)
        .where(UserToken.id == token.id)
        .values(expires_at=utc_now() - timedelta(seconds=1))
    )
    with pytest.raises(InvalidToken) as error:
        await user_service.verify_email(session, secret)
    assert error.value.status_code == 410
    assert error.value.detail == (
        "This link is invalid, already used or expired. Ask for a new one."
    )
    with pytest.raises(InvalidToken):
        await user_service.verify_email(session, "not-a-real-token")
    # A password reset link is not an email verification link.
    await user_service.request_password_reset(session, user.email)
    [reset] = await tokens_of(session, user, UserTokenPurpose.reset_password)
    with pytest.raises(InvalidToken):
        await user_service.verify_email(session, secret_of(reset))
    await reload(session, user)
    assert user.email_verified_at is None


async def _age_tokens(session: AsyncSession, user: User, seconds: int) -> None:
    """Move the user's links back in time (cooldowns are measured from created_at)."""
    for purpose in UserTokenPurpose:
        for token in await tokens_of(session, user, purpose):
            token.created_at -= timedelta(seconds=seconds)
    await session.flush()


async def test_resend_replaces_the_previous_link(session: AsyncSession) -> None:
    user = await create_user(session, verified=False)
    await user_service.resend_verification(session, user.email.upper())
    await _age_tokens(session, user, 61)
    await user_service.resend_verification(session, user.email)
    first, second = await tokens_of(session, user, UserTokenPurpose.verify_email)
    assert first.used_at is not None
    assert first.token_encrypted is None
    assert second.used_at is None
    with pytest.raises(InvalidToken):
        await user_service.check_token(session, "x", UserTokenPurpose.verify_email)
    assert len(await jobs_of(session, "email.user_token")) == 2


async def test_mail_to_one_address_is_limited(session: AsyncSession) -> None:
    """One link a minute and five an hour, whatever the forms are used for (anti-flooding)."""
    user = await create_user(session, verified=False)
    await user_service.resend_verification(session, user.email)
    await user_service.resend_verification(session, user.email)  # within the minute: no mail
    assert len(await tokens_of(session, user, UserTokenPurpose.verify_email)) == 1
    for _ in range(6):
        await _age_tokens(session, user, 61)
        await user_service.resend_verification(session, user.email)
    assert len(await tokens_of(session, user, UserTokenPurpose.verify_email)) == 5
    assert len(await jobs_of(session, "email.user_token")) == 5
    # Reset links have their own allowance.
    await user_service.request_password_reset(session, user.email)
    assert len(await tokens_of(session, user, UserTokenPurpose.reset_password)) == 1


async def test_resend_is_silent_for_verified_and_unknown_addresses(session: AsyncSession) -> None:
    verified = await create_user(session)
    await user_service.resend_verification(session, verified.email)
    await user_service.resend_verification(session, "nobody@example.com")
    assert await count_rows(session, "user_tokens") == 0
    assert await jobs_of(session, "email.user_token") == []


# --- password change and reset -----------------------------------------------------------


async def make_sessions(session: AsyncSession, user: User, n: int) -> list[UserSession]:
    return [
        (await auth_service.create_session(session, user, SessionState.active))[0] for _ in range(n)
    ]


async def test_change_password_ends_every_session(session: AsyncSession) -> None:
    user = await create_user(session)
    other = await create_user(session)
    await make_sessions(session, user, 2)
    await make_sessions(session, other, 1)
    await user_service.change_password(
        session, user, current_password=DEFAULT_PASSWORD, new_password=NEW_PASSWORD
    )
    await reload(session, user)
    assert verify_password(user.password_hash, NEW_PASSWORD)
    assert not verify_password(user.password_hash, DEFAULT_PASSWORD)
    assert await live_sessions(session, user) == 0
    assert await live_sessions(session, other) == 1
    assert await actions(session, user) == [("user.password_changed", "success")]


async def test_change_password_with_a_wrong_current_password_changes_nothing_but_counts(
    session: AsyncSession,
) -> None:
    user = await create_user(session)
    await make_sessions(session, user, 1)
    old_hash = user.password_hash
    with pytest.raises(WrongPassword, match="Your current password is wrong."):
        await as_request(
            lambda uow: user_service.change_password(
                uow, user, current_password="wrong password!", new_password=NEW_PASSWORD
            )
        )
    await reload(session, user)
    assert user.password_hash == old_hash
    assert await live_sessions(session, user) == 1
    # The failed check survives the rollback: it counts for throttling and shows in the log.
    attempts = (await session.execute(select(LoginAttempt))).scalars().all()
    assert [(a.user_id, a.factor, a.success) for a in attempts] == [(user.id, "password", False)]
    assert await actions(session, user) == [("user.password_changed", "failure")]


async def test_change_password_applies_the_policy(session: AsyncSession) -> None:
    user = await create_user(session)
    with pytest.raises(PasswordRejected) as error:
        await user_service.change_password(
            session, user, current_password=DEFAULT_PASSWORD, new_password="qwertyuiop"
        )
    assert error.value.status_code == 422
    with pytest.raises(PasswordRejected, match="Don't use your email address"):
        await user_service.change_password(
            session, user, current_password=DEFAULT_PASSWORD, new_password=user.email
        )
    assert verify_password(user.password_hash, DEFAULT_PASSWORD)


async def test_password_reset_request_for_an_unknown_address_does_nothing(
    session: AsyncSession,
) -> None:
    await user_service.request_password_reset(session, "nobody@example.com")
    assert await count_rows(session, "user_tokens") == 0
    assert await count_rows(session, "jobs") == 0
    assert await count_rows(session, "audit_events") == 0


async def test_password_reset_sets_the_password_and_ends_every_session(
    session: AsyncSession,
) -> None:
    user = await create_user(session, verified=False)
    await make_sessions(session, user, 2)
    await user_service.request_password_reset(session, user.email)
    [token] = await tokens_of(session, user, UserTokenPurpose.reset_password)
    assert abs((token.expires_at - token.created_at) - timedelta(hours=1)) < timedelta(seconds=5)
    secret = secret_of(token)
    assert (
        await user_service.check_token(session, secret, UserTokenPurpose.reset_password)
    ).id == (user.id)
    await user_service.reset_password(
        session, secret=secret, new_password=NEW_PASSWORD, second_factor=None
    )
    await reload(session, user)
    assert verify_password(user.password_hash, NEW_PASSWORD)
    assert await live_sessions(session, user) == 0
    # The mailbox was proven: the address counts as verified now.
    assert user.email_verified_at is not None
    with pytest.raises(InvalidToken):
        await user_service.reset_password(
            session, secret=secret, new_password="yet another passphrase", second_factor=None
        )
    assert [a for a, _ in await actions(session, user)] == [
        "user.password_reset_requested",
        "user.password_reset",
    ]


async def test_password_reset_rejects_a_weak_password_without_using_the_link(
    session: AsyncSession,
) -> None:
    user = await create_user(session)
    await user_service.request_password_reset(session, user.email)
    [token] = await tokens_of(session, user, UserTokenPurpose.reset_password)
    secret = secret_of(token)
    with pytest.raises(PasswordRejected):
        await user_service.reset_password(
            session, secret=secret, new_password="short", second_factor=None
        )
    [token] = await tokens_of(session, user, UserTokenPurpose.reset_password)
    assert token.used_at is None
    await user_service.reset_password(
        session, secret=secret, new_password=NEW_PASSWORD, second_factor=None
    )


async def test_password_reset_with_2fa_requires_a_valid_second_factor(
    session: AsyncSession,
) -> None:
    secret_2fa = pyotp.random_base32()
    user = await create_user(session, totp_secret=secret_2fa)
    await user_service.request_password_reset(session, user.email)
    [token] = await tokens_of(session, user, UserTokenPurpose.reset_password)
    link = secret_of(token)

    with pytest.raises(InvalidSecondFactor) as missing:
        await user_service.reset_password(
            session, secret=link, new_password=NEW_PASSWORD, second_factor=None
        )
    assert missing.value.detail == (
        "Enter a code from your authenticator app or one of your recovery codes."
    )
    wrong = "000000" if totp_now(secret_2fa) != "000000" else "111111"
    with pytest.raises(InvalidSecondFactor):
        await as_request(
            lambda uow: user_service.reset_password(
                uow, secret=link, new_password=NEW_PASSWORD, second_factor=wrong
            )
        )
    await reload(session, user)
    assert verify_password(user.password_hash, DEFAULT_PASSWORD)
    [token] = await tokens_of(session, user, UserTokenPurpose.reset_password)
    assert token.used_at is None
    # The wrong code counts as a failed second-factor attempt, and is audited.
    attempts = (await session.execute(select(LoginAttempt))).scalars().all()
    assert [(a.factor, a.success) for a in attempts] == [("totp", False)]
    assert ("user.password_reset", "failure") in await actions(session, user)

    await user_service.reset_password(
        session, secret=link, new_password=NEW_PASSWORD, second_factor=totp_now(secret_2fa)
    )
    await reload(session, user)
    assert verify_password(user.password_hash, NEW_PASSWORD)


async def test_password_reset_with_2fa_accepts_a_recovery_code(session: AsyncSession) -> None:
    user = await create_user(session, totp_secret=pyotp.random_base32())
    codes = await mfa.generate_recovery_codes(session, user)
    await user_service.request_password_reset(session, user.email)
    [token] = await tokens_of(session, user, UserTokenPurpose.reset_password)
    await user_service.reset_password(
        session, secret=secret_of(token), new_password=NEW_PASSWORD, second_factor=codes[3]
    )
    await reload(session, user)
    assert verify_password(user.password_hash, NEW_PASSWORD)
    assert await user_service.count_recovery_codes(session, user) == 9


# --- two-factor enrolment ----------------------------------------------------------------


async def test_totp_enrolment_turns_on_after_a_matching_code(session: AsyncSession) -> None:
    user = await create_user(session)
    await make_sessions(session, user, 2)
    secret = await user_service.start_totp_enrolment(session, user)
    assert len(secret) == 32
    assert user_service.pending_totp_secret(user) == secret
    assert user.has_2fa is False
    # The pending secret is encrypted at rest, bound to this user's row and column.
    assert user.totp_pending_secret_encrypted is not None
    assert secret.encode() not in user.totp_pending_secret_encrypted

    with pytest.raises(InvalidSecondFactor, match="That code doesn't match."):
        await user_service.confirm_totp_enrolment(session, user, "123")
    assert user.has_2fa is False

    code = totp_now(secret)
    codes = await user_service.confirm_totp_enrolment(session, user, code)
    await reload(session, user)
    assert user.has_2fa
    assert user.totp_pending_secret_encrypted is None
    assert user.totp_secret_encrypted is not None
    assert mfa.decrypt_secret(user, user.totp_secret_encrypted, "totp_secret_encrypted") == secret
    assert len(codes) == 10
    assert len(set(codes)) == 10
    assert await user_service.count_recovery_codes(session, user) == 10
    # Every session ended when 2FA was turned on.
    assert await live_sessions(session, user) == 0
    # The code that confirmed enrolment cannot be replayed to sign in.
    assert await mfa.verify_totp(session, user, code) is False
    assert ("user.2fa_enabled", "success") in await actions(session, user)


async def test_totp_enrolment_edge_cases(session: AsyncSession) -> None:
    user = await create_user(session)
    with pytest.raises(Conflict, match="no setup is in progress"):
        await user_service.confirm_totp_enrolment(session, user, "123456")
    enrolled = await create_user(session, totp_secret=pyotp.random_base32())
    with pytest.raises(Conflict, match="already on"):
        await user_service.start_totp_enrolment(session, enrolled)


async def test_disable_totp_requires_password_and_code(session: AsyncSession) -> None:
    secret = pyotp.random_base32()
    user = await create_user(session, totp_secret=secret)
    await mfa.generate_recovery_codes(session, user)
    await make_sessions(session, user, 1)

    with pytest.raises(WrongPassword):
        await user_service.disable_totp(session, user, password="wrong!", code=totp_now(secret))
    with pytest.raises(InvalidSecondFactor):
        await user_service.disable_totp(session, user, password=DEFAULT_PASSWORD, code="000000x")
    assert user.has_2fa
    assert await live_sessions(session, user) == 1

    await user_service.disable_totp(session, user, password=DEFAULT_PASSWORD, code=totp_now(secret))
    await reload(session, user)
    assert user.has_2fa is False
    assert user.totp_secret_encrypted is None
    assert user.totp_last_used_step is None
    assert await user_service.count_recovery_codes(session, user) == 0
    assert await live_sessions(session, user) == 0
    with pytest.raises(Conflict, match="not on"):
        await user_service.disable_totp(session, user, password=DEFAULT_PASSWORD, code="123456")


async def test_regenerating_recovery_codes_invalidates_the_old_ones(session: AsyncSession) -> None:
    secret = pyotp.random_base32()
    user = await create_user(session, totp_secret=secret)
    old = await mfa.generate_recovery_codes(session, user)
    new = await user_service.regenerate_recovery_codes(
        session, user, password=DEFAULT_PASSWORD, code=totp_now(secret)
    )
    assert not set(old) & set(new)
    assert await mfa.use_recovery_code(session, user, old[0]) is False
    assert await mfa.use_recovery_code(session, user, new[0]) is True
    assert await user_service.count_recovery_codes(session, user) == 9
    plain = await create_user(session)
    with pytest.raises(Conflict, match="Turn on two-factor authentication first."):
        await user_service.regenerate_recovery_codes(
            session, plain, password=DEFAULT_PASSWORD, code="123456"
        )
