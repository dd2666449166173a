"""Browser sessions: sign-in with password and second factor, session lifetime, revocation."""

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.audit.service import audit as audit_service
from flashfusion.auth import throttle
from flashfusion.auth.models import AuthSubject
from flashfusion.auth.repository import UserSessionRepository
from flashfusion.config import get_settings
from flashfusion.db import persist_always
from flashfusion.exceptions import ResourceNotFound
from flashfusion.kit.crypto import random_token, sha256_hex
from flashfusion.kit.password import dummy_hash, verify_password
from flashfusion.kit.request_context import get_request_context
from flashfusion.models import Outcome, SessionState, User, UserSession, utc_now
from flashfusion.user import mfa
from flashfusion.user.repository import UserRepository
from flashfusion.user.service import WrongPassword
from flashfusion.user.service import user as user_service

# Write last_seen_at at most this often: idle timeouts need minutes, not milliseconds.
TOUCH_INTERVAL = timedelta(seconds=60)


class LoginStatus(StrEnum):
    ok = "ok"
    mfa_required = "mfa_required"
    invalid = "invalid"
    unverified = "unverified"
    throttled = "throttled"


@dataclass
class LoginResult:
    status: LoginStatus
    message: str = ""
    token: str | None = None
    user_session: UserSession | None = None
    user: User | None = None
    retry_after: int = 0
    device_cookie: str | None = None


INVALID_CREDENTIALS = "Email or password is incorrect."


