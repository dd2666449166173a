"""Accounts: sign-up, email verification, password change and reset, 2FA enrolment."""

import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.audit.repository import AuditEventRepository
from flashfusion.audit.service import audit as audit_service
from flashfusion.auth import throttle
from flashfusion.auth.models import AuthSubject
from flashfusion.auth.repository import UserSessionRepository
from flashfusion.config import get_settings
from flashfusion.exceptions import BadRequest, Conflict, Gone, UnprocessableEntity
from flashfusion.jobs.enqueue import enqueue
from flashfusion.kit import encryption
from flashfusion.kit.crypto import random_token, sha256_hex
from flashfusion.kit.password import (
    PasswordPolicyError,
    check_policy,
    hash_password,
    needs_rehash,
    verify_password,
)
from flashfusion.kit.request_context import get_request_context
from flashfusion.models import Outcome, User, UserToken, UserTokenPurpose, utc_now
from flashfusion.user import mfa
from flashfusion.user.repository import RecoveryCodeRepository, UserRepository, UserTokenRepository

# Anti-flooding of mailboxes through sign-up, resend and forgot-password forms.
EMAIL_COOLDOWN = timedelta(seconds=60)
MAX_EMAILS_PER_HOUR = 5


class PasswordRejected(UnprocessableEntity):
    """The new password does not meet the policy."""


class InvalidToken(Gone):
    """The link is unknown, used, or expired."""


class WrongPassword(BadRequest):
    """The current password is wrong."""


class InvalidSecondFactor(BadRequest):
    """The authentication code or recovery code is wrong or already used."""


@dataclass
class SignupResult:
    user: User | None
    # True when the address already had an account (the caller shows the same page anyway).
    existed: bool


def _subject(user: User) -> AuthSubject[User]:
    return AuthSubject(user)


def validate_password(password: str, email: str | None) -> None:
    try:
        check_policy(password, email=email)
    except PasswordPolicyError as e:
        raise PasswordRejected(str(e)) from e


class UserService:
    async def get_by_email(self, session: AsyncSession, email: str) -> User | None:
        return await UserRepository.from_session(session).get_by_email(email)

    async def create(
        self, session: AsyncSession, *, email: str, password: str, verified: bool = False
    ) -> User:
        """Create an account; raises Conflict if the address is taken."""
        email = email.strip().lower()
        validate_password(password, email)
        repository = UserRepository.from_session(session)
        if await repository.get_by_email(email) is not None:
            raise Conflict("An account with this email already exists.")
        user = User(
            email=email,
            password_hash=hash_password(password),
            password_changed_at=utc_now(),
            email_verified_at=utc_now() if verified else None,
        )
        try:
            async with session.begin_nested():
                await repository.create(user)
        except IntegrityError as e:
            raise Conflict("An account with this email already exists.") from e
        return user

    async def signup(self, session: AsyncSession, *, email: str, password: str) -> SignupResult:
        """Create an unverified account and mail a confirmation link.

        An address that already has an account gets a "someone tried to sign up" email instead,
        and the caller shows the same page, so sign-up does not reveal which addresses exist.
        """
        email = email.strip().lower()
        validate_password(password, email)
        existing = await self.get_by_email(session, email)
        if existing is not None:
            # Pay for a hash as a new sign-up does, so timing doesn't tell the two apart.
            hash_password(password)
            if not await self._recent_signup_attempt(session, existing):
                await enqueue(
                    session,
                    "email.account_exists",
                    str(existing.id),
                    organization_id=None,
                    summary="Sign-up attempt on an existing account",
                )
            audit_service.record_denied(
                session,
                None,
                action="user.signup",
                user_id=existing.id,
                actor_label=email,
                outcome=Outcome.failure,
                details={"reason": "email already registered"},
            )
            return SignupResult(user=None, existed=True)
        user = await self.create(session, email=email, password=password)
        await self._issue_token(
            session,
            user,
            UserTokenPurpose.verify_email,
            get_settings().EMAIL_VERIFICATION_TTL_SECONDS,
        )
        await audit_service.record(session, _subject(user), action="user.signup")
        return SignupResult(user=user, existed=False)

    async def _recent_signup_attempt(self, session: AsyncSession, user: User) -> bool:
        """One "someone tried to sign up" email per address per EMAIL_COOLDOWN at most."""
        return await AuditEventRepository.from_session(session).exists_for_user(
            user.id, action="user.signup", since=utc_now() - EMAIL_COOLDOWN
        )

    async def _may_mail(self, session: AsyncSession, user: User, purpose: UserTokenPurpose) -> bool:
        """Limit mail per address: one link per minute, five per hour (anti-flooding)."""
        repository = UserTokenRepository.from_session(session)
        now = utc_now()
        if await repository.count_since(user.id, purpose, now - EMAIL_COOLDOWN):
            return False
        return await repository.count_since(user.id, purpose, now - timedelta(hours=1)) < (
            MAX_EMAILS_PER_HOUR
        )

    async def _issue_token(
        self, session: AsyncSession, user: User, purpose: UserTokenPurpose, ttl: int
    ) -> UserToken | None:
        """A fresh single-use link, mailed by a job; None when the address had enough mail."""
        if not await self._may_mail(session, user, purpose):
            return None
        repository = UserTokenRepository.from_session(session)
        await repository.invalidate_unused(user.id, purpose)
        secret = random_token()
        token = UserToken(
            id=uuid.uuid4(),
            user_id=user.id,
            purpose=purpose,
            token_hash=sha256_hex(secret),
            expires_at=utc_now() + timedelta(seconds=ttl),
        )
        token.token_encrypted = encryption.encrypt(
            secret, aad=encryption.bound_to("user_tokens", "token_encrypted", token.id)
        )
        await repository.create(token)
        await enqueue(
            session,
            "email.user_token",
            str(token.id),
            organization_id=None,
            summary="Verification email"
            if purpose == UserTokenPurpose.verify_email
            else "Password reset email",
        )
        return token

    async def _consume_token(
        self, session: AsyncSession, secret: str, purpose: UserTokenPurpose
    ) -> UserToken:
        repository = UserTokenRepository.from_session(session)
        token = await repository.get_by_hash(sha256_hex(secret.strip()), purpose)
        if token is None or token.used_at is not None or token.expires_at <= utc_now():
            raise InvalidToken("This link is invalid, already used or expired. Ask for a new one.")
        if not await repository.claim(token):
            raise InvalidToken("This link was already used. Ask for a new one.")
        return token

    async def check_token(
        self, session: AsyncSession, secret: str, purpose: UserTokenPurpose
    ) -> User:
        """The account a still-valid link belongs to, without using the link up."""
        repository = UserTokenRepository.from_session(session)
        token = await repository.get_by_hash(sha256_hex(secret.strip()), purpose)
        if token is None or token.used_at is not None or token.expires_at <= utc_now():
            raise InvalidToken("This link is invalid, already used or expired. Ask for a new one.")
        user = await UserRepository.from_session(session).get_by_id(token.user_id)
        if user is None:
            raise InvalidToken("This link is invalid, already used or expired. Ask for a new one.")
        return user

    async def verify_email(self, session: AsyncSession, secret: str) -> User:
        token = await self._consume_token(session, secret, UserTokenPurpose.verify_email)
        user = await UserRepository.from_session(session).get_by_id(token.user_id)
        if user is None:
            raise InvalidToken("This link is invalid. Sign up again.")
        if user.email_verified_at is None:
            user.email_verified_at = utc_now()
        await audit_service.record(session, _subject(user), action="user.email_verified")
        return user

    async def resend_verification(self, session: AsyncSession, email: str) -> None:
        """Send a fresh link if the address has an unverified account; silent otherwise."""
        user = await self.get_by_email(session, email)
        if user is None or user.is_verified:
            return
        await self._issue_token(
            session,
            user,
            UserTokenPurpose.verify_email,
            get_settings().EMAIL_VERIFICATION_TTL_SECONDS,
        )

    async def request_password_reset(self, session: AsyncSession, email: str) -> None:
        """Mail a reset link if the account exists; the response never says whether it does."""
        user = await self.get_by_email(session, email)
        if user is None:
            return
        await self._issue_token(
            session,
            user,
            UserTokenPurpose.reset_password,
            get_settings().PASSWORD_RESET_TTL_SECONDS,
        )
        await audit_service.record(session, _subject(user), action="user.password_reset_requested")

    async def reset_password(
        self, session: AsyncSession, *, secret: str, new_password: str, second_factor: str | None
    ) -> User:
        """Set a new password from a reset link. With 2FA on, a valid code is required too."""
        user = await self.check_token(session, secret, UserTokenPurpose.reset_password)
        validate_password(new_password, user.email)
        if user.has_2fa:
            if not second_factor:
                raise InvalidSecondFactor(
                    "Enter a code from your authenticator app or one of your recovery codes."
                )
            await self._check_second_factor_throttle(session, user)
            factor = await mfa.verify_second_factor(session, user, second_factor)
            if factor is None:
                self._count_failure(session, user, "totp")
                audit_service.record_denied(
                    session,
                    _subject(user),
                    action="user.password_reset",
                    outcome=Outcome.failure,
                    details={"reason": "invalid second factor"},
                )
                raise InvalidSecondFactor(
                    "That code is wrong or was already used. Try the current code from your "
                    "authenticator app, or a recovery code."
                )
        await self._consume_token(session, secret, UserTokenPurpose.reset_password)
        await self._set_password(session, user, new_password)
        # The reset was proven by the mailbox (and the second factor): mark the email verified.
        if user.email_verified_at is None:
            user.email_verified_at = utc_now()
        await audit_service.record(session, _subject(user), action="user.password_reset")
        return user

    async def _set_password(self, session: AsyncSession, user: User, password: str) -> None:
        user.password_hash = hash_password(password)
        user.password_changed_at = utc_now()
        # Every session ends when the password changes (ASVS 3.3.3).
        await UserSessionRepository.from_session(session).revoke_all(user.id)
        await session.flush()

    async def check_password(self, user: User, password: str) -> bool:
        return verify_password(user.password_hash, password)

    async def rehash_if_needed(self, session: AsyncSession, user: User, password: str) -> None:
        if needs_rehash(user.password_hash):
            user.password_hash = hash_password(password)
            await session.flush()

    async def change_password(
        self, session: AsyncSession, user: User, *, current_password: str, new_password: str
    ) -> None:
        await self._check_second_factor_throttle(session, user)
        if not verify_password(user.password_hash, current_password):
            self._count_failure(session, user, "password")
            audit_service.record_denied(
                session,
                _subject(user),
                action="user.password_changed",
                outcome=Outcome.failure,
                details={"reason": "wrong current password"},
            )
            raise WrongPassword("Your current password is wrong.")
        validate_password(new_password, user.email)
        await self._set_password(session, user, new_password)
        await audit_service.record(session, _subject(user), action="user.password_changed")

    # --- 2FA --------------------------------------------------------------------------

    async def start_totp_enrolment(self, session: AsyncSession, user: User) -> str:
        """Generate a secret to show as a QR code; it takes effect once a code confirms it."""
        if user.has_2fa:
            raise Conflict("Two-factor authentication is already on. Turn it off first.")
        secret = mfa.new_secret()
        user.totp_pending_secret_encrypted = mfa.encrypt_secret(
            user, secret, "totp_pending_secret_encrypted"
        )
        await session.flush()
        return secret

    def pending_totp_secret(self, user: User) -> str | None:
        if user.totp_pending_secret_encrypted is None:
            return None
        return mfa.decrypt_secret(
            user, user.totp_pending_secret_encrypted, "totp_pending_secret_encrypted"
        )

    async def confirm_totp_enrolment(
        self, session: AsyncSession, user: User, code: str
    ) -> list[str]:
        """Turn 2FA on if `code` matches the pending secret; returns ten recovery codes."""
        secret = self.pending_totp_secret(user)
        if secret is None:
            raise Conflict("Start two-factor setup again: no setup is in progress.")
        step = mfa.matching_step(secret, code)
        if step is None:
            raise InvalidSecondFactor(
                "That code doesn't match. Check the time on your phone and enter the current "
                "6-digit code."
            )
        user.totp_secret_encrypted = mfa.encrypt_secret(user, secret, "totp_secret_encrypted")
        user.totp_pending_secret_encrypted = None
        user.totp_enabled_at = utc_now()
        user.totp_last_used_step = step
        codes = await mfa.generate_recovery_codes(session, user)
        await UserSessionRepository.from_session(session).revoke_all(user.id)
        await session.flush()
        await audit_service.record(session, _subject(user), action="user.2fa_enabled")
        return codes

    async def _check_second_factor_throttle(self, session: AsyncSession, user: User) -> None:
        await throttle.enforce(
            session,
            account=throttle.account_key(user.email),
            ip=get_request_context().ip or "unknown",
        )

    def _count_failure(self, session: AsyncSession, user: User, factor: str) -> None:
        throttle.record_failure_durably(
            session,
            account=throttle.account_key(user.email),
            user_id=user.id,
            ip=get_request_context().ip or "unknown",
            factor=factor,
        )

    async def _require_password_and_code(
        self, session: AsyncSession, user: User, password: str, code: str, action: str
    ) -> None:
        await self._check_second_factor_throttle(session, user)
        if not verify_password(user.password_hash, password):
            self._count_failure(session, user, "password")
            audit_service.record_denied(
                session,
                _subject(user),
                action=action,
                outcome=Outcome.failure,
                details={"reason": "wrong password"},
            )
            raise WrongPassword("Your password is wrong.")
        if await mfa.verify_second_factor(session, user, code) is None:
            self._count_failure(session, user, "totp")
            audit_service.record_denied(
                session,
                _subject(user),
                action=action,
                outcome=Outcome.failure,
                details={"reason": "invalid second factor"},
            )
            raise InvalidSecondFactor("That code is wrong or was already used.")

    async def disable_totp(
        self, session: AsyncSession, user: User, *, password: str, code: str
    ) -> None:
        if not user.has_2fa:
            raise Conflict("Two-factor authentication is not on.")
        await self._require_password_and_code(session, user, password, code, "user.2fa_disabled")
        user.totp_secret_encrypted = None
        user.totp_enabled_at = None
        user.totp_last_used_step = None
        await RecoveryCodeRepository.from_session(session).delete_all(user.id)
        await UserSessionRepository.from_session(session).revoke_all(user.id)
        await session.flush()
        await audit_service.record(session, _subject(user), action="user.2fa_disabled")

    async def regenerate_recovery_codes(
        self, session: AsyncSession, user: User, *, password: str, code: str
    ) -> list[str]:
        if not user.has_2fa:
            raise Conflict("Turn on two-factor authentication first.")
        await self._require_password_and_code(
            session, user, password, code, "user.recovery_codes_regenerated"
        )
        codes = await mfa.generate_recovery_codes(session, user)
        await audit_service.record(
            session, _subject(user), action="user.recovery_codes_regenerated"
        )
        return codes

    async def count_recovery_codes(self, session: AsyncSession, user: User) -> int:
        return await RecoveryCodeRepository.from_session(session).count_unused(user.id)


user = UserService()