class AuthService:
    async def create_session(
        self, session: AsyncSession, user: User, state: SessionState
    ) -> tuple[UserSession, str]:
        """A new session with a fresh 256-bit token (never reused: renewed at every login)."""
        settings = get_settings()
        context = get_request_context()
        now = utc_now()
        lifetime = (
            settings.MFA_CHALLENGE_TIMEOUT_SECONDS
            if state == SessionState.mfa_pending
            else settings.SESSION_ABSOLUTE_TIMEOUT_SECONDS
        )
        token = random_token(32)
        user_session = UserSession(
            user_id=user.id,
            token_hash=sha256_hex(token),
            state=state,
            last_seen_at=now,
            expires_at=now + timedelta(seconds=lifetime),
            ip=context.ip,
            user_agent=(context.user_agent or "")[:512] or None,
        )
        await UserSessionRepository.from_session(session).create(user_session)
        return user_session, token

    def is_live(self, user_session: UserSession, now: datetime) -> bool:
        settings = get_settings()
        if user_session.revoked_at is not None or user_session.expires_at <= now:
            return False
        idle_limit = timedelta(seconds=settings.SESSION_IDLE_TIMEOUT_SECONDS)
        return now - user_session.last_seen_at < idle_limit

    async def authenticate(
        self, session: AsyncSession, token: str, *, state: SessionState = SessionState.active
    ) -> tuple[UserSession, User] | None:
        """The live session for a cookie value, touching its idle clock."""
        if not token or len(token) > 128:
            return None
        repository = UserSessionRepository.from_session(session)
        user_session = await repository.get_by_token_hash(sha256_hex(token))
        now = utc_now()
        if (
            user_session is None
            or user_session.state != state
            or not self.is_live(user_session, now)
        ):
            return None
        user = await UserRepository.from_session(session).get_by_id(user_session.user_id)
        if user is None:
            return None
        if now - user_session.last_seen_at >= TOUCH_INTERVAL:
            session_id = user_session.id

            async def _touch(persist_session: AsyncSession) -> None:
                await UserSessionRepository.from_session(persist_session).touch(session_id, now)

            # Bookkeeping, not a change the user made: it keeps GET requests read-only.
            persist_always(session, _touch)
        return user_session, user

    async def login(
        self, session: AsyncSession, *, email: str, password: str, device_cookie: str | None
    ) -> LoginResult:
        """Check the password (throttled); on success either sign in or ask for the 2FA code."""
        context = get_request_context()
        ip = context.ip or "unknown"
        account = throttle.account_key(email)
        user = await UserRepository.from_session(session).get_by_email(email)
        nonce = throttle.trusted_device_nonce(device_cookie, user.id if user else None)
        decision = await throttle.check(session, account=account, ip=ip, device_nonce=nonce)
        if not decision.allowed:
            audit_service.record_denied(
                session,
                None,
                action="user.login",
                user_id=user.id if user else None,
                actor_label=email.strip().lower()[:320],
                details={"reason": "throttled"},
            )
            return LoginResult(
                LoginStatus.throttled, decision.reason, retry_after=decision.retry_after
            )

        if user is None:
            verify_password(dummy_hash(), password)  # same cost as a real check
            await throttle.record(
                session,
                account=account,
                user_id=None,
                ip=ip,
                device_nonce=None,
                factor="password",
                success=False,
            )
            return LoginResult(LoginStatus.invalid, INVALID_CREDENTIALS)

        ok = verify_password(user.password_hash, password)
        await throttle.record(
            session,
            account=account,
            user_id=user.id,
            ip=ip,
            device_nonce=nonce if decision.trusted_device else None,
            factor="password",
            success=ok,
        )
        if not ok:
            await audit_service.record(
                session,
                AuthSubject(user),
                action="user.login",
                outcome=Outcome.failure,
                details={"reason": "wrong password"},
            )
            return LoginResult(LoginStatus.invalid, INVALID_CREDENTIALS)

        await user_service.rehash_if_needed(session, user, password)
        if not user.is_verified:
            return LoginResult(
                LoginStatus.unverified,
                "Confirm your email address first: open the link we emailed you, or ask for a "
                "new one below.",
                user=user,
            )
        if user.has_2fa:
            pending, token = await self.create_session(session, user, SessionState.mfa_pending)
            return LoginResult(
                LoginStatus.mfa_required, token=token, user_session=pending, user=user
            )
        return await self._complete(session, user, factor="password")

    async def complete_mfa(
        self,
        session: AsyncSession,
        *,
        pending_token: str,
        code: str,
        device_cookie: str | None,
    ) -> LoginResult:
        found = await self.authenticate(session, pending_token, state=SessionState.mfa_pending)
        if found is None:
            return LoginResult(
                LoginStatus.invalid, "Your sign-in expired. Enter your email and password again."
            )
        pending, user = found
        context = get_request_context()
        ip = context.ip or "unknown"
        account = throttle.account_key(user.email)
        nonce = throttle.trusted_device_nonce(device_cookie, user.id)
        decision = await throttle.check(session, account=account, ip=ip, device_nonce=nonce)
        if not decision.allowed:
            return LoginResult(
                LoginStatus.throttled, decision.reason, retry_after=decision.retry_after
            )
        factor = await mfa.verify_second_factor(session, user, code)
        await throttle.record(
            session,
            account=account,
            user_id=user.id,
            ip=ip,
            device_nonce=nonce if decision.trusted_device else None,
            factor="totp",
            success=factor is not None,
        )
        if factor is None:
            await audit_service.record(
                session,
                AuthSubject(user),
                action="user.login_2fa",
                outcome=Outcome.failure,
                details={"reason": "invalid code"},
            )
            return LoginResult(
                LoginStatus.invalid,
                "That code is wrong or was already used. Enter the current code from your "
                "authenticator app, or a recovery code.",
            )
        pending.revoked_at = utc_now()
        if factor == "recovery_code":
            await audit_service.record(session, AuthSubject(user), action="user.recovery_code_used")
        return await self._complete(session, user, factor=factor)

    async def _complete(self, session: AsyncSession, user: User, *, factor: str) -> LoginResult:
        user_session, token = await self.create_session(session, user, SessionState.active)
        user.last_login_at = utc_now()
        await audit_service.record(
            session, AuthSubject(user), action="user.login", details={"factor": factor}
        )
        return LoginResult(
            LoginStatus.ok,
            token=token,
            user_session=user_session,
            user=user,
            device_cookie=throttle.issue_device_cookie(user.id),
        )

    async def remember_organization(
        self, session: AsyncSession, user_session: UserSession, organization_id: uuid.UUID
    ) -> None:
        """Record the workspace a session last opened (bookkeeping, via persist_always)."""
        session_id = user_session.id

        async def _remember(persist_session: AsyncSession) -> None:
            await UserSessionRepository.from_session(persist_session).set_current_organization(
                session_id, organization_id
            )

        persist_always(session, _remember)

    async def logout(self, session: AsyncSession, user_session: UserSession, user: User) -> None:
        user_session.revoked_at = utc_now()
        await audit_service.record(session, AuthSubject(user), action="user.logout")

    async def list_sessions(self, session: AsyncSession, user: User) -> list[UserSession]:
        repository = UserSessionRepository.from_session(session)
        now = utc_now()
        return [
            s
            for s in await repository.list_active(user.id, now)
            if s.state == SessionState.active and self.is_live(s, now)
        ]

    async def revoke_session(
        self,
        session: AsyncSession,
        user: User,
        *,
        session_id: uuid.UUID,
        password: str,
    ) -> None:
        """End one of the user's sessions; re-entering the password is required (ASVS 3.3.4)."""
        await self._check_password(session, user, password)
        repository = UserSessionRepository.from_session(session)
        target = await repository.get_by_id(session_id)
        if target is None or target.user_id != user.id or target.revoked_at is not None:
            raise ResourceNotFound("Session")
        target.revoked_at = utc_now()
        await audit_service.record(
            session,
            AuthSubject(user),
            action="session.revoked",
            target_type="session",
            target_id=target.id,
        )

    async def revoke_other_sessions(
        self, session: AsyncSession, user: User, current: UserSession, *, password: str
    ) -> int:
        await self._check_password(session, user, password)
        count = await UserSessionRepository.from_session(session).revoke_all(
            user.id, except_id=current.id
        )
        await audit_service.record(
            session, AuthSubject(user), action="session.revoked_others", details={"count": count}
        )
        return count

    async def _check_password(self, session: AsyncSession, user: User, password: str) -> None:
        """Password re-entry (ASVS 3.3.4), throttled and counted like a sign-in."""
        context = get_request_context()
        account = throttle.account_key(user.email)
        ip = context.ip or "unknown"
        await throttle.enforce(session, account=account, ip=ip)
        if not await user_service.check_password(user, password):
            throttle.record_failure_durably(
                session, account=account, user_id=user.id, ip=ip, factor="password"
            )
            raise WrongPassword("Your password is wrong.")

    async def renew(
        self, session: AsyncSession, user: User, current: UserSession | None
    ) -> tuple[UserSession, str]:
        """A fresh session for the current browser after every session of the user ended."""
        user_session, token = await self.create_session(session, user, SessionState.active)
        if current is not None:
            user_session.current_organization_id = current.current_organization_id
        return user_session, token


auth = AuthService()
